"""The operator's view of printing, over the real kiosk (demo environment) and a real CUPS
server: a stopped printer is named on the enrollment screen without holding anything up, the
PIN screen says its mailer did not print, and the summary's reprint list prints the labels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kiosk.enroll.events import Prompt
from kiosk.tui.screens.handover import HandoverScreen
from kiosk.tui.screens.reprint import ReprintScreen
from kiosk.tui.screens.summary import SummaryScreen
from tests.fixtures.cups import CupsServer, wait_for_pdfs
from tests.fixtures.tui import (
    kiosk_app,
    plug,
    run_async,
    screen_text,
    sign_in,
    wait_for_text,
    wait_prompt,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.print]
SIZE = (120, 36)


def test_a_stopped_printer_is_named_and_the_labels_reprint_from_the_summary(
    demo_env: Any, cups_server: CupsServer
) -> None:
    out = cups_server.add_pdf_queue("PDF")
    cups_server.disable("PDF")
    env = demo_env(users=2, escrow_mode="both", cups_server=cups_server.socket)
    run_async(_drive)(env, cups_server, out)


async def _drive(env: Any, server: CupsServer, out: Path) -> None:
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        for n in (1, 2):
            await wait_prompt(pilot, Prompt.INSERT_KEY)
            await plug(pilot)
            await wait_prompt(pilot, Prompt.TOUCH_KEY)
            await pilot.press("f3")
            await wait_until(pilot, lambda: isinstance(app.screen, HandoverScreen), "PIN")
            await wait_for_text(pilot, "Write the PIN on a PIN mailer", 60)
            await pilot.press("space")
            await wait_until(pilot, lambda n=n: env.engine.counts()["done"] == n, "enrolled")
            await wait_for_text(pilot, "to reprint (S). Label for key", 60)
            await pilot.press("f4")
        text = screen_text(app)
        assert "Printer is stopped" in text or "is stopped" in text
        assert "Printer: ✘ 2 labels to reprint (S). Label for key" in text

        server.enable("PDF")
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen), "summary")
        await wait_for_text(pilot, "Labels to reprint")
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ReprintScreen), "reprint list")
        await wait_for_text(pilot, "Labels to reprint: 2 keys")
        await pilot.press("a")
        await wait_until(pilot, lambda: env.kiosk.paper.waiting() == [], "reprinted", 60)
    assert len(wait_for_pdfs(out, 2)) == 2  # the labels; the mailers' PINs went by hand
    lines = Path(env.settings.store.audit_path).read_text().splitlines()
    events = [json.loads(line)["event"] for line in lines]
    assert events.count("label reprint asked") == 2 and events.count("label printed") == 2
    assert events.count("PIN mailer not printed") == 2
