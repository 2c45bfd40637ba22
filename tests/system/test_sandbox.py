"""The service's sandbox does not break the kiosk.

fido-kiosk.service sets MemoryDenyWriteExecute=yes and NoNewPrivileges=yes. The kernel offers the
same two locks to any process (prctl PR_SET_MDWE, Linux 6.3+, and PR_SET_NO_NEW_PRIVS); they are
inherited across exec. Here the headless demo (engine, virtual key over CTAPHID, fake tenant over
HTTPS, SQLite, CMS escrow, audit) and the TUI's imports run under both, so a library that needs
writable-and-executable memory fails this test instead of failing on the kiosk.
"""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
from pathlib import Path

import pytest

PR_SET_NO_NEW_PRIVS = 38
PR_SET_MDWE = 65
PR_GET_MDWE = 66
PR_MDWE_REFUSE_EXEC_GAIN = 1

LOCK = f"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl({PR_SET_NO_NEW_PRIVS}, 1, 0, 0, 0) != 0:
    sys.exit("no_new_privs refused")
if libc.prctl({PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0) != 0:
    sys.exit("MDWE refused")
os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
"""


def _mdwe_supported() -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    return bool(libc.prctl(PR_GET_MDWE, 0, 0, 0, 0) >= 0)


pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not _mdwe_supported(),
    reason="the kernel has no PR_SET_MDWE (Linux 6.3 or later is needed)",
)


def _locked(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LOCK, *args],
        capture_output=True, text=True, timeout=180, check=False,
    )


def test_the_lock_really_refuses_writable_executable_memory() -> None:
    probe = (
        "import mmap\n"
        "try:\n"
        "    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
        "except OSError:\n"
        "    print('refused')\n"
    )
    out = _locked("-c", probe)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "refused"


def test_headless_enrollment_runs_without_writable_executable_memory(tmp_path: Path) -> None:
    out = _locked("-m", "kiosk", "demo", "--headless", "--users", "2",
                  "--state-dir", str(tmp_path / "demo"))
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["enrolled"] == 2 and result["audit_ok"] is True


def test_the_tui_and_the_real_hid_backend_load_under_the_lock() -> None:
    code = (
        "import kiosk.tui.app, kiosk.commands.run, kiosk.keys.hid, fido2.hid.linux, "
        "kiosk.check, kiosk.check_tenant; print('loaded')"
    )
    out = _locked("-c", code)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "loaded"
