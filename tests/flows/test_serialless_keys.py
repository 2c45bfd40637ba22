"""Keys without a serial number: the kiosk cannot tell whose key it was, so a key that holds a
PIN or credentials is never reset unasked, even under ``reset = automatic``; the operator is
told that a previous owner's passkey will stop working. Their model has a name that says what
the key is when no table knows it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kiosk.enroll.events import ErrorRaised, Prompt, PromptChanged, Step
from tests.fixtures.engine import EngineRig


@pytest.mark.parametrize("confirm", [False, True])
def test_a_serialless_key_for_two_users_in_a_row_is_not_silently_reset(
    engine_rig: Callable[..., EngineRig], confirm: bool
) -> None:
    rig = engine_rig(reset="automatic")
    first, second = rig.add_users(2)
    shared, fresh = rig.key(serial=None), rig.key(serial=None)
    rig.robot(iter([shared, shared, fresh]), reset=confirm)
    rig.start()
    results = rig.wait_results(2)
    rig.stop()
    assert [r.status for r in results] == [Step.DONE, Step.DONE]
    asked = [p.detail for p in rig.of(PromptChanged) if p.prompt is Prompt.CONFIRM_RESET]
    assert len(asked) == 1, asked  # asked for the second user, never reset silently
    assert "no serial number" in asked[0]
    assert "previous owner's passkey on it will stop working" in asked[0]
    (kept,) = rig.tenant.state.methods_of(first)
    on_key = {c.credential_id for c in shared.authenticator.resident_credentials()}
    if confirm:  # the operator said yes: the second user got the shared key
        assert kept.credential_id not in on_key
        (theirs,) = rig.tenant.state.methods_of(second)
        assert theirs.credential_id in on_key
    else:  # declined: the first user's credential stays, the second gets the fresh key
        assert kept.credential_id in on_key
        (theirs,) = rig.tenant.state.methods_of(second)
        fresh_ids = {c.credential_id for c in fresh.authenticator.resident_credentials()}
        assert theirs.credential_id in fresh_ids
        (error,) = rig.of(ErrorRaised)
        assert "declined" in error.detail
