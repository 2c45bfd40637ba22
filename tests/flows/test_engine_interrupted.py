"""Keys that fail or fall out after the credential exists: asked back, or reported as orphans
naming the serial to reset; never registered twice, never lost."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kiosk.enroll.events import ErrorRaised, Event, Prompt, PromptChanged, StepChanged
from kiosk.model.steps import Step
from tests.fixtures.engine import EngineRig

CTAP_CONFIG = 0x0D
CTAP2_ERR_OTHER = 0x7F


def test_key_pulled_before_its_pin_policy_is_asked_back(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig()
    (upn,) = rig.add_users(1)
    key = rig.key()
    key.faults.pull(command=CTAP_CONFIG)
    prompts: list[Prompt] = []

    def operator(event: Event) -> None:
        if isinstance(event, PromptChanged):
            prompts.append(event.prompt)
            if event.prompt is Prompt.REINSERT_KEY and not rig.port.keys:
                rig.port.plug(key)

    rig.engine.subscribe(operator)
    rig.robot(iter([key]))
    rig.start()
    (result,) = rig.wait_results(1)
    rig.stop()
    assert result.status is Step.DONE
    assert Prompt.REINSERT_KEY in prompts
    assert key.faults.log  # it really fell out
    steps = [s.step for s in rig.of(StepChanged)]
    assert steps.count(Step.CREDENTIAL_CREATED) == 1 and Step.PIN_POLICY_APPLIED in steps
    assert len(rig.tenant.state.methods_of(upn)) == 1
    assert rig.store.journal.with_state("orphan") == []


def test_key_failing_after_the_credential_is_an_orphan_named_by_serial(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig()
    (upn,) = rig.add_users(1)
    broken, good = rig.key(), rig.key()
    broken.faults.error(CTAP2_ERR_OTHER, command=CTAP_CONFIG, times=None)
    rig.robot(iter([broken, good]))
    rig.start()
    (result,) = rig.wait_results(1)
    rig.stop()
    assert result.status is Step.DONE
    serial = str(broken.profile.serial)
    (error,) = rig.of(ErrorRaised)
    assert error.title == f"Key {serial} must be reset"
    assert "not registered" in error.detail
    (orphan,) = rig.store.journal.with_state("orphan")
    assert orphan.serial == serial and orphan.credential_id
    (method,) = rig.tenant.state.methods_of(upn)
    assert str(good.profile.serial) in method.display_name
    audit = Path(rig.settings.store.audit_path).read_text(encoding="utf-8")
    assert '"event":"orphan credential"' in audit and serial in audit


def test_registration_refused_by_graph_orphans_the_key_and_moves_on(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig()
    (upn,) = rig.add_users(1)
    first, second = rig.key(), rig.key()
    user_id = rig.tenant.state.user_by_upn(upn).id
    expired: list[bool] = []

    def expire_challenge(event: Event) -> None:  # the challenge dies while the key blinks
        if isinstance(event, StepChanged) and event.step is Step.PIN_SET and not expired:
            expired.append(True)
            rig.tenant.state.expire_challenges(user_id)

    rig.engine.subscribe(expire_challenge)
    rig.robot(iter([first, second]))
    rig.start()
    (result,) = rig.wait_results(1)
    rig.stop()
    assert result.status is Step.DONE
    (error,) = rig.of(ErrorRaised)
    assert error.title == f"Key {first.profile.serial} must be reset"
    assert [s for _m, _r, s in rig.tenant.routes_called("register")] == [400, 201]
    (method,) = rig.tenant.state.methods_of(upn)
    assert str(second.profile.serial) in method.display_name
