"""The virtual key's CTAP 2.1 authenticator: command dispatch, getInfo, reset and selection.

The transport (CTAPHID framing, :mod:`kiosk.keys.virtual.device`) hands
:meth:`Authenticator.process` one CTAP request (command byte + CBOR) and sends back what it
returns (status byte + CBOR, encoded canonically with ``fido2.cbor.encode``). ``process`` never
raises: malformed input gets a CTAP status code, as on a real key. The commands themselves
live in client_pin, make_credential, get_assertion, config and cred_mgmt.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fido2 import cbor

from kiosk.keys.virtual import client_pin, config, cred_mgmt, get_assertion, make_credential
from kiosk.keys.virtual.attestation import AttestationCA, default_ca
from kiosk.keys.virtual.key_state import (
    ERR,
    MAX_CREDENTIAL_ID_LENGTH,
    MAX_CREDS_IN_LIST,
    MAX_RPIDS_FOR_MIN_PIN,
    CommandError,
    Credential,
    Entropy,
    KeyContext,
    KeyState,
    RequestIO,
    pin_hash,
)
from kiosk.keys.virtual.presence import UserPresence
from kiosk.keys.virtual.profiles import KeyProfile

log = logging.getLogger(__name__)

MAKE_CREDENTIAL = 0x01
GET_ASSERTION = 0x02
GET_INFO = 0x04
CLIENT_PIN = 0x06
RESET = 0x07
GET_NEXT_ASSERTION = 0x08
CREDENTIAL_MGMT = 0x0A
SELECTION = 0x0B
CONFIG = 0x0D

DEFAULT_RESET_WINDOW_S = 10.0
MAX_MSG_SIZE = 1200
PRESET_RP = "login.microsoft.com"


@dataclass(frozen=True)
class StoredCredential:
    """A discoverable credential on the key, as tests and the demo may inspect it."""

    credential_id: bytes
    rp_id: str
    user_id: bytes
    user_name: str | None
    cred_protect: int
    hmac_secret: bool


class Authenticator:
    """A software CTAP 2.1 (or 2.0, as the profile says) authenticator."""

    def __init__(
        self,
        profile: KeyProfile,
        presence: UserPresence,
        *,
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
        reset_window: float = DEFAULT_RESET_WINDOW_S,
        ca: AttestationCA | None = None,
    ) -> None:
        self.profile = profile
        self.presence = presence
        self.reset_window = reset_window
        """A reset is only accepted this many seconds after power_on (plug-in)."""
        self._clock = clock
        self._entropy = Entropy(seed)
        self._lock = threading.Lock()
        state = KeyState(min_pin_length=profile.min_pin_length, master_key=self._entropy.bytes(32))
        self._ctx = KeyContext(
            profile,
            presence,
            clock=clock,
            entropy=self._entropy,
            ca=ca or default_ca(),
            state=state,
        )
        self.power_on()
        self._apply_presets()

    # -- the transport's side -------------------------------------------------------------

    def power_on(self) -> None:
        """The key was plugged in: new reset window, new key-agreement key, no tokens (CTAP 2.1
        section 6.5.4: every PIN/UV protocol is ``initialize()``d at power-up, which
        regenerates its key-agreement key and resets the pinUvAuthToken)."""
        state = self._ctx.state
        state.powered_on_at = self._clock()
        state.consecutive_failures = 0
        state.token = None
        state.pending = None
        state.key_agreement = self._entropy.ec_key()

    def process(
        self, request: bytes, keepalive: Callable[[int], None], cancelled: threading.Event
    ) -> bytes:
        """One CTAP request in, status byte + canonical CBOR out. Never raises."""
        if not request:
            return bytes([ERR.INVALID_LENGTH])
        io = RequestIO(keepalive=keepalive, cancelled=cancelled)
        with self._lock:
            try:
                response = self._dispatch(request[0], request[1:], io)
            except CommandError as exc:
                log.debug("virtual key: command %#04x -> %s", request[0], exc)
                return bytes([exc.code])
            except Exception:
                log.exception("virtual key: command %#04x failed unexpectedly", request[0])
                return bytes([ERR.OTHER])
        return b"\x00" + (cbor.encode(response) if response else b"")

    def _dispatch(self, command: int, body: bytes, io: RequestIO) -> Mapping[int, Any]:
        ctx = self._ctx
        if command != GET_NEXT_ASSERTION:
            ctx.state.pending = None
        if command != CREDENTIAL_MGMT:
            ctx.state.cm_queue = []
        if command == GET_INFO:
            return self._get_info()
        if command == RESET:
            return self._reset(io)
        if command == GET_NEXT_ASSERTION:
            return get_assertion.handle_next(ctx)
        if command == SELECTION and ctx.ctap21:
            ctx.wait_for_touch(io)
            return {}
        handlers: dict[int, Callable[[Mapping[Any, Any]], Mapping[int, Any]]] = {
            MAKE_CREDENTIAL: lambda p: make_credential.handle(ctx, p, io),
            GET_ASSERTION: lambda p: get_assertion.handle(ctx, p, io),
            CLIENT_PIN: lambda p: client_pin.handle(ctx, p),
        }
        if ctx.ctap21 and self.profile.authnr_cfg:
            handlers[CONFIG] = lambda p: config.handle(ctx, p)
        if ctx.ctap21 and self.profile.cred_mgmt:
            handlers[CREDENTIAL_MGMT] = lambda p: cred_mgmt.handle(ctx, p)
        handler = handlers.get(command)
        if handler is None:
            raise CommandError(ERR.INVALID_COMMAND, f"command {command:#04x}")
        return handler(_decode(body))

    # -- getInfo, reset ---------------------------------------------------------------------

    def _options(self) -> dict[str, bool]:
        ctx, profile = self._ctx, self.profile
        options = {"rk": True, "up": True, "plat": False, "clientPin": ctx.state.pin_set}
        if ctx.ctap21:
            options["pinUvAuthToken"] = True
            if profile.cred_mgmt:
                options["credMgmt"] = True
            if profile.authnr_cfg:
                options["authnrCfg"] = True
                options["setMinPINLength"] = True
        return options

    def _get_info(self) -> dict[int, Any]:
        ctx, profile, state = self._ctx, self.profile, self._ctx.state
        major, minor, patch = profile.firmware
        info: dict[int, Any] = {
            0x01: list(profile.versions),
            0x02: make_credential.extension_names(ctx),
            0x03: profile.aaguid.bytes,
            0x04: self._options(),
            0x05: MAX_MSG_SIZE,
            0x06: ctx.supported_protocols(),
            0x07: MAX_CREDS_IN_LIST,
            0x08: MAX_CREDENTIAL_ID_LENGTH,
            0x09: ["usb"],
            0x0E: (major << 16) | (minor << 8) | patch,
        }
        if ctx.ctap21:
            info[0x0A] = [{"alg": make_credential.ES256, "type": "public-key"}]
            info[0x0C] = state.force_pin_change
            info[0x0D] = state.min_pin_length
            info[0x14] = max(0, profile.max_credentials - state.discoverable_count())
            info[0x16] = list(make_credential.ATTESTATION_FORMATS)
            if profile.authnr_cfg:
                info[0x10] = MAX_RPIDS_FOR_MIN_PIN
        return info

    def _reset(self, io: RequestIO) -> dict[int, Any]:
        ctx = self._ctx
        if self._clock() - ctx.state.powered_on_at > self.reset_window:
            raise CommandError(ERR.NOT_ALLOWED, "reset only just after plug-in")
        ctx.wait_for_touch(io)
        fresh = KeyState(
            min_pin_length=self.profile.min_pin_length, master_key=self._entropy.bytes(32)
        )
        fresh.powered_on_at = ctx.state.powered_on_at
        # Section 6.6: a reset re-initializes the PIN/UV protocols (new key agreement, no token).
        fresh.key_agreement = self._entropy.ec_key()
        ctx.state = fresh
        return {}

    def _apply_presets(self) -> None:
        profile, ctx = self.profile, self._ctx
        if profile.preset_pin is not None:
            state = ctx.state
            state.pin_hash = pin_hash(profile.preset_pin)
            state.pin_length = len(profile.preset_pin)
        for n in range(1, profile.preset_credentials + 1):
            key = self._entropy.ec_key()
            cred_id = ctx.new_credential_id(PRESET_RP, key, 2, True)
            ctx.state.created_counter += 1
            user = {
                "id": b"preset-user-%d" % n,
                "name": f"previous.user{n}@contoso.example",
                "displayName": f"Previous User {n}",
            }
            ctx.state.credentials[cred_id] = Credential(
                credential_id=cred_id,
                rp_id=PRESET_RP,
                private_key=key,
                cred_protect=2,
                hmac_secret=True,
                discoverable=True,
                rp={"id": PRESET_RP, "name": "Microsoft"},
                user=user,
                created=ctx.state.created_counter,
            )

    # -- what tests and the demo may read -----------------------------------------------------

    @property
    def state(self) -> KeyState:
        """What the key remembers, as it is now (the demo keeps it on disk between runs; read
        it only between commands)."""
        return self._ctx.state

    def restore(self, state: KeyState) -> None:
        """Remember ``state`` instead (a key kept on disk, read back); powers the key on."""
        with self._lock:
            self._ctx.state = state
        self.power_on()

    @property
    def pin_set(self) -> bool:
        return self._ctx.state.pin_set

    @property
    def pin_retries(self) -> int:
        return self._ctx.state.pin_retries

    @property
    def credential_count(self) -> int:
        """Discoverable credentials on the key."""
        return self._ctx.state.discoverable_count()

    @property
    def min_pin_length(self) -> int:
        return self._ctx.state.min_pin_length

    @property
    def force_pin_change(self) -> bool:
        return self._ctx.state.force_pin_change

    @property
    def min_pin_length_rp_ids(self) -> tuple[str, ...]:
        return tuple(self._ctx.state.min_pin_rp_ids)

    @property
    def sign_count(self) -> int:
        return self._ctx.state.sign_count

    def resident_credentials(self) -> list[StoredCredential]:
        """Discoverable credentials, oldest first (no key material)."""
        found = sorted(
            (c for c in self._ctx.state.credentials.values() if c.discoverable),
            key=lambda c: c.created,
        )
        return [
            StoredCredential(
                credential_id=c.credential_id,
                rp_id=c.rp_id,
                user_id=c.user_id,
                user_name=c.user.get("name") if isinstance(c.user.get("name"), str) else None,
                cred_protect=c.cred_protect,
                hmac_secret=c.hmac_secret,
            )
            for c in found
        ]


def _decode(body: bytes) -> Mapping[Any, Any]:
    if not body:
        return {}
    try:
        decoded = cbor.decode(body)
    except Exception as exc:
        # fido2's decoder raises ValueError, IndexError, struct.error, UnicodeDecodeError,
        # RecursionError... on malformed input: all of them mean INVALID_CBOR.
        raise CommandError(ERR.INVALID_CBOR, "malformed CBOR") from exc
    if not isinstance(decoded, dict):
        raise CommandError(ERR.CBOR_UNEXPECTED_TYPE, "request is not a CBOR map")
    return decoded
