"""Keys that already hold a PIN or credentials: reset automatically, on confirmation, or after
a re-insert when the key's reset window has passed."""

from __future__ import annotations

from collections.abc import Callable

from kiosk.enroll.events import ErrorRaised, Event, Prompt, PromptChanged, StepChanged, TouchNeeded
from kiosk.model.steps import Step
from tests.fixtures.engine import EngineRig


def _steps(rig: EngineRig) -> list[Step]:
    return [s.step for s in rig.of(StepChanged)]


def test_automatic_reset_of_a_used_key(engine_rig: Callable[..., EngineRig]) -> None:
    rig = engine_rig(reset="automatic")
    (upn,) = rig.add_users(1)
    used = rig.key("used")
    rig.robot(iter([used]))
    rig.start()
    (result,) = rig.wait_results(1)
    rig.stop()
    assert result.status is Step.DONE
    assert Step.RESET in _steps(rig)
    assert [t.reason for t in rig.of(TouchNeeded)] == ["reset", "credential"]
    assert not any(p.prompt is Prompt.CONFIRM_RESET for p in rig.of(PromptChanged))
    assert len(rig.tenant.state.methods_of(upn)) == 1


def test_reset_asked_and_confirmed(engine_rig: Callable[..., EngineRig]) -> None:
    rig = engine_rig(reset="ask")
    rig.add_users(1)
    used = rig.key("used")
    rig.robot(iter([used]), reset=True)
    rig.start()
    (result,) = rig.wait_results(1)
    rig.stop()
    assert result.status is Step.DONE
    confirm = [p for p in rig.of(PromptChanged) if p.prompt is Prompt.CONFIRM_RESET]
    assert len(confirm) == 1 and str(used.profile.serial) in confirm[0].detail
    assert Step.RESET in _steps(rig)


def test_reset_declined_refuses_the_key(engine_rig: Callable[..., EngineRig]) -> None:
    rig = engine_rig(reset="ask")
    (upn,) = rig.add_users(1)
    fresh = rig.key()
    rig.robot(iter([rig.key("used"), fresh]), reset=False)
    rig.start()
    (result,) = rig.wait_results(1)
    rig.stop()
    assert result.status is Step.DONE
    (error,) = rig.of(ErrorRaised)
    assert "declined" in error.detail
    assert Step.RESET not in _steps(rig)
    assert str(fresh.profile.serial) in rig.tenant.state.methods_of(upn)[0].display_name


def test_reset_refused_outside_the_window_asks_for_a_reinsert(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig(reset="automatic")
    (upn,) = rig.add_users(1)
    used = rig.key("used")
    used.authenticator.reset_window = 0.0  # the key refuses any reset: its window has passed
    seen: list[Prompt] = []

    def reinsert(event: Event) -> None:
        if isinstance(event, PromptChanged):
            seen.append(event.prompt)
            if event.prompt is Prompt.REINSERT_KEY:
                used.authenticator.reset_window = 10.0  # a fresh insert opens the window
                rig.port.unplug(used)
                rig.port.plug(used)

    rig.engine.subscribe(reinsert)
    rig.robot(iter([used]))
    rig.start()
    (result,) = rig.wait_results(1)
    rig.stop()
    assert result.status is Step.DONE
    assert Prompt.REINSERT_KEY in seen
    assert seen.index(Prompt.REINSERT_KEY) < seen.index(Prompt.REMOVE_KEY)
    assert _steps(rig).count(Step.RESET) == 1
    assert rig.of(ErrorRaised) == []
    assert len(rig.tenant.state.methods_of(upn)) == 1
