"""The queue list is drawn plainly on the Linux console: the header alone is bold, no row is
underlined or bold, and the cursor row stands out (reverse video and the console's ">" mark)
with its status spelt as a word. Real engine over the demo's virtual keys and fake tenant."""

from __future__ import annotations

import dataclasses
from typing import Any

from kiosk.tui.glyphs import CONSOLE_SAFE
from kiosk.tui.screens.queue import QueueScreen
from kiosk.tui.widgets.queue_view import QueueView
from tests.fixtures.clock import FakeClock
from tests.fixtures.tui import enroll_one, run_async, sign_in, wait_for_text, wait_until


@run_async
async def test_rows_are_plain_and_the_cursor_row_is_readable_on_the_console(
    demo_env: Any,
) -> None:
    from kiosk.tui.demo import DemoKioskApp

    env = demo_env(users=5)
    kiosk = dataclasses.replace(env.settings.kiosk, glyphs="console")
    settings = dataclasses.replace(env.settings, kiosk=kiosk)
    app = DemoKioskApp(settings, env=env, motion=False, clock=FakeClock())
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await enroll_one(pilot)
        await wait_until(pilot, lambda: env.engine.counts()["done"] == 1, "first enrolled")
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, QueueScreen), "queue")
        await wait_for_text(pilot, "5 users")
        view = app.screen.query_one(QueueView)
        await pilot.press("down")  # the cursor on the second user (pending)
        await pilot.pause()
        lines = [view.render_line(y) for y in range(1 + len(view.rows))]
        header, rows = lines[0], lines[1:]
        assert header.text.strip().startswith("#")
        assert any(s.style is not None and s.style.bold for s in header if s.text.strip())
        for strip in rows:
            drawn = [s for s in strip if s.text.strip()]
            assert drawn, "a row with nothing on it"
            assert not any(s.style is not None and s.style.underline for s in drawn)
            assert not any(s.style is not None and s.style.bold for s in drawn)
        cursor = rows[1]
        assert cursor.text.lstrip().startswith(">")
        assert "pending" in cursor.text and view.rows[1].upn[:20] in cursor.text
        assert all(s.style is not None and s.style.reverse for s in cursor if s.text.strip())
        others = [strip for i, strip in enumerate(rows) if i != 1]
        assert not any(
            s.style is not None and s.style.reverse for strip in others for s in strip
        )
        assert "done" in rows[0].text  # the status as a word, beside its mark
        assert set("".join(strip.text for strip in lines)) <= CONSOLE_SAFE
