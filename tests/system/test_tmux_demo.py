"""`kiosk demo` in a real terminal (tmux): a batch of three users driven with send-keys.

The screen is read with capture-pane. After the admin exits the kiosk, the terminal's
scrollback must not hold any PIN that was shown on screen.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

from kiosk.demo.operators import DEMO_ADMIN_PIN, DEMO_OPERATOR_PIN

pytestmark = [
    pytest.mark.system,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

SPACED_PIN = re.compile(r"\b(\d(?:  \d){5,})\b")


class Tmux:
    def __init__(self) -> None:
        self.socket = f"kiosk-test-{uuid.uuid4().hex[:8]}"
        self.session = "kiosk"

    def run(self, *args: str) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return out.stdout

    def start(self, command: str, width: int = 100, height: int = 30) -> None:
        self.run("new-session", "-d", "-s", self.session, "-x", str(width), "-y", str(height),
                 command)
        self.run("set-option", "-t", self.session, "remain-on-exit", "on")

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.run("send-keys", "-t", self.session, key)
            time.sleep(0.15)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.session)

    def history(self) -> str:
        return self.run("capture-pane", "-p", "-S", "-", "-E", "-", "-t", self.session)

    def wait(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} did not appear; screen:\n{self.screen()}")

    def dead(self) -> bool:
        return self.run("display-message", "-p", "-t", self.session, "#{pane_dead}").strip() == "1"

    def admin_exit(self) -> None:
        """From the enrollment screen: the admin's PIN, X, Y; wait until the demo has ended."""
        self.keys("a")
        self.wait("Admin PIN")
        self.keys(*DEMO_ADMIN_PIN, "Enter")
        self.wait("Admin mode")
        self.keys("x")
        self.wait("Exit the kiosk?")
        self.keys("y")
        deadline = time.monotonic() + 30
        while not self.dead():
            assert time.monotonic() < deadline, self.screen()
            time.sleep(0.2)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True,
                       check=False, timeout=30)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    t = Tmux()
    yield t
    t.kill()


def test_batch_of_three_in_a_real_terminal(tmux: Tmux) -> None:
    tmux.start(f"{sys.executable} -m kiosk demo --users 3 --latency none")
    tmux.wait("Choose your name")
    tmux.keys("Enter", *DEMO_OPERATOR_PIN, "Enter")
    pins: list[str] = []
    for n in range(1, 4):
        if n == 3:  # the demo's last user is a B2B guest: the kiosk asks first (policy.guests)
            screen = tmux.wait("Enroll a guest?")
            assert "a guest from partner.example" in screen, screen
            tmux.keys("y")
        tmux.wait("INSERT A KEY")
        tmux.keys("F2")
        tmux.wait("plug in a virtual key")
        tmux.keys("1")
        tmux.wait("TOUCH THE KEY NOW")
        tmux.keys("F3")
        screen = tmux.wait("shown only this once")
        found = SPACED_PIN.search(screen)
        assert found, screen
        pins.append(found.group(1).replace("  ", ""))
        tmux.keys("Space")  # the PIN is written down: clear it
        screen = tmux.wait("REMOVE THE KEY")
        assert pins[-1] not in screen.replace("  ", "")
        tmux.keys("F4")
        tmux.wait(f"✔ done {n}")
    assert len(set(pins)) == 3
    tmux.admin_exit()
    history = tmux.history()
    flat = history.replace(" ", "")
    for pin in pins:
        assert pin not in flat, "a PIN was left in the terminal's scrollback"
