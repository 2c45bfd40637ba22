"""The inventory screen from the admin screen, over the real engine, virtual keys and the fake
tenant: counts by state and model, search by serial and UPN, and a lost key stopped at once
with a replacement queued for its owner."""

from __future__ import annotations

from typing import Any

from kiosk.demo.operators import DEMO_ADMIN_PIN
from kiosk.tui.screens.inventory import InventoryScreen
from tests.fixtures.tui import (
    enroll_one,
    kiosk_app,
    run_async,
    screen_text,
    sign_in,
    wait_for_text,
    wait_until,
)


@run_async
async def test_stock_is_counted_searched_and_a_lost_key_stopped(demo_env: Any) -> None:
    env = demo_env(users=2)
    first, second = env.engine.queue_page(0, 2)
    app = kiosk_app(env)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await enroll_one(pilot)
        await enroll_one(pilot)
        await wait_until(pilot, lambda: env.engine.counts()["done"] == 2, "two enrolled")
        lost = env.kiosk.store.inventory.of_user(first.upn)[0]
        await pilot.press("a")
        await wait_for_text(pilot, "Admin PIN")
        await pilot.press(*DEMO_ADMIN_PIN, "enter")
        await wait_for_text(pilot, "Admin mode")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, InventoryScreen), "inventory")
        await wait_for_text(pilot, "enrolled        2  (YubiKey 5 NFC 2)")
        assert second.upn[:20] in screen_text(app)
        await pilot.press(*first.upn.upper(), "enter")  # any case
        await wait_until(pilot, lambda: second.upn[:20] not in screen_text(app), "searched")
        assert lost.serial in screen_text(app)
        await pilot.press("l")
        await wait_for_text(pilot, f"Key {lost.serial} lost?")
        await pilot.press("y")
        await wait_for_text(pilot, "Queue a replacement?")
        await pilot.press("y")
        await wait_for_text(pilot, f"Key {lost.serial} is lost: its method was deleted")
        await wait_for_text(pilot, "lost            1  (YubiKey 5 NFC 1)")
        said = " ".join(screen_text(app).split())  # the line wraps at 80 columns
        assert "A replacement key is queued for" in said
    assert env.tenant.state.methods_of(first.upn) == []
    assert len(env.tenant.state.methods_of(second.upn)) == 1  # never another user's
    assert env.kiosk.store.inventory.get(lost.serial).state == "lost"
    assert env.kiosk.store.queue.find(first.upn).status == "pending"


@run_async
async def test_only_an_enrolled_key_can_be_reported_lost(demo_env: Any) -> None:
    env = demo_env(users=1)
    app = kiosk_app(env)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await pilot.press("a")
        await wait_for_text(pilot, "Admin PIN")
        await pilot.press(*DEMO_ADMIN_PIN, "enter")
        await wait_for_text(pilot, "Admin mode")
        await pilot.press("n")
        await wait_for_text(pilot, "in stock        0")
        await pilot.press("enter")  # an empty search: every key, none here
        await pilot.press("l")
        await wait_for_text(pilot, "Search for the key first")


def passkey_made_elsewhere(env: Any, user_id: str) -> Any:
    """A method the user registered themselves (another passkey), in the tenant's own list."""
    from datetime import UTC, datetime

    from kiosk.entra.fake.state import MethodRecord

    record = MethodRecord(
        id="cGhvbmUtcGFzc2tleS0x", user_id=user_id, credential_id=b"phone-passkey-1",
        display_name="Phone passkey", aaguid="00000000-0000-0000-0000-000000000000",
        model=None, attestation_level="notAttested", attestation_format="none",
        attestation_certificates=(), created=datetime.now(UTC), public_key=b"",
    )
    env.tenant.state.add_method(record)
    return record


@run_async
async def test_admin_deletes_only_the_method_picked_from_the_owners_list(demo_env: Any) -> None:
    env = demo_env(users=1)
    (user,) = env.engine.queue_page(0, 1)
    app = kiosk_app(env)
    async with app.run_test(size=(120, 36)) as pilot:
        await sign_in(pilot)
        await enroll_one(pilot)
        await wait_until(pilot, lambda: env.engine.counts()["done"] == 1, "enrolled")
        (mine,) = env.kiosk.store.inventory.of_user(user.upn)
        other = passkey_made_elsewhere(env, mine.user_id)
        await pilot.press("a")
        await wait_for_text(pilot, "Admin PIN")
        await pilot.press(*DEMO_ADMIN_PIN, "enter")
        await wait_for_text(pilot, "Admin mode")
        await pilot.press("n")
        await wait_for_text(pilot, mine.serial)
        await pilot.press("tab", "m")
        await wait_for_text(pilot, f"Delete which method of {user.upn}?")
        text = screen_text(app)
        assert text.count("(this key)") == 1 and "Phone passkey" in text
        # The list is Entra's order: pick the method that is not this key's.
        rows = [line for line in text.splitlines() if "id " in line and "│" in line]
        marked_first = "(this key)" in rows[0]
        await pilot.press("down" if marked_first else "up", "enter")
        await wait_for_text(pilot, "Delete this method?")
        await pilot.press("y")
        await wait_for_text(pilot, "deleted in Entra.")
    (left,) = env.tenant.state.methods_of(user.upn)
    assert left.id != other.id  # the picked one went; the kiosk's own stays
    assert env.kiosk.store.inventory.get(mine.serial).state == "enrolled"
    (deletion,) = env.kiosk.store.inventory.deletions()
    assert deletion.state == "deleted" and deletion.method_id == other.id
