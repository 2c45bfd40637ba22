"""A batch over real parts: virtual keys over CTAPHID, the fake tenant over HTTPS."""

from __future__ import annotations

from collections.abc import Callable

from kiosk.enroll.events import EnrollmentResult, Step
from tests.fixtures.engine import EngineRig


def test_three_users_enrolled(engine_rig: Callable[..., EngineRig]) -> None:
    rig = engine_rig()
    upns = rig.add_users(3)
    rig.robot()
    rig.start()
    rig.wait_counts(done=3, timeout=60)
    results = rig.of(EnrollmentResult)
    assert [r.upn for r in results] == upns
    assert all(r.status is Step.DONE for r in results)
    for upn in upns:
        assert len(rig.tenant.state.methods_of(upn)) == 1
