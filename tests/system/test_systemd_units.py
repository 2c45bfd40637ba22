"""The units in systemd/: valid for systemd, hardened to 1.2 or better, fencing devices right.

`systemd-analyze` is needed (Debian package `systemd`); CI installs it when missing. Without it
these tests fail rather than skip, so a hardening regression cannot slip through unnoticed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "systemd"
SERVICE = UNITS / "fido-kiosk.service"
MAX_EXPOSURE = 1.2


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120, check=False)


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: install Debian's systemd package (CI must provide it)"
    return path


def _settings() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for raw in SERVICE.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


def test_systemd_analyze_verify_accepts_the_service(tmp_path: Path) -> None:
    tool = _tool("systemd-analyze")
    # The kiosk is not installed under /opt here: point ExecStart at a real program, keep the
    # rest of the unit byte for byte.
    text = SERVICE.read_text()
    assert "ExecStart=/opt/fido-kiosk/.venv/bin/kiosk run" in text
    copy = tmp_path / SERVICE.name
    copy.write_text(text.replace("/opt/fido-kiosk/.venv/bin/kiosk", shutil.which("true") or ""))
    out = _run(tool, "verify", str(copy))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "fido-kiosk.service" not in out.stderr, out.stderr  # no warnings about our unit


def test_security_exposure_is_two_or_better() -> None:
    tool = _tool("systemd-analyze")
    out = _run(tool, "security", "--offline=true", "--no-pager", str(SERVICE))
    match = re.search(r"Overall exposure level for fido-kiosk\.service: (\d+\.\d+)", out.stdout)
    assert match, out.stdout + out.stderr
    exposure = float(match.group(1))
    assert exposure <= MAX_EXPOSURE, f"exposure {exposure} > {MAX_EXPOSURE}:\n{out.stdout}"


def test_service_reaches_hidraw_tty_and_network_but_nothing_else() -> None:
    s = _settings()
    assert s["DevicePolicy"] == ["closed"]
    assert sorted(s["DeviceAllow"]) == ["/dev/tty rw", "/dev/tty1 rw", "char-hidraw rw"]
    assert "PrivateDevices" not in s  # it would hide /dev/hidraw*
    assert s["RestrictAddressFamilies"] == ["AF_UNIX AF_INET AF_INET6"]
    assert s["TTYPath"] == ["/dev/tty1"] and s["StandardInput"] == ["tty"]
    assert s["User"] == ["fido-kiosk"] and s["Restart"] == ["always"]
    assert "getty@tty1.service" in s["Conflicts"][0]
    assert s["NoNewPrivileges"] == ["yes"] and s["CapabilityBoundingSet"] == [""]


def test_secrets_come_as_credentials_never_through_the_environment() -> None:
    from kiosk.entra.secrets import CREDENTIAL_NAMES

    s = _settings()
    loaded = [v.split(":", 1)[0] for v in s["LoadCredential"]]
    assert loaded and set(loaded) <= set(CREDENTIAL_NAMES.values())
    env = " ".join(s.get("Environment", []))
    assert not re.search(r"(?i)secret|password|passphrase|token|key=", env)
    assert "EnvironmentFile" not in s


def test_udev_rule_gives_fido_tokens_to_the_kiosk_group_only() -> None:
    rule = UNITS / "70-fido-kiosk.rules"
    lines = [ln.strip() for ln in rule.read_text().splitlines()]
    active = [ln for ln in lines if ln and not ln.startswith("#")]
    assignments = [ln for ln in active if "GROUP=" in ln or "MODE=" in ln or "OWNER=" in ln]
    assert assignments == ['ENV{ID_FIDO_TOKEN}=="1", GROUP="fido-kiosk", MODE="0660"']
    assert 'SUBSYSTEM!="hidraw", GOTO="fido_kiosk_end"' in active
    assert not any(re.search(r"RUN|MODE=\"06[0-7][1-7]\"|TAG\+=", ln) for ln in active)
    if shutil.which("udevadm") and "verify" in _run("udevadm", "--help").stdout:
        out = _run("udevadm", "verify", str(rule))
        assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="creating files owned by another user needs root")
def test_sysusers_and_tmpfiles_make_the_user_and_private_directories(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (tmp_path / "etc/group").write_text("root:x:0:\n")
    out = _run(_tool("systemd-sysusers"), f"--root={tmp_path}",
               str(UNITS / "fido-kiosk.sysusers.conf"))
    assert out.returncode == 0, out.stderr
    user = next(
        ln.split(":") for ln in (tmp_path / "etc/passwd").read_text().splitlines()
        if ln.startswith("fido-kiosk:")
    )
    uid = int(user[2])
    assert 0 < uid < 1000 and user[6] == "/usr/sbin/nologin"
    out = _run(_tool("systemd-tmpfiles"), "--create", f"--root={tmp_path}",
               str(UNITS / "fido-kiosk.tmpfiles.conf"))
    assert out.returncode == 0, out.stderr
    for rel, mode in [("var/lib/fido-kiosk", 0o700), ("var/lib/fido-kiosk/escrow", 0o700),
                      ("var/log/fido-kiosk", 0o750)]:
        st = (tmp_path / rel).stat()
        assert (st.st_uid, st.st_mode & 0o777) == (uid, mode), rel
    creds = (tmp_path / "etc/fido-kiosk/credentials").stat()
    assert (creds.st_uid, creds.st_mode & 0o777) == (0, 0o700)


def test_any_end_but_the_admin_exit_restarts_the_kiosk() -> None:
    from kiosk.process import ADMIN_EXIT

    s = _settings()
    assert s["Restart"] == ["always"]
    assert s["RestartPreventExitStatus"] == [str(ADMIN_EXIT)]
    assert s["SuccessExitStatus"] == [str(ADMIN_EXIT)]
    assert s["StartLimitIntervalSec"] == ["0"]  # systemd never gives up on a crash loop
    assert s["ExecStopPost"] == ["/opt/fido-kiosk/.venv/bin/kiosk run --after-exit"]


def test_no_core_dump_and_no_swap_for_the_kiosks_memory() -> None:
    s = _settings()
    assert s["LimitCORE"] == ["0"]
    assert s["MemorySwapMax"] == ["0"]
