"""DEMO ONLY: every virtual key the demo made, what became of it, and (with ``--state-dir``)
kept on disk so a demo killed and started again has the same keys.

The shelf gives each new key its serial (41000001, 41000002, ... continuing after a restart,
so a new key never takes the serial of one the kiosk already knows), remembers which keys are
in the port and why a key was pulled ("pulled mid-touch"), and lists the keys pulled earlier
for the demo's F2 menu. Kept, it writes ``keys/shelf.json`` (which keys, their profile and
serial, plugged or not) and one ``keys/<n>.cbor`` per key (its memory:
:mod:`kiosk.keys.virtual.saved`), each all or nothing and mode 0600, after every command the
key answers and whenever a key is plugged or pulled. After a restart the keys that were in
the port are plugged in again (as a key left in during a power cut is still there).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

from kiosk.durable import atomic_write
from kiosk.entra.fake.snapshot import SnapshotError
from kiosk.keys.virtual.device import VirtualKey
from kiosk.keys.virtual.profiles import PROFILES, KeyProfile, Latency
from kiosk.keys.virtual.saved import SavedKeyError, dump_state, load_state

FIRST_SERIAL = 41_000_001
SHELF_NAME = "shelf.json"
MAX_SHELF_BYTES = 4 * 1024 * 1024


@dataclass
class ShelfKey:
    """One key the demo made."""

    number: int
    key: VirtualKey
    note: str = ""
    """Why it was last pulled, e.g. "pulled mid-touch" (empty: nothing to say)."""
    plugged_at: int = 0
    """Order of its last plug-in (the port's order after a restart)."""


class KeyShelf:
    """The demo's keys; kept in ``directory`` when one is given."""

    def __init__(self, directory: Path | None, latency: Latency) -> None:
        self.directory = directory
        self.latency = latency
        self._keys: list[ShelfKey] = []
        self._lock = threading.Lock()
        self._next_serial = FIRST_SERIAL
        self._plugs = 0

    # ---- making and finding keys -------------------------------------------------------------
    def make(self, profile: str | KeyProfile, *, auto_touch: float | None = None) -> VirtualKey:
        """A fresh key of ``profile`` with the next serial, on the shelf from now on."""
        base = PROFILES[profile] if isinstance(profile, str) else profile
        with self._lock:
            serial = None
            if base.serial is not None:
                serial, self._next_serial = self._next_serial, self._next_serial + 1
            key = VirtualKey(base.with_serial(serial).with_latency(self.latency),
                             auto_touch=auto_touch)
            entry = ShelfKey(len(self._keys) + 1, key)
            self._keys.append(entry)
            key.keeper = self._keep
            self._write_key(entry)
            self._write_index()
        return key

    def entry_of(self, key: VirtualKey) -> ShelfKey | None:
        with self._lock:
            return next((e for e in self._keys if e.key is key), None)

    def note(self, key: VirtualKey, text: str) -> None:
        """Say why ``key`` was pulled (shown in the F2 menu)."""
        with self._lock:
            for entry in self._keys:
                if entry.key is key:
                    entry.note = text
            self._write_index()

    def pulled(self) -> list[ShelfKey]:
        """Keys out of the port, the one pulled last first."""
        with self._lock:
            out = [e for e in self._keys if not e.key.plugged]
        return sorted(out, key=lambda e: e.plugged_at, reverse=True)

    def close(self) -> None:
        """Stop keeping: what happens to the keys from now on (the demo pulling them all as it
        ends) is not written."""
        with self._lock:
            for entry in self._keys:
                entry.key.keeper = None

    # ---- kept on disk ------------------------------------------------------------------------
    def _keep(self, key: VirtualKey, changed: bool) -> None:
        with self._lock:
            entry = next((e for e in self._keys if e.key is key), None)
            if entry is None:
                return
            if changed:
                self._write_key(entry)
            elif key.plugged:
                self._plugs += 1
                entry.plugged_at = self._plugs
            self._write_index()

    def _write_key(self, entry: ShelfKey) -> None:
        if self.directory is not None:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            data = dump_state(entry.key.authenticator.state)
            atomic_write(self.directory / f"{entry.number}.cbor", data, 0o600)

    def _write_index(self) -> None:
        if self.directory is None:
            return
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        doc = {
            "format": 1,
            "next_serial": self._next_serial,
            "keys": [
                {"n": e.number, "profile": e.key.profile.name, "serial": e.key.profile.serial,
                 "plugged": e.key.plugged, "plugged_at": e.plugged_at, "note": e.note}
                for e in self._keys
            ],
        }
        atomic_write(self.directory / SHELF_NAME, json.dumps(doc).encode("utf-8"), 0o600)

    def load(self) -> list[VirtualKey]:
        """Read the kept keys back (none kept: nothing); returns the keys that were in the
        port, in the order they were plugged, for the caller to plug in again.
        :class:`SnapshotError` names a file that cannot be used."""
        if self.directory is None:
            return []
        index = self.directory / SHELF_NAME
        if not index.exists() and not index.is_symlink():
            return []
        try:
            if index.is_symlink() or not index.is_file():
                raise ValueError("not a plain file")
            if index.stat().st_size > MAX_SHELF_BYTES:
                raise ValueError("too large")
            doc = json.loads(index.read_bytes().decode("utf-8"))
            if not isinstance(doc, dict) or doc.get("format") != 1:
                raise ValueError("format")
            entries = [self._entry(item) for item in _list(doc.get("keys"))]
            next_serial = doc.get("next_serial")
            if not isinstance(next_serial, int) or isinstance(next_serial, bool):
                raise ValueError("next_serial")
        except (OSError, ValueError, TypeError, KeyError, RecursionError, SavedKeyError) as exc:
            raise SnapshotError(
                f"The demo's kept keys in {self.directory} cannot be used ({_why(exc)}). Delete "
                f"the state directory {self.directory.parent} (or give another --state-dir) to "
                "start a fresh demo."
            ) from None
        plugged = sorted((e for e, was_in in entries if was_in), key=lambda e: e.plugged_at)
        with self._lock:
            self._keys = [e for e, _ in entries]
            self._next_serial = max([next_serial, FIRST_SERIAL]
                                    + [(e.key.profile.serial or 0) + 1 for e in self._keys])
            self._plugs = max([0] + [e.plugged_at for e in self._keys])
        return [e.key for e in plugged]

    def _entry(self, item: object) -> tuple[ShelfKey, bool]:
        if not isinstance(item, dict):
            raise TypeError("key entry")
        number, name, serial = item["n"], item["profile"], item["serial"]
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise ValueError("key number")
        if name not in PROFILES or not (serial is None or isinstance(serial, int)):
            raise ValueError("key profile")
        assert self.directory is not None  # noqa: S101 - load() checked
        path = self.directory / f"{number}.cbor"
        if path.is_symlink() or path.stat().st_size > MAX_SHELF_BYTES:
            raise ValueError(f"{path.name} is not a plain key file")
        key = VirtualKey(PROFILES[name].with_serial(serial).with_latency(self.latency))
        key.authenticator.restore(load_state(path.read_bytes()))
        key.keeper = self._keep
        note, plugged_at = item.get("note", ""), item.get("plugged_at", 0)
        if not isinstance(note, str) or not isinstance(plugged_at, int):
            raise TypeError("note")
        return ShelfKey(number, key, note[:80], plugged_at), item.get("plugged") is True


def _list(value: object) -> list[object]:
    if not isinstance(value, list):
        raise TypeError("keys")
    return value


def _why(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"{Path(exc.filename or '').name or 'a key file'} is missing"
    if isinstance(exc, json.JSONDecodeError):
        return f"{SHELF_NAME} is not valid JSON"
    return str(exc) if isinstance(exc, ValueError | SavedKeyError) and str(exc) else (
        "its contents are not what the demo wrote"
    )
