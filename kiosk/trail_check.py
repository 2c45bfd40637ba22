"""The audit trail and the database vouch for each other.

Every audit record is also kept in the database (:class:`kiosk.store.trail.AuditMirror`), so
the database knows the trail's last record and its hash. When the kiosk opens both:

- a trail that ends before the database's last record was cut, emptied or deleted;
- a trail whose record at the database's last seq differs was rewritten from there or earlier;
- a new, empty database beside a trail that already holds records means the database was
  lost or replaced (the inventory with it);

each is refused with a clear message, and said in the trail and the journal.
``kiosk audit verify`` compares the same way.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.audit_chain import line_hash
from kiosk.errors import KioskError

if TYPE_CHECKING:
    from kiosk.audit import AuditTrail
    from kiosk.store import Store

log = logging.getLogger("kiosk.trail_check")

MISMATCH = "store and trail disagree"


class TrailMismatch(KioskError):
    title = "Audit trail and database disagree"
    next_step = (
        "Do not enroll. Keep copies of the audit trail and the database, compare them with the "
        "journal (journalctl -u fido-kiosk | grep 'audit seq='), and call the kiosk "
        "administrator; start a new trail or database only after they are archived."
    )


def record_line(path: Path, seq: int) -> bytes | None:
    """The line of record ``seq`` in the trail file (None when it has none)."""
    prefix = b'{"seq":%d,' % seq
    try:
        with path.open("rb") as trail:
            for line in trail:
                if line.startswith(prefix):
                    return line.rstrip(b"\n")
    except OSError:
        return None
    return None


def disagreement(
    path: Path, file_seq: int, db_seq: int, db_line: bytes | None, *,
    fresh_store: bool = False, store_name: str = "the database",
) -> str:
    """Why the trail at ``path`` and the database disagree, or "" when they agree."""
    if db_seq > file_seq:
        return (
            f"{path} ends at record {file_seq}, but the database ({store_name}) holds the "
            f"trail up to record {db_seq}: the trail was cut, emptied or replaced."
        )
    if db_seq and db_line is not None:
        mine = record_line(path, db_seq)
        if mine is None or line_hash(mine) != line_hash(db_line):
            return (
                f"record {db_seq} of {path} is not the one the database ({store_name}) "
                "holds: the trail was rewritten from there or earlier."
            )
    if not db_seq and file_seq and fresh_store:
        return (
            f"the database ({store_name}) is new and empty, but {path} already holds "
            f"{file_seq} records: the database was lost or replaced."
        )
    return ""


def check_store_and_trail(store: Store, audit: AuditTrail) -> None:
    """Refuse (after saying so in the trail and the journal) a store and trail that disagree."""
    db_seq = store.trail.last_seq()
    db_line = store.trail.line_at(db_seq) if db_seq else None
    fresh = getattr(store.db, "schema_found", None) == 0
    name = str(getattr(store.db, "path", "the fleet database"))
    why = disagreement(
        Path(audit.path), audit.seq, db_seq, db_line, fresh_store=fresh, store_name=name
    )
    if why:
        log.error("%s %s", MISMATCH, why)
        audit.append(MISMATCH, outcome="refused", reason=why)
        raise TrailMismatch(why)
