"""Enrollment critical path and key time against their minimum, and resume time of a store.

For ``--users`` users on the hardware-like virtual key profile (new keys), with the fake
tenant adding ``--rtt-ms`` per request, the critical path of one user is the time from the key
being plugged in to the engine's result (no simulated human delay: the key touches itself at
once). Its lower bound is the minimal transaction set of that path
(:func:`kiosk.keys.virtual.transactions.minimal_path`, with the silent operator-key check that
``kiosk demo``'s operator sign-in key adds) priced at the profile's per-command
latencies, plus one round trip for the register call, the only Graph call that must sit on the
critical path (creation options are prefetched). ``key_time_ratio`` is the key's own time
(every transaction, measured inside the virtual key) over that priced minimal set.

The other enrollment paths (an operator-typed PIN, a used key reset after a re-insert, a
CTAP 2.0 key without authenticatorConfig) run ``--path-users`` users each, to count their
transactions per command. ``resume_seconds`` is the time from opening a store holding
``--resume-users`` queued users (cold: a new Store and Engine) to the engine asking for the
next key.

    .venv/bin/python bench/enroll.py            # prints one JSON object
"""

from __future__ import annotations

import argparse
import json
import queue
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.config import PolicySettings
from kiosk.demo.environment import DemoEnvironment
from kiosk.enroll.events import EnrollmentResult, Event, Prompt, PromptChanged
from kiosk.keys.virtual.device import VirtualKey
from kiosk.keys.virtual.profiles import HARDWARE_LATENCY
from kiosk.keys.virtual.transactions import OPERATOR_KEY_CHECK, minimal_path, price_ms
from kiosk.model.steps import Step
from kiosk.store import Store
from kiosk.store.queue import NewUser
from kiosk.wiring import build_kiosk

TARGET_RATIO = 1.10
TARGET_KEY_TIME_RATIO = 1.10
TARGET_TRANSACTIONS_NEW_KEY = 9
TARGET_RESUME_SECONDS = 2.0
OPERATOR_PIN = "73915824"


@dataclass(frozen=True)
class EnrollPath:
    """One enrollment path: the key that comes in and the policy that meets it."""

    profile: str
    policy: PolicySettings
    reinsert: bool = False


PATHS = {
    "new_key": EnrollPath("yubikey5", PolicySettings()),
    "operator_pin": EnrollPath("yubikey5", PolicySettings(pin_source="operator")),
    "reset_path": EnrollPath("used", PolicySettings(reset="automatic"), reinsert=True),
    "ctap20_key": EnrollPath("ctap20", PolicySettings(pin_policy="optional")),
}


@dataclass
class Measured:
    critical_ms: list[float] = field(default_factory=list)
    key_ms: list[float] = field(default_factory=list)
    transactions: list[list[str]] = field(default_factory=list)


OPERATOR_KEYS = True
"""``kiosk demo``'s environment signs its operator in with a key: every key is asked, silently,
whether it is that key (one getAssertion more than a kiosk without operator keys)."""


def minimal_ms(path: str) -> float:
    return sum(
        price_ms(name, HARDWARE_LATENCY) for name in minimal_path(path, operator_keys=OPERATOR_KEYS)
    )


class Operator:
    """Plugs a key of the path's profile when asked, re-inserts it, types the PIN, pulls it."""

    def __init__(self, env: DemoEnvironment, path: EnrollPath, out: Measured) -> None:
        self.env, self.path, self.out = env, path, out
        self.inbox: queue.Queue[Event | None] = queue.Queue()
        self.plugged: list[tuple[VirtualKey, float]] = []

    def run(self) -> None:
        while (event := self.inbox.get()) is not None:
            if isinstance(event, EnrollmentResult):
                self._result(event)
            elif isinstance(event, PromptChanged):
                self._prompt(event.prompt)

    def _prompt(self, prompt: Prompt) -> None:
        env = self.env
        if prompt is Prompt.INSERT_KEY and not env.port.keys:
            key = env.new_key(self.path.profile, auto_touch=0.0)
            if self.path.reinsert:
                key.authenticator.reset_window = 0.0  # the first insertion's window passed
            self.plugged.append((key, time.perf_counter()))
            env.port.plug(key)
        elif prompt is Prompt.REINSERT_KEY and self.plugged:
            key = self.plugged[-1][0]
            key.authenticator.reset_window = 10.0
            env.port.unplug(key)
            env.port.plug(key)
        elif prompt is Prompt.TYPE_PIN:
            env.engine.provide_pin(OPERATOR_PIN)
        elif prompt is Prompt.REMOVE_KEY:
            for inserted in env.port.keys:
                env.port.unplug(inserted)

    def _result(self, event: EnrollmentResult) -> None:
        if not self.plugged:
            return
        t1 = time.perf_counter()
        key, t0 = self.plugged.pop(0)
        if event.status is Step.DONE:
            self.out.critical_ms.append((t1 - t0) * 1000)
            self.out.key_ms.append(key.transactions.seconds() * 1000)
            self.out.transactions.append(key.transactions.names())


def run_path(name: str, users: int, rtt_ms: float) -> Measured:
    path = PATHS[name]
    out = Measured()
    with DemoEnvironment(
        users=users,
        latency="hardware",
        rtt_ms=rtt_ms,
        escrow_mode="sealed",
        operator="bench",
        sync_group=True,
        policy=path.policy,
    ) as env:
        engine = env.engine
        operator = Operator(env, path, out)
        engine.subscribe(operator.inbox.put)
        helper = threading.Thread(target=operator.run, daemon=True)
        helper.start()
        stop = threading.Event()
        runner = threading.Thread(target=engine.run, args=(stop,), daemon=True)
        runner.start()
        deadline = time.monotonic() + users * 20
        while time.monotonic() < deadline:
            counts = engine.counts()
            if counts.get("pending", 0) == 0 and counts.get("active", 0) == 0:
                break
            time.sleep(0.05)
        stop.set()
        runner.join(15)
        operator.inbox.put(None)
        helper.join(5)
    return out


def resume_seconds(n: int) -> float:
    with DemoEnvironment(users=3, latency="none", operator="bench", sync_group=False) as env:
        if env.kiosk is not None:
            env.kiosk.close()
        db = Path(env.settings.store.path)
        store = Store(db)
        # The first users exist in the tenant (the engine prefetches their options at once);
        # the rest only need to sit in the queue.
        real = [env.tenant.state.add_user(f"ready{i}@contoso.onmicrosoft.com") for i in range(10)]
        store.queue.add(
            [NewUser(u.user_principal_name, u.id, "Ready") for u in real]
            + [
                NewUser(f"user{i:06d}@contoso.onmicrosoft.com", f"id-{i:06d}", f"User {i}")
                for i in range(n - len(real))
            ]
        )
        store.close()
        ready = threading.Event()

        def listener(event: Event) -> None:
            if isinstance(event, PromptChanged) and event.prompt is Prompt.INSERT_KEY:
                ready.set()

        start = time.perf_counter()
        kiosk = build_kiosk(env.settings, env.port, operator="bench", env={})
        kiosk.engine.subscribe(listener)
        stop = threading.Event()
        runner = threading.Thread(target=kiosk.engine.run, args=(stop,), daemon=True)
        runner.start()
        ready.wait(60)
        elapsed = time.perf_counter() - start
        stop.set()
        runner.join(15)
        kiosk.close()
        return elapsed


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _path_summary(name: str, measured: Measured) -> dict[str, object]:
    counts = [len(t) for t in measured.transactions]
    per_command: Counter[str] = Counter()
    for names in measured.transactions[:1]:
        per_command.update(n.split("(")[0].split("!")[0] for n in names)
    minimal = minimal_path(name, operator_keys=OPERATOR_KEYS)
    extra = [n for n in (measured.transactions or [[]])[0] if n not in minimal]
    return {
        "enrolled": len(measured.transactions),
        "ctap_transactions": max(counts) if counts else None,
        "minimal_transactions": len(minimal),
        "per_command": dict(sorted(per_command.items())),
        "not_in_minimal_set": extra,
        "key_seconds": round(_median(measured.key_ms) / 1000, 3),
        "minimal_key_seconds": round(minimal_ms(name) / 1000, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--path-users", type=int, default=2)
    parser.add_argument("--rtt-ms", type=float, default=200.0)
    parser.add_argument("--resume-users", type=int, default=50_000)
    args = parser.parse_args()
    tempfile.tempdir = None
    new = run_path("new_key", args.users, args.rtt_ms)
    others = {
        name: run_path(name, args.path_users, args.rtt_ms) for name in PATHS if name != "new_key"
    }
    bound_ms = minimal_ms("new_key") + args.rtt_ms
    path_median = _median(new.critical_ms)
    key_median = _median(new.key_ms)
    paths = {"new_key": _path_summary("new_key", new)}
    paths.update({name: _path_summary(name, m) for name, m in others.items()})
    result = {
        "users": args.users,
        "enrolled": len(new.critical_ms),
        "rtt_ms": args.rtt_ms,
        "profile": "hardware",
        "ctap_transactions_new_key": paths["new_key"]["ctap_transactions"],
        "ctap_transactions_new_key_without_operator_key_check": max(
            (sum(n != OPERATOR_KEY_CHECK for n in names) for names in new.transactions),
            default=None,
        ),
        "ctap_transactions_reset_path": paths["reset_path"]["ctap_transactions"],
        "ctap_transactions_operator_pin": paths["operator_pin"]["ctap_transactions"],
        "ctap_transactions_ctap20_key": paths["ctap20_key"]["ctap_transactions"],
        "key_seconds_new_key": round(key_median / 1000, 3),
        "minimal_key_seconds_new_key": round(minimal_ms("new_key") / 1000, 3),
        "key_time_ratio": round(key_median / minimal_ms("new_key"), 3),
        "critical_path_ms_median": round(path_median, 1),
        "lower_bound_ms": round(bound_ms, 1),
        "ratio": round(path_median / bound_ms, 3),
        "paths": paths,
        "resume_users": args.resume_users,
        "resume_seconds": round(resume_seconds(args.resume_users), 3),
        "targets": {
            "ctap_transactions_new_key": TARGET_TRANSACTIONS_NEW_KEY,
            "key_time_ratio": TARGET_KEY_TIME_RATIO,
            "ratio": TARGET_RATIO,
            "resume_seconds": TARGET_RESUME_SECONDS,
        },
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
