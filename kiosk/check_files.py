"""`kiosk check`, files in and out: the inbox (CSV files to import), the outbox (manifests) and
the USB stick's mount point, as the kiosk user sees them (:mod:`kiosk.enroll.files`)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from kiosk.check_context import CheckContext, CheckResult
from kiosk.enroll.files import USB_LABEL, csv_files, stick_mounted

NAME = "files in and out"
TMPFILES = "systemd-tmpfiles --create /etc/tmpfiles.d/fido-kiosk.conf"


def _problem(inbox: Path, outbox: Path) -> CheckResult | None:
    """The first thing that keeps files from coming in or going out, with its fix."""
    for place, path, access in (("inbox", inbox, os.R_OK | os.X_OK),
                                ("outbox", outbox, os.W_OK | os.X_OK)):
        if not path.is_dir():
            return CheckResult(NAME, "fail", f"The {place} {path} does not exist.",
                               f"Run: {TMPFILES}")
        if not os.access(path, access):
            can = "read" if place == "inbox" else "write"
            return CheckResult(
                NAME, "fail", f"The kiosk user cannot {can} the {place} {path}.",
                f"Run: {TMPFILES} (owner fido-kiosk, group fido-kiosk-files, mode 2770)",
            )
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o007:
            return CheckResult(
                NAME, "warn", f"Anyone on the machine may read the {place} {path} "
                f"(mode {mode:04o}): it names who gets which key.", f"Run: chmod 2770 {path}")
        if not mode & 0o050:
            return CheckResult(
                NAME, "warn", f"Only the kiosk user can reach the {place} {path} (mode "
                f"{mode:04o}): admins need root to move files in or out.",
                f"Run: chgrp fido-kiosk-files {path} && chmod 2770 {path}")
    return None


def check_files(ctx: CheckContext) -> CheckResult:
    assert ctx.settings is not None  # noqa: S101 - checked by the caller
    store = ctx.settings.store
    inbox, outbox = Path(store.inbox), Path(store.manifest_directory)
    problem = _problem(inbox, outbox)
    if problem is not None:
        return problem
    waiting = len(csv_files(inbox, "inbox"))
    said = f"inbox {inbox} ({waiting} CSV file(s) waiting), outbox {outbox}"
    if not store.usb_mount:
        return CheckResult(NAME, "ok", f"{said}; no USB stick (store.usb_mount is empty).")
    mount = Path(store.usb_mount)
    if not mount.is_dir():
        return CheckResult(
            NAME, "warn", f"{said}; the USB stick's mount point {mount} does not exist.",
            f"Install systemd/media-kioskusb.mount and 71-fido-kiosk-usb.rules, then: {TMPFILES}")
    if stick_mounted(mount):
        on_stick = len(csv_files(mount, "USB stick"))
        return CheckResult(NAME, "ok", f"{said}; USB stick mounted at {mount} "
                           f"({on_stick} CSV file(s) on it).")
    return CheckResult(NAME, "ok", f"{said}; no USB stick at {mount} now (plug one labelled "
                       f"{USB_LABEL}).")
