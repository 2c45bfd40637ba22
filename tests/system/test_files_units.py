"""Files in and out of the sandboxed service (issue 11 item 12), as systemd will read them: the
USB stick's udev rule and mount unit, the eject path and service units, and the service's
writable places matching the kiosk's default settings. Checked with systemd-analyze verify;
a real stick and a running systemd are not available here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kiosk.config import StoreSettings
from kiosk.enroll.files import USB_LABEL

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "systemd"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120, check=False)


def _keys(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


@pytest.mark.parametrize(
    "unit", ["media-kioskusb.mount", "fido-kiosk-eject.path", "fido-kiosk-eject.service"]
)
def test_systemd_analyze_verify_accepts_the_unit(unit: str, tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze is missing: install Debian's systemd package"
    for name in ("media-kioskusb.mount", "fido-kiosk-eject.path", "fido-kiosk-eject.service"):
        shutil.copy(UNITS / name, tmp_path / name)
    out = _run(tool, "verify", str(tmp_path / unit))
    assert out.returncode == 0, out.stdout + out.stderr
    assert unit not in out.stderr, out.stderr  # no warnings about it


def test_the_mount_is_where_the_settings_and_the_service_expect_it() -> None:
    store = StoreSettings()
    mount = _keys(UNITS / "media-kioskusb.mount")
    assert mount["Where"] == [store.usb_mount]
    assert mount["What"] == [f"/dev/disk/by-label/{USB_LABEL}"]
    options = mount["Options"][0].split(",")
    assert {"nosuid", "nodev", "noexec", "uid=fido-kiosk", "gid=fido-kiosk-files"} <= set(options)
    service = _keys(UNITS / "fido-kiosk.service")
    writable = service["ReadWritePaths"][0].split()
    assert store.manifest_directory in writable and f"-{store.usb_mount}" in writable
    assert store.inbox not in " ".join(writable)  # the kiosk only reads the inbox
    assert Path(store.eject_request).parent == Path("/run") / service["RuntimeDirectory"][0]
    path_unit = _keys(UNITS / "fido-kiosk-eject.path")
    assert path_unit["PathExists"] == [store.eject_request]
    eject = _keys(UNITS / "fido-kiosk-eject.service")
    assert eject["ExecStart"] == ["/usr/bin/systemctl stop media-kioskusb.mount"]
    assert eject["ExecStopPost"] == [f"/usr/bin/rm -f {store.eject_request}"]


def test_the_udev_rule_mounts_only_a_usb_stick_with_the_kiosks_label() -> None:
    rule = (UNITS / "71-fido-kiosk-usb.rules").read_text()
    active = [ln.strip() for ln in rule.splitlines() if ln.strip() and not ln.startswith("#")]
    (acting,) = [ln for ln in active if "SYSTEMD_WANTS" in ln]
    assert f'ENV{{ID_FS_LABEL}}=="{USB_LABEL}"' in acting
    assert 'ENV{SYSTEMD_WANTS}+="media-kioskusb.mount"' in acting
    assert 'ENV{ID_BUS}!="usb", GOTO="fido_kiosk_usb_end"' in active
    assert not any(re.search(r"\bRUN\b|MODE=|OWNER=", ln) for ln in active)


def test_tmpfiles_give_the_inbox_and_outbox_to_the_files_group() -> None:
    lines = [ln.split() for ln in (UNITS / "fido-kiosk.tmpfiles.conf").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    store = StoreSettings()
    for place in (store.inbox, store.manifest_directory):
        (line,) = [ln for ln in lines if ln[1] == place]
        assert line[2:5] == ["2770", "fido-kiosk", "fido-kiosk-files"], line
    sysusers = (UNITS / "fido-kiosk.sysusers.conf").read_text()
    assert re.search(r"^m\s+fido-kiosk\s+fido-kiosk-files\s*$", sysusers, flags=re.MULTILINE)


@pytest.mark.skipif(os.geteuid() != 0, reason="creating files owned by another user needs root")
def test_sysusers_and_tmpfiles_make_the_files_group_and_places(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (tmp_path / "etc/group").write_text("root:x:0:\n")
    out = _run(shutil.which("systemd-sysusers") or "systemd-sysusers", f"--root={tmp_path}",
               str(UNITS / "fido-kiosk.sysusers.conf"))
    assert out.returncode == 0, out.stderr
    groups = {ln.split(":")[0]: ln.split(":") for ln in (tmp_path / "etc/group").read_text()
              .splitlines()}
    assert "fido-kiosk" in groups["fido-kiosk-files"][3].split(",")
    out = _run(shutil.which("systemd-tmpfiles") or "systemd-tmpfiles", "--create",
               f"--root={tmp_path}", str(UNITS / "fido-kiosk.tmpfiles.conf"))
    assert out.returncode == 0, out.stderr
    gid = int(groups["fido-kiosk-files"][2])
    for place in ("srv/fido-kiosk/inbox", "srv/fido-kiosk/outbox"):
        st = (tmp_path / place).stat()
        assert (st.st_gid, st.st_mode & 0o7777) == (gid, 0o2770), place
    assert (tmp_path / "media/kioskusb").is_dir()
