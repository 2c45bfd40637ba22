"""One demo station of a fleet: the engine on a shared store (``store.url``) and a running
fake tenant, with a robot operator plugging fresh virtual keys, until no user is left.

``python -m kiosk.demo.station --config station.toml --first-serial N [--latency hardware]``
prints one JSON line when it ends: the station, keys enrolled here, failures, seconds. The
fleet race tests and ``bench/fleet.py`` start several of these as separate processes.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Sequence

from kiosk.config import load
from kiosk.demo.robot import KeyFactory, Robot
from kiosk.keys.virtual.device import VirtualKey
from kiosk.keys.virtual.port import VirtualPort
from kiosk.keys.virtual.profiles import HARDWARE_LATENCY, NO_LATENCY, PROFILES
from kiosk.wiring import build_kiosk


def _keys(first_serial: int, hardware: bool) -> KeyFactory:
    base = PROFILES["yubikey5"].with_latency(HARDWARE_LATENCY if hardware else NO_LATENCY)
    return lambda n: VirtualKey(base.with_serial(first_serial + n))


def run_station(
    config: str, first_serial: int, *, hardware: bool, timeout: float
) -> dict[str, object]:
    settings = load(config)
    port = VirtualPort()
    kiosk = build_kiosk(settings, port, operator=f"robot {settings.store.station}", env={})
    engine, store = kiosk.engine, kiosk.store
    robot = Robot(engine, port, _keys(first_serial, hardware))
    robot.start()
    stop = threading.Event()
    runner = threading.Thread(target=engine.run, args=(stop,), name="engine", daemon=True)
    started = time.monotonic()
    runner.start()
    seen_work = False  # a station may start before the users are queued: wait for them
    try:
        while time.monotonic() - started < timeout and runner.is_alive():
            time.sleep(0.2)
            left = store.queue.counts()["pending"] > 0 or bool(store.queue.claims.held())
            seen_work = seen_work or left
            if seen_work and not left:
                break
    finally:
        stop.set()
        runner.join(timeout=15)
        robot.stop()
        kiosk.close()
    return {
        "station": store.station,
        "done": robot.log.done,
        "failed": robot.log.failed,
        "errors": [e.title for e in robot.log.errors],
        "seconds": round(time.monotonic() - started, 3),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kiosk.demo.station")
    parser.add_argument("--config", required=True)
    parser.add_argument("--first-serial", type=int, required=True)
    parser.add_argument("--latency", choices=("none", "hardware"), default="none")
    parser.add_argument("--timeout", type=float, default=1800.0)
    args = parser.parse_args(argv)
    result = run_station(
        args.config, args.first_serial, hardware=args.latency == "hardware", timeout=args.timeout
    )
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
