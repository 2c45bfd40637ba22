"""Every system call the kiosk makes is allowed by the service's SystemCallFilter=.

The filter is read from systemd/fido-kiosk.service and resolved with `systemd-analyze
syscall-filter`; the calls are recorded with strace while the headless demo enrolls two users
(engine, virtual key over CTAPHID, HTTPS, SQLite, CMS escrow, audit) and while a Textual app
runs its event loop. A call outside the filter would fail with EPERM on the kiosk.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parents[2] / "systemd" / "fido-kiosk.service"

pytestmark = pytest.mark.skipif(
    shutil.which("strace") is None or shutil.which("systemd-analyze") is None,
    reason="strace and systemd-analyze are needed (Debian packages strace, systemd)",
)

ROOT_ONLY = {"fchown"} if os.geteuid() == 0 else set()
"""SQLite gives a new WAL or journal file its database's owner only when it runs as root
(``robustFchown`` in os_unix.c); the service never runs as root, and SQLite ignores a refusal."""

TEXTUAL_APP = """
from textual.app import App
class Blink(App[None]):
    def on_mount(self) -> None:
        self.set_timer(0.3, self.exit)
Blink().run(headless=True)
"""


@functools.cache
def _expand(name: str) -> frozenset[str]:
    if not name.startswith("@"):
        return frozenset({name})
    out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    calls: set[str] = set()
    for raw in out.splitlines()[1:]:
        item = raw.strip()
        if item and not item.startswith("#"):
            calls |= _expand(item)
    return frozenset(calls)


def _allowed() -> frozenset[str]:
    allowed: set[str] | None = None
    for line in SERVICE.read_text().splitlines():
        if not line.startswith("SystemCallFilter="):
            continue
        value = line.split("=", 1)[1].strip()
        deny = value.startswith("~")
        names = value.lstrip("~").split()
        group = set().union(*(_expand(n) for n in names))
        if deny:
            assert allowed is not None, "a deny list before the allow list"
            allowed -= group
        else:
            allowed = group if allowed is None else allowed | group
    assert allowed, "the service has no SystemCallFilter= allow list"
    return frozenset(allowed)


def _traced(tmp_path: Path, *args: str) -> set[str]:
    out_file = tmp_path / "strace.txt"
    run = subprocess.run(
        ["strace", "-f", "-qq", "-c", "-o", str(out_file), sys.executable, *args],
        capture_output=True, text=True, timeout=300, check=False,
    )
    if "ptrace" in run.stderr and "Operation not permitted" in run.stderr:
        pytest.skip("ptrace is not permitted here")
    assert run.returncode == 0, run.stderr[-2000:]
    calls = set()
    for line in out_file.read_text().splitlines():
        match = re.match(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+\d+\s+(?:\d+\s+)?([a-z0-9_]+)$", line)
        if match and match.group(1) != "total":
            calls.add(match.group(1))
    assert len(calls) > 20, out_file.read_text()[:2000]
    return calls


def test_the_filter_is_what_the_unit_says() -> None:
    allowed = _allowed()
    assert {"read", "write", "openat", "ioctl", "connect", "fsync", "flock"} <= allowed
    assert not {"mount", "ptrace", "setuid", "reboot", "init_module"} & allowed


def test_enrolling_stays_inside_the_filter(tmp_path: Path) -> None:
    used = _traced(tmp_path, "-m", "kiosk", "demo", "--headless", "--users", "2",
                   "--state-dir", str(tmp_path / "demo"))
    assert {"ioctl", "fsync", "connect"} <= used  # the trace really saw the work
    outside = sorted(used - _allowed() - ROOT_ONLY)
    assert outside == [], f"system calls the service would refuse with EPERM: {outside}"


def test_the_tui_event_loop_stays_inside_the_filter(tmp_path: Path) -> None:
    used = _traced(tmp_path, "-c", TEXTUAL_APP)
    outside = sorted(used - _allowed())
    assert outside == [], f"system calls the service would refuse with EPERM: {outside}"


def test_sockets_stay_inside_restrict_address_families(tmp_path: Path) -> None:
    families = next(
        line.split("=", 1)[1].split()
        for line in SERVICE.read_text().splitlines()
        if line.startswith("RestrictAddressFamilies=")
    )
    trace = tmp_path / "sockets.txt"
    run = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=socket,socketpair", "-o", str(trace),
         sys.executable, "-m", "kiosk", "demo", "--headless", "--users", "1",
         "--state-dir", str(tmp_path / "demo")],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    used = set(re.findall(r"socket(?:pair)?\((AF_[A-Z0-9]+)", trace.read_text()))
    assert "AF_INET" in used  # HTTPS to the (fake) tenant was traced
    assert used <= set(families), f"refused by RestrictAddressFamilies: {used - set(families)}"
