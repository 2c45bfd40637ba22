"""Files in and out of the locked-down kiosk, in three places the sandboxed service can use:

- the **inbox** (``store.inbox``, default ``/srv/fido-kiosk/inbox``): CSV files to import. An
  admin copies them there over SSH as a member of the group ``fido-kiosk-files``, no root
  needed; the service only reads it.
- the **outbox** (``store.manifest_directory``, default ``/srv/fido-kiosk/outbox``): shipping
  manifests and shift reports, group-readable by ``fido-kiosk-files`` (never a PIN).
- a **USB stick** labelled :data:`USB_LABEL`, mounted by udev and systemd at ``store.usb_mount``
  (``systemd/71-fido-kiosk-usb.rules``, ``media-kioskusb.mount``), where the service sees it:
  the admin screen lists its CSV files, writes manifests to it and asks for it to be unmounted
  (:func:`request_eject`: the kiosk cannot unmount anything itself; a root path unit,
  ``fido-kiosk-eject.path``, does it and removes the request).

Names from a directory are outside input: only plain ``.csv`` files (no links, no hidden
files), at most :data:`MAX_LISTED`, newest first; names are cleaned where they are shown.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

USB_LABEL = "KIOSKUSB"
"""The file-system label of the kiosk's USB stick (``fatlabel /dev/sdX1 KIOSKUSB``)."""
MAX_LISTED = 200
"""CSV files listed from one place at most."""
EJECT_WORD = b"eject\n"


@dataclass(frozen=True)
class CsvFile:
    path: Path
    place: str
    """Where it was found: ``inbox`` or ``USB stick``."""
    size: int
    modified: float


def csv_files(directory: Path, place: str, limit: int = MAX_LISTED) -> list[CsvFile]:
    """The plain ``.csv`` files directly in ``directory``, newest first; none if it cannot
    be read (missing, not a directory, no permission)."""
    found: list[CsvFile] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    for entry in entries:
        if entry.name.startswith(".") or not entry.name.lower().endswith(".csv"):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            found.append(CsvFile(Path(entry.path), place, info.st_size, info.st_mtime))
    found.sort(key=lambda f: (-f.modified, f.path.name))
    return found[:limit]


def stick_mounted(mount: Path) -> bool:
    """A file system is mounted at ``mount`` (the stick, once udev and systemd mounted it)."""
    try:
        return mount.is_dir() and os.path.ismount(mount)
    except OSError:
        return False


def offered(inbox: Path, stick: Path | None) -> list[CsvFile]:
    """The CSV files an admin may import: those of the mounted stick (``stick``, None when
    there is none) first, since it was plugged in for that, then the inbox's."""
    on_stick = csv_files(stick, "USB stick") if stick is not None else []
    return [*on_stick, *csv_files(inbox, "inbox")]


def request_eject(request: Path) -> None:
    """Ask for the stick to be unmounted: everything written is flushed first, then the
    request file appears (whole) for the root path unit that unmounts it."""
    os.sync()
    tmp = request.with_name(f".{request.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, EJECT_WORD)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, request)
