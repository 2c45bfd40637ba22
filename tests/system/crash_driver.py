"""Test driver: run the real engine in a subprocess, and kill it (SIGKILL) at a journal write.

Usage: ``python -m tests.system.crash_driver <kiosk.toml> <serial base> [clock offset s]``.

The fault injection lives here, in the test driver, not in product code: when the environment
variable ``CRASH_AT`` is ``<label>|<before|after>|<n>``, the store's journal-write methods are
wrapped so the process SIGKILLs itself just before or just after the n-th journal write with
that label (labels: ``key inserted``, ``key checked``, ``reset``, ``PIN set``,
``credential created``, ``PIN policy applied``, ``registered``, ``done``; and ``method
deleted``: before or after replace mode's n-th Graph delete call). Without it the
driver runs the queue to the end and prints one JSON line: the recovery report and counts.

The demo's robot operator (on the engine's thread) plugs a fresh zero-latency, auto-touch
virtual key (serials from the base) whenever the engine asks for one, pulls it when asked and
confirms replacements; the driver stops at an empty queue and retries failed entries.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from kiosk.config import load
from kiosk.demo.robot import Robot, keys_from
from kiosk.enroll.events import EnrollmentResult, Event, Prompt, PromptChanged
from kiosk.keys.virtual.device import VirtualKey
from kiosk.keys.virtual.port import VirtualPort
from kiosk.keys.virtual.profiles import PROFILES
from kiosk.model.steps import Step
from kiosk.store.journal import Journal
from kiosk.wiring import build_kiosk


def arm(journal: Journal, spec: str, graph: Any) -> None:
    label, when, nth = spec.split("|")
    count = itertools.count(1)
    if label == "method deleted":  # replace mode: crash at the n-th old method's deletion
        delete = graph.delete_fido2_method

        def deleting(*args: Any, **kwargs: Any) -> Any:
            hit = next(count) == int(nth)
            if hit and when == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            result = delete(*args, **kwargs)
            if hit and when == "after":  # Entra deleted it; the kiosk never heard
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        graph.delete_fido2_method = deleting
        return

    def label_of(name: str, args: tuple[Any, ...]) -> str:
        if name == "start":
            return Step.KEY_INSERTED.value
        if name == "key":
            return Step.KEY_CHECKED.value
        if name == "credential":
            return Step.CREDENTIAL_CREATED.value
        if name == "complete":
            return "done"
        return str(args[1].value)  # step(enrollment_id, step, ...)

    def wrap(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            hit = label_of(name, args) == label and next(count) == int(nth)
            if hit and when == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            result = method(*args, **kwargs)
            if hit and when == "after":
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        return wrapper

    for name in ("start", "key", "step", "credential", "complete"):
        setattr(journal, name, wrap(name, getattr(journal, name)))


def main(argv: list[str]) -> int:
    settings = load(argv[1])
    serials = itertools.count(int(argv[2]))
    offset = timedelta(seconds=float(argv[3])) if len(argv) > 3 else timedelta(0)
    port = VirtualPort()
    kiosk = build_kiosk(
        settings, port, operator="crash test", clock=lambda: datetime.now(UTC) + offset, env={}
    )
    engine, store = kiosk.engine, kiosk.store
    if os.environ.get("CRASH_AT"):
        arm(store.journal, os.environ["CRASH_AT"], engine.graph)
    stop = threading.Event()

    def fresh_keys() -> Iterator[VirtualKey]:
        for serial in serials:
            profile = PROFILES["yubikey5"].with_serial(serial)
            yield VirtualKey(profile, auto_touch=0.0, touch_timeout=5.0)

    def supervisor(event: Event) -> None:
        if isinstance(event, PromptChanged):
            if event.prompt is Prompt.IDLE and "empty" in event.detail:
                stop.set()
        elif isinstance(event, EnrollmentResult) and event.status is not Step.DONE:
            engine.retry()  # this driver's operator always tries again

    Robot(
        engine, port, keys_from(fresh_keys()), touch_keys=False, answer_errors=False
    ).start(threaded=False)
    engine.subscribe(supervisor)
    engine.run(stop)
    print(json.dumps({"recovery": engine.recovery_report, "counts": store.queue.counts()}))
    kiosk.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
