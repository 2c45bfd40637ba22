"""Replace mode on a fleet: the user's old method is deleted once, whichever station finishes
the replacement. Station A registers the new key and sends the DELETE of the old method; while
Entra has not answered, station B starts, and its recovery (which finishes replacements left
unfinished) must not send that DELETE a second time. Two real engines share one store (SQLite,
and a real PostgreSQL server), virtual keys and one fake tenant. At one station, the operator's
retry after the DELETE's answer was lost does not send it again either."""

from __future__ import annotations

import threading
from collections.abc import Callable

from kiosk.enroll.events import ErrorRaised
from kiosk.enroll.recovery import resume
from kiosk.entra.fake.server import FakeTenant
from kiosk.model.steps import Step
from kiosk.store.queue import NewUser
from tests.fixtures.engine import EngineRig
from tests.flows.test_engine_modes import _enroll_once


def _old_method(engine_rig: Callable[..., EngineRig], tenant: FakeTenant) -> tuple[str, str]:
    """A user with one FIDO2 method, enrolled by another kiosk: (UPN, method id)."""
    upn, _ = _enroll_once(engine_rig)
    (old,) = tenant.state.methods_of(upn)
    return upn, old.id


def test_a_station_starting_while_another_deletes_the_old_method_never_deletes_it_again(
    stations: dict[str, EngineRig], engine_rig: Callable[..., EngineRig]
) -> None:
    a, b = stations["A"], stations["B"]
    upn, old_id = _old_method(engine_rig, a.tenant)
    user = a.tenant.state.find_user(upn)
    assert user is not None
    a.store.queue.add([NewUser(upn, user.id, "Repl 0000")], replace=True)
    held = a.tenant.faults.hold("delete_method")
    a.robot(replace=True)
    a.start()
    assert held.arrived.wait(30), "station A never sent the DELETE"
    # Station B starts now: its recovery looks for replacements left unfinished.
    b_resumed = threading.Thread(target=resume, args=(b.engine.station,), daemon=True)
    b_resumed.start()
    b_resumed.join(3.0)
    held.release()
    b_resumed.join(30)
    (result,) = a.wait_results(1)
    a.stop()
    assert result.status is Step.DONE
    assert len(a.tenant.routes_called("delete_method")) == 1  # never sent twice
    (left,) = a.tenant.state.methods_of(upn)
    assert left.id != old_id
    assert [(d.method_id, d.state) for d in a.store.inventory.deletions()] == [
        (old_id, "deleted")
    ]  # journaled before it was sent, by the station that sent it
    entry = a.store.queue.find(upn)
    assert entry is not None and entry.replace is False
    assert resume(b.engine.station) == []  # nothing left to finish anywhere
    assert len(a.tenant.routes_called("delete_method")) == 1


def test_a_retry_after_the_deletes_answer_was_lost_does_not_send_it_again(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig()
    upn, old_id = _old_method(engine_rig, rig.tenant)
    rig.engine.add_user(upn, replace=True)
    rig.tenant.faults.schedule("lost_response", "delete_method", 1)  # deleted, answer lost
    rig.robot(replace=True)
    rig.start()
    rig.wait(lambda evs: any(isinstance(e, ErrorRaised) for e in evs))
    (error,) = rig.of(ErrorRaised)
    assert error.retryable
    rig.engine.retry()  # the operator presses R
    (result,) = rig.wait_results(1)
    rig.stop()
    assert result.status is Step.DONE
    assert len(rig.tenant.routes_called("delete_method")) == 1  # Graph's list said it was gone
    (left,) = rig.tenant.state.methods_of(upn)
    assert left.id != old_id
    assert [(d.method_id, d.state) for d in rig.store.inventory.deletions()] == [
        (old_id, "deleted")
    ]
