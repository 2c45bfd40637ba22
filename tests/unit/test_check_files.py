"""`kiosk check` reports the inbox, the outbox and the USB stick's mount point as the kiosk
user finds them, with the fix for each problem (issue 11 item 12)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from kiosk.check import run_checks
from kiosk.check_context import CheckContext
from kiosk.check_files import check_files
from kiosk.config import Settings, StoreSettings


def _ctx(tmp_path: Path, **store: str) -> CheckContext:
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    for folder in (inbox, outbox):
        folder.mkdir(exist_ok=True)
        folder.chmod(0o2770)
    fields = {"inbox": str(inbox), "manifest_directory": str(outbox),
              "usb_mount": str(tmp_path / "kioskusb"), **store}
    settings = Settings(store=dataclasses.replace(StoreSettings(), **fields))
    return CheckContext(config_path=tmp_path / "kiosk.toml", settings=settings)


def test_ready_places_are_ok_and_count_the_csv_files_waiting(tmp_path: Path) -> None:
    (tmp_path / "kioskusb").mkdir()
    ctx = _ctx(tmp_path)
    (tmp_path / "inbox" / "monday.csv").write_text("upn\na@contoso.com\n")
    (tmp_path / "inbox" / "readme.txt").write_text("not counted")
    result = check_files(ctx)
    assert result.status == "ok", result
    assert f"inbox {tmp_path / 'inbox'} (1 CSV file(s) waiting)" in result.detail
    assert "no USB stick at" in result.detail and "KIOSKUSB" in result.detail


def test_a_mounted_stick_is_reported_with_its_csv_files(tmp_path: Path) -> None:
    result = check_files(_ctx(tmp_path, usb_mount="/"))  # "/" is a mount point everywhere
    assert result.status == "ok" and "USB stick mounted at /" in result.detail


def test_a_missing_inbox_or_outbox_fails_with_the_tmpfiles_fix(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, inbox=str(tmp_path / "nowhere"))
    result = check_files(ctx)
    assert result.status == "fail" and "inbox" in result.detail and "nowhere" in result.detail
    assert "systemd-tmpfiles --create" in result.fix
    ctx = _ctx(tmp_path, manifest_directory=str(tmp_path / "gone"))
    result = check_files(ctx)
    assert result.status == "fail" and "outbox" in result.detail


def test_an_outbox_only_the_kiosk_reaches_warns_that_admins_need_root(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    (tmp_path / "outbox").chmod(0o700)  # what the old manifests directory was
    result = check_files(ctx)
    assert result.status == "warn" and "admins need root" in result.detail
    assert "chgrp fido-kiosk-files" in result.fix


def test_an_outbox_anyone_may_read_warns(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    (tmp_path / "outbox").chmod(0o2775)
    result = check_files(ctx)
    assert result.status == "warn" and "Anyone on the machine" in result.detail


def test_a_missing_mount_point_warns_with_the_units_to_install(tmp_path: Path) -> None:
    result = check_files(_ctx(tmp_path))
    assert result.status == "warn" and "mount point" in result.detail
    assert "media-kioskusb.mount" in result.fix


def test_kiosk_check_lists_files_in_and_out_even_when_the_config_is_bad(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text("this is not toml = = =\n")
    names = [r.name for r in run_checks(CheckContext(config_path=config))]
    assert "files in and out" in names
