"""The guest question on screen (policy.guests = ask, the demo's default): it names the
person and their home tenant, as plain text, and Y enrolls the guest while N skips them."""

from __future__ import annotations

from typing import Any

from kiosk.enroll.events import Prompt
from kiosk.store.queue import NewUser
from kiosk.tui.screens.error import ConfirmScreen
from tests.fixtures.tui import (
    answer_guest,
    enroll_one,
    kiosk_app,
    run_async,
    screen_text,
    sign_in,
    wait_prompt,
    wait_until,
)

SIZE = (120, 36)


def _queue_guest(env: Any, email: str, name: str) -> Any:
    user = env.tenant.state.add_guest(email, name)
    env.kiosk.store.queue.add([NewUser(user.user_principal_name, user.id, name)])
    (entry,) = [r for r in env.engine.queue_page(0, 50) if r.upn == user.user_principal_name]
    env.engine.select(entry.entry_id)
    return entry


@run_async
async def test_the_guest_question_names_the_person_and_home_tenant_in_plain_text(
    demo_env: Any,
) -> None:
    env = demo_env(users=2)
    guest = _queue_guest(env, "eve@fabrikam.example", "[bold]Eve[/bold] Adams")
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await wait_prompt(pilot, Prompt.CONFIRM_GUEST)
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        text = screen_text(app)
        assert "Enroll a guest?" in text
        # The name as the directory gives it (markup shown, not applied), the home tenant.
        assert "[bold]Eve[/bold] Adams, a guest from fabrikam.example" in text
        await answer_guest(pilot, yes=False)
        await wait_until(
            pilot, lambda: env.engine.counts()["skipped"] == 1, "the guest skipped"
        )
        assert not env.tenant.state.methods_of(guest.upn)
        # The next user is a member: no question, a key is asked for and enrolled.
        await enroll_one(pilot)
        await wait_until(pilot, lambda: env.engine.counts()["done"] == 1, "member enrolled")
        assert "Enroll a guest?" not in screen_text(app)


@run_async
async def test_y_enrolls_the_guest(demo_env: Any) -> None:
    env = demo_env(users=1)
    guest = _queue_guest(env, "sam@partner.example", "Sam Guest")
    app = kiosk_app(env)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await enroll_one(pilot)  # answers Y to the question, then plugs, touches, pulls
        await wait_until(
            pilot, lambda: len(env.tenant.state.methods_of(guest.upn)) == 1, "guest enrolled"
        )
