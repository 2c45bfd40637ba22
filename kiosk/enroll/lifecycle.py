"""The key's life after enrollment: a lost key, a returned key, an unknown key into stock.

No front end here: the CLI (``kiosk key lost``), the demo and the screens call these. Every
write goes through the :class:`~kiosk.enroll.recorder.Recorder`. Deletions in Entra are safe:
the method deleted is the one the kiosk registered (its stored id matched against Graph's list
in every id spelling Graph uses), journaled before the DELETE is sent; a key's state is moved
before each step, so an interrupted return resumes where it stopped and never deletes twice.

A return goes: ``returned`` (owner kept) -> method deleted -> ``needs_reset`` -> reset (with
the re-insert handshake) -> checked clean -> ``in_stock`` or ``retired``.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kiosk.enroll.ports import Graph
from kiosk.enroll.recorder import Recorder
from kiosk.enroll.serialless import held_credential
from kiosk.entra.calls import GraphCalls
from kiosk.entra.errors import GraphNotFoundError, LostResponseError
from kiosk.entra.models import Fido2Method
from kiosk.errors import KioskError
from kiosk.keys.errors import ResetRefusedError
from kiosk.keys.session import KeySession
from kiosk.model.codec import credential_id_readings, same_method_id
from kiosk.model.keys import KeyInfo, standin_serial
from kiosk.store import Store
from kiosk.store.inventory import InventoryEntry, KeyState

log = logging.getLogger("kiosk.enroll.lifecycle")

RETURN_CANDIDATES = 100_000
"""The kiosk's credentials a returned key without a serial is asked about (all of its model's
that are still on a key, newest first; the key answers in chunks, without a touch)."""

Reinsert = Callable[[], KeySession]
"""Asks the operator to pull the key and insert it again; the new session (reset window)."""


class LifecycleError(KioskError):
    title = "Key not taken back"


@dataclass(frozen=True)
class Deleted:
    """How a key's method left Entra: ``deleted`` now, ``gone`` already, ``user gone``,
    or ``none`` (the inventory held no method for it)."""

    how: str

    @property
    def note(self) -> str:
        return {
            "deleted": "",
            "gone": "the owner's method was already deleted",
            "user gone": "the user no longer exists",
            "none": "no Entra method was recorded for it",
        }[self.how]


@dataclass(frozen=True)
class ReturnCase:
    """A key on the return desk: what it says and what the inventory holds (None: unknown)."""

    info: KeyInfo
    entry: InventoryEntry | None
    credential_id: bytes | None = None
    """A key without a serial: the kiosk's credential it was known by."""

    @property
    def known(self) -> bool:
        return self.entry is not None


@dataclass(frozen=True)
class LostReport:
    serial: str
    upn: str
    deleted: Deleted
    requeued: bool


class KeyLife:
    """Lost keys, returns and stock, on one Graph port, store and Recorder."""

    def __init__(self, graph: Graph, store: Store, recorder: Recorder, *, rp_id: str) -> None:
        self.graph = graph
        self.store = store
        self.recorder = recorder
        self.rp_id = rp_id

    # ---- deleting the method the kiosk registered --------------------------------------

    def delete_method(self, was: InventoryEntry, reason: str) -> Deleted:
        """Delete ``was``'s Entra method: journaled first; Graph's list decides whether it
        is still there (so a resumed deletion is never sent twice)."""
        if not was.method_id or not was.user_id:
            return Deleted("none")
        deletion_id, resumed = self._open_deletion(was, reason)
        with GraphCalls() as calls:
            how = self._send_delete(was, was.method_id)
        if resumed and how == "gone":  # most likely sent before the kiosk stopped
            how, reason = "deleted", reason + "; reconciled after a restart"
        self.recorder.deletion_ended(
            deletion_id, was, was.method_id, gone=how != "deleted", reason=reason,
            graph_calls=calls.calls,
        )
        return Deleted(how)

    def _open_deletion(self, was: InventoryEntry, reason: str) -> tuple[int, bool]:
        """(the deletion's journal id, whether an earlier try journaled it already)."""
        for d in self.store.inventory.deletions(state="sending"):
            if d.user_id == was.user_id and d.method_id == was.method_id:
                return d.id, True  # an earlier try stopped after journaling: reconcile it
        assert was.method_id  # noqa: S101
        return self.recorder.deletion_started(was, was.method_id, reason), False

    def _listed(self, user_id: str, method_id: str) -> Fido2Method | str | None:
        try:
            methods: Sequence[Fido2Method] = self.graph.list_fido2_methods(user_id)
        except GraphNotFoundError:
            return "user gone"
        return next((m for m in methods if same_method_id(m.id, method_id)), None)

    def _send_delete(self, was: InventoryEntry, method_id: str) -> str:
        for _attempt in range(3):
            found = self._listed(was.user_id, method_id)
            if isinstance(found, str):
                return found
            if found is None:
                return "gone"
            try:  # Graph's own spelling of the id
                self.graph.delete_fido2_method(was.user_id, found.id)
                return "deleted"
            except GraphNotFoundError:
                return "gone"
            except LostResponseError as exc:
                log.warning("delete of %s: %s; listing again", method_id, exc.detail)
                after = self._listed(was.user_id, method_id)
                if after is None:
                    return "deleted"
        raise LifecycleError(f"The method of key {was.serial} could not be deleted in Entra.")

    # ---- another of the user's methods, picked by an admin ------------------------------

    def methods_of(self, entry: InventoryEntry) -> list[Fido2Method]:
        """The FIDO2 methods Entra lists for the key's owner (for an admin to pick from)."""
        if not entry.user_id:
            return []
        try:
            return list(self.graph.list_fido2_methods(entry.user_id))
        except GraphNotFoundError:
            return []

    def delete_picked(self, entry: InventoryEntry, method_id: str, reason: str) -> Deleted:
        """Delete the method an admin picked from the owner's list: only one that Entra
        lists for that user; journaled and reconciled like the kiosk's own."""
        if not any(same_method_id(m.id, method_id) for m in self.methods_of(entry)):
            raise LifecycleError(f"{entry.upn} has no such method in Entra (any more).")
        picked = dataclasses.replace(entry, serial="", method_id=method_id)
        return self.delete_method(picked, "picked by an admin: " + reason)

    # ---- a lost key -------------------------------------------------------------------

    def find(self, *, serial: str = "", upn: str = "") -> list[InventoryEntry]:
        if serial:
            entry = self.store.inventory.get(serial)
            return [entry] if entry is not None else []
        return [e for e in self.store.inventory.of_user(upn) if e.state == "enrolled"]

    def lost(self, entry: InventoryEntry, reason: str, *, replace: bool) -> LostReport:
        """The key stops working at once (its method deleted), is marked lost, and its
        owner is queued for a replacement when ``replace``."""
        if entry.state not in ("enrolled", "lost"):
            raise LifecycleError(f"Key {entry.serial} is {entry.state}, not enrolled.")
        deleted = self.delete_method(entry, "key lost: " + reason)
        self.recorder.key_state(entry.serial, "lost", _with(reason, deleted.note), was=entry)
        requeued = False
        if replace and entry.user_id and deleted.how != "user gone":
            requeued = self.store.queue.replacement(entry.upn, entry.user_id)
        return LostReport(entry.serial, entry.upn, deleted, requeued)

    # ---- a returned key ---------------------------------------------------------------

    def identify(self, session: KeySession) -> ReturnCase:
        """The key and what the inventory holds about it: by its serial, or for a key
        without one, by the credential the kiosk made on it (the key says which, asked
        silently); unknown (``entry`` None) when the inventory cannot tell."""
        info = session.identify()
        if info.serial:
            return ReturnCase(info, self.store.inventory.get(info.serial))
        found = held_credential(session, self.store.journal, info, self.rp_id,
                                limit=RETURN_CANDIDATES)
        entry = self.store.inventory.get(standin_serial(found)) if found else None
        return ReturnCase(info, entry, found if entry is not None else None)

    def take_back(
        self, session: KeySession, case: ReturnCase, *, reinsert: Reinsert, reason: str,
        retire: str = "", on_touch: Callable[[], None] | None = None,
        event: threading.Event | None = None, window: Callable[[], bool] | None = None,
    ) -> str:
        """The confirmed return of a known key; the state it ends in (``in_stock`` or
        ``retired``). Resumes from the state an interrupted return left."""
        was = case.entry
        if was is None:
            raise LifecycleError("The inventory does not know this key; an admin can reset it.")
        note = ""
        if was.state in ("enrolled", "lost", "returned"):
            if was.state != "returned":
                self.recorder.key_state(was.serial, "returned", reason, was=was)
            note = self.delete_method(was, "key returned: " + reason).note
            self.recorder.key_state(was.serial, "needs_reset", _with(reason, note), was=was)
        elif was.state not in ("needs_reset",):
            raise LifecycleError(f"Key {was.serial} is {was.state}; nothing to take back.")
        info = self._reset(
            session, case.info, reinsert, on_touch, event=event, window=window,
            known_as="" if case.info.serial else was.serial,
        )
        self.recorder.key_wiped(was.serial, "reset on return", case.credential_id)
        final: KeyState = "retired" if retire else "in_stock"
        self.recorder.key_state(
            was.serial, final, _with(retire or reason, note), was=was, key=info
        )
        return final

    def stock_unknown(
        self, session: KeySession, *, reinsert: Reinsert, reason: str,
        on_touch: Callable[[], None] | None = None, event: threading.Event | None = None,
        window: Callable[[], bool] | None = None,
    ) -> KeyInfo:
        """An admin resets a key the inventory does not know and takes it into stock."""
        info = session.identify()
        clean = self._reset(session, info, reinsert, on_touch, event=event, window=window)
        self.recorder.key_stocked(clean, reason)
        return clean

    def _reset(
        self, session: KeySession, info: KeyInfo, reinsert: Reinsert,
        on_touch: Callable[[], None] | None, *, event: threading.Event | None = None,
        window: Callable[[], bool] | None = None, known_as: str = "",
    ) -> KeyInfo:
        """Reset (re-insert first when the kiosk's reset window has passed, or when the key
        refuses the reset), then check the key is clean. ``known_as``: the inventory's name
        of a key without a serial (the same key must come back)."""
        refused = window is not None and not window()
        if not refused:
            try:
                session.reset(on_touch, event)
            except ResetRefusedError:
                refused = True
        if refused:
            session.close()
            session = reinsert()
            self._same_key(session, info, known_as)
            session.reset(on_touch, event)
        fresh = session.identify()
        held = self._our_credentials(info.serial)
        if fresh.pin_set or fresh.has_credentials or (
            held and session.holds_one_of(self.rp_id, held) is not None
        ):
            raise LifecycleError(f"Key {info.serial_or_none} is not clean after its reset.")
        return fresh

    def _same_key(self, session: KeySession, info: KeyInfo, known_as: str) -> None:
        """The key inserted again is the one being reset: the same serial, or for a key
        without one, the same credential of the kiosk's on it (not reset yet)."""
        again = session.identify()
        if info.serial:
            same = again.serial == info.serial
        elif known_as:
            found = held_credential(session, self.store.journal, again, self.rp_id,
                                    limit=RETURN_CANDIDATES)
            same = found is not None and standin_serial(found) == known_as
        else:
            return
        if not same:
            raise LifecycleError(
                f"Another key ({again.serial_or_none}) came in instead of "
                f"{info.serial or known_as}."
            )

    def _our_credentials(self, serial: str | None) -> list[bytes]:
        if not serial:
            return []
        busy = self.store.journal.serial_busy(serial)
        if busy is None or not busy.credential_id:
            return []
        readings = credential_id_readings(busy.credential_id)
        return list(readings)


def _with(reason: str, note: str) -> str:
    return f"{reason}; {note}" if note and reason else (note or reason)
