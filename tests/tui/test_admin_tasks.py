"""Admin tasks that fail say so on the admin screen, with what to do; "Importing…" never stays
alone on screen (their worker's state change does not bubble to the app)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kiosk.tui.screens.admin import AdminScreen
from tests.fixtures.tui import (
    admin_mode,
    kiosk_app,
    run_async,
    screen_text,
    wait_for_text,
)

SIZE = (120, 36)


async def _admin(pilot: Any) -> None:
    await admin_mode(pilot)


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
async def test_a_long_csv_shows_progress_and_esc_cancels_it(
    demo_env: Any, tmp_path: Path
) -> None:
    """Esc while the users are being looked up in Entra ID (Graph held at its first batch, so
    the look-ups are known to be under way when Esc comes): the import stops at the next safe
    point and queues nobody, not even the users already found."""
    env = demo_env(users=1)
    found = [env.tenant.state.add_user(f"late{i}@{env.tenant.state.domain}", f"Late {i}")
             for i in range(5)]
    path = tmp_path / "users.csv"
    unknown = "".join(f"user{i}@contoso.com\n" for i in range(90_000))
    path.write_text("upn\n" + "".join(f"{u.user_principal_name}\n" for u in found) + unknown)
    before = env.engine.counts()["pending"]
    held = env.tenant.faults.hold("batch")
    app = kiosk_app(env)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await _admin(pilot)
            await pilot.press("i")
            await pilot.press(*str(path), "enter")
            await wait_for_text(pilot, "rows read (Esc cancels)")
            await _until(pilot, held.arrived.is_set)  # the look-ups have started
            await pilot.press("escape")
            await wait_for_text(pilot, "Cancelling the import")
            held.release()
            await wait_for_text(pilot, "cancelled", timeout=60)
            shown = screen_text(app)
            assert "looked up" in shown
            assert "nothing was queued" in shown
            assert isinstance(app.screen, AdminScreen)  # Esc cancelled the import only
    finally:
        held.release()
    assert env.engine.counts()["pending"] == before
    batches = len(env.tenant.routes_called("batch"))
    assert batches < 90_005 // 20 // 2, f"{batches} batches sent after Esc"


async def _until(pilot: Any, done: Any, timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if done():
            return
        await pilot.pause(0.05)
    raise AssertionError("timed out")


@run_async
async def test_the_opening_lines_name_every_key_the_footer_leaves_out(demo_env: Any) -> None:
    """The 80-column footer is full: each key it does not show (fleet, passkey policy,
    inventory, shift report, files) is named in the admin screen's first lines instead."""
    from textual.binding import Binding

    hidden = [b for b in AdminScreen.BINDINGS if isinstance(b, Binding) and not b.show]
    assert {b.key for b in hidden} >= {"f", "p", "n", "r", "o"}
    app = kiosk_app(demo_env(users=1))
    async with app.run_test(size=(80, 24)) as pilot:
        await _admin(pilot)
        await wait_for_text(pilot, "Admin mode")
        shown = screen_text(app)
    missing = [b.key.upper() for b in hidden if f"{b.key.upper()}: " not in shown]
    assert missing == []
    assert "R: the shift report" in shown
