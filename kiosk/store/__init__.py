"""Durable state: queue, enrollments (the journal), key inventory; in SQLite (WAL, one
kiosk) or PostgreSQL (a fleet of stations sharing one queue)."""

from __future__ import annotations

import socket
from pathlib import Path

from kiosk.store.backends import open_database
from kiosk.store.claims import DEFAULT_LEASE_SECONDS, ClaimLost
from kiosk.store.db import Clock, Database, StoreError, StoreUnavailable, is_url
from kiosk.store.db import utc_now as utc_now
from kiosk.store.inventory import KEY_STATES, Deletion, Inventory, InventoryEntry, KeyState
from kiosk.store.journal import Enrollment, Journal
from kiosk.store.paper import Addresses, Labels
from kiosk.store.queue import Queue, QueueEntry
from kiosk.store.sealed import SealedPins
from kiosk.store.trail import AuditMirror


def default_station(target: str | Path) -> str:
    """The station's name when none is set: the host name for a fleet database, ``local`` for
    the embedded one (it only ever has one station)."""
    return socket.gethostname()[:64] if is_url(target) else "local"


class Store:
    """The kiosk's database: ``queue``, ``journal`` (enrollments), ``inventory`` and paper
    (``labels``, ``addresses``).

    ``target``: a SQLite path or a ``postgresql://`` URL. ``station``: this kiosk's name in
    the fleet."""

    def __init__(
        self,
        target: str | Path,
        *,
        clock: Clock = utc_now,
        station: str = "",
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        password_file: str = "",
        credentials_directory: str = "",
        connect_patience: float = 15.0,
    ) -> None:
        self.station = station or default_station(target)
        self.db: Database = open_database(
            target,
            clock=clock,
            password_file=password_file,
            credentials_directory=credentials_directory,
            station=self.station,
            connect_patience=connect_patience,
        )
        self.queue = Queue(self.db, self.station, lease_seconds)
        self.journal = Journal(self.db, self.queue.claims)
        self.inventory = Inventory(self.db, self.station)
        self.labels = Labels(self.db)
        self.addresses = Addresses(self.db)
        self.sealed = SealedPins(self.db, self.station)
        self.trail = AuditMirror(self.db, self.station)

    @property
    def fleet(self) -> bool:
        """Shared by stations (PostgreSQL), rather than one kiosk's own file."""
        return self.db.backend == "postgresql"

    def close(self) -> None:
        self.db.close()


__all__ = [
    "KEY_STATES",
    "ClaimLost",
    "Clock",
    "Deletion",
    "Enrollment",
    "Inventory",
    "InventoryEntry",
    "Journal",
    "KeyState",
    "Queue",
    "QueueEntry",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "utc_now",
]
