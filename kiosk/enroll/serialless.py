"""Keys without a serial number: which of the kiosk's credentials a key holds, asked without
its PIN or a touch (a getAssertion with ``up`` false over the credential ids the kiosk made on
keys of its AAGUID, :meth:`~kiosk.keys.session.KeySession.holds_one_of`). Enrollment knows such
a key again by it (its earlier attempt), the return desk by it (its inventory entry)."""

from __future__ import annotations

from kiosk.errors import KioskError
from kiosk.keys.session import KeySession
from kiosk.model.codec import b64_lenient
from kiosk.model.keys import KeyInfo
from kiosk.store.journal import Enrollment, Journal


def held_attempt(
    session: KeySession, journal: Journal, info: KeyInfo, rp_id: str, *, limit: int = 64
) -> Enrollment | None:
    """The attempt whose credential this key without a serial still holds, if it says
    (asked about the newest ``limit`` attempts that left a credential on such a key)."""
    if info.serial or not (info.pin_set or info.has_credentials):
        return None
    rows = journal.serialless_holding(info.aaguid, limit)
    by_id = {b64_lenient(r.credential_id): r for r in rows if r.credential_id}
    if not by_id:
        return None
    try:
        found = session.holds_one_of(rp_id, list(by_id))
    except KioskError:
        return None
    return by_id.get(found) if found is not None else None


def held_credential(
    session: KeySession, journal: Journal, info: KeyInfo, rp_id: str, *, limit: int = 64
) -> bytes | None:
    """The credential id of :func:`held_attempt` (None: the key holds none of the kiosk's)."""
    attempt = held_attempt(session, journal, info, rp_id, limit=limit)
    if attempt is None or not attempt.credential_id:
        return None
    return b64_lenient(attempt.credential_id)
