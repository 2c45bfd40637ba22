"""B2B guests (#EXT#): policy.guests allows, asks (naming the person and home tenant) or
refuses; a guest was enrolled without a word before."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kiosk.enroll.events import EnrollmentResult, Prompt, PromptChanged
from kiosk.model.steps import Step
from kiosk.store.queue import NewUser
from tests.fixtures.engine import EngineRig


def _guest(rig: EngineRig) -> str:
    user = rig.tenant.state.add_guest("alice@contoso.com", "Alice Guest")
    rig.store.queue.add([NewUser(user.user_principal_name, user.id, "Alice Guest")])
    return user.user_principal_name


@pytest.mark.parametrize("answer", [True, False])
def test_a_guest_is_asked_about_by_name_and_home_tenant(
    engine_rig: Callable[..., EngineRig], answer: bool
) -> None:
    rig = engine_rig()
    upn = _guest(rig)
    rig.robot().confirm_guests = answer
    rig.start()
    rig.wait_results(1)
    rig.stop()
    (asked,) = [e for e in rig.of(PromptChanged) if e.prompt is Prompt.CONFIRM_GUEST]
    assert "Alice Guest" in asked.detail and "contoso.com" in asked.detail
    (result,) = rig.of(EnrollmentResult)
    assert result.upn == upn
    assert result.status is (Step.DONE if answer else Step.SKIPPED)


def test_guests_refused_by_policy_are_skipped_with_the_home_tenant_named(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig(guests="refuse")
    _guest(rig)
    rig.robot()
    rig.start()
    rig.wait_results(1)
    rig.stop()
    (result,) = rig.of(EnrollmentResult)
    assert result.status is Step.SKIPPED and "contoso.com" in result.reason
    assert not [e for e in rig.of(PromptChanged) if e.prompt is Prompt.CONFIRM_GUEST]
