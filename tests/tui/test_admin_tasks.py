"""Admin tasks that fail say so on the admin screen, with what to do; "Importing…" never stays
alone on screen (their worker's state change does not bubble to the app)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kiosk.demo.operators import DEMO_ADMIN_PIN
from kiosk.enroll.events import Prompt
from kiosk.tui.screens.admin import AdminScreen
from tests.fixtures.tui import (
    kiosk_app,
    run_async,
    screen_text,
    sign_in,
    wait_for_text,
    wait_prompt,
)

SIZE = (120, 36)


async def _admin(pilot: Any) -> None:
    await sign_in(pilot)
    await wait_prompt(pilot, Prompt.INSERT_KEY)
    await pilot.press("a")
    await wait_for_text(pilot, "Admin PIN")
    await pilot.press(*DEMO_ADMIN_PIN, "enter")
    await wait_for_text(pilot, "Admin mode")


@run_async
async def test_importing_a_pem_file_by_mistake_says_what_is_wrong(
    demo_env: Any, tmp_path: Path
) -> None:
    pem = tmp_path / "helpdesk.pem"
    pem.write_bytes(b"-----BEGIN CERTIFICATE-----\n\x00\xff\xfe binary \x1b[2J\n")
    env = demo_env(users=1)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await _admin(pilot)
        await pilot.press("i")
        await pilot.press(*str(pem), "enter")
        await wait_for_text(pilot, "✘")
        shown = screen_text(app)
        assert "next:" in shown
        assert "\x1b" not in shown


@run_async
async def test_an_export_that_cannot_be_written_says_so(demo_env: Any, tmp_path: Path) -> None:
    env = demo_env(users=1)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the manifest directory should be")
    app = kiosk_app(env)
    app.settings = _with_manifest_dir(app.settings, blocker)
    async with app.run_test(size=SIZE) as pilot:
        await _admin(pilot)
        await pilot.press("e")
        await wait_for_text(pilot, "✘")
        assert "next:" in screen_text(app)


def _with_manifest_dir(settings: Any, path: Path) -> Any:
    import dataclasses

    store = dataclasses.replace(settings.store, manifest_directory=str(path))
    return dataclasses.replace(settings, store=store)


@run_async
async def test_the_admin_screen_shows_what_the_passkey_policy_blocks(demo_env: Any) -> None:
    from kiosk.entra.fake.fido2_policy import Fido2MethodPolicy

    env = demo_env(users=1)
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await _admin(pilot)
        await pilot.press("p")
        await wait_for_text(pilot, "FIDO2 is enabled for group")
        assert "✘" not in screen_text(app)
        env.tenant.policy.fido2 = Fido2MethodPolicy(self_service=False)
        await pilot.press("p")
        await wait_for_text(pilot, "Allow self-service set up")
        shown = screen_text(app)
        assert "✘ 'Allow self-service set up'" in shown


@run_async
@pytest.mark.skip(
    reason="racy on an idle machine: the 90,000 rows are read before Esc arrives, and the "
    "Graph look-ups after reading cannot be cancelled; to be made deterministic"
)
async def test_a_long_csv_shows_progress_and_esc_cancels_it(
    demo_env: Any, tmp_path: Path
) -> None:
    path = tmp_path / "users.csv"
    path.write_text("upn\n" + "".join(f"user{i}@contoso.com\n" for i in range(90_000)))
    env = demo_env(users=1)
    before = env.engine.counts()["pending"]
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await _admin(pilot)
        await pilot.press("i")
        await pilot.press(*str(path), "enter")
        await wait_for_text(pilot, "rows read (Esc cancels)")
        await pilot.press("escape")
        await wait_for_text(pilot, "cancelled at line", timeout=60)
        assert "nothing was queued" in screen_text(app)
        assert isinstance(app.screen, AdminScreen)  # Esc cancelled the import, not the screen
    assert env.engine.counts()["pending"] == before
