"""`kiosk demo --state-dir D` in a real terminal (tmux): the operator types the sign-in at once,
before the screen is up, and it counts; the demo is killed with kill -9 while a key waits for
its touch and started again over D: the sign-in typed at once counts again, the kiosk reports
the key it left with its PIN, asks to reset it (the key is still in the port) and enrolls it;
the kept tenant then holds one method for that user (issue 11, item 9)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.demo.operators import DEMO_OPERATOR_PIN
from tests.system.test_tmux_demo import Tmux

pytestmark = [
    pytest.mark.system,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


@pytest.fixture
def sessions() -> Iterator[list[Tmux]]:
    made: list[Tmux] = []
    yield made
    for t in made:
        t.kill()


def _start(sessions: list[Tmux], state: Path) -> Tmux:
    t = Tmux()
    sessions.append(t)
    t.start(f"{sys.executable} -m kiosk demo --users 3 --latency none --state-dir {state}",
            width=80, height=24)
    t.keys("Enter", *DEMO_OPERATOR_PIN, "Enter")  # typed at once, before the screen is up
    return t


def test_sign_in_typed_at_once_and_kill_9_mid_touch_then_recovery(
    sessions: list[Tmux], tmp_path: Path
) -> None:
    state = tmp_path / "demo"
    t = _start(sessions, state)
    t.wait("INSERT A KEY", timeout=60)
    t.keys("F2")
    t.wait("plug in a virtual key")
    t.keys("1")
    t.wait("TOUCH THE KEY NOW")
    pid = int(t.run("display-message", "-p", "-t", t.session, "#{pane_pid}").strip())
    time.sleep(0.5)
    os.kill(pid, 9)
    deadline = time.monotonic() + 10
    while not t.dead():
        assert time.monotonic() < deadline, t.screen()
        time.sleep(0.1)

    t = _start(sessions, state)
    # Recovery's report waits for the sign-in, then says which key the kiosk left with its PIN;
    # the key is still in the port: the kiosk asks to reset it, then enrolls it.
    t.wait("Key 41000001 must be reset", timeout=60)
    screen = t.wait("Reset it?")
    assert "41000001" in screen, screen
    t.keys("y")
    t.wait("to confirm the reset")
    t.keys("F3")
    t.wait("to create the credential")
    t.keys("F3")
    t.wait("shown only this once")
    t.keys("Space")
    t.wait("REMOVE THE KEY")
    t.keys("F4")
    t.wait("done 1")
    doc = json.loads((state / "tenant" / "tenant.json").read_text(encoding="utf-8"))
    upn = {u["id"]: u["upn"] for u in doc["users"]}
    assert [upn[m["user_id"]] for m in doc["methods"]] == ["user0001@contoso.onmicrosoft.com"]
