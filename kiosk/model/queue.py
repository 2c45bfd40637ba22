"""Queue vocabulary: an entry's status, how a page is sorted, one row, an import's report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

Status = Literal["pending", "active", "done", "failed", "skipped"]
SortKey = Literal["position", "upn", "status", "updated"]


@dataclass(frozen=True)
class QueueRow:
    entry_id: int
    upn: str
    display_name: str
    status: Status
    keys_wanted: int
    keys_done: int
    reason: str = ""
    updated: str = ""
    """ISO 8601 time of the last change."""


@dataclass(frozen=True)
class ImportProblem:
    line: int | None
    value: str
    reason: str


@dataclass(frozen=True)
class ImportReport:
    source: str
    added: int
    already_queued: int
    problems: Sequence[ImportProblem] = field(default_factory=tuple)
    warnings: Sequence[ImportProblem] = field(default_factory=tuple)
    """Queued, but with something to fix before the batch starts (an address the shipping
    labels cannot use)."""
    rows: Sequence[tuple[str, str]] = field(default_factory=tuple)
    """What the import did with each user it found: (UPN, outcome), the outcome one of
    :data:`ROW_OUTCOMES` (a re-import names each row instead of counting them)."""
    requeued: int = 0
    """Users put back in the queue: skipped or failed (``--requeue``), or done and wanting
    one more key (a backup key)."""


@dataclass(frozen=True)
class ImportProgress:
    """How far a CSV import has come, told to whoever started it (who may stop it)."""

    rows_read: int
    looked_up: int | None = None
    """Users looked up in Entra ID so far; None while the file is still being read."""
    to_look_up: int = 0
    """Users the file names, once it is read."""


ROW_OUTCOMES = ("queued", "requeued", "backup key queued", "already done", "already queued",
                "skipped, not requeued", "failed, not requeued")
