"""Every request a virtual key answers, named: the transaction log.

A transaction is one CTAPHID message the key itself processes (a CBOR command or a vendor
command), from its last packet in to its answer out; CTAPHID INIT, PING and WINK are the
framing's and are not counted. Each one is logged by name (``getInfo``,
``clientPIN.getKeyAgreement``, ``config.setMinPINLength``, ``vendor.readConfig``...), with the
permissions and rp id a token request asked for and the status the key answered. Tests and
``bench/enroll.py`` read the log to check that an enrollment sends no redundant transaction:
:data:`MINIMAL_PATHS` lists the fewest each enrollment path can take, and :func:`price_ms`
prices one at a profile's latencies.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fido2 import cbor
from fido2.hid import CTAPHID

from .profiles import Latency

_CBOR_COMMANDS = {
    0x01: "makeCredential",
    0x02: "getAssertion",
    0x04: "getInfo",
    0x06: "clientPIN",
    0x07: "reset",
    0x08: "getNextAssertion",
    0x0A: "credentialManagement",
    0x0B: "selection",
    0x0D: "config",
}
_CLIENT_PIN = {
    0x01: "getPINRetries",
    0x02: "getKeyAgreement",
    0x03: "setPIN",
    0x04: "changePIN",
    0x05: "getPinToken",
    0x06: "getPinUvAuthTokenUsingUvWithPermissions",
    0x07: "getUVRetries",
    0x09: "getPinUvAuthTokenUsingPinWithPermissions",
}
_CONFIG = {0x01: "enableEnterpriseAttestation", 0x02: "toggleAlwaysUv", 0x03: "setMinPINLength"}
_VENDOR = {0x42: "readConfig"}

PERMISSION_NAMES = {0x01: "mc", 0x02: "ga", 0x04: "cm", 0x08: "be", 0x10: "lbw", 0x20: "acfg"}


@dataclass(frozen=True)
class Transaction:
    name: str
    """``command`` or ``command.subCommand``, e.g. ``clientPIN.setPIN``."""
    permissions: int | None = None
    """The permissions a token request asked for (CTAP 2.1 section 6.5.5.7)."""
    rp_id: str | None = None
    """The rp id a token request bound its permissions to."""
    status: int = 0
    """The CTAP status byte of the answer (0: success); CTAPHID errors are negative."""
    seconds: float = 0.0
    """The key's own time on it: request in to answer out (the profile's latency included)."""

    @property
    def permission_names(self) -> tuple[str, ...]:
        perms = self.permissions or 0
        return tuple(name for bit, name in PERMISSION_NAMES.items() if perms & bit)

    def __str__(self) -> str:
        text = self.name
        if self.permissions is not None:
            bound = f"@{self.rp_id}" if self.rp_id else ""
            text += "(" + "+".join(self.permission_names) + bound + ")"
        return text if self.status == 0 else f"{text}!{self.status:#x}"


def _params(payload: bytes) -> Mapping[Any, Any]:
    try:
        decoded = cbor.decode(payload) if payload else {}
    except Exception:  # a malformed request is still a transaction; it just has no details
        return {}
    return decoded if isinstance(decoded, dict) else {}


def name_request(command: int, payload: bytes) -> Transaction:
    """Name one request (CTAPHID command + payload) without judging it."""
    if command != CTAPHID.CBOR:
        return Transaction("vendor." + _VENDOR.get(command, f"{command:#04x}"))
    if not payload:
        return Transaction("empty")
    name = _CBOR_COMMANDS.get(payload[0], f"{payload[0]:#04x}")
    if payload[0] not in (0x06, 0x0D):
        return Transaction(name)
    params = _params(payload[1:])
    sub = params.get(0x02 if payload[0] == 0x06 else 0x01)
    table = _CLIENT_PIN if payload[0] == 0x06 else _CONFIG
    name += "." + (table.get(sub, str(sub)) if isinstance(sub, int) else "?")
    perms = params.get(0x09)
    rp_id = params.get(0x0A)
    return Transaction(
        name,
        permissions=perms if isinstance(perms, int) and payload[0] == 0x06 else None,
        rp_id=rp_id if isinstance(rp_id, str) and payload[0] == 0x06 else None,
    )


RP_ID = "login.microsoft.com"
_INSERTION = ("getInfo", "vendor.readConfig")
_WITH_A_PIN = ("getInfo", "clientPIN.getPINRetries", "vendor.readConfig")
_NEW_PIN_AND_CREDENTIAL = (
    "clientPIN.getKeyAgreement",
    "clientPIN.setPIN",
    f"clientPIN.getPinUvAuthTokenUsingPinWithPermissions(mc@{RP_ID})",
    "makeCredential",
)
_PIN_POLICY = (
    "clientPIN.getPinUvAuthTokenUsingPinWithPermissions(acfg)",
    "config.setMinPINLength",
    "getInfo",
)
MINIMAL_PATHS: dict[str, tuple[str, ...]] = {
    "new_key": _INSERTION + _NEW_PIN_AND_CREDENTIAL + _PIN_POLICY,
    "operator_pin": _INSERTION + _NEW_PIN_AND_CREDENTIAL + _PIN_POLICY,
    "reset_in_window": (*_WITH_A_PIN, "reset", "getInfo", *_NEW_PIN_AND_CREDENTIAL, *_PIN_POLICY),
    "reset_path": (
        *_WITH_A_PIN,
        "reset!0x30",  # NOT_ALLOWED: the first insertion's reset window has passed
        *_WITH_A_PIN,  # the re-inserted key: the same serial? still a PIN?
        "reset",
        "getInfo",
        *_NEW_PIN_AND_CREDENTIAL,
        *_PIN_POLICY,
    ),
    "ctap20_key": (
        "getInfo",
        "clientPIN.getKeyAgreement",
        "clientPIN.setPIN",
        "clientPIN.getPinToken",
        "makeCredential",
    ),
}
"""The fewest transactions each enrollment path can take on the virtual profiles (issue 14):
getInfo once per insertion and after a reset or a config change; the serial (YubiKey
management read) once per insertion; PIN retries only for a key that came in with a PIN; one
key agreement per insertion; setPIN; a token with exactly mc for the rp id; makeCredential;
a token with exactly acfg (the touch cleared the first one's permissions); authenticatorConfig.
A CTAP 2.0 key has no serial to read, no permissions and no authenticatorConfig."""


OPERATOR_KEY_CHECK = "getAssertion!0x2e"
"""A kiosk with operator sign-in keys asks every key, silently (up=false), whether it holds an
operator's credential: one getAssertion answered NO_CREDENTIALS, after the insertion's reads."""
_INSERTION_READS = frozenset({"getInfo", "clientPIN.getPINRetries", "vendor.readConfig"})


def minimal_path(path: str, *, operator_keys: bool = False) -> tuple[str, ...]:
    """:data:`MINIMAL_PATHS` of ``path``, with the operator-key check where the kiosk has
    operator keys (once per attempt, right after the first insertion is identified)."""
    names = list(MINIMAL_PATHS[path])
    if operator_keys:
        at = next(i for i, n in enumerate(names) if n not in _INSERTION_READS)
        names.insert(at, OPERATOR_KEY_CHECK)
    return tuple(names)


def price_ms(name: str, latency: Latency) -> float:
    """What a transaction costs on a profile: the profile's latency for its command (a
    refused makeCredential or getAssertion costs nothing: no key made, nothing signed)."""
    command = name.split("!", maxsplit=1)[0].split("(", maxsplit=1)[0].split(".", maxsplit=1)[0]
    if "!" in name and command in ("makeCredential", "getAssertion"):
        return 0.0
    return {
        "getInfo": latency.get_info_ms,
        "clientPIN": latency.pin_ms,
        "makeCredential": latency.make_credential_ms,
        "getAssertion": latency.get_assertion_ms,
        "reset": latency.reset_ms,
        "config": latency.config_ms,
    }.get(command, 0.0)


class TransactionLog:
    """The transactions one key answered, in order. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[Transaction] = []

    def add(self, transaction: Transaction) -> None:
        with self._lock:
            self._entries.append(transaction)

    @property
    def entries(self) -> list[Transaction]:
        with self._lock:
            return list(self._entries)

    def names(self) -> list[str]:
        return [str(t) for t in self.entries]

    def seconds(self) -> float:
        """The key's own time on every transaction so far."""
        return sum(t.seconds for t in self.entries)

    def counts(self) -> Counter[str]:
        """How many transactions of each command (``command.subCommand``) were answered."""
        return Counter(t.name for t in self.entries)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
