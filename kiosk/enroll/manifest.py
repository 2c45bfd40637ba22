"""The shipping manifest: which key went to whom, as CSV (for a spreadsheet) and JSON.

Every user of the batch is in it: one row per key enrolled for them (status ``enrolled``) and,
for a user still waiting, failed or skipped, one row with that state and its reason (no key).
Columns: serial, upn, name (the person's display name), key_label (the name the key was
registered under in Entra), aaguid, model, time, status, reason, reference (the one printed as
a QR code on the key's shipping label). Never a PIN: only these columns are written, whatever
else a row carries. The CSV is safe to open in a spreadsheet: a
cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (after any leading
spaces, full-width forms included) gets a leading ``'`` so it is shown as text, never run as a
formula (OWASP "CSV injection"). Both files are written atomically with mode 0640.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk.config import Settings
from kiosk.durable import atomic_write
from kiosk.errors import KioskError
from kiosk.model.codec import b64_lenient
from kiosk.model.queue import QueueRow
from kiosk.store.journal import Enrollment

COLUMNS = (
    "serial", "upn", "name", "key_label", "aaguid", "model", "time", "status", "reason",
    "reference",
)
ENROLLED = "enrolled"
"""The status of a row that is a key given to its user."""

_FORMULA_START = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")
_STAMP = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class ManifestRow:
    serial: str
    upn: str
    name: str
    """The person's display name (from Entra, as queued)."""
    key_label: str
    """The key's name in Entra (the method's display name, e.g. "YubiKey 5 NFC 41000001")."""
    aaguid: str
    model: str
    time: str
    """ISO 8601, UTC."""
    status: str
    """``enrolled`` for a key; else the user's queue state (pending, active, failed, skipped)."""
    reason: str = ""
    reference: str = ""
    """The label's reference (:func:`label_reference`)."""


def batch_rows(users: Iterable[QueueRow], keys: Iterable[Enrollment]) -> list[ManifestRow]:
    """The manifest of a batch: each user in queue order, with a row per enrolled key (``keys``:
    the journal's done attempts) and a row for a state that is not done (still pending for a
    backup key, being enrolled, failed or skipped, with the reason). Keys of users no longer
    in the queue come last."""
    by_entry: dict[int, list[Enrollment]] = {}
    for key in sorted(keys, key=lambda k: k.id):
        by_entry.setdefault(key.entry_id, []).append(key)
    rows: list[ManifestRow] = []
    for user in users:
        enrolled = by_entry.pop(user.entry_id, [])
        rows += [_key_row(k, user.display_name) for k in enrolled]
        if user.status != "done" or not enrolled:
            rows.append(ManifestRow(
                serial="", upn=user.upn, name=user.display_name, key_label="", aaguid="",
                model="", time=user.updated, status=user.status, reason=user.reason,
            ))
    rows += [_key_row(k, "") for left in by_entry.values() for k in left]
    return rows


def _key_row(key: Enrollment, name: str) -> ManifestRow:
    return ManifestRow(
        serial=key.serial or "",
        upn=key.upn,
        name=name,
        key_label=key.display_name or "",
        aaguid=key.aaguid or "",
        model=key.model or "",
        time=key.updated,
        status=ENROLLED,
        reference=label_reference(key.id, b64_lenient(key.credential_id or "")),
    )


def label_reference(enrollment_id: int, credential_id: bytes) -> str:
    """The reference of one enrolled key, on its label (QR code) and in the manifest: the
    enrollment number and the start of the credential id's SHA-256 (as the audit trail keeps
    it), so a scanned label leads to the journal and the audit record."""
    digest = hashlib.sha256(credential_id).hexdigest()[:8].upper()
    return f"K{enrollment_id:06d}-{digest}"


class ManifestError(KioskError):
    title = "Manifest not written"
    next_step = "Check the manifest directory (disk space, permissions) and export again."


def csv_safe(value: str) -> str:
    """The cell as a spreadsheet will show it as text, never evaluate it."""
    stripped = value.lstrip(" ")
    if stripped and stripped[0] in _FORMULA_START:
        return "'" + value
    return value


def _row_dict(row: ManifestRow | Mapping[str, Any]) -> dict[str, str]:
    data = asdict(row) if isinstance(row, ManifestRow) else row
    out: dict[str, str] = {}
    for col in COLUMNS:
        value = data.get(col)
        out[col] = "" if value is None else str(value)
    return out


def render_csv(rows: Iterable[ManifestRow | Mapping[str, Any]]) -> str:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    for row in rows:
        d = _row_dict(row)
        writer.writerow([csv_safe(d[c]) for c in COLUMNS])
    return buf.getvalue()


def render_json(rows: Iterable[ManifestRow | Mapping[str, Any]], generated: str) -> str:
    items = [_row_dict(r) for r in rows]
    doc = {"generated": generated, "columns": list(COLUMNS), "count": len(items), "rows": items}
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def write_manifest(
    rows: Iterable[ManifestRow | Mapping[str, Any]],
    directory: str | Path,
    stamp: str | datetime | None = None,
) -> list[Path]:
    """Write ``manifest-<stamp>.csv`` and ``.json`` in ``directory``; return [csv, json]."""
    now = datetime.now(UTC)
    when = stamp or now
    label = when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") if isinstance(when, datetime) else when
    if not _STAMP.match(label):
        raise ManifestError(f"the manifest stamp {label!r} is not a plain file-name part.")
    materialised = list(rows)
    folder = Path(directory)
    paths = [folder / f"manifest-{label}.csv", folder / f"manifest-{label}.json"]
    generated = now.isoformat(timespec="seconds").replace("+00:00", "Z")
    try:
        folder.mkdir(mode=0o750, parents=True, exist_ok=True)
        # utf-8-sig: spreadsheet programs then read names with accents correctly.
        atomic_write(paths[0], render_csv(materialised).encode("utf-8-sig"), 0o640)
        atomic_write(paths[1], render_json(materialised, generated).encode("utf-8"), 0o640)
    except OSError as exc:
        raise ManifestError(
            f"{folder}: the manifest could not be written ({exc.strerror})."
        ) from None
    return paths


def outbox(settings: Settings) -> Path:
    """The folder where the kiosk leaves files for people (shipping manifests, shift reports):
    ``store.manifest_directory``. Every writer asks here, so the outbox can move in one place."""
    return Path(settings.store.manifest_directory)
