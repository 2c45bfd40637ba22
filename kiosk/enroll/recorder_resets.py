"""Keys that need a reset, as part of the Recorder (the one writer): a key that leaves the
kiosk holding the PIN the kiosk set, or a credential Entra does not know, gets the inventory
state ``needs_reset`` (with an audit record ``key needs_reset``) until the kiosk resets it.

The inventory knows keys by serial; a key without one is known by the credential the kiosk
made on it (:func:`~kiosk.model.keys.standin_serial`), so one that holds only the PIN the
kiosk set cannot be tracked. The batch summary and ``kiosk export`` read
:meth:`ResetRecords.keys_needing_reset`. Keys an admin resets into stock are recorded here too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from kiosk.audit import AuditTrail
from kiosk.model.codec import b64_lenient
from kiosk.model.keys import KeyInfo, standin_serial
from kiosk.store import Store
from kiosk.store.inventory import InventoryEntry

NEEDS_RESET = "key needs_reset"
RESET_DONE = "key in_stock"
KEY_RESET = "key reset"

KeyFields = KeyInfo | Mapping[str, str | None] | None


def _field(key: KeyFields, name: str) -> str | None:
    if isinstance(key, KeyInfo):
        value = getattr(key, name)
        return value if isinstance(value, str) else None
    return key.get(name) if key is not None else None


class ResetRecords:
    """The Recorder's records of keys that need a reset."""

    store: Store
    audit: AuditTrail
    operator: str | None

    def key_needs_reset(
        self, key: KeyFields, reason: str, *, operator: str | None = None,
        upn: str | None = None, user_id: str | None = None, entry_id: int | None = None,
        enrollment_id: int | None = None,
    ) -> bool:
        """The key leaves holding what the kiosk put on it (for the attempt of ``upn``);
        False when it cannot be tracked: no serial, and no credential of the attempt
        ``enrollment_id`` to know it by (the error on screen names it)."""
        serial = _field(key, "serial") or self._credential_name(enrollment_id)
        if not serial:
            return False
        self.store.inventory.needs_reset(
            serial=serial, aaguid=_field(key, "aaguid") or "", model=_field(key, "model") or "",
            firmware=_field(key, "firmware"), reason=reason,
        )
        self.audit.append(NEEDS_RESET, reason=reason, operator=operator or self.operator,
                          key=key, upn=upn, user_id=user_id, entry_id=entry_id)
        return True

    def _credential_name(self, enrollment_id: int | None) -> str | None:
        """The inventory's name of a key without a serial, from the credential the attempt
        put on it (None: it made none)."""
        row = self.store.journal.get(enrollment_id) if enrollment_id is not None else None
        if row is None or not row.credential_id:
            return None
        return standin_serial(b64_lenient(row.credential_id))

    def serialless_enrolled(self, aaguid: str, credential_id: bytes) -> str:
        """The inventory's name of a key without a serial enrolled with ``credential_id``;
        one such key of its model in stock leaves the stock."""
        serial = standin_serial(credential_id)
        self.store.inventory.restock_serialless(serial, aaguid)
        return serial

    def key_stocked(self, info: KeyInfo, reason: str) -> str:
        """A key the inventory did not know, reset by an admin and taken into stock; the
        name it is kept under (a key without a serial gets a made-up one: once reset,
        nothing on it tells it from another of its model)."""
        serial = info.serial or standin_serial(os.urandom(32))
        self.store.inventory.stock(
            serial=serial, aaguid=info.aaguid, model=info.model,
            firmware=info.firmware, reason=reason,
        )
        key: KeyFields = info if info.serial else {
            "serial": serial, "aaguid": info.aaguid, "model": info.model,
            "firmware": info.firmware,
        }
        self.audit.append(RESET_DONE, reason=reason, operator=self.operator, key=key)
        return serial

    def key_reset_by_kiosk(
        self, info: KeyInfo, reason: str, *, upn: str | None = None,
        user_id: str | None = None, entry_id: int | None = None,
    ) -> None:
        """The kiosk reset this key (for the enrollment of ``upn``): said in the trail
        (``key reset``, counted by the shift report whether the attempt then succeeds or
        not); a key that needed a reset no longer does; it is in stock until it is enrolled."""
        self.audit.append(KEY_RESET, reason=reason, operator=self.operator, key=info,
                          upn=upn, user_id=user_id, entry_id=entry_id)
        was = self.store.inventory.get(info.serial) if info.serial else None
        if was is None or was.state != "needs_reset":
            return
        self.store.inventory.set_state(was.serial, "in_stock", reason)
        self.audit.append(RESET_DONE, reason=reason, operator=self.operator, key=info,
                          upn=was.upn or None, user_id=was.user_id or None)

    def keys_needing_reset(self) -> list[InventoryEntry]:
        """Every key the inventory says needs a reset (serial, reason, when)."""
        return self.store.inventory.search(state="needs_reset")
