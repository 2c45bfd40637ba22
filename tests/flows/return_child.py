"""A key's return run in a process of its own, so a test can kill it (SIGKILL) at a journaled
step: ``python -m tests.flows.return_child CONFIG SERIAL``.

The store and the trail are the test's files and the tenant is the test's fake tenant (real
HTTPS). A virtual key does not outlive its process, so the key on this desk is a stand-in with
the returned key's serial and model and no touch coming (the return waits at the reset's
touch until it is killed); the real key, still holding its credential, stays with the test,
as a real key stays in the operator's hand when the kiosk dies.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from kiosk.config import load
from kiosk.enroll.lifecycle import KeyLife
from kiosk.keys.creation import DEFAULT_RP_ID
from kiosk.keys.session import KeySession
from kiosk.keys.virtual.device import VirtualKey
from kiosk.keys.virtual.port import VirtualPort
from kiosk.keys.virtual.profiles import PROFILES
from kiosk.wiring import open_records


def main(config: str, serial: str) -> int:
    records = open_records(load(Path(config)), operator="return desk")
    life = KeyLife(records.graph, records.store, records.recorder, rp_id=DEFAULT_RP_ID)
    port = VirtualPort()
    key = VirtualKey(dataclasses.replace(PROFILES["yubikey5"], serial=int(serial)),
                     touch_timeout=600.0)
    session = KeySession(port.open(port.plug(key)))

    def reinsert() -> KeySession:
        port.unplug(key)
        return KeySession(port.open(port.plug(key)))

    life.take_back(session, life.identify(session), reinsert=reinsert, reason="returned")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
