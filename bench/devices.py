"""Device-layer benchmark: key detection latency, idle watcher cost, makeCredential time.

Prints one JSON object:

- ``detect_p50_ms`` / ``detect_p95_ms``: virtual key plugged -> ``KeyInserted`` delivered by
  ``KeyWatcher.run`` at the default poll interval (50 ms), over ``--plugs`` plugs. Each plug
  happens at a random moment of the poll cycle, as a person's would.
- ``idle_cpu_percent``: CPU time of the watcher thread (``time.thread_time``) over
  ``--idle-seconds`` with one key in and nothing changing, as percent of one core; measured
  over the virtual port, and (``idle_cpu_percent_hidraw``) over the real hidraw backend
  listing 16 nodes (file stand-ins for /dev/hidraw*, descriptors cached after the first read).
- ``make_credential_ms``: median Graph-shaped ``KeySession.make_credential`` on a zero-latency
  virtual YubiKey 5 (auto touch), over real CTAPHID packets.

Usage: .venv/bin/python bench/devices.py [--plugs 50] [--idle-seconds 10] [--credentials 20]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from fido2.hid.base import HidDescriptor

from kiosk.keys.hid import RealHidBackend
from kiosk.keys.session import KeySession
from kiosk.keys.types import HidBackend
from kiosk.keys.virtual.device import VirtualKey
from kiosk.keys.virtual.port import VirtualPort
from kiosk.keys.virtual.profiles import NO_LATENCY, PROFILES
from kiosk.keys.watcher import (
    DEFAULT_POLL_INTERVAL,
    KeyInserted,
    KeyRemoved,
    KeyWatcher,
    WatchEvent,
)

TARGETS = {"detect_p95_ms": 150.0, "idle_cpu_percent": 1.0}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def detection(plugs: int) -> list[float]:
    port = VirtualPort()
    watcher = KeyWatcher(port, poll_interval=DEFAULT_POLL_INTERVAL)
    key = VirtualKey(PROFILES["yubikey5"])
    inserted = threading.Event()
    removed = threading.Event()
    seen_at = [0.0]

    def callback(event: WatchEvent) -> None:
        if isinstance(event, KeyInserted):
            seen_at[0] = time.perf_counter()
            inserted.set()
        elif isinstance(event, KeyRemoved):
            removed.set()

    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop, callback), daemon=True)
    thread.start()
    latencies = []
    try:
        for _ in range(plugs):
            inserted.clear()
            time.sleep(random.uniform(0, DEFAULT_POLL_INTERVAL))
            started = time.perf_counter()
            port.plug(key)
            if not inserted.wait(5):
                raise RuntimeError("the watcher never reported the key")
            latencies.append((seen_at[0] - started) * 1000)
            removed.clear()
            port.unplug(key)
            if not removed.wait(5):
                raise RuntimeError("the watcher never reported the removal")
    finally:
        stop.set()
        thread.join(5)
    return latencies


def idle_cpu(backend: HidBackend, seconds: float) -> float:
    watcher = KeyWatcher(backend, poll_interval=DEFAULT_POLL_INTERVAL)
    watcher.poll()  # the key is already seen: from here on nothing changes
    stop = threading.Event()
    used = [0.0]

    def run() -> None:
        started = time.thread_time()
        watcher.run(stop, lambda event: None)
        used[0] = time.thread_time() - started

    thread = threading.Thread(target=run, daemon=True)
    wall = time.perf_counter()
    thread.start()
    time.sleep(seconds)
    stop.set()
    thread.join(5)
    return 100.0 * used[0] / (time.perf_counter() - wall)


def hidraw_backend(directory: Path, nodes: int) -> RealHidBackend:
    for n in range(nodes):
        (directory / f"hidraw{n}").write_bytes(b"")

    def reader(path: str) -> HidDescriptor:
        if path.endswith("hidraw0"):
            return HidDescriptor(path, 0x1050, 0x0407, 64, 64, "YubiKey", None)
        raise ValueError("Not a FIDO device")  # keyboards, mice, ...

    return RealHidBackend(str(directory / "hidraw*"), reader=reader)


def graph_options() -> dict[str, Any]:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return {
        "challenge": b64(os.urandom(32)),
        "rp": {"id": "login.microsoft.com", "name": "Microsoft"},
        "user": {"id": b64(os.urandom(16)), "name": "bench@contoso.example", "displayName": "B"},
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
        "authenticatorSelection": {"requireResidentKey": True, "userVerification": "required"},
        "attestation": "direct",
        "extensions": {
            "hmacCreateSecret": True,
            "credentialProtectionPolicy": "userVerificationOptional",
        },
    }


def make_credential(count: int) -> list[float]:
    port = VirtualPort()
    key = VirtualKey(PROFILES["yubikey5"].with_latency(NO_LATENCY), auto_touch=0.0)
    descriptor = port.plug(key)
    session = KeySession(port.open(descriptor))
    pin = "73910264"
    session.set_pin(pin)
    session.make_credential(graph_options(), pin)  # warm-up
    times = []
    try:
        for _ in range(count):
            options = graph_options()
            started = time.perf_counter()
            session.make_credential(options, pin)
            times.append((time.perf_counter() - started) * 1000)
    finally:
        session.close()
        port.unplug()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plugs", type=int, default=50)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--credentials", type=int, default=20)
    args = parser.parse_args()

    latencies = detection(args.plugs)
    port = VirtualPort()
    port.plug(VirtualKey(PROFILES["yubikey5"]))
    idle = idle_cpu(port, args.idle_seconds)
    port.unplug()
    with tempfile.TemporaryDirectory() as tmp:
        idle_hidraw = idle_cpu(hidraw_backend(Path(tmp), 16), args.idle_seconds)
    credential_ms = make_credential(args.credentials)

    result = {
        "detect_p50_ms": round(statistics.median(latencies), 1),
        "detect_p95_ms": round(percentile(latencies, 95), 1),
        "detect_max_ms": round(max(latencies), 1),
        "plugs": len(latencies),
        "poll_interval_ms": DEFAULT_POLL_INTERVAL * 1000,
        "idle_cpu_percent": round(idle, 3),
        "idle_cpu_percent_hidraw": round(idle_hidraw, 3),
        "idle_seconds": args.idle_seconds,
        "make_credential_ms": round(statistics.median(credential_ms), 1),
        "make_credential_p95_ms": round(percentile(credential_ms, 95), 1),
        "targets": TARGETS,
    }
    result["meets_targets"] = (
        result["detect_p95_ms"] <= TARGETS["detect_p95_ms"]
        and result["idle_cpu_percent"] <= TARGETS["idle_cpu_percent"]
        and result["idle_cpu_percent_hidraw"] <= TARGETS["idle_cpu_percent"]
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
