"""The key-life part of what a front end may ask of the engine: the return desk, the stock
(inventory counts and search), lost keys and the keys taken back today.

Mixed into :class:`~kiosk.enroll.engine.Engine`; the work is done by
:class:`~kiosk.enroll.lifecycle.KeyLife` and :class:`~kiosk.enroll.return_desk.ReturnDesk`
with the engine's own Graph port, store and Recorder (so every change names the operator).
"""

from __future__ import annotations

from datetime import UTC

from kiosk.enroll.control import Command
from kiosk.enroll.keyio import KeyIO
from kiosk.enroll.lifecycle import Deleted, KeyLife, LifecycleError, LostReport
from kiosk.enroll.ports import Graph
from kiosk.enroll.recorder import Recorder
from kiosk.enroll.return_desk import ReturnDesk
from kiosk.enroll.station import Station
from kiosk.entra.models import Fido2Method
from kiosk.keys.creation import DEFAULT_RP_ID
from kiosk.store import Store
from kiosk.store.db import Clock
from kiosk.store.inventory import InventoryEntry

SEARCH_LIMIT = 200
"""The most keys one inventory search shows (narrow the search for more)."""


class KeyLifeControl:
    graph: Graph
    store: Store
    recorder: Recorder
    station: Station
    keys: KeyIO
    clock: Clock

    def key_life(self) -> KeyLife:
        return KeyLife(self.graph, self.store, self.recorder, rp_id=DEFAULT_RP_ID)

    def open_return_desk(self) -> ReturnDesk:
        """Pause enrollment (at the engine's next wait) for the return desk."""
        self.station.desk.asked.set()
        self.keys.signals.put(Command("wake"))
        return ReturnDesk(self.key_life(), self.keys, self.station.desk)

    def returns_today(self) -> dict[str, int]:
        midnight = self.clock().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return self.store.inventory.back_since(self.store.db.now_of(midnight))

    def inventory_counts(self) -> dict[str, dict[str, int]]:
        return self.store.inventory.counts()

    def inventory_search(self, text: str = "") -> list[InventoryEntry]:
        return self.store.inventory.search(text.strip())[:SEARCH_LIMIT]

    def user_methods(self, serial: str) -> list[Fido2Method]:
        """The FIDO2 methods Entra lists for the owner of key ``serial`` (blocking: Graph)."""
        return self.key_life().methods_of(self._entry(serial))

    def delete_picked_method(self, serial: str, method_id: str, reason: str) -> Deleted:
        """Delete the method an admin picked from the owner's list (blocking: Graph)."""
        return self.key_life().delete_picked(self._entry(serial), method_id, reason)

    def _entry(self, serial: str) -> InventoryEntry:
        entry = self.store.inventory.get(serial)
        if entry is None:
            raise LifecycleError(f"No key {serial} in the inventory.")
        return entry

    def key_lost(self, serial: str, reason: str, *, replace: bool) -> LostReport:
        """The key stops working at once (its method deleted in Entra), marked lost; its
        owner queued for a replacement when ``replace``. Blocking (Graph)."""
        report = self.key_life().lost(self._entry(serial), reason, replace=replace)
        self.station.queue_changed()
        return report
