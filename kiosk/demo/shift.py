"""The figures of a shift with mishaps (`kiosk demo --headless --mishaps`), each counted from
the records themselves: the queue and the journal (the kiosk's store), the fake tenant's
registered methods, the key inventory, the audit trail and the virtual keys as they left the
kiosk. Nothing here is asserted: a figure that disagrees with another shows a defect."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from kiosk.audit import verify as verify_audit
from kiosk.demo.environment import DemoEnvironment
from kiosk.demo.headless import robot_at_work
from kiosk.demo.mishaps import BACKUP, FULL_KEY, SKIP_REASON, USED_KEY, MishapRobot
from kiosk.demo.returns import KeyLog, wait_queue
from kiosk.enroll.recorder import ENROLLED
from kiosk.entra.fake.state import MethodRecord
from kiosk.keys.virtual.device import VirtualKey
from kiosk.store.journal import State
from kiosk.store.queue import QueueEntry
from kiosk.wiring import build_kiosk

STATES: tuple[State, ...] = ("open", "done", "failed", "orphan", "wiped")
ACTIONABLE = ("pending", "failed", "skipped")
"""States an operator can act on (enroll, requeue); a failed or skipped user needs a reason."""


@dataclass(frozen=True)
class ShiftResult:
    users: int
    enrolled: int
    """Users whose every wanted key is enrolled (queue state done)."""
    enrolled_twice: int
    """Users holding more registered methods in the tenant than keys they were queued for."""
    operator_keys_enrolled: int
    """Attempts of the journal, or methods in the tenant, on an operator's own key."""
    stuck: int
    """Users neither done nor in a state an operator can act on (pending, or failed/skipped
    with a reason), or with an attempt left open."""
    keys_needing_reset_tracked: int
    """Keys the inventory marks as needing a reset."""
    keys_needing_reset_actual: int
    """Keys that left the kiosk, given to nobody, holding a PIN or credentials the kiosk put
    there (read from the virtual keys themselves)."""
    audit_ok: bool
    records_agree: bool
    """Tenant methods, journal done attempts, inventory keys and audit "enrolled" records name
    the same credentials per user."""
    mishaps: tuple[str, ...]
    skipped: int
    failed: int
    seconds: float

    @property
    def ok(self) -> bool:
        return (
            self.enrolled_twice == 0 and self.operator_keys_enrolled == 0 and self.stuck == 0
            and self.keys_needing_reset_tracked == self.keys_needing_reset_actual
            and self.audit_ok and self.records_agree
        )

    def to_json(self) -> str:
        fields = asdict(self)
        fields["mishaps"] = list(self.mishaps)
        return json.dumps(fields)


def run_mishaps(
    users: int, *, state_dir: Path | None = None, seed: int = 0, timeout: float = 600.0
) -> ShiftResult:
    """Enroll ``users`` demo users with a robot that makes the mishaps of :mod:`mishaps`; after
    the round, the skipped user goes back in the queue and a done user gets a backup key."""
    with DemoEnvironment(users=users, latency="none", escrow_mode="sealed", state_dir=state_dir,
                         seed=seed, operator="headless demo") as env:
        started = time.monotonic()
        deadline = started + timeout
        handed = KeyLog(env.new_key)
        special = {FULL_KEY: KeyLog(lambda: env.new_key("full")),
                   USED_KEY: KeyLog(lambda: env.new_key("used"))}
        robot = MishapRobot(env.engine, env.port, handed, operator_key=env.operator_key,
                            special=dict(special))
        while True:
            with robot_at_work(env, robot=robot) as runner:
                _work(env, deadline, runner, robot)
                if not robot.restart.is_set():
                    _second_round(env, robot)
                    wait_queue(env, deadline, runner.is_alive)
                    break
            _restart(env, robot)
        seconds = time.monotonic() - started
        keys = [*handed.handed, *special[FULL_KEY].handed, *special[USED_KEY].handed]
        return _count(env, robot, keys, round(seconds, 3))


def _work(env: DemoEnvironment, deadline: float, runner: threading.Thread,
          robot: MishapRobot) -> None:
    """Until the queue is through, or the robot wants the kiosk stopped and started again."""
    while time.monotonic() < deadline and runner.is_alive() and not robot.restart.is_set():
        counts = env.engine.counts()
        if counts.get("pending", 0) == 0 and counts.get("active", 0) == 0:
            return
        time.sleep(0.02)


def _restart(env: DemoEnvironment, robot: MishapRobot) -> None:
    """The kiosk stopped (its engine already is) and started again over the same state
    directory, store, audit trail and tenant, as the service would after a crash; the key
    waiting for its touch is still in the port."""
    assert env.kiosk is not None  # noqa: S101
    env.kiosk.close()
    env.kiosk = build_kiosk(env.settings, env.port, operator="headless demo", env={})
    robot.engine = env.engine
    robot.restart.clear()


def _second_round(env: DemoEnvironment, robot: MishapRobot) -> None:
    """What the operator does once the queue is through: puts the skipped user back and adds a
    backup key for the first user who is done."""
    engine = env.engine
    for row in engine.queue_page(0, engine.queue_size(status="skipped"), status="skipped"):
        if row.reason == SKIP_REASON:
            engine.requeue(row.entry_id)
    done = engine.queue_page(0, 1, status="done")
    if done:
        engine.add_user(done[0].upn, keys_per_user=done[0].keys_wanted + 1)
        robot.made.append(BACKUP)


def _entries(env: DemoEnvironment) -> list[QueueEntry]:
    assert env.kiosk is not None  # noqa: S101
    queue = env.kiosk.store.queue
    rows = queue.page(0, queue.size())
    return [e for e in (queue.get(r.entry_id) for r in rows) if e is not None]


def _count(
    env: DemoEnvironment, robot: MishapRobot, keys: list[VirtualKey], seconds: float
) -> ShiftResult:
    assert env.kiosk is not None  # noqa: S101
    store = env.kiosk.store
    entries = _entries(env)
    done = store.journal.with_state("done")
    operator_serials = {str(k.profile.serial) for k in (env.operator_key,) if k is not None}
    attempts = [a for state in STATES for a in store.journal.with_state(state)]
    on_operator_keys = [a for a in attempts if a.serial in operator_serials and a.credential_id]
    tenant = {e.user_id: env.tenant.state.methods_of(e.user_id) for e in entries}
    operator_methods = sum(
        1 for methods in tenant.values() for m in methods
        if any(s in m.display_name for s in operator_serials)
    )
    open_entries = {e.entry_id for e in store.journal.open_attempts()}
    stuck = sum(1 for e in entries if _stuck(e, open_entries))
    report = verify_audit(env.settings.store.audit_path)
    return ShiftResult(
        users=len(entries),
        enrolled=sum(1 for e in entries if e.status == "done"),
        enrolled_twice=sum(1 for e in entries if len(tenant[e.user_id]) > e.keys_wanted),
        operator_keys_enrolled=len(on_operator_keys) + operator_methods,
        stuck=stuck,
        keys_needing_reset_tracked=len(store.inventory.search(state="needs_reset")),
        keys_needing_reset_actual=_left_holding(keys, {e.serial for e in done}),
        audit_ok=report.ok,
        records_agree=_agree(env, entries, tenant),
        mishaps=tuple(robot.made),
        skipped=sum(1 for e in entries if e.status == "skipped"),
        failed=sum(1 for e in entries if e.status == "failed"),
        seconds=seconds,
    )


def _stuck(entry: QueueEntry, open_entries: set[int]) -> bool:
    if entry.entry_id in open_entries or entry.status == "active":
        return True
    if entry.status == "done":
        return entry.keys_done < entry.keys_wanted
    return entry.status not in ACTIONABLE or (entry.status != "pending" and not entry.reason)


def _left_holding(keys: Iterable[VirtualKey], given: set[str | None]) -> int:
    """Keys given to nobody that hold more than they came with: a PIN the kiosk set, or a
    credential it made."""
    count = 0
    for key in keys:
        if str(key.profile.serial) in given:
            continue
        came_with_pin = key.profile.preset_pin is not None
        pin_added = key.authenticator.pin_set and not came_with_pin
        creds_added = key.authenticator.credential_count > key.profile.preset_credentials
        count += pin_added or creds_added
    return count


def _agree(
    env: DemoEnvironment, entries: list[QueueEntry], tenant: dict[str, list[MethodRecord]]
) -> bool:
    """Per user: the tenant's method ids, the journal's done attempts' method ids and the
    inventory's enrolled keys are the same set, and the audit trail has one "enrolled" record
    per done attempt."""
    assert env.kiosk is not None  # noqa: S101
    store = env.kiosk.store
    done = store.journal.with_state("done")
    audited = _audited(Path(env.settings.store.audit_path))
    for entry in entries:
        in_tenant = {m.id for m in tenant[entry.user_id]}
        journaled = {e.method_id for e in done if e.entry_id == entry.entry_id}
        owned = {k.method_id for k in store.inventory.of_user(entry.upn) if k.owned}
        if not in_tenant == journaled == owned:
            return False
        if audited.get(entry.upn, 0) != len(journaled) or entry.keys_done != len(journaled):
            return False
    return True


def _audited(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("event") == ENROLLED and isinstance(record.get("upn"), str):
            counts[record["upn"]] = counts.get(record["upn"], 0) + 1
    return counts
