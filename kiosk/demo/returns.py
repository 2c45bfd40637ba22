"""`kiosk demo --headless --returns N`: after the enrollments, N of the keys come back to the
mailroom (method deleted in the fake tenant, key reset and checked clean, into stock) and are
enrolled again for N new users. What a mailroom's day of returns looks like, counted."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.demo.environment import DemoEnvironment
from kiosk.enroll.lifecycle import KeyLife
from kiosk.enroll.recorder import Recorder
from kiosk.keys.creation import DEFAULT_RP_ID
from kiosk.keys.session import KeySession
from kiosk.keys.virtual.device import VirtualKey
from kiosk.store.queue import NewUser


@dataclass(frozen=True)
class ReturnsResult:
    returned: int
    methods_deleted: int
    keys_reset: int
    in_stock_after_returns: int
    reenrolled: int
    tenant_methods_of_returned_users: int


class KeyLog:
    """A key factory that remembers the keys it handed out (the robot's keys)."""

    def __init__(self, make: Callable[[], VirtualKey | None]) -> None:
        self.make = make
        self.handed: list[VirtualKey] = []

    def __call__(self, _n: int) -> VirtualKey | None:
        key = self.make()
        if key is not None:
            self.handed.append(key)
        return key


def take_back(env: DemoEnvironment, keys: list[VirtualKey]) -> tuple[list[str], int, int]:
    """Return ``keys`` at the desk: (their former owners' ids, methods deleted, keys reset)."""
    assert env.kiosk is not None  # noqa: S101
    store = env.kiosk.store
    life = KeyLife(env.kiosk.graph, store, Recorder(store, env.kiosk.audit,
                                                     operator="headless demo"),
                   rp_id=DEFAULT_RP_ID)
    owners: list[str] = []
    deleted = reset = 0
    for key in keys:
        key.presence.auto_touch = 0.0  # the operator touches it when it blinks
        session = KeySession(env.port.open(env.port.plug(key)))

        def reinsert(key: VirtualKey = key) -> KeySession:
            env.port.unplug(key)
            return KeySession(env.port.open(env.port.plug(key)))

        try:
            case = life.identify(session)
            if case.entry is not None:
                owners.append(case.entry.user_id)
            before = len(store.inventory.deletions(state="deleted"))
            life.take_back(session, case, reinsert=reinsert, reason="returned to the mailroom")
            deleted += len(store.inventory.deletions(state="deleted")) - before
            reset += key.authenticator.credential_count == 0 and not key.authenticator.pin_set
        finally:
            env.port.unplug(key)
            key.presence.auto_touch = None
    return owners, deleted, reset


def add_users(env: DemoEnvironment, n: int) -> None:
    assert env.kiosk is not None  # noqa: S101
    domain = env.tenant.state.domain
    new = []
    for i in range(n):
        upn = f"second.hand{i:03d}@{domain}"
        user = env.tenant.state.add_user(upn, f"Second Hand {i:03d}")
        new.append(NewUser(upn, user.id, f"Second Hand {i:03d}"))
    env.kiosk.store.queue.add(new, source="demo returns")


def wait_queue(env: DemoEnvironment, deadline: float, alive: Callable[[], bool]) -> None:
    while time.monotonic() < deadline and alive():
        counts = env.engine.counts()
        if counts.get("pending", 0) == 0 and counts.get("active", 0) == 0:
            return
        time.sleep(0.02)


def tenant_methods(env: DemoEnvironment, user_ids: list[str]) -> int:
    return sum(len(env.tenant.state.methods_of(u)) for u in user_ids)
