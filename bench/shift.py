"""Keys per hour for a real operator: the engine, a hardware-like key and a simulated person.

The kiosk's own engine (``kiosk demo``'s environment: the fake tenant adding ``--rtt-ms`` to
every Graph request, virtual YubiKey 5s with the hardware-like latencies, new keys, generated
PINs sealed to the helpdesk) is driven by a simulated operator who takes the times below for
what a person does with each key, and waits whenever the kiosk or the key is not ready. The
same run measures a second kiosk set up the way other tools work: creation options fetched on
demand when a user's turn comes (``graph.prefetch = 0``) and keys polled every 0.4 s.

Human times (seconds), for a trained operator at a normal pace, with where they come from:

- ``INSERT`` 2.5: reach for a key in a tray of keys, grasp it, carry it to the port and push
  the plug in. MTM-1 predetermined motion times (Maynard, Stegemerten and Schwab, *Methods-Time
  Measurement*, 1948; the MTM Association's MTM-1 data card, 1 TMU = 0.036 s): Reach 30 cm to
  an object jumbled with others (R30C, about 15 TMU), Grasp by selection (G4A, 7.3 TMU), Move
  30 cm to an exact location (M30C, about 15 TMU), Position with a close, non-symmetrical fit
  (P2NSE, about 22 TMU: a USB-A plug goes in one way), Apply pressure (APA, 10.6 TMU): about
  70 TMU = 2.5 s. Values recalled from the data card as reproduced in work-study texts
  (Niebel and Freivalds, *Methods, Standards, and Work Design*) and rounded; take them as
  +-20 %.
- ``TOUCH`` 0.5: the key starts blinking; the operator, whose hand is still at the port,
  sees it and touches the contact. Simple visual reaction time about 0.24 s (Card, Moran and
  Newell, *The Psychology of Human-Computer Interaction*, 1983, Model Human Processor:
  perceptual 100 ms + cognitive 70 ms + motor 70 ms) plus a 10 cm reach to the contact (R10A,
  6.1 TMU = 0.22 s).
- ``PULL`` 1.0: the screen says the key is done; react (0.24 s, as above), grasp the key
  (G1A, 2 TMU), pull the plug out (disengage with a close fit, D2E, about 11 TMU = 0.4 s) and
  move it 30 cm to the envelope (M30B, about 13 TMU = 0.45 s).
- ``ENVELOPE`` 2.0: slide the key into its envelope (position, loose fit, P1SE, 5.6 TMU),
  fold or press the flap (about 20 TMU with its grasp and release) and lay the envelope on the
  done pile (reach, grasp, move, release: about 30 TMU): about 55 TMU = 2.0 s, an MTM estimate
  of our own from the same data card, not a measured figure.

The operator waits (``operator_wait_seconds_per_key``) from plugging the key in until it
blinks, from touching it until the kiosk says to pull it, and from laying the envelope down
until the kiosk asks for the next key (if it has not yet). ``keys_per_hour`` counts keys done
from the first "insert a key" to the last envelope.

    .venv/bin/python bench/shift.py             # prints one JSON object (about 3 minutes)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import queue
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

from kiosk.config import GraphSettings, Settings
from kiosk.demo.environment import DemoEnvironment
from kiosk.enroll.events import EnrollmentResult, Event, Prompt, PromptChanged, Step
from kiosk.keys.virtual.device import VirtualKey

INSERT = 2.5
TOUCH = 0.5
PULL = 1.0
ENVELOPE = 2.0
TARGET_WAIT = 1.5
OTHER_POLL_MS = 400


class OnDemandKiosk(DemoEnvironment):
    """The comparison: options fetched when the user's turn comes, keys polled every 0.4 s."""

    def make_settings(self) -> Settings:
        settings = super().make_settings()
        return dataclasses.replace(
            settings, kiosk=dataclasses.replace(settings.kiosk, poll_interval_ms=OTHER_POLL_MS)
        )


@dataclass
class Shift:
    waits: list[float] = field(default_factory=list)
    """Seconds the operator stood waiting, per key done."""
    parts: dict[str, list[float]] = field(
        default_factory=lambda: {"for_blink": [], "for_pull": [], "for_next_key": []}
    )
    """The same waits by what the operator waited for."""
    started: float = 0.0
    ended: float = 0.0
    failed: int = 0


class Operator:
    """A person at the kiosk: follows the prompts, takes human time for each action."""

    def __init__(self, env: DemoEnvironment, keys: int) -> None:
        self.env, self.keys = env, keys
        self.inbox: queue.Queue[tuple[float, Event]] = queue.Queue()
        self.shift = Shift()
        self._prompts: dict[Prompt, float] = {}
        self._results = 0

    def hear(self, event: Event) -> None:
        """The engine's events, stamped when they happen (the screen changes then)."""
        self.inbox.put((time.perf_counter(), event))

    def _take(self) -> None:
        at, event = self.inbox.get(timeout=60)
        if isinstance(event, PromptChanged):
            self._prompts[event.prompt] = at
        elif isinstance(event, EnrollmentResult):
            self._results += 1
            if event.status is not Step.DONE:
                self.shift.failed += 1

    def _wait_prompt(self, prompt: Prompt, since: float, idle: float | None = None) -> float:
        """Wait for ``prompt`` shown after ``since``; the seconds the operator, idle from
        ``idle`` (default: ``since``), spent waiting for it."""
        while self._prompts.get(prompt, -1.0) < since:
            self._take()
        return max(0.0, self._prompts[prompt] - (since if idle is None else idle))

    @staticmethod
    def _wait_blink(key: VirtualKey, since: float) -> float:
        while not key.waiting_for_touch:
            time.sleep(0.002)
        return time.perf_counter() - since

    def run(self) -> Shift:
        idle_since = pulled = 0.0
        for n in range(self.keys):
            for_next = self._wait_prompt(Prompt.INSERT_KEY, pulled, idle_since)
            if n == 0:
                for_next = 0.0  # the shift starts at the first "insert a key"
                self.shift.started = time.perf_counter()
            time.sleep(INSERT)
            key = self.env.new_key("yubikey5", auto_touch=None)
            plugged = time.perf_counter()
            self.env.port.plug(key)
            for_blink = self._wait_blink(key, plugged)
            time.sleep(TOUCH)
            key.touch()
            touched = time.perf_counter()
            for_pull = self._wait_prompt(Prompt.REMOVE_KEY, touched)
            time.sleep(PULL)
            self.env.port.unplug(key)
            pulled = time.perf_counter()
            time.sleep(ENVELOPE)
            idle_since = time.perf_counter()
            self.shift.waits.append(for_next + for_blink + for_pull)
            for name, value in (
                ("for_next_key", for_next),
                ("for_blink", for_blink),
                ("for_pull", for_pull),
            ):
                self.shift.parts[name].append(value)
        self.shift.ended = idle_since
        return self.shift


def run(kind: type[DemoEnvironment], keys: int, rtt_ms: float, prefetch: int) -> Shift:
    with kind(
        users=keys,
        latency="hardware",
        rtt_ms=rtt_ms,
        escrow_mode="sealed",
        operator="bench",
        sync_group=True,
        graph=GraphSettings(prefetch=prefetch),
    ) as env:
        operator = Operator(env, keys)
        env.engine.subscribe(operator.hear)
        stop = threading.Event()
        runner = threading.Thread(target=env.engine.run, args=(stop,), daemon=True)
        runner.start()
        try:
            return operator.run()
        finally:
            stop.set()
            runner.join(15)


def figures(shift: Shift) -> dict[str, object]:
    hours = (shift.ended - shift.started) / 3600
    return {
        "wait_seconds_by_cause": {k: round(statistics.mean(v), 3) for k, v in shift.parts.items()},
        "keys_per_hour": round(len(shift.waits) / hours, 1),
        "operator_wait_seconds_per_key": round(statistics.mean(shift.waits), 3),
        "operator_wait_seconds_p90": round(statistics.quantiles(shift.waits, n=10)[-1], 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=12, help="keys per kiosk (default 12)")
    parser.add_argument("--rtt-ms", type=float, default=200.0)
    args = parser.parse_args()
    tempfile.tempdir = None
    ours = run(DemoEnvironment, args.keys, args.rtt_ms, GraphSettings().prefetch)
    other = run(OnDemandKiosk, args.keys, args.rtt_ms, 0)
    mine, theirs = figures(ours), figures(other)
    result = {
        "keys": args.keys,
        "rtt_ms": args.rtt_ms,
        "profile": "hardware",
        "path": "new_key",
        "human_seconds": {"insert": INSERT, "touch": TOUCH, "pull": PULL, "envelope": ENVELOPE},
        **mine,
        "failed": ours.failed,
        "on_demand_poll_0_4s": {**theirs, "failed": other.failed},
        "targets": {"operator_wait_seconds_per_key": TARGET_WAIT},
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
