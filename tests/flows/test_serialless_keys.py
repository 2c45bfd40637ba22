"""Keys without a serial number: the kiosk cannot read whose key it was from a serial, so a
key that holds a PIN or credentials is never reset unasked, even under ``reset = automatic``.
Where the key still holds a credential this kiosk made, the key says so when asked silently
(no PIN, no touch) and is recognised as the serial would have been; otherwise the operator is
asked, and told that a previous owner's passkey will stop working."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kiosk.enroll.events import ErrorRaised, Prompt, PromptChanged, Step
from kiosk.keys.virtual.device import VirtualKey
from tests.fixtures.engine import EngineRig


def _on(key: VirtualKey) -> set[bytes]:
    return {c.credential_id for c in key.authenticator.resident_credentials()}


def _reset_prompts(rig: EngineRig) -> list[str]:
    return [p.detail for p in rig.of(PromptChanged) if p.prompt is Prompt.CONFIRM_RESET]


def test_a_serialless_key_for_two_users_in_a_row_is_recognised_not_reset(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig(reset="automatic")
    first, second = rig.add_users(2)
    shared, fresh = rig.key(serial=None), rig.key(serial=None)
    rig.robot(iter([shared, shared, fresh]))  # the robot would confirm a reset if asked
    rig.start()
    results = rig.wait_results(2)
    rig.stop()
    assert [r.status for r in results] == [Step.DONE, Step.DONE]
    assert _reset_prompts(rig) == []
    (error,) = rig.of(ErrorRaised)
    assert error.title == "Key refused"
    assert f"was already enrolled in this batch, for {first}" in error.detail
    assert error.detail.startswith("This YubiKey")  # named by model: it has no serial
    (kept,) = rig.tenant.state.methods_of(first)
    assert _on(shared) == {kept.credential_id}  # still the first user's key, not reset
    (theirs,) = rig.tenant.state.methods_of(second)
    assert theirs.credential_id in _on(fresh)


@pytest.mark.parametrize("confirm", [False, True])
def test_a_used_serialless_key_is_reset_only_when_the_operator_says_so(
    engine_rig: Callable[..., EngineRig], confirm: bool
) -> None:
    rig = engine_rig(reset="automatic")
    (upn,) = rig.add_users(1)
    used, fresh = rig.key("used", serial=None), rig.key(serial=None)
    before = _on(used)
    rig.robot(iter([used, fresh]), reset=confirm)
    rig.start()
    (result,) = rig.wait_results(1)
    rig.stop()
    assert result.status is Step.DONE
    (asked,) = _reset_prompts(rig)  # asked, never reset silently
    assert "no serial number" in asked
    assert "previous owner's passkey on it will stop working" in asked
    (method,) = rig.tenant.state.methods_of(upn)
    if confirm:
        assert _on(used) == {method.credential_id}  # erased, then enrolled
    else:
        assert before and _on(used) == before  # untouched
        assert method.credential_id in _on(fresh)
        (error,) = rig.of(ErrorRaised)
        assert "declined" in error.detail
