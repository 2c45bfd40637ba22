"""A return killed (SIGKILL) at each of its journaled steps, then resumed: the method is deleted
once and only once, and the key is never marked in stock while it still holds a credential.

The return runs in a child process (:mod:`tests.flows.return_child`) over the test's store,
trail and fake tenant; the tenant's slow answers hold it at a chosen step, where it is killed.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.entra.fake.faults import Fault
from tests.fixtures.engine import EngineRig
from tests.flows.test_key_lifecycle import _config, _enrolled, _insert, _life, _reinsert


def _killed_at(rig: EngineRig, config: Path, serial: str, reached: Callable[[], bool]) -> None:
    command = [sys.executable, "-m", "tests.flows.return_child", str(config), serial]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not reached():
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
            assert time.monotonic() < deadline, "the child never reached the step"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)


def _state(rig: EngineRig, serial: str) -> str:
    item = rig.store.inventory.get(serial)
    return item.state if item is not None else ""


@pytest.mark.parametrize("step", ["listing", "deleting", "resetting"])
def test_a_return_killed_at_each_step_resumes_and_deletes_once(
    engine_rig: Callable[..., EngineRig], tmp_path: Path, step: str,
) -> None:
    rig, (upn,), (key,) = _enrolled(engine_rig, 1)
    serial = str(key.profile.serial)
    config = _config(rig, tmp_path)
    deletions = rig.store.inventory.deletions
    if step == "listing":  # the deletion is journaled; Graph's list has not answered yet
        rig.tenant.inject(Fault("slow", route="list_methods", delay_s=60, calls=frozenset({1})))
        _killed_at(rig, config, serial, lambda: bool(deletions(state="sending"))
                   and bool(rig.tenant.routes_called("list_methods")))
        after_kill, journaled, method_left = "returned", ["sending"], True
    elif step == "deleting":  # Entra deleted the method; its answer never came back
        rig.tenant.inject(Fault("slow", route="delete_method", delay_s=60, calls=frozenset({1})))
        _killed_at(rig, config, serial, lambda: not rig.tenant.state.methods_of(upn))
        after_kill, journaled, method_left = "returned", ["sending"], False
    else:  # method deleted; the key waits for the reset's touch
        _killed_at(rig, config, serial, lambda: _state(rig, serial) == "needs_reset")
        after_kill, journaled, method_left = "needs_reset", ["deleted"], False
    item = rig.store.inventory.get(serial)
    assert item is not None and item.state == after_kill  # never in stock while dirty
    assert [d.state for d in deletions()] == journaled
    assert bool(rig.tenant.state.methods_of(upn)) is method_left
    assert key.authenticator.credential_count > 0
    # The operator inserts the key again and confirms: the return goes on where it stopped.
    session = _insert(rig, key)
    life = _life(rig)
    assert life.take_back(session, life.identify(session), reinsert=_reinsert(rig, key),
                          reason="returned") == "in_stock"
    assert len(rig.tenant.routes_called("delete_method")) == 1  # never sent twice
    assert [d.state for d in deletions()] == ["deleted"]
    assert rig.tenant.state.methods_of(upn) == []
    assert key.authenticator.credential_count == 0 and not key.authenticator.pin_set
    stocked = rig.store.inventory.get(serial)
    assert stocked is not None and stocked.state == "in_stock"
