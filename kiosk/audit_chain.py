"""The rules of the audit trail: what a record may hold, how records chain, and the verifier.

Kept apart from :mod:`kiosk.audit` (the writer) so that ``kiosk audit verify`` and the writer
share one definition of a valid record. See :mod:`kiosk.audit` for the format.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from kiosk.errors import KioskError
from kiosk.model.audit import AuditReport
from kiosk.model.text import digest

GENESIS = "0" * 64
"""The ``prev`` of the first record."""

FIELDS: frozenset[str] = frozenset(
    {
        "seq", "time", "prev", "event", "operator", "upn", "user_id", "entry_id", "key",
        "credential", "outcome", "reason", "next_step", "graph_request_ids", "timings_ms",
        "display_name", "step", "source", "count", "counts", "detail", "pin_policy", "escrow",
        "torn", "kiosk_version", "host", "graph_calls", "print", "flagged",
    }
)
"""Top-level field names a record may carry."""

NESTED: Mapping[str, frozenset[str]] = {
    "key": frozenset({"serial", "aaguid", "model", "firmware"}),
    "credential": frozenset({"method_id", "credential_id_sha256", "attestation_format"}),
    "pin_policy": frozenset({"min_pin_length", "force_pin_change", "applied", "supported"}),
    "escrow": frozenset({"mode", "file", "sha256", "recipients_sha256"}),
    "torn": frozenset({"bytes", "sha256", "kept_in"}),
    "print": frozenset({"kind", "queue", "job_id", "job_name", "state", "reference", "sent"}),
}
"""Nested objects and the names allowed inside them."""

LISTS_OF_OBJECTS: Mapping[str, frozenset[str]] = {
    "graph_calls": frozenset(
        {"call", "status", "request_id", "client_request_id", "ms", "attempt"}
    ),
}
"""Lists whose items are objects, and the names allowed inside each item."""

FREE_KEYED = frozenset({"timings_ms", "counts"})
"""Objects with free (identifier-like) names whose values must be numbers."""

RESERVED = ("seq", "time", "prev", "event")
"""Set by the trail itself, never by the caller."""

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_SECRET_NAME = re.compile(
    r"^(?:pin|pins|pin_?code|pin_?value|new_?pin|old_?pin|.*secret.*|.*token.*|.*passw.*"
    r"|.*passphrase.*)$"
)
SECRET_TEXT = re.compile(
    r"(?i)\bpins?\s*[:=]\s*[\"']?(?!0x)(?=[^\s\"',;)]*\d)[^\s\"',;)]{4,63}(?![^\s\"',;)])"
    r"|\b(?:password|passphrase|secret|token)\s*[:=]\s*[\"']?[^\s\"']{16,}"
    r"|\bbearer\s+[A-Za-z0-9._~+/-]{16,}"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
    r"|-----BEGIN"
)
"""Text that looks like a PIN, a secret, a bearer token, a JWT or PEM material."""

_TRIGGERS = ("pin", "passw", "passphrase", "secret", "token", "bearer", "eyj", "-----begin")
"""Every SECRET_TEXT match contains one of these (lower-cased); a cheap test first."""


def looks_secret(text: str) -> bool:
    lower = text.lower()
    if not any(t in lower for t in _TRIGGERS):
        return False
    return SECRET_TEXT.search(text) is not None


class AuditError(KioskError):
    title = "Audit trail problem"
    next_step = "Stop enrolling and call the kiosk administrator; the audit trail needs checking."


class AuditFieldError(AuditError):
    """A record was refused: a field not on the allow-list, or a value that looks secret."""

    title = "Audit record refused"
    next_step = "This is a bug in the kiosk: report it. Nothing was written to the audit trail."


def line_hash(line: bytes) -> str:
    """SHA-256 (hex) of a record's line bytes, without the newline."""
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def _check_scalar(where: str, value: Any, scan: bool = True) -> None:
    if value is None or isinstance(value, bool | int | float):
        return
    if isinstance(value, str):
        if scan and looks_secret(value):
            raise AuditFieldError(f"{where} holds text that looks like a PIN, secret or token.")
        return
    raise AuditFieldError(f"{where} is a {type(value).__name__}; only plain JSON values go in.")


def _check_object(
    name: str, value: Any, scan: bool, allowed: frozenset[str] | None = None
) -> None:
    if not isinstance(value, Mapping):
        raise AuditFieldError(f"{name} must be an object.")
    allowed = NESTED.get(name) if allowed is None else allowed
    for sub, sub_value in value.items():
        where = f"{name}.{sub}"
        if allowed is not None and sub not in allowed:
            raise AuditFieldError(f"the field {where!r} is not on the audit allow-list.")
        if name in FREE_KEYED:
            if not isinstance(sub, str) or not _NAME.match(sub) or _SECRET_NAME.match(sub):
                raise AuditFieldError(f"{name} has a name that is not allowed.")
            if isinstance(sub_value, bool) or not isinstance(sub_value, int | float):
                raise AuditFieldError(f"{where} must be a number.")
        if isinstance(sub_value, list):
            for i, item in enumerate(sub_value):
                _check_scalar(f"{where}[{i}]", item, scan)
        else:
            _check_scalar(where, sub_value, scan)


def _redact(where: str, value: Any, flagged: list[str]) -> Any:
    if isinstance(value, str):
        if looks_secret(value):
            flagged.append(where)
            return digest(value)
        return value
    if isinstance(value, list | tuple):
        return [_redact(f"{where}[{i}]", item, flagged) for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        return {k: _redact(f"{where}.{k}", v, flagged) for k, v in value.items()}
    return value


def redact(record: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``record`` with every string that looks like a PIN, secret or token replaced by its
    SHA-256 (``sha256:...``), and the paths of the fields replaced.

    A record is written after its side effect (a credential registered in Graph): a key serial
    or a display name that happens to read ``PIN: 11111111`` must not refuse it. The record is
    written with that field replaced and flagged (``flagged`` names it); the hash still lets
    an investigator match the original string.
    """
    flagged: list[str] = []
    out = {name: _redact(name, value, flagged) for name, value in record.items()}
    return out, flagged


def check_record(record: Mapping[str, Any], *, scan: bool = True) -> None:
    """Refuse a record with an unknown field, a secret-looking value or a non-JSON value.

    ``scan=False`` skips the per-value text scan (the verifier scans each line's text once).
    """
    for name, value in record.items():
        if name not in FIELDS:
            raise AuditFieldError(f"the field {name!r} is not on the audit allow-list.")
        if name in LISTS_OF_OBJECTS:
            if not isinstance(value, list):
                raise AuditFieldError(f"{name} must be a list.")
            for i, item in enumerate(value):
                _check_object(f"{name}[{i}]", item, scan, LISTS_OF_OBJECTS[name])
        elif name in NESTED or name in FREE_KEYED:
            _check_object(name, value, scan)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                _check_scalar(f"{name}[{i}]", item, scan)
        else:
            _check_scalar(name, value, scan)


def parse_line(line: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _where(n: int, seq: object) -> str:
    return f"line {n} (seq {seq})" if isinstance(seq, int) else f"line {n}"


def verify_lines(data: bytes, *, expected_head: str | None = None) -> AuditReport:
    """Verify the bytes of a trail. One problem line per damaged record, naming it."""
    lines = data.split(b"\n")
    torn = lines.pop() if lines else b""  # the bytes after the last newline
    trail = _Trail(lines)
    problems = trail.record_problems()
    if torn:
        problems.append(
            f"line {len(lines) + 1}: incomplete last record ({len(torn)} bytes, no newline): a "
            "torn write; the kiosk cuts it off and records the repair when it next opens the trail."
        )
    if expected_head is not None:
        problems += trail.head_problems(expected_head)
    return AuditReport(ok=not problems, records=len(lines), problems=tuple(problems))


class _Trail:
    """The complete lines of a trail, read once; each check adds notes to the line it names."""

    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines
        self.records = [parse_line(line) for line in lines]
        self.seqs = [r.get("seq") if r is not None else None for r in self.records]
        self.hashes = [line_hash(line) for line in lines]
        self.by_hash = {h: i for i, h in enumerate(self.hashes)}
        self.first_at: dict[int, int] = {}
        for i, s in enumerate(self.seqs):
            if isinstance(s, int) and not isinstance(s, bool):
                self.first_at.setdefault(s, i)

    def record_problems(self) -> list[str]:
        """One line per damaged record: its sequence, its link to the line before, its fields."""
        edited: set[int] = set()
        notes: dict[int, list[str]] = {}
        last_seq: int | None = 0
        for i, rec in enumerate(self.records):
            say = notes.setdefault(i, [])
            seq = rec.get("seq") if rec is not None else None
            if rec is None or not isinstance(seq, int) or isinstance(seq, bool):
                say.append(
                    "not a readable record (edited or corrupted)" if rec is None
                    else "has no valid seq (edited)"
                )
                last_seq = None
                continue
            seq_note = self._sequence(i, seq, last_seq)
            if seq_note:
                say.append(seq_note)
            last_seq = seq
            chain_note = self._link(i, rec, seq_ok=seq_note is None, edited=edited)
            if chain_note:
                say.append(chain_note)
            say += self._fields(i, rec)
        for i in sorted(edited):
            after = f"line {i + 2} (seq {self.seqs[i + 1]})"
            notes[i].insert(0, f"edited: its hash does not match the prev of {after}")
        return [
            f"{_where(i + 1, self.seqs[i])}: " + "; ".join(say) + "."
            for i, say in sorted(notes.items())
            if say
        ]

    def _sequence(self, i: int, seq: int, last_seq: int | None) -> str | None:
        """What is wrong with ``seq`` coming after ``last_seq`` (None: nothing, or unknown)."""
        if last_seq is None or seq == last_seq + 1:
            return None
        if seq <= last_seq:
            again = self.first_at.get(seq, i) != i
            return f"seq {seq} comes after seq {last_seq}: " + (
                "a duplicate of line " + str(self.first_at[seq] + 1) if again else "reordered"
            )
        missing = range(last_seq + 1, seq)
        elsewhere = [m for m in missing if m in self.first_at]
        if elsewhere:
            return (
                f"seq {seq} comes after seq {last_seq}; seq {elsewhere[0]} is at line "
                f"{self.first_at[elsewhere[0]] + 1}: reordered"
            )
        gap = f"{missing.start}" if len(missing) == 1 else f"{missing.start} to {missing.stop - 1}"
        return f"the record(s) with seq {gap} before it were removed"

    def _link(self, i: int, rec: dict[str, Any], *, seq_ok: bool, edited: set[int]) -> str | None:
        """Does the record chain to the line before it? A broken link with the order intact
        means the line before was edited (noted on that line, through ``edited``)."""
        want = self.hashes[i - 1] if i else GENESIS
        prev = rec.get("prev")
        if prev == want:
            return None
        if isinstance(prev, str) and prev in self.by_hash:
            j = self.by_hash[prev]
            return f"it chains to line {j + 1} (seq {self.seqs[j]}), not to the line before it"
        if i and seq_ok:
            edited.add(i - 1)
        elif not i and seq_ok:
            return "it does not start the chain (prev is not the genesis hash)"
        return None

    def _fields(self, i: int, rec: dict[str, Any]) -> list[str]:
        """The record's own fields: present, allowed and free of anything that looks secret."""
        say = []
        if rec.get("event") in (None, "") or not isinstance(rec.get("time"), str):
            say.append("event or time missing (edited)")
        try:
            check_record({k: v for k, v in rec.items() if k not in RESERVED}, scan=False)
            if looks_secret(self.lines[i].decode("utf-8")):
                raise AuditFieldError("it holds text that looks like a PIN, secret or token.")
        except AuditFieldError as exc:
            say.append(f"{exc.detail} (edited)")
        return say

    def head_problems(self, expected: str) -> list[str]:
        """The last record against the head the system journal kept (``expected``)."""
        head = self.hashes[-1] if self.hashes else GENESIS
        if expected.lower() == head:
            return []
        if expected.lower() in self.by_hash:
            j = self.by_hash[expected.lower()]
            where = f"line {j + 1} (seq {self.seqs[j]})"
            return [f"the expected head is {where}, but records follow it."]
        last = f"line {len(self.lines)} (seq {self.seqs[-1]})" if self.lines else "the empty trail"
        return [
            f"the last record, {last}, is not the expected head {expected[:16]}...: the "
            "end of the trail was edited or removed."
        ]
