"""The enrollment journal: one row per attempt to put a credential on a key for a user.

Every step is written (and synced) before the engine treats its side effect as done. The row
holds the credential's attestation (credential id, clientDataJSON, attestationObject; none of
it secret) so registration can be finished after a crash without the key or the PIN.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from kiosk.model.codec import b64_lenient, b64url
from kiosk.model.keys import CreatedCredential, KeyInfo
from kiosk.model.steps import Step
from kiosk.model.timing import Timing
from kiosk.store.claims import Claims
from kiosk.store.db import Database, Row, known_value, retried

State = Literal["open", "done", "failed", "orphan", "wiped"]
"""``wiped``: the attempt's credential was on a key that has since been reset (a return)."""


@dataclass(frozen=True)
class Enrollment:
    id: int
    entry_id: int
    user_id: str
    upn: str
    step: Step
    state: State
    serial: str | None
    aaguid: str | None
    model: str | None
    firmware: str | None
    credential_id: str | None
    client_data_json: str | None
    attestation_object: str | None
    attestation_format: str | None
    challenge_expires: datetime | None
    display_name: str | None
    method_id: str | None
    escrow_file: str | None
    pin_policy: str | None
    operator: str | None
    reason: str
    started: str
    updated: str
    graph_calls: tuple[Timing, ...] = ()
    """The Graph calls journaled with the credential (the options fetch and any before it)."""

    def credential(self) -> CreatedCredential | None:
        """The journaled credential, as the register call needs it."""
        if not (self.credential_id and self.client_data_json and self.attestation_object):
            return None
        return CreatedCredential(
            credential_id=b64_lenient(self.credential_id),
            client_data_json=b64_lenient(self.client_data_json),
            attestation_object=b64_lenient(self.attestation_object),
            aaguid=self.aaguid or "",
            attestation_format=self.attestation_format or "",
        )


def _enrollment(r: Row) -> Enrollment:
    expires = r["challenge_expires"]
    return Enrollment(
        id=int(r["id"]),
        entry_id=int(r["entry_id"]),
        user_id=str(r["user_id"]),
        upn=str(r["upn"]),
        step=Step(known_value(r["step"], {s.value for s in Step}, "enrollments", r["id"])),
        state=cast(State, str(r["state"])),
        serial=r["serial"],
        aaguid=r["aaguid"],
        model=r["model"],
        firmware=r["firmware"],
        credential_id=r["credential_id"],
        client_data_json=r["client_data_json"],
        attestation_object=r["attestation_object"],
        attestation_format=r["attestation_format"],
        challenge_expires=datetime.fromisoformat(expires) if expires else None,
        display_name=r["display_name"],
        method_id=r["method_id"],
        escrow_file=r["escrow_file"],
        pin_policy=r["pin_policy"],
        operator=r["operator"],
        reason=str(r["reason"]),
        started=str(r["started"]),
        updated=str(r["updated"]),
        graph_calls=_timings(r["graph_calls"]),
    )


def _timings(text: str | None) -> tuple[Timing, ...]:
    """The journaled calls; a row written before schema 2 has none."""
    if not text:
        return ()
    return tuple(
        Timing(str(m), str(p), int(st), str(rid), str(crid), float(ms), int(att))
        for m, p, st, rid, crid, ms, att in json.loads(text)
    )


class Journal:
    def __init__(self, db: Database, claims: Claims | None = None) -> None:
        self.db = db
        self.claims = claims or Claims(db, "local", 60.0)

    @retried
    def start(self, entry_id: int, user_id: str, upn: str, operator: str | None) -> int:
        """A key was inserted for this queue entry: open an attempt, and the entry becomes
        this station's active entry. :class:`~kiosk.store.claims.ClaimLost` (nothing written)
        when another station holds the entry or it is no longer waiting."""
        now = self.db.now()
        with self.db.tx() as conn:
            self.claims.start(conn, entry_id, now)
            cur = conn.execute(
                "INSERT INTO enrollments (entry_id, user_id, upn, step, operator, station,"
                " started, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    entry_id, user_id, upn, Step.KEY_INSERTED.value, operator,
                    self.claims.station, now, now,
                ),
            )
            return int(cur.fetchone()[0])

    def step(self, enrollment_id: int, step: Step, **fields: str | None) -> None:
        """Journal one transition, with the facts learnt at that step."""
        allowed = {"display_name", "method_id", "escrow_file", "pin_policy", "reason"}
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"not journal fields: {sorted(bad)}")
        sets = "".join(f", {name} = ?" for name in fields)

        def write() -> None:
            with self.db.tx() as conn:
                conn.execute(
                    f"UPDATE enrollments SET step = ?, updated = ?{sets} WHERE id = ?",  # noqa: S608
                    (step.value, self.db.now(), *fields.values(), enrollment_id),
                )

        # Setting the step and its facts again is harmless: run again after an uncertain commit
        # (a registration journaled as failed would have the user enrolled a second time).
        self.db.retrying(write, idempotent=True)

    @retried
    def key(self, enrollment_id: int, info: KeyInfo) -> None:
        with self.db.tx() as conn:
            conn.execute(
                "UPDATE enrollments SET step = ?, serial = ?, aaguid = ?, model = ?,"
                " firmware = ?, updated = ? WHERE id = ?",
                (
                    Step.KEY_CHECKED.value,
                    info.serial,
                    info.aaguid,
                    info.model,
                    info.firmware,
                    self.db.now(),
                    enrollment_id,
                ),
            )

    @retried
    def credential(
        self,
        enrollment_id: int,
        cred: CreatedCredential,
        *,
        challenge_expires: datetime,
        display_name: str,
        escrow_file: str | None,
        graph_calls: Sequence[Timing] = (),
    ) -> None:
        """The credential exists on the key: journal its attestation (one durable write),
        with the Graph calls made for it so far (no URL query, header or body: see Timing)."""
        calls = [
            [t.method, t.path, t.status, t.request_id, t.client_request_id, t.milliseconds,
             t.attempt]
            for t in graph_calls
        ]
        with self.db.tx() as conn:
            conn.execute(
                "UPDATE enrollments SET step = ?, credential_id = ?, client_data_json = ?,"
                " attestation_object = ?, attestation_format = ?, challenge_expires = ?,"
                " display_name = ?, escrow_file = ?, graph_calls = ?, updated = ? WHERE id = ?",
                (
                    Step.CREDENTIAL_CREATED.value,
                    b64url(cred.credential_id),
                    b64url(cred.client_data_json),
                    b64url(cred.attestation_object),
                    cred.attestation_format,
                    challenge_expires.isoformat(),
                    display_name,
                    escrow_file,
                    json.dumps(calls, separators=(",", ":")) if calls else None,
                    self.db.now(),
                    enrollment_id,
                ),
            )

    @retried
    def finish(self, enrollment_id: int, state: State, reason: str = "") -> None:
        with self.db.tx() as conn:
            conn.execute(
                "UPDATE enrollments SET state = ?, reason = ?, updated = ? WHERE id = ?",
                (state, reason, self.db.now(), enrollment_id),
            )

    @retried
    def complete(self, enrollment_id: int) -> None:
        """The attempt is done and its queue entry counts one more key, in one transaction
        (a crash between the two would otherwise enroll the user again)."""
        now = self.db.now()
        with self.db.tx() as conn:
            row = conn.execute(
                "SELECT entry_id, state FROM enrollments WHERE id = ?" + self.db.for_update,  # noqa: S608
                (enrollment_id,),
            ).fetchone()
            if row is None or row["state"] == "done":
                return
            conn.execute(
                "UPDATE enrollments SET state = 'done', reason = '', updated = ? WHERE id = ?",
                (now, enrollment_id),
            )
            conn.execute(
                "UPDATE queue SET keys_done = keys_done + 1, updated = ?, reason = '',"
                " status = CASE WHEN keys_done + 1 >= keys_wanted THEN 'done' ELSE status END"
                " WHERE id = ?",
                (now, row["entry_id"]),
            )

    def get(self, enrollment_id: int) -> Enrollment | None:
        rows = self.db.query("SELECT * FROM enrollments WHERE id = ?", (enrollment_id,))
        return _enrollment(rows[0]) if rows else None

    def open_attempts(self) -> list[Enrollment]:
        """This station's unfinished attempts (what its recovery finishes). Another station's
        are that station's: its key is there, and it is maybe working on them right now."""
        rows = self.db.query(
            "SELECT * FROM enrollments WHERE state = 'open' AND (station = ? OR station IS NULL)"
            " ORDER BY id",
            (self.claims.station,),
        )
        return [_enrollment(r) for r in rows]

    def for_entry(self, entry_id: int) -> list[Enrollment]:
        rows = self.db.query(
            "SELECT * FROM enrollments WHERE entry_id = ? ORDER BY id", (entry_id,)
        )
        return [_enrollment(r) for r in rows]

    def with_state(self, state: State) -> list[Enrollment]:
        rows = self.db.query("SELECT * FROM enrollments WHERE state = ? ORDER BY id", (state,))
        return [_enrollment(r) for r in rows]

    def serial_busy(self, serial: str) -> Enrollment | None:
        """An attempt that holds a credential on this key (done, orphan, or still open)."""
        rows = self.db.query(
            "SELECT * FROM enrollments WHERE serial = ? AND credential_id IS NOT NULL"
            " AND state IN ('done', 'open', 'orphan') ORDER BY id DESC LIMIT 1",
            (serial,),
        )
        return _enrollment(rows[0]) if rows else None

    @retried
    def wiped(self, serial: str, reason: str, *, credential_id: bytes | None = None) -> int:
        """The key ``serial`` was reset: its attempts no longer hold a credential on it. A key
        without a serial: the attempt that put ``credential_id`` on it."""
        where, key = "serial = ?", serial
        if credential_id is not None:
            where, key = "(serial IS NULL OR serial = '') AND credential_id = ?", b64url(
                credential_id
            )
        with self.db.tx() as conn:
            cur = conn.execute(
                "UPDATE enrollments SET state = 'wiped', reason = ?, updated = ?"  # noqa: S608
                " WHERE " + where + " AND state IN ('done', 'orphan')",
                (reason, self.db.now(), key),
            )
            return cur.rowcount

    def serialless_holding(self, aaguid: str, limit: int = 64) -> list[Enrollment]:
        """The newest attempts that put a credential on a key of ``aaguid`` without a serial
        (done, open or orphan): what a serial-less key is recognised by."""
        rows = self.db.query(
            "SELECT * FROM enrollments WHERE (serial IS NULL OR serial = '') AND aaguid = ?"
            " AND credential_id IS NOT NULL AND state IN ('done', 'open', 'orphan')"
            " ORDER BY id DESC LIMIT ?",
            (aaguid, limit),
        )
        return [_enrollment(r) for r in rows]
