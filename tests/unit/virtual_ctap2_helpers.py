"""Helpers for the virtual key's CTAP 2 tests: a key on a virtual port, driven over packets.

Everything goes through python-fido2's CtapHidDevice -> Ctap2 / ClientPin / Config /
Fido2Client, over the virtual key's CTAPHID framing: nothing of ours is mocked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from fido2.client import DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.ctap import CtapError
from fido2.ctap2 import ClientPin, Ctap2
from fido2.ctap2.extensions import (
    CredProtectExtension,
    HmacSecretExtension,
    MinPinLengthExtension,
)
from fido2.ctap2.pin import PinProtocol, PinProtocolV1, PinProtocolV2
from fido2.hid import CtapHidDevice
from fido2.webauthn import PublicKeyCredentialCreationOptions

from kiosk.keys.virtual.authenticator import Authenticator
from kiosk.keys.virtual.device import VirtualKey
from kiosk.keys.virtual.port import VirtualPort
from kiosk.keys.virtual.profiles import KeyProfile

RP_ID = "login.microsoft.com"
ORIGIN = "https://login.microsoft.com"
PIN = "482916"
CHALLENGE = b"graph-challenge-0123456789abcdef"

PROTOCOLS: list[type[PinProtocol]] = [PinProtocolV1, PinProtocolV2]
ERR = CtapError.ERR


@dataclass
class Rig:
    """One virtual key plugged into a virtual port, opened as a real key would be."""

    port: VirtualPort
    key: VirtualKey
    device: CtapHidDevice
    ctap: Ctap2
    keepalives: list[int] = field(default_factory=list)

    @property
    def authenticator(self) -> Authenticator:
        return self.key.authenticator

    def replug(self) -> None:
        """Pull the key and insert it again (a power cycle), then reopen it."""
        self.device.close()
        self.port.unplug(self.key)
        descriptor = self.port.plug(self.key)
        self.device = self.port.open(descriptor)
        self.ctap = Ctap2(self.device)

    def client_pin(self, protocol: type[PinProtocol] | None = None) -> ClientPin:
        """ClientPin with this protocol, or the best one the key offers."""
        return ClientPin(self.ctap, protocol() if protocol is not None else None)

    def token(
        self,
        permissions: ClientPin.PERMISSION,
        *,
        protocol: type[PinProtocol] | None = None,
        pin: str = PIN,
        rp_id: str | None = RP_ID,
    ) -> tuple[PinProtocol, bytes]:
        client_pin = self.client_pin(protocol)
        return client_pin.protocol, client_pin.get_pin_token(pin, permissions, rp_id)

    def on_keepalive(self, status: int) -> None:
        self.keepalives.append(status)

    def fido2_client(self, pin: str | None = PIN) -> Fido2Client:
        return Fido2Client(
            self.device,
            DefaultClientDataCollector(ORIGIN),
            Interaction(pin),
            extensions=[
                HmacSecretExtension(allow_hmac_secret=True),
                CredProtectExtension(),
                MinPinLengthExtension(),
            ],
        )


class Interaction(UserInteraction):
    def __init__(self, pin: str | None) -> None:
        self.pin = pin
        self.prompts = 0

    def prompt_up(self) -> None:
        self.prompts += 1

    def request_pin(self, permissions: ClientPin.PERMISSION, rp_id: str | None) -> str | None:
        return self.pin


@contextmanager
def plugged(
    profile: KeyProfile,
    *,
    auto_touch: float | None = 0.0,
    touch_timeout: float = 5.0,
    clock: Callable[[], float] | None = None,
    seed: int | None = None,
) -> Iterator[Rig]:
    port = VirtualPort()
    kwargs: dict[str, Any] = {"auto_touch": auto_touch, "touch_timeout": touch_timeout}
    if clock is not None:
        kwargs["clock"] = clock
    key = VirtualKey(profile, seed=seed, **kwargs)
    descriptor = port.plug(key)
    device = port.open(descriptor)
    rig = Rig(port=port, key=key, device=device, ctap=Ctap2(device))
    try:
        yield rig
    finally:
        rig.device.close()
        port.unplug()
        assert key.internal_errors == 0, "the authenticator raised instead of answering"


def graph_options(
    user_id: bytes = b"entra-user-object-id-0001",
    *,
    exclude: list[bytes] | None = None,
    extensions: dict[str, Any] | None = None,
    alg: int = -7,
) -> PublicKeyCredentialCreationOptions:
    """Creation options shaped as Graph's creationOptions returns them (publicKey object)."""
    body: dict[str, Any] = {
        "rp": {"id": RP_ID, "name": "Microsoft"},
        "user": {"id": user_id, "name": "adele@contoso.example", "displayName": "Adele Vance"},
        "challenge": CHALLENGE,
        "pubKeyCredParams": [{"type": "public-key", "alg": alg}],
        "timeout": 300000,
        "excludeCredentials": [{"type": "public-key", "id": i} for i in exclude or []],
        "authenticatorSelection": {
            "authenticatorAttachment": "cross-platform",
            "requireResidentKey": True,
            "residentKey": "required",
            "userVerification": "required",
        },
        "attestation": "direct",
        "extensions": extensions
        if extensions is not None
        else {
            "hmacCreateSecret": True,
            "credentialProtectionPolicy": "userVerificationOptional",
            "enforceCredentialProtectionPolicy": True,
        },
    }
    return PublicKeyCredentialCreationOptions.from_dict(body)


def ctap_error(call: Callable[[], object]) -> CtapError.ERR:
    """The CTAP error code ``call`` fails with (the test fails if it succeeds)."""
    with pytest.raises(CtapError) as info:
        call()
    return info.value.code


def touch_when_asked(key: VirtualKey, timeout: float = 5.0) -> threading.Thread:
    """A person who touches the key once it blinks."""

    def run() -> None:
        for _ in range(int(timeout / 0.01)):
            if key.waiting_for_touch:
                key.touch()
                return
            threading.Event().wait(0.01)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread
