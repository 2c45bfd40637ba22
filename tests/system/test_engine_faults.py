"""Fault test: a 100-user batch with about 20 % of Graph calls failing (503, 429, dropped
connections, register answers lost after the method was created) and 5 % of keys pulled in
the middle of a step. Every user must end enrolled exactly once, with the audit intact."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import pytest

from kiosk.audit import verify
from kiosk.config import GraphSettings
from kiosk.enroll.events import ErrorRaised, Event, Prompt, PromptChanged
from kiosk.keys.virtual.device import VirtualKey
from kiosk.model.steps import Step
from tests.fixtures.engine import EngineRig

pytestmark = pytest.mark.slow

USERS = 100
CTAP_MAKE_CREDENTIAL, CTAP_GET_INFO, CTAP_CLIENT_PIN, CTAP_CONFIG = 0x01, 0x04, 0x06, 0x0D


class FaultyOperator:
    """Plugs keys; re-inserts a key that fell out; pulls keys when told; retries errors."""

    def __init__(self, rig: EngineRig, keys: Iterator[VirtualKey]) -> None:
        self.rig = rig
        self.keys = keys
        self.current: VirtualKey | None = None

    def __call__(self, event: Event) -> None:
        port = self.rig.port
        if isinstance(event, ErrorRaised):
            self.rig.engine.retry()
        elif isinstance(event, PromptChanged):
            if event.prompt in (Prompt.INSERT_KEY, Prompt.REINSERT_KEY) and not port.keys:
                if self.current is None:
                    self.current = next(self.keys)
                port.plug(self.current)  # the same key again if it fell out
            elif event.prompt is Prompt.REINSERT_KEY:
                for key in port.keys:
                    port.unplug(key)
                    port.plug(key)
            elif event.prompt is Prompt.REMOVE_KEY:
                port.unplug()
                self.current = None


def test_100_users_with_graph_faults_and_pulled_keys(
    engine_rig: Callable[..., EngineRig],
) -> None:
    graph = GraphSettings(
        max_retries=4, timeout_seconds=5.0, prefetch=3, retry_after_cap_seconds=0.0
    )
    rig = engine_rig(reset="automatic", graph=graph)
    upns = rig.add_users(USERS)
    faults = rig.tenant.faults
    for route in ("creation_options", "register", "list_methods"):
        faults.randomly("503", route, 0.12, retry_after=1)
        faults.randomly("429", route, 0.05, retry_after=1)
        faults.randomly("drop", route, 0.03)
    faults.randomly("lost_response", "register", 0.05)

    chooser = random.Random(4)
    keys: list[VirtualKey] = []
    for i in range(USERS + 20):
        key = rig.key()
        if i % 20 == 7:  # 5 % of the keys fall out in the middle of a step
            command = chooser.choice(
                [CTAP_GET_INFO, CTAP_CLIENT_PIN, CTAP_MAKE_CREDENTIAL, CTAP_CONFIG]
            )
            key.faults.pull(command=command)
        keys.append(key)
    rig.engine.subscribe(FaultyOperator(rig, iter(keys)))
    rig.start()
    results = rig.wait_results(USERS, timeout=170)
    rig.stop()

    assert [(r.upn, r.status) for r in results] == [(u, Step.DONE) for u in upns]
    for upn in upns:
        assert len(rig.tenant.state.methods_of(upn)) == 1, upn
    pulled = [k for k in keys if k.faults.log]
    assert len(pulled) == 5
    fired = faults.fired_kinds()
    calls = sum(faults.calls.get(r, 0) for r in ("creation_options", "register", "list_methods"))
    assert len(fired) >= 0.1 * calls, (len(fired), calls)
    assert "lost_response" in fired
    report = verify(rig.settings.store.audit_path)
    assert report.ok, report.problems
    # Every attempt ended: done, or failed before a credential existed (a pulled key).
    assert rig.store.journal.open_attempts() == []
    assert rig.store.journal.with_state("orphan") == []
    assert len(rig.store.journal.with_state("failed")) >= 1
    print(f"graph faults fired {len(fired)} of {calls} calls; keys pulled {len(pulled)}")
    assert len(rig.store.journal.with_state("done")) == USERS
