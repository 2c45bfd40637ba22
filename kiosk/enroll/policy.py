"""Which keys the kiosk accepts, and what it must do to them first.

:func:`check_key` looks at an identified key against the policy settings, the key inventory
and this batch's journal, and either refuses it (:class:`KeyRefused`, with what to do next) or
says whether a reset is needed and whether the CTAP 2.1 PIN policy can be applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from kiosk.config import PolicySettings
from kiosk.errors import KioskError
from kiosk.model.keys import KeyInfo
from kiosk.store.inventory import InventoryEntry
from kiosk.store.journal import Enrollment

ResetNeed = Literal["none", "ask", "automatic"]


class KeyRefused(KioskError):
    """The key may not be enrolled under the kiosk's policy."""

    title = "Key refused"
    next_step = "Pull this key and insert another one, or skip this user."


@dataclass(frozen=True)
class KeyCheck:
    reset: ResetNeed
    """none: the key is clean; ask: the operator must confirm the reset; automatic: go."""
    apply_pin_policy: bool
    note: str = ""
    """Something the operator should know (e.g. enrolled without PIN policy)."""


def parse_version(text: str) -> tuple[int, ...] | None:
    parts = re.findall(r"\d+", text)
    return tuple(int(p) for p in parts) if parts else None


def _norm(aaguid: str) -> str:
    return aaguid.strip().lower()


def check_key(
    info: KeyInfo,
    policy: PolicySettings,
    *,
    user_id: str,
    entry_id: int,
    owner: InventoryEntry | None,
    earlier: Enrollment | None,
) -> KeyCheck:
    """Refuse the key (raise :class:`KeyRefused`) or say how to prepare it.

    ``owner`` is the inventory record for the key's serial; ``earlier`` an attempt in this
    batch that already put a credential on it (see ``Journal.serial_busy``).
    """
    _check_model(info, policy)
    _check_firmware(info, policy)
    _check_not_used(info, policy, user_id=user_id, entry_id=entry_id, owner=owner, earlier=earlier)
    apply_policy, note = _pin_policy(info, policy)
    return KeyCheck(_reset(info, policy), apply_policy, note)


def _check_model(info: KeyInfo, policy: PolicySettings) -> None:
    """The AAGUID against the blocked and allowed lists."""
    aaguid = _norm(info.aaguid)
    model = f"{info.model} (AAGUID {aaguid})"
    if aaguid in {_norm(a) for a in policy.blocked_aaguids}:
        raise KeyRefused(f"{model} is on the kiosk's list of blocked keys.")
    allowed = {_norm(a) for a in policy.allowed_aaguids}
    if allowed and aaguid not in allowed:
        raise KeyRefused(f"{model} is not on the kiosk's list of allowed keys.")


def _check_firmware(info: KeyInfo, policy: PolicySettings) -> None:
    """The firmware against the policy's minimum, when it sets one."""
    if not policy.min_firmware:
        return
    wanted = parse_version(policy.min_firmware)
    have = parse_version(info.firmware) if info.firmware else None
    if have is None:
        raise KeyRefused(
            f"The firmware version of this {info.model} cannot be read; the policy needs "
            f"at least {policy.min_firmware}."
        )
    if wanted is not None and have < wanted:
        raise KeyRefused(
            f"This {info.model} has firmware {info.firmware}; the policy needs at least "
            f"{policy.min_firmware}."
        )


def _check_not_used(
    info: KeyInfo,
    policy: PolicySettings,
    *,
    user_id: str,
    entry_id: int,
    owner: InventoryEntry | None,
    earlier: Enrollment | None,
) -> None:
    """A key already enrolled in this batch, or (by serial) to someone else, is refused."""
    if earlier is not None and earlier.state == "done":
        # By serial, or (a key without one) by a credential of that attempt still on the key.
        whom = "this user" if earlier.entry_id == entry_id else earlier.upn
        key = f"Key {info.serial}" if info.serial else f"This {info.model}"
        raise KeyRefused(
            f"{key} was already enrolled in this batch, for {whom}.",
            next_step="Set this key aside and insert a new one.",
        )
    used = (
        policy.refuse_used_serials and owner is not None and owner.owned
        and owner.user_id != user_id
    )
    if info.serial and used and owner is not None:
        raise KeyRefused(
            f"Key {info.serial} is already enrolled to {owner.upn} ({owner.enrolled}).",
            next_step="Set this key aside and insert a new one.",
        )


def _pin_policy(info: KeyInfo, policy: PolicySettings) -> tuple[bool, str]:
    """(apply the PIN policy, a note for the operator); refused when it is required but the
    key cannot enforce it."""
    if info.supports_pin_policy:
        return True, ""
    if policy.pin_policy == "required":
        raise KeyRefused(
            f"This {info.model} cannot enforce a minimum PIN length or a forced PIN change "
            "(no CTAP 2.1 authenticatorConfig), and the policy requires both.",
            next_step="Use a CTAP 2.1 key, or skip this user.",
        )
    return False, (
        "Enrolled without a minimum PIN length or forced PIN change: this key does not "
        "support them."
    )


def is_full(info: KeyInfo) -> bool:
    """getInfo's remainingDiscoverableCredentials is 0: no room for another credential (a key
    that does not report it is not known to be full)."""
    return info.remaining_credentials == 0


def what_it_holds(info: KeyInfo) -> str:
    """What a key needing a reset holds, as getInfo tells before anything is changed:
    "is full: ...", "already holds a PIN", "... credentials", "... a PIN and credentials"."""
    if is_full(info):
        held = " and a PIN" if info.pin_set else ""
        return f"is full{held}: it reports no room for another credential"
    what = "a PIN" if info.pin_set else "credentials"
    if info.pin_set and info.has_credentials:
        what = "a PIN and credentials"
    return f"already holds {what}"


def _reset(info: KeyInfo, policy: PolicySettings) -> ResetNeed:
    """Whether the key needs a reset first (it holds a PIN or credentials, or it is full) and
    how; decided from getInfo, before any change to the key."""
    dirty = info.pin_set or bool(info.has_credentials) or is_full(info)
    if not dirty:
        return "none"
    if policy.reset == "never":
        raise KeyRefused(
            f"This key {what_it_holds(info)}, and the policy never resets keys.",
            next_step="Set this key aside for an administrator, and insert a new one.",
        )
    if not info.serial:
        # Without a serial the kiosk cannot tell whose key this was: never reset it unasked.
        return "ask"
    return "ask" if policy.reset == "ask" else "automatic"
