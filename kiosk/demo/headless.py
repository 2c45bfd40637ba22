"""`kiosk demo --headless`: the engine end to end on the fake tenant, with a robot operator
that plugs, touches and pulls a virtual key for each user. Prints one JSON line."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from kiosk.audit import verify as verify_audit
from kiosk.demo.environment import DemoEnvironment, LatencyName
from kiosk.demo.returns import KeyLog, add_users, take_back, tenant_methods, wait_queue
from kiosk.demo.robot import KeyFactory, Robot, keys_from
from kiosk.keys.virtual.device import VirtualKey


@dataclass(frozen=True)
class HeadlessResult:
    users: int
    enrolled: int
    failed: int
    verified_by_tenant: int
    audit_ok: bool
    seconds: float
    labels_printed: int | None = None
    """With --print: labels the printer finished (CUPS-PDF queue, or PDF files)."""
    mailers_printed: int | None = None
    returned: int | None = None
    """With --returns: keys taken back at the desk, and what became of them."""
    methods_deleted: int | None = None
    keys_reset: int | None = None
    in_stock_after_returns: int | None = None
    reenrolled: int | None = None
    tenant_methods_of_returned_users: int | None = None

    def fields(self) -> dict[str, object]:
        """The JSON line's fields (the print counts only when printing was asked)."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @property
    def ok(self) -> bool:
        back = self.returned is None or (
            self.tenant_methods_of_returned_users == 0 and self.reenrolled == self.returned
        )
        return self.enrolled == self.users and self.audit_ok and back

    def to_json(self) -> str:
        return json.dumps(self.fields(), sort_keys=False)


def verified_by_tenant(env: DemoEnvironment) -> int:
    """Users whose registered method, as the tenant holds it, matches the kiosk's inventory
    (same method id and the same AAGUID the key reported)."""
    if env.kiosk is None:
        return 0
    verified: set[str] = set()
    for item in env.kiosk.store.inventory.all():
        if not item.method_id:
            continue
        for method in env.tenant.state.methods_of(item.user_id):
            if method.id == item.method_id and method.aaguid.lower() == item.aaguid.lower():
                verified.add(item.user_id)
    return len(verified)


@contextmanager
def robot_at_work(
    env: DemoEnvironment, keys: KeyFactory | None = None, *, robot: Robot | None = None
) -> Iterator[threading.Thread]:
    """The engine running on its own thread (yielded) with a :class:`Robot` operator (or
    ``robot``) plugging fresh demo keys (or ``keys``); on leaving, the engine is stopped, then
    the robot."""
    robot = robot or Robot(env.engine, env.port, keys or (lambda _n: env.new_key()))
    robot.adopt(env.port.keys)  # a kept demo started again: the keys left in the port
    robot.start()
    stop = threading.Event()
    runner = threading.Thread(target=env.engine.run, args=(stop,), name="engine", daemon=True)
    runner.start()
    try:
        yield runner
    finally:
        stop.set()
        runner.join(timeout=15)
        robot.stop()


def run_headless(
    users: int,
    *,
    latency: LatencyName = "none",
    rtt_ms: float = 0.0,
    timeout: float = 600.0,
    state_dir: Path | None = None,
    seed: int = 0,
    paper: bool = False,
    cups_server: str = "/run/cups/cups.sock",
    returns: int = 0,
) -> HeadlessResult:
    """Enroll ``users`` demo users, one fresh virtual key each; wait until the queue is done.
    With ``paper``, each key's label and PIN mailer print too (escrow shows the PIN then).
    With ``returns``, that many keys then come back, go to stock and serve new users."""
    with DemoEnvironment(
        users=users,
        latency=latency,
        rtt_ms=rtt_ms,
        escrow_mode="both" if paper else "sealed",
        state_dir=state_dir,
        seed=seed,
        operator="headless demo",
        paper=paper,
        cups_server=cups_server,
    ) as env:
        engine = env.engine
        started = time.monotonic()
        deadline = started + timeout
        handed = KeyLog(env.new_key)
        with robot_at_work(env, handed) as runner:
            wait_queue(env, deadline, runner.is_alive)
            seconds = time.monotonic() - started
        counts = engine.counts()
        back = returns_round(env, handed.handed[:returns], deadline) if returns else {}
        desk = env.kiosk.paper if env.kiosk is not None else None
        if desk is not None:
            desk.drain(max(10.0, deadline - time.monotonic()))
        report = verify_audit(env.settings.store.audit_path)
        queued = sum(counts.values())
        return HeadlessResult(
            users=queued,
            enrolled=counts.get("done", 0),
            failed=counts.get("failed", 0) + counts.get("skipped", 0),
            verified_by_tenant=verified_by_tenant(env),
            audit_ok=report.ok,
            seconds=round(seconds, 3),
            labels_printed=desk.printed["label"] if desk is not None else None,
            mailers_printed=desk.printed["mailer"] if desk is not None else None,
            **back,
        )


def returns_round(env: DemoEnvironment, keys: list[VirtualKey], deadline: float
                  ) -> dict[str, int]:
    """Take ``keys`` back into stock, then enroll them again for as many new users."""
    assert env.kiosk is not None  # noqa: S101
    owners, deleted, reset = take_back(env, keys)
    in_stock = len(env.kiosk.store.inventory.search(state="in_stock"))
    done_before = env.engine.counts().get("done", 0)
    add_users(env, len(keys))
    with robot_at_work(env, keys_from(keys)) as runner:
        wait_queue(env, deadline, runner.is_alive)
    return {
        "returned": len(keys),
        "methods_deleted": deleted,
        "keys_reset": reset,
        "in_stock_after_returns": in_stock,
        "reenrolled": env.engine.counts().get("done", 0) - done_before,
        "tenant_methods_of_returned_users": tenant_methods(env, owners),
    }
