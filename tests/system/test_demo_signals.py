"""A demo whose terminal closes (SIGHUP) or that is stopped (SIGTERM) cleans up after itself:
its temporary state (sealed demo PINs, the demo helpdesk key) does not stay on the disk."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def tmux(socket: str, *args: str) -> str:
    out = subprocess.run(
        ["tmux", "-L", socket, *args], capture_output=True, text=True, timeout=20, check=False
    )
    return out.stdout


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("how", ["close the terminal", "SIGTERM"])
def test_demo_removes_its_temporary_state_when_ended(tmp_path: Path, how: str) -> None:
    socket = f"kiosk-signal-{os.getpid()}-{how.split(maxsplit=1)[0]}"
    temp = tmp_path / "tmp"
    temp.mkdir()
    command = f"TMPDIR={temp} TERM=xterm-256color {sys.executable} -m kiosk demo --users 2"
    tmux(socket, "new-session", "-d", "-s", "demo", "-x", "100", "-y", "30", command)
    try:
        assert wait_until(lambda: "Choose your name" in tmux(socket, "capture-pane", "-p"), 30)
        assert wait_until(lambda: any(temp.glob("kiosk-demo-*")), 30), "demo state not created"
        pid = int(tmux(socket, "list-panes", "-F", "#{pane_pid}").strip())
        if how == "SIGTERM":
            os.kill(pid, 15)
        else:
            tmux(socket, "kill-session", "-t", "demo")
        assert wait_until(lambda: not any(temp.glob("kiosk-demo-*")), 20), (
            f"demo state left behind: {sorted(p.name for p in temp.iterdir())}"
        )
    finally:
        tmux(socket, "kill-server")
