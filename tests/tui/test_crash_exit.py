"""A crash never ends the kiosk for good: `kiosk run` exits non-zero, so systemd restarts it;
Ctrl+C before the TUI owns the console does nothing; only the admin exit stays down."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kiosk.commands.run import after_exit_notice, run_tui
from kiosk.config import Settings
from kiosk.process import ADMIN_EXIT, CRASH_EXIT
from kiosk.tui.app import KioskApp


class _Crashing(KioskApp):
    def on_mount(self) -> None:
        raise RuntimeError("boom")


class _MarkupCrash(KioskApp):
    def on_mount(self) -> None:
        from rich.markup import render

        render("[/bold]x")  # what a key serial rendered as markup did


def test_an_unhandled_exception_in_the_tui_exits_non_zero() -> None:
    assert run_tui(_Crashing(None, Settings(), start_engine=False), headless=True) == CRASH_EXIT


def test_a_markup_error_in_the_tui_exits_non_zero() -> None:
    app = _MarkupCrash(None, Settings(), start_engine=False)
    assert run_tui(app, headless=True) == CRASH_EXIT


def test_ctrl_c_at_the_first_line_of_kiosk_run_does_not_end_it() -> None:
    code = (
        "import sys; sys.argv = ['kiosk', 'run']\n"
        "import kiosk, os, signal, time\n"
        "for s in (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP):\n"
        "    os.kill(os.getpid(), s)\n"
        "time.sleep(0.2)\n"
        "print('still running')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert "still running" in out.stdout


def test_other_commands_keep_ctrl_c() -> None:
    code = (
        "import sys; sys.argv = ['kiosk', 'check']\n"
        "import kiosk, signal\n"
        "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.stdout.strip() == "True", out.stderr


def test_tty1_says_whether_the_kiosk_stays_down() -> None:
    stopped = after_exit_notice({"EXIT_STATUS": str(ADMIN_EXIT), "SERVICE_RESULT": "success"})
    assert "stopped by an administrator" in stopped and "systemctl start" in stopped
    crashed = after_exit_notice({"EXIT_STATUS": "1", "SERVICE_RESULT": "exit-code"})
    assert "starts it again" in crashed and "journalctl" in crashed


def test_the_after_exit_notice_runs_without_a_configuration(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kiosk", "run", "--config", str(tmp_path / "none.toml"),
         "--after-exit"],
        capture_output=True, text=True, timeout=60, check=False,
        env={"EXIT_STATUS": str(ADMIN_EXIT), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    assert "stays stopped" in out.stdout
