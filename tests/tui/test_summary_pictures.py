"""The summary as pictures, with a batch in progress on a known clock: the batch bar, keys per
quarter hour, time left at the current pace, failures by reason, each operator's keys; drawn
in the console's characters (TERM=linux) at 80x24 and at 120x36, the two sizes of the summary's
snapshots. Real engine over the demo's virtual keys and tenant."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from kiosk.enroll.events import Prompt
from kiosk.tui.glyphs import CONSOLE, CONSOLE_SAFE, UNICODE
from kiosk.tui.pace import batch_bar, per_quarter, sparkline
from kiosk.tui.screens.summary import SummaryScreen
from tests.fixtures.clock import FakeClock
from tests.fixtures.tui import (
    enroll_one,
    plug,
    run_async,
    screen_text,
    sign_in,
    wait_for_text,
    wait_prompt,
    wait_until,
)


def test_the_bar_shares_the_width_by_status_and_the_sparkline_counts_quarters() -> None:
    counts = {"done": 5, "failed": 1, "skipped": 0, "pending": 3, "active": 1}
    bar = batch_bar(counts, 20, CONSOLE).plain
    assert len(bar) == 20 and bar == "#" * 10 + "X" * 2 + "-" * 8
    assert batch_bar(counts, 20, UNICODE).plain.count("█") == 10
    assert per_quarter([0, 100, 899, 900, 2700], 0, 3000) == [3, 1, 0, 1]
    assert per_quarter([5.0], None, 10) == []
    assert sparkline([3, 1, 0, 1], 10, CONSOLE) == "#- -"  # a third of the busiest
    assert sparkline([4, 2, 0, 1, 4], 3, UNICODE) == " ▂█"  # the last three quarters


BARS = {(80, 24): "#" * 15 + "X" * 6 + "-" * 12, (120, 36): "#" * 31 + "X" * 14 + "-" * 29}
"""2 done, 1 failed, 2 pending, in the picture's width at each size (a cell for every status
with users, the rounding to the largest share)."""


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=["80x24", "120x36"])
def test_summary_pictures_of_a_batch_in_progress(
    demo_env: Any, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    """On the Linux console (TERM=linux: the console's glyph set, as the kiosk chooses it)."""
    monkeypatch.setenv("TERM", "linux")
    run_async(_batch_in_progress)(demo_env(users=5), size)


async def _batch_in_progress(env: Any, size: tuple[int, int]) -> None:
    from kiosk.tui.demo import DemoKioskApp

    assert env.settings.kiosk.glyphs == "auto"
    # The clock jumps 20 minutes between two keys: the idle lock (5 minutes) must not fire
    # before the next key press (it did, now and then, when its 1 s check came first).
    kiosk = dataclasses.replace(env.settings.kiosk, idle_lock_minutes=240.0)
    settings = dataclasses.replace(env.settings, kiosk=kiosk)
    clock = FakeClock()
    app = DemoKioskApp(settings, env=env, motion=False, clock=clock)
    assert app.glyphs is CONSOLE
    async with app.run_test(size=size) as pilot:
        await sign_in(pilot)
        await enroll_one(pilot)  # at 0 min
        await wait_until(pilot, lambda: len(app.state.results) == 1, "first result")
        clock.advance(20 * 60)
        await enroll_one(pilot)  # at 20 min
        await wait_until(pilot, lambda: len(app.state.results) == 2, "second result")
        await wait_prompt(pilot, Prompt.INSERT_KEY)
        await plug(pilot)
        await wait_prompt(pilot, Prompt.TOUCH_KEY)
        await pilot.press("c")  # cancelled at the touch: the third user fails
        await wait_until(pilot, lambda: len(app.state.results) == 3, "third result")
        clock.advance(10 * 60)  # 30 min in: 2 keys, 4 per hour, 2 users left: 30 min
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen), "summary")
        await wait_for_text(pilot, "Keys per 15 min")
        text = screen_text(app)
        assert "3 of 5 finished" in text
        # Quarters since the first key: one key, one key, none yet in the third.
        assert "(last 3)" in text and "[## ]" in text
        assert BARS[size] in text
        assert "Keys per hour               4" in text
        assert "Time left                   30 min" in text
        assert "Failures by reason" in text and "  1 cancelled" in text
        # The key cancelled at its touch keeps the PIN the kiosk set: it needs a reset.
        assert "Keys needing a reset: 1" in text and "Keys to reset  1" in text
        assert "2 done, 1 failed" in text
        assert set(text.replace("\n", "")) <= CONSOLE_SAFE
