"""A crash of the kiosk prints a traceback, never the local variables (which may hold a PIN)."""

from __future__ import annotations

import subprocess
import sys

CRASHING_APP = """
from kiosk.config import Settings
from kiosk.tui.app import KioskApp

class Crashing(KioskApp):
    def on_mount(self):
        pin = "".join(reversed("23456789"))  # what a hand-over screen would hold
        raise RuntimeError("boom")

Crashing(None, Settings(), start_engine=False).run(headless=True)
"""


def test_crash_traceback_shows_no_local_values() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CRASHING_APP],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    printed = out.stdout + out.stderr
    assert "RuntimeError: boom" in printed  # the crash itself is reported
    assert "98765432" not in printed
