"""The PIN box comes last: after the key is registered with Entra and its PIN policy is
applied, and it names the person, the UPN and the key's serial."""

from __future__ import annotations

from collections.abc import Callable

from kiosk.enroll.events import PinHandover, StepChanged
from kiosk.model.steps import Step
from tests.fixtures.engine import EngineRig


def test_pin_handover_comes_after_registration_and_pin_policy_and_names_the_key(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig(escrow_mode="both")
    (upn,) = rig.add_users(1)
    bot = rig.robot()
    rig.start()
    rig.wait_results(1)
    rig.stop()
    order = [
        e.step if isinstance(e, StepChanged) else "handover"
        for e in rig.events
        if isinstance(e, PinHandover) or (isinstance(e, StepChanged) and e.upn == upn)
    ]
    assert "handover" in order
    shown = order.index("handover")
    assert Step.REGISTERED in order[:shown], order
    assert Step.PIN_POLICY_APPLIED in order[:shown], order
    (handover,) = rig.of(PinHandover)
    assert handover.upn == upn and handover.display_name == "User 0000"
    assert handover.serial == str(bot.log.plugged[0].profile.serial)
