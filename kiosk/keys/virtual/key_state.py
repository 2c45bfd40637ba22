"""What a virtual key remembers, and the plumbing its CTAP command handlers share.

Handlers (client_pin, make_credential, get_assertion, config, cred_mgmt) take a
:class:`KeyContext` and the request's decoded parameters, and either return the response map
or raise :class:`CommandError` with a CTAP status code; the authenticator turns that into the
status byte. Nothing here raises anything else on a platform's bad input.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fido2.ctap import CtapError

from kiosk.keys.virtual.attestation import AttestationCA
from kiosk.keys.virtual.pin_protocols import PinUvAuthProtocol, protocols
from kiosk.keys.virtual.presence import UserPresence
from kiosk.keys.virtual.profiles import KeyProfile

ERR = CtapError.ERR
T = TypeVar("T")

PIN_RETRIES_MAX = 8
PIN_CONSECUTIVE_MAX = 3
"""Wrong PINs in a row before the key wants a power cycle (PIN_AUTH_BLOCKED)."""
TOKEN_INITIAL_USAGE_S = 30.0
"""A pinUvAuthToken not used within this long after it was issued expires (CTAP 2.1 section
6.5.3.2, the initial usage time limit: 30 s for USB)."""
TOKEN_MAX_USAGE_S = 600.0
"""A pinUvAuthToken expires this long after it was issued, used or not (section 6.5.3.2, the
max usage time period; 10 minutes)."""
MAX_CREDENTIAL_ID_LENGTH = 128
MAX_CREDS_IN_LIST = 8
MAX_RPIDS_FOR_MIN_PIN = 8

PERM_MC = 0x01
PERM_GA = 0x02
PERM_CM = 0x04
PERM_BE = 0x08
PERM_LBW = 0x10
PERM_ACFG = 0x20
PERM_PCMR = 0x40

KEEPALIVE_PROCESSING = 1
KEEPALIVE_UPNEEDED = 2

_P256_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)
_CRED_ID_VERSION = 0x01
_CRED_FLAG_HMAC = 0x01


class CommandError(Exception):
    """A command fails with this CTAP status; the message is for logs, never secret."""

    def __init__(self, code: ERR, why: str = "") -> None:
        super().__init__(f"{code.name}: {why}" if why else code.name)
        self.code = code


class Entropy:
    """Random bytes and keys: the OS's, or a deterministic stream when the key has a seed."""

    def __init__(self, seed: int | None) -> None:
        self._seed = (
            None if seed is None else hashlib.sha256(b"fido-kiosk virtual key|%d" % seed).digest()
        )
        self._counter = 0
        self._lock = threading.Lock()

    def bytes(self, n: int) -> bytes:
        if self._seed is None:
            return os.urandom(n)
        out = b""
        with self._lock:
            while len(out) < n:
                self._counter += 1
                out += hmac.new(self._seed, struct.pack(">Q", self._counter), "sha256").digest()
        return out[:n]

    def ec_key(self) -> ec.EllipticCurvePrivateKey:
        if self._seed is None:
            return ec.generate_private_key(ec.SECP256R1())
        scalar = int.from_bytes(self.bytes(40), "big") % (_P256_ORDER - 1) + 1
        return ec.derive_private_key(scalar, ec.SECP256R1())


@dataclass
class Credential:
    """A credential the key made. ``user`` and ``rp`` are only known for discoverable ones."""

    credential_id: bytes
    rp_id: str
    private_key: ec.EllipticCurvePrivateKey
    cred_protect: int = 1
    hmac_secret: bool = False
    discoverable: bool = False
    rp: dict[str, Any] = field(default_factory=dict)
    user: dict[str, Any] = field(default_factory=dict)
    created: int = 0
    """Creation order; the newest discoverable credential is offered first."""

    @property
    def user_id(self) -> bytes:
        value = self.user.get("id", b"")
        return value if isinstance(value, bytes) else b""


@dataclass
class PinToken:
    """The pinUvAuthToken in use: who got it, for what, and since when."""

    value: bytes
    protocol: int
    permissions: int
    rp_id: str | None
    issued: float
    first_use: float | None = None

    def usable(self, now: float) -> bool:
        age = now - self.issued
        if age > TOKEN_MAX_USAGE_S or age < 0:
            return False
        return not (self.first_use is None and age > TOKEN_INITIAL_USAGE_S)


@dataclass
class PendingAssertions:
    """Credentials a getAssertion found beyond the first, for getNextAssertion."""

    rp_id: str
    client_data_hash: bytes
    flags: int
    uv: bool
    credentials: list[Credential]
    started: float


@dataclass
class KeyState:
    """Everything that survives between commands (and, except the volatile part, unplugging)."""

    min_pin_length: int
    master_key: bytes
    pin_hash: bytes | None = None
    pin_length: int = 0
    pin_retries: int = PIN_RETRIES_MAX
    force_pin_change: bool = False
    min_pin_rp_ids: list[str] = field(default_factory=list)
    credentials: dict[bytes, Credential] = field(default_factory=dict)
    sign_count: int = 0
    created_counter: int = 0
    # Volatile: lost at every power cycle.
    consecutive_failures: int = 0
    token: PinToken | None = None
    key_agreement: ec.EllipticCurvePrivateKey | None = None
    powered_on_at: float = 0.0
    pending: PendingAssertions | None = None
    cm_queue: list[dict[int, Any]] = field(default_factory=list)
    """credentialManagement enumeration answers still to hand out (getNext...)."""
    cm_kind: int = 0

    @property
    def pin_set(self) -> bool:
        return self.pin_hash is not None

    def discoverable_count(self) -> int:
        return sum(1 for c in self.credentials.values() if c.discoverable)


@dataclass(frozen=True)
class RequestIO:
    """The per-request link to the transport: keepalives out, cancellation in."""

    keepalive: Callable[[int], None]
    cancelled: threading.Event


class KeyContext:
    """The key's profile, sensors, randomness and state, as command handlers see them."""

    def __init__(
        self,
        profile: KeyProfile,
        presence: UserPresence,
        *,
        clock: Callable[[], float],
        entropy: Entropy,
        ca: AttestationCA,
        state: KeyState,
    ) -> None:
        self.profile = profile
        self.presence = presence
        self.clock = clock
        self.entropy = entropy
        self.ca = ca
        self.state = state
        self.protocols: dict[int, PinUvAuthProtocol] = protocols(entropy.bytes)

    @property
    def ctap21(self) -> bool:
        return "FIDO_2_1" in self.profile.versions

    def supported_protocols(self) -> list[int]:
        """PIN/UV protocols in order of preference (CTAP 2.0 keys only know protocol one)."""
        return [2, 1] if self.ctap21 else [1]

    def protocol(self, version: object) -> PinUvAuthProtocol:
        if not isinstance(version, int) or isinstance(version, bool):
            raise CommandError(ERR.CBOR_UNEXPECTED_TYPE, "pinUvAuthProtocol is not an integer")
        if version not in self.supported_protocols():
            raise CommandError(ERR.INVALID_PARAMETER, f"PIN/UV protocol {version} unsupported")
        return self.protocols[version]

    def wait_for_touch(self, io: RequestIO) -> None:
        """Blink until touched; KEEPALIVE_CANCEL if cancelled, USER_ACTION_TIMEOUT if not."""
        touched = self.presence.wait(lambda: io.keepalive(KEEPALIVE_UPNEEDED), io.cancelled)
        if touched:
            return
        if io.cancelled.is_set():
            raise CommandError(ERR.KEEPALIVE_CANCEL, "cancelled while waiting for touch")
        raise CommandError(ERR.USER_ACTION_TIMEOUT, "no touch")

    # -- credential ids: the private key wrapped under the key's master key ----------------

    def new_credential_id(
        self, rp_id: str, key: ec.EllipticCurvePrivateKey, cred_protect: int, hmac_secret: bool
    ) -> bytes:
        scalar = key.private_numbers().private_value.to_bytes(32, "big")
        flags = _CRED_FLAG_HMAC if hmac_secret else 0
        nonce = self.entropy.bytes(12)
        sealed = AESGCM(self.state.master_key).encrypt(
            nonce, scalar + bytes([cred_protect, flags]), _rp_hash(rp_id)
        )
        return bytes([_CRED_ID_VERSION]) + nonce + sealed

    def find_credential(self, rp_id: str, credential_id: bytes) -> Credential | None:
        """The credential this id names for this RP, or None if it is not one of ours."""
        stored = self.state.credentials.get(credential_id)
        if stored is not None:
            return stored if stored.rp_id == rp_id else None
        if len(credential_id) < 13 or credential_id[0] != _CRED_ID_VERSION:
            return None
        try:
            plain = AESGCM(self.state.master_key).decrypt(
                credential_id[1:13], credential_id[13:], _rp_hash(rp_id)
            )
        except InvalidTag:
            return None
        if len(plain) != 34:
            return None
        key = ec.derive_private_key(int.from_bytes(plain[:32], "big"), ec.SECP256R1())
        return Credential(
            credential_id=credential_id,
            rp_id=rp_id,
            private_key=key,
            cred_protect=plain[32],
            hmac_secret=bool(plain[33] & _CRED_FLAG_HMAC),
        )

    def cred_random(self, credential: Credential, with_uv: bool) -> bytes:
        """The hmac-secret CredRandom of a credential (one for UV, one without)."""
        label = b"uv" if with_uv else b"no-uv"
        return hmac.new(
            self.state.master_key, b"credRandom|" + label + credential.credential_id, "sha256"
        ).digest()


def pin_hash(pin: str) -> bytes:
    """What a key keeps of its PIN: LEFT(SHA-256(PIN), 16) (CTAP 2.1 section 6.5.5.5)."""
    return hashlib.sha256(pin.encode("utf-8")).digest()[:16]


def _rp_hash(rp_id: str) -> bytes:
    return hashlib.sha256(rp_id.encode("utf-8")).digest()


def rp_id_hash(rp_id: str) -> bytes:
    return _rp_hash(rp_id)


# -- request parameters -------------------------------------------------------------------


def _typed(value: object, kind: type[T], name: str) -> T:
    if kind is int and isinstance(value, bool):
        raise CommandError(ERR.CBOR_UNEXPECTED_TYPE, f"{name} is a bool, not an integer")
    if not isinstance(value, kind):
        raise CommandError(ERR.CBOR_UNEXPECTED_TYPE, f"{name} is not {kind.__name__}")
    return value


def required(params: Mapping[Any, Any], key: int, kind: type[T], name: str) -> T:
    """A parameter the command cannot do without: MISSING_PARAMETER, or a type error."""
    if key not in params:
        raise CommandError(ERR.MISSING_PARAMETER, f"{name} missing")
    return _typed(params[key], kind, name)


def optional(params: Mapping[Any, Any], key: int, kind: type[T], name: str) -> T | None:
    if key not in params:
        return None
    return _typed(params[key], kind, name)


def text_key_map(value: Mapping[Any, Any], name: str) -> dict[str, Any]:
    """A map whose keys must be text (rp, user, options, extensions, descriptors)."""
    if not all(isinstance(k, str) for k in value):
        raise CommandError(ERR.CBOR_UNEXPECTED_TYPE, f"{name} has non-text keys")
    return dict(value)


def descriptor_ids(value: list[Any], name: str) -> list[bytes]:
    """The ids of a list of PublicKeyCredentialDescriptors (other types are skipped)."""
    ids: list[bytes] = []
    for item in value:
        entry = text_key_map(_typed(item, dict, name), name)
        if "type" not in entry or "id" not in entry:
            raise CommandError(ERR.MISSING_PARAMETER, f"{name} entry without type or id")
        cred_type = _typed(entry.get("type"), str, f"{name} type")
        cred_id = _typed(entry.get("id"), bytes, f"{name} id")
        if cred_type == "public-key":
            ids.append(cred_id)
    return ids
