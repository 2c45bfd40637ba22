"""Append-only, hash-chained audit trail (JSON Lines).

Every record is one line of compact JSON. It carries ``seq`` (1, 2, 3, ...), ``time`` (UTC, ISO
8601) and ``prev``: the SHA-256 (hex) of the previous record's exact line bytes, without its
newline; the first record's ``prev`` is 64 zeros. Editing, removing or reordering a record
breaks the chain at that point, and :func:`verify` names the line and the seq.

What a record may hold is an allow-list of field names (:data:`FIELDS`, and per nested object);
free text that looks like a PIN, secret or token is replaced by its SHA-256 and the record
flags it (``flagged``: a key serial ``PIN: 11111111`` cannot keep its enrollment out of the
trail), and values must be plain JSON (so a :class:`kiosk.enroll.pins.Pin` can never be written
by accident). A record with a field off the allow-list or a non-JSON value raises
:class:`AuditFieldError`; nothing is written.

Durability: each append is one ``write`` of the whole line, then ``fsync`` (and the directory is
fsynced when the file is created). Appends are serialised by a thread lock and an ``flock``, so
two writers never interleave.

A torn tail (power cut in the middle of a write, or a write cut short by a full disk) is found
when the trail is opened or before the next append: the incomplete last line is cut off, its
bytes are kept beside the trail in ``<name>.torn-<time>`` for inspection, and a ``torn tail
repaired`` record (with the number and SHA-256 of the removed bytes) is appended, so the repair
itself is on the chain and never silent. A tail that is complete but lacks only its newline is
completed instead.

Every record also goes to the system log (logger ``kiosk.audit``, journald on the kiosk) with
its own hash, so the journal holds an independent copy of the chain head: an attacker who
rewrites the whole file from some record onwards is caught by comparing ``kiosk audit verify``'s
head with the last head in the journal (``verify(path, expected_head=...)``).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk.audit_chain import (
    GENESIS,
    RESERVED,
    AuditError,
    AuditFieldError,
    check_record,
    line_hash,
    looks_secret,
    parse_line,
    redact,
    verify_lines,
)
from kiosk.durable import fsync_dir
from kiosk.entra.calls import call_name
from kiosk.model.audit import AuditReport
from kiosk.model.keys import KeyInfo
from kiosk.model.timing import Timing

log = logging.getLogger("kiosk.audit")

TORN_TAIL_EVENT = "torn tail repaired"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _stamp(when: datetime) -> str:
    """A record's time: UTC, milliseconds, ``Z``."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def credential_id_sha256(credential_id: bytes) -> str:
    """What the trail keeps of a credential id: its SHA-256, hex."""
    return hashlib.sha256(credential_id).hexdigest()


def key_fields(info: KeyInfo) -> dict[str, str | None]:
    return {
        "serial": info.serial,
        "aaguid": info.aaguid,
        "model": info.model,
        "firmware": info.firmware,
    }


def graph_call_fields(calls: Iterable[Timing]) -> list[dict[str, Any]]:
    """What the trail keeps of each Graph call: its name, status, ids, milliseconds, attempt
    (no URL, no header value, no body)."""
    out = []
    for t in calls:
        call: dict[str, Any] = {
            "call": call_name(t.method, t.path),
            "status": t.status,
            "request_id": t.request_id,
            "client_request_id": t.client_request_id,
            "ms": round(float(t.milliseconds), 1),
            "attempt": t.attempt,
        }
        out.append({k: v for k, v in call.items() if v != ""})
    return out


def _encode(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _torn_body(torn: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "outcome": "repaired",
        "reason": "the last record was incomplete (power cut or failed write); it was cut off "
        "and kept aside",
        "torn": dict(torn),
    }


def _last_line(fd: int, size: int) -> tuple[int, bytes]:
    """(offset, bytes) of the last line (with its newline if it has one), read from the end."""
    if size == 0:
        return 0, b""
    pos = size - 1  # a newline in the very last byte ends the last line, it does not start it
    chunk = 8192
    while pos > 0:
        lo = max(0, pos - chunk)
        cut = os.pread(fd, pos - lo, lo).rfind(b"\n")
        if cut != -1:
            start = lo + cut + 1
            return start, os.pread(fd, size - start, start)
        pos = lo
        chunk *= 2
    return 0, os.pread(fd, size, 0)


class AuditTrail:
    """The kiosk's audit trail at ``path``; create it or resume its chain. Thread-safe."""

    def __init__(self, path: str | Path, *, logger: logging.Logger | None = None) -> None:
        self.path = Path(path)
        self._log = logger or log
        self._lock = threading.Lock()
        self.repaired: dict[str, Any] | None = None
        """What the torn-tail repair removed when the trail was opened, if anything."""
        self.mirror: Callable[[list[tuple[int, bytes]]], None] | None = None
        """Given each (seq, line) written, after it is on disk (the fleet database's copy)."""
        self.clock: Callable[[], datetime] = _utc_now
        """Where each record's time comes from (tests set a clock they move by hand)."""
        created = not self.path.exists()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            if created:
                os.fsync(self._fd)
                fsync_dir(self.path.parent)
        except OSError as exc:
            raise AuditError(
                f"{self.path}: the audit trail cannot be opened "
                f"({exc.strerror or type(exc).__name__}).",
                next_step="Check that the kiosk user owns the state directory (see "
                "`kiosk check`); the kiosk does not enroll without its audit trail.",
            ) from None
        self._seq = 0
        self._head = GENESIS
        self._end = 0
        with self._lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                torn = self._resync()
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        if torn is not None:
            self.repaired = torn
            self.write(TORN_TAIL_EVENT, _torn_body(torn))

    # -- chain state ---------------------------------------------------------------------

    def _resync(self) -> dict[str, Any] | None:
        """Read the last line; repair a torn tail. Caller holds the locks."""
        size = os.fstat(self._fd).st_size
        start, line = _last_line(self._fd, size)
        torn: dict[str, Any] | None = None
        if line and not line.endswith(b"\n"):
            record = parse_line(line)
            if record is not None and isinstance(record.get("seq"), int):
                os.write(self._fd, b"\n")  # complete record, only its newline was lost
                os.fsync(self._fd)
                size += 1
                line += b"\n"
            else:
                kept = self.path.with_name(
                    f"{self.path.name}.torn-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"
                )
                kept.write_bytes(line)
                os.chmod(kept, 0o600)
                os.ftruncate(self._fd, start)
                os.fsync(self._fd)
                fsync_dir(self.path.parent)
                torn = {
                    "bytes": len(line),
                    "sha256": hashlib.sha256(line).hexdigest(),
                    "kept_in": kept.name,
                }
                self._log.warning(
                    "audit trail %s: torn last record (%d bytes) cut off, kept in %s",
                    self.path, len(line), kept.name,
                )
                size = start
                start, line = _last_line(self._fd, size)
        self._end = size
        if not line:
            self._seq, self._head = 0, GENESIS
            return torn
        record = parse_line(line)
        if record is None or not isinstance(record.get("seq"), int):
            raise AuditError(
                f"{self.path}: the last record cannot be read, so the chain cannot continue.",
                next_step="Run `kiosk audit verify` and call the kiosk administrator.",
            )
        self._seq = int(record["seq"])
        self._head = line_hash(line)
        return torn

    @property
    def head(self) -> str:
        """SHA-256 of the last record's line: the chain head."""
        return self._head

    @property
    def seq(self) -> int:
        """Seq of the last record (0 when the trail is empty)."""
        return self._seq

    # -- writing -------------------------------------------------------------------------

    def write(self, event: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Append one record with ``fields`` (checked against the allow-list); return it."""
        if not event or looks_secret(event):
            raise AuditFieldError("the event name is empty or looks secret.")
        body = {
            k: v
            for k, v in fields.items()
            if not (v is None or v == "" or (isinstance(v, list | tuple | dict) and not v))
        }
        for reserved in RESERVED:
            if reserved in body:
                raise AuditFieldError(f"{reserved} is set by the audit trail itself.")
        body, flagged = redact(body)
        if flagged:
            body["flagged"] = flagged
        check_record(body)
        written: list[tuple[dict[str, Any], bytes, str]] = []
        with self._lock:
            if self._fd < 0:
                raise AuditError(f"{self.path}: the audit trail is closed.")
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
                try:
                    if os.fstat(self._fd).st_size != self._end:
                        # Someone else appended (continue their chain), or a write of ours
                        # failed half-way (cut it off, and say so on the chain).
                        torn = self._resync()
                        if torn is not None:
                            self.repaired = torn
                            written.append(self._append_locked(TORN_TAIL_EVENT, _torn_body(torn)))
                    written.append(self._append_locked(event, body))
                finally:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
            except OSError as exc:
                raise AuditError(
                    f"{self.path}: the audit record could not be written "
                    f"({exc.strerror or type(exc).__name__}).",
                    next_step="Stop enrolling: check the disk (space, errors) and call the "
                    "kiosk administrator. Nothing is enrolled without its audit record.",
                ) from None
        if self.mirror is not None:
            self.mirror([(int(record["seq"]), line) for record, line, _ in written])
        for record, line, head in written:
            self._log.info(
                "audit seq=%d event=%s outcome=%s upn=%s hash=%s record=%s",
                record["seq"], record["event"], record.get("outcome", ""), record.get("upn", ""),
                head, line.decode("utf-8"),
            )
        return written[-1][0]

    def _append_locked(
        self, event: str, body: Mapping[str, Any]
    ) -> tuple[dict[str, Any], bytes, str]:
        """One record: a single write of the whole line, then fsync. Caller holds the locks."""
        record: dict[str, Any] = {
            "seq": self._seq + 1,
            "time": _stamp(self.clock()),
            "prev": self._head,
            "event": event,
            **{k: (list(v) if isinstance(v, tuple) else v) for k, v in body.items()},
        }
        line = _encode(record)
        data = line + b"\n"
        written = os.write(self._fd, data)
        if written != len(data):
            raise OSError(0, f"short write ({written} of {len(data)} bytes)")
        os.fsync(self._fd)
        self._end += len(data)
        self._seq += 1
        self._head = line_hash(line)
        return record, line, self._head

    def append(
        self,
        event: str,
        *,
        outcome: str = "ok",
        reason: str = "",
        operator: str | None = None,
        upn: str | None = None,
        user_id: str | None = None,
        entry_id: int | None = None,
        key: KeyInfo | Mapping[str, str | None] | None = None,
        method_id: str | None = None,
        credential_id: bytes | None = None,
        attestation_format: str | None = None,
        graph_request_ids: Sequence[str] = (),
        timings_ms: Mapping[str, float] | None = None,
        graph_calls: Iterable[Timing] = (),
        **extra: Any,
    ) -> dict[str, Any]:
        """Append one record; the usual fields by name, others (allow-listed) in ``extra``.

        ``graph_calls``: the Graph calls made for this record (:mod:`kiosk.entra.calls`); their
        request ids join ``graph_request_ids`` and each call is kept in ``graph_calls``.
        """
        calls = list(graph_calls)
        request_ids = list(dict.fromkeys(
            [*graph_request_ids, *(t.request_id for t in calls if t.request_id)]
        ))
        credential: dict[str, str] = {}
        if method_id:
            credential["method_id"] = method_id
        if credential_id is not None:
            credential["credential_id_sha256"] = credential_id_sha256(credential_id)
        if attestation_format:
            credential["attestation_format"] = attestation_format
        key_map = key_fields(key) if isinstance(key, KeyInfo) else key
        fields: dict[str, Any] = {
            "operator": operator,
            "upn": upn,
            "user_id": user_id,
            "entry_id": entry_id,
            "key": dict(key_map) if key_map else None,
            "credential": credential or None,
            "outcome": outcome,
            "reason": reason,
            "graph_request_ids": request_ids or None,
            "graph_calls": graph_call_fields(calls) or None,
            "timings_ms": {k: round(float(v), 1) for k, v in timings_ms.items()}
            if timings_ms
            else None,
            **extra,
        }
        return self.write(event, fields)

    def recent(self, max_bytes: int = 1 << 20) -> list[dict[str, Any]]:
        """The whole records in the last ``max_bytes`` of the trail, oldest first."""
        with self._lock:
            size = os.fstat(self._fd).st_size
            start = max(0, size - max_bytes)
            lines = os.pread(self._fd, size - start, start).split(b"\n")
        if start > 0:
            lines = lines[1:]  # may begin mid-record
        return [r for r in map(parse_line, lines) if r is not None]

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> AuditTrail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def verify(path: str | Path, *, expected_head: str | None = None) -> AuditReport:
    """Check the whole chain; name every edited, removed or reordered record."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        return AuditReport(ok=False, records=0, problems=(f"{p}: no audit trail at this path.",))
    except OSError as exc:
        return AuditReport(
            ok=False, records=0, problems=(f"{p}: cannot be read ({exc.strerror}).",)
        )
    return verify_lines(data, expected_head=expected_head)
