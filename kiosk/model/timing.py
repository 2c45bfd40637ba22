"""The timing of one HTTP attempt to Graph, as the audit trail and the journal keep it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """One HTTP attempt, for the audit trail: no URL query, no header values, no body."""

    method: str
    path: str
    status: int
    """HTTP status; 0 when there was no answer."""
    request_id: str
    client_request_id: str
    milliseconds: float
    attempt: int
