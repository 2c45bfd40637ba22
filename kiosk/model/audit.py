"""What verifying the audit trail found."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class AuditReport:
    ok: bool
    records: int
    problems: Sequence[str] = field(default_factory=tuple)
    """One line per problem, naming the record (line number) and what is wrong."""
