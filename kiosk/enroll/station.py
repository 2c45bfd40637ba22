"""The roles one kiosk station enrolls with, as the engine hands them to the flow.

- :class:`~kiosk.enroll.dialog.Dialog`: prompts, steps, errors and touch to the operator;
  commands back;
- :class:`~kiosk.enroll.keyio.KeyIO`: the HID backend, the watcher, the signal stream;
- the Graph port (:class:`~kiosk.enroll.ports.Graph`) and the creation options fetched ahead
  of time (:class:`~kiosk.enroll.prefetch.Prefetcher`);
- :class:`~kiosk.enroll.recorder.Recorder`: every journal, inventory and audit write;
- the store, read only here (queue entries, journal rows, inventory); the escrow of sealed PINs.

The per-entry flow and the crash recovery take a Station; each step function takes only the
roles it needs from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography import x509

from kiosk.config import Settings
from kiosk.enroll.dialog import Dialog
from kiosk.enroll.escrow import EscrowStore
from kiosk.enroll.events import QueueChanged
from kiosk.enroll.keyio import KeyIO
from kiosk.enroll.ports import Graph
from kiosk.enroll.prefetch import Prefetcher
from kiosk.enroll.recorder import Recorder
from kiosk.enroll.return_desk import DeskPause
from kiosk.store import Store
from kiosk.store.db import Clock


@dataclass(frozen=True)
class Escrow:
    """Where sealed PINs go, and to whom they are sealed (the helpdesk certificates)."""

    store: EscrowStore
    recipients: list[x509.Certificate]


@dataclass(frozen=True)
class Station:
    settings: Settings
    dialog: Dialog
    keys: KeyIO
    graph: Graph
    prefetch: Prefetcher
    recorder: Recorder
    store: Store
    escrow: Escrow
    clock: Clock
    desk: DeskPause = field(default_factory=DeskPause)
    """The return desk's pause: while asked, no key is taken for a user."""

    def queue_changed(self) -> None:
        """Tell the listeners the new counts, and the prefetcher that the queue moved."""
        self.dialog.emit(QueueChanged(self.store.queue.counts()))
        self.prefetch.wake()
