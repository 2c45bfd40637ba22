"""Key policy over real keys: every refusal names the reason, and the user still gets enrolled
with the next, acceptable key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.enroll.events import ErrorRaised, StepChanged
from kiosk.keys.virtual.profiles import CTAP20_AAGUID, YUBIKEY_5_AAGUID
from kiosk.model.steps import Step
from tests.fixtures.engine import EngineRig


def _refused_then_enrolled(rig: EngineRig, bad_profile: str, detail: str) -> None:
    (upn,) = rig.add_users(1)
    bad, good = rig.key(bad_profile), rig.key()
    rig.robot(iter([bad, good]))
    rig.start()
    (result,) = rig.wait_results(1)
    rig.stop()
    assert result.status is Step.DONE
    (error,) = rig.of(ErrorRaised)
    assert error.title == "Key refused"
    assert detail in error.detail
    assert error.next_step
    (method,) = rig.tenant.state.methods_of(upn)
    assert str(good.profile.serial) in method.display_name
    failed = rig.store.journal.with_state("failed")
    assert len(failed) == 1 and detail in failed[0].reason
    assert [i.serial for i in rig.store.inventory.all()] == [str(good.profile.serial)]
    audit = Path(rig.settings.store.audit_path).read_text(encoding="utf-8")
    assert '"event":"attempt failed"' in audit and str(bad.profile.aaguid) in audit


def test_blocked_aaguid_is_refused(engine_rig: Callable[..., EngineRig]) -> None:
    rig = engine_rig(blocked_aaguids=[str(CTAP20_AAGUID)], pin_policy="optional")
    _refused_then_enrolled(rig, "ctap20", "blocked")


def test_aaguid_not_allowed_is_refused(engine_rig: Callable[..., EngineRig]) -> None:
    rig = engine_rig(allowed_aaguids=[str(YUBIKEY_5_AAGUID)], pin_policy="optional")
    _refused_then_enrolled(rig, "ctap20", "not on the kiosk's list of allowed keys")


def test_old_firmware_is_refused(engine_rig: Callable[..., EngineRig]) -> None:
    rig = engine_rig(min_firmware="5.0.0", pin_policy="optional")
    _refused_then_enrolled(rig, "ctap20", "firmware 1.0.0")


def test_key_without_pin_policy_is_refused_when_required(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig(pin_policy="required")
    _refused_then_enrolled(rig, "ctap20", "cannot enforce a minimum PIN length")


def test_key_without_pin_policy_is_enrolled_when_optional_and_says_so(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig(pin_policy="optional")
    (upn,) = rig.add_users(1)
    rig.robot(iter([rig.key("ctap20")]))
    rig.start()
    (result,) = rig.wait_results(1)
    rig.stop()
    assert result.status is Step.DONE
    notes = [s.detail for s in rig.of(StepChanged) if s.step is Step.KEY_CHECKED]
    assert "without a minimum PIN length" in notes[0]
    policy = [s.detail for s in rig.of(StepChanged) if s.step is Step.PIN_POLICY_APPLIED]
    assert policy == ["not supported by the key"]
    assert len(rig.tenant.state.methods_of(upn)) == 1


def test_used_key_is_refused_when_reset_is_never(engine_rig: Callable[..., EngineRig]) -> None:
    rig = engine_rig(reset="never")
    _refused_then_enrolled(rig, "used", "never resets keys")


def test_key_enrolled_to_someone_else_is_refused(engine_rig: Callable[..., EngineRig]) -> None:
    rig = engine_rig(reset="automatic")
    first, second = rig.add_users(2)
    shared, fresh = rig.key(), rig.key()
    rig.robot(iter([shared, shared, fresh]))
    rig.start()
    results = rig.wait_results(2)
    rig.stop()
    assert [r.status for r in results] == [Step.DONE, Step.DONE]
    (error,) = rig.of(ErrorRaised)
    assert error.title == "Key refused"
    assert first in error.detail and str(shared.profile.serial) in error.detail
    assert str(fresh.profile.serial) in rig.tenant.state.methods_of(second)[0].display_name


@pytest.mark.parametrize("refuse_used", [True, False])
def test_backup_key_must_be_another_key(
    engine_rig: Callable[..., EngineRig], refuse_used: bool
) -> None:
    rig = engine_rig(reset="automatic", refuse_used_serials=refuse_used)
    (upn,) = rig.add_users(1, keys=2)
    first, second = rig.key(), rig.key()
    rig.robot(iter([first, first, second]))
    rig.start()
    (result,) = rig.wait_results(1)
    rig.stop()
    assert result.status is Step.DONE
    (error,) = rig.of(ErrorRaised)
    assert "already enrolled in this batch, for this user" in error.detail
    names = sorted(m.display_name for m in rig.tenant.state.methods_of(upn))
    assert len(names) == 2
    assert {n.split()[-1] for n in names} == {str(first.profile.serial), str(second.profile.serial)}
    done = [s.detail for s in rig.of(StepChanged) if s.step is Step.DONE]
    assert done == ["key 1 of 2", "key 2 of 2"]
    assert rig.engine.prefetch.sync_fetches <= 1  # the backup key's options came ahead too
