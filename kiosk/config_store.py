"""The [store] section of kiosk.toml: the kiosk's own SQLite file, or a fleet's PostgreSQL."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kiosk.config_fields import setting


def _db_url(v: str) -> str | None:
    if v and not v.startswith(("postgresql://", "postgres://")):
        return "empty (SQLite at store.path) or a postgresql:// URL"
    if re.match(r"^[a-z]+://[^/@?]*:[^/@?]*@", v):
        return "a URL without a password (put it in store.password_file)"
    return None


def _lease(v: float) -> str | None:
    return None if 10 <= v <= 3600 else "a number of seconds from 10 to 3600"


@dataclass(frozen=True)
class StoreSettings:
    """Where the kiosk keeps its state."""

    path: str = setting("/var/lib/fido-kiosk/kiosk.db", "SQLite database (WAL) of queue and keys.")
    audit_path: str = setting("/var/lib/fido-kiosk/audit.jsonl", "Hash-chained audit trail.")
    manifest_directory: str = setting(
        "/srv/fido-kiosk/outbox",
        "The outbox: shipping manifests and shift reports go here (group fido-kiosk-files "
        "may read them, no root needed; never a PIN).",
    )
    inbox: str = setting(
        "/srv/fido-kiosk/inbox",
        "The inbox: CSV files to import, copied here by a member of group fido-kiosk-files.",
    )
    usb_mount: str = setting(
        "/media/kioskusb",
        "Where a USB stick labelled KIOSKUSB is mounted (systemd/media-kioskusb.mount); "
        "empty: no USB stick.",
    )
    eject_request: str = setting(
        "/run/fido-kiosk/eject-usb",
        "File the kiosk writes to have the USB stick unmounted (fido-kiosk-eject.path).",
    )
    mds_blob: str = setting("/var/lib/fido-kiosk/mds3.jwt", "FIDO MDS3 blob placed by the admin.")
    url: str = setting(
        "",
        "Fleet database: postgresql://user@host/db?sslrootcert=CA.pem (TLS verify-full; no "
        "password here). Empty: the SQLite file at path.",
        _db_url,
        secret=True,
    )
    password_file: str = setting(
        "", "File (mode 0600) or systemd credential name holding the fleet database password."
    )
    station: str = setting("", "This station's name in the fleet (empty: the host name).")
    lease_seconds: float = setting(
        60.0,
        "How long a station holds users it claimed but has not started, unless renewed.",
        _lease,
    )
