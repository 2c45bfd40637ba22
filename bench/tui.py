"""TUI benchmark: prints one JSON object.

- ``first_frame_seconds``: process start of `kiosk demo` to its first interactive frame (the
  sign-in screen on a pseudo-terminal), median of three runs. Target: <= 1.0.
- ``queue_50k_render_seconds``: the queue screen over a store of 50,000 queued users, from
  opening it to its first frame (headless, 120x36).
- ``queue_50k_scroll_seconds``: the slowest single scroll step on that screen (page down,
  end, home, next pending, a search): what the operator waits at worst. It must not freeze.
- ``textual_minimal_first_frame_seconds``: the same first-frame measure for a one-widget
  Textual app, the floor on this machine at this moment (the machine is shared; compare the
  two rather than the absolute figure).

Run: .venv/bin/python bench/tui.py
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tui_frame import first_frame_seconds

USERS = 50_000


MINIMAL_APP = (
    "from textual.app import App\n"
    "from textual.widgets import Static\n"
    "class A(App):\n"
    "    def compose(self):\n"
    "        yield Static('Choose your name')\n"
    "A().run()\n"
)


def measure_first_frame(argv: list[str], runs: int = 3) -> float:
    return statistics.median(first_frame_seconds(argv, b"Choose your name") for _ in range(runs))


def fill_queue(env: Any, users: int) -> None:
    from kiosk.store.queue import NewUser

    batch = [
        NewUser(f"user{n:06d}@contoso.example", f"00000000-0000-4000-8000-{n:012d}", f"User {n}")
        for n in range(users)
    ]
    env.kiosk.store.queue.add(batch, source="bench")


async def measure_queue(env: Any) -> tuple[float, float]:
    from kiosk.tui.app import KioskApp
    from kiosk.tui.screens.queue import QueueScreen
    def screen_text(app: Any) -> str:
        return "\n".join(strip.text for strip in app.screen._compositor.render_strips())

    def expect(text: str) -> None:
        if text not in screen_text(app):
            raise RuntimeError(f"{text!r} not on the queue screen:\n{screen_text(app)}")

    app = KioskApp(env.engine, env.settings, motion=False, start_engine=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        start = time.perf_counter()
        await app.push_screen(QueueScreen(env.engine))
        await pilot.pause()
        expect("50000 users")
        render = time.perf_counter() - start
        worst = 0.0
        steps = [*["pagedown"] * 20, "end", "home", *["down"] * 10, "n", "slash",
                 *"user04999", "enter"]
        for key in steps:
            t = time.perf_counter()
            await pilot.press(key)
            screen_text(app)  # the frame is drawn
            worst = max(worst, time.perf_counter() - t)
        expect("user049990")
    return render, worst


def main() -> None:
    from kiosk.demo.environment import DemoEnvironment

    first = measure_first_frame([sys.executable, "-m", "kiosk", "demo", "--users", "12"])
    # The same measure for the smallest Textual app: the floor this machine allows right now.
    floor = measure_first_frame([sys.executable, "-c", MINIMAL_APP])
    with DemoEnvironment(users=1, latency="none", sync_group=False) as env:
        fill_queue(env, USERS)
        render, scroll = asyncio.run(measure_queue(env))
    print(
        json.dumps(
            {
                "first_frame_seconds": round(first, 3),
                "queue_50k_render_seconds": round(render, 3),
                "queue_50k_scroll_seconds": round(scroll, 3),
                "textual_minimal_first_frame_seconds": round(floor, 3),
                "load_average_1m": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
