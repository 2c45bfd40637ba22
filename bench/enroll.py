"""Enrollment critical path against its lower bound, and resume time of a large store.

For ``--users`` users on the hardware-like virtual key profile, with the fake tenant adding
``--rtt-ms`` per request: the critical path of one user is the time from the key being plugged
in to the engine's result (no simulated human delay: the key touches itself at once). Its
lower bound is the key's own time for that user (every CTAPHID transaction, measured inside
the virtual key) plus one round trip for the register call, the only Graph call that must sit
on the critical path (creation options are prefetched). ``resume_seconds`` is the time from
opening a store holding ``--resume-users`` queued users (cold: a new Store and Engine) to the
engine asking for the next key.

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
from pathlib import Path

from kiosk.demo.environment import DemoEnvironment
from kiosk.enroll.events import EnrollmentResult, Event, Prompt, PromptChanged, Step
from kiosk.keys.virtual.connection import Keepalive, Reply
from kiosk.keys.virtual.ctaphid import Request
from kiosk.keys.virtual.device import VirtualKey
from kiosk.store import Store
from kiosk.store.queue import NewUser
from kiosk.wiring import build_kiosk

TARGET_RATIO = 1.10
TARGET_RESUME_SECONDS = 2.0


class TimedKey(VirtualKey):
    """A virtual key that adds up the time it spends answering requests (its own time)."""

    busy_seconds = 0.0

    def _handle(self, request: Request, keepalive: Keepalive, cancelled: threading.Event) -> Reply:
        start = time.perf_counter()
        try:
            return super()._handle(request, keepalive, cancelled)
        finally:
            self.busy_seconds += time.perf_counter() - start


def critical_path(users: int, rtt_ms: float) -> tuple[list[float], list[float], int]:
    with DemoEnvironment(
        users=users, latency="hardware", rtt_ms=rtt_ms, escrow_mode="sealed",
        operator="bench", sync_group=True,
    ) as env:
        engine = env.engine
        inbox: queue.Queue[Event | None] = queue.Queue()
        engine.subscribe(inbox.put)
        paths: list[float] = []
        bounds: list[float] = []
        done = 0
        plugged: list[tuple[TimedKey, float]] = []  # keys in plug order, with plug time

        def operator() -> None:
            nonlocal done
            while (event := inbox.get()) is not None:
                if isinstance(event, PromptChanged) and event.prompt is Prompt.INSERT_KEY:
                    if env.port.keys:
                        continue
                    key = TimedKey(env.new_key().profile, auto_touch=0.0)
                    plugged.append((key, time.perf_counter()))
                    env.port.plug(key)
                elif isinstance(event, EnrollmentResult) and plugged:
                    t1 = time.perf_counter()
                    key, t0 = plugged.pop(0)
                    if event.status is Step.DONE:
                        paths.append((t1 - t0) * 1000)
                        bounds.append(key.busy_seconds * 1000 + rtt_ms)
                        done += 1
                elif isinstance(event, PromptChanged) and event.prompt is Prompt.REMOVE_KEY:
                    for inserted in env.port.keys:
                        env.port.unplug(inserted)

        helper = threading.Thread(target=operator, daemon=True)
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
        inbox.put(None)
        helper.join(5)
        return paths, bounds, done


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rtt-ms", type=float, default=200.0)
    parser.add_argument("--resume-users", type=int, default=50_000)
    args = parser.parse_args()
    tempfile.tempdir = None
    paths, bounds, done = critical_path(args.users, args.rtt_ms)
    path_median = statistics.median(paths) if paths else float("nan")
    bound_median = statistics.median(bounds) if bounds else float("nan")
    ratios = [p / b for p, b in zip(paths, bounds, strict=True)]
    result = {
        "users": args.users,
        "enrolled": done,
        "rtt_ms": args.rtt_ms,
        "profile": "hardware",
        "critical_path_ms_median": round(path_median, 1),
        "lower_bound_ms_median": round(bound_median, 1),
        "ratio": round(path_median / bound_median, 3),
        "ratio_median_per_user": round(statistics.median(ratios), 3) if ratios else None,
        "resume_users": args.resume_users,
        "resume_seconds": round(resume_seconds(args.resume_users), 3),
        "targets": {"ratio": TARGET_RATIO, "resume_seconds": TARGET_RESUME_SECONDS},
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
