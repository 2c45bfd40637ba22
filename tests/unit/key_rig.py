"""Helpers for the device-layer tests: a virtual port, keys plugged into it, Graph-shaped options.

Everything goes over real CTAPHID packets: VirtualPort.open gives python-fido2's CtapHidDevice.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kiosk.keys.session import KeySession
from kiosk.keys.virtual.device import VirtualKey
from kiosk.keys.virtual.port import VirtualPort
from kiosk.keys.virtual.profiles import PROFILES, KeyProfile

RP_ID = "login.microsoft.com"
ORIGIN = "https://login.microsoft.com"
PIN = "83920175"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64std(data: bytes) -> str:
    return base64.b64encode(data).decode()


def profile(name: str, **changes: Any) -> KeyProfile:
    return dataclasses.replace(PROFILES[name], **changes)


class Rig:
    """One port, keys plugged in on demand, sessions opened on them."""

    def __init__(self) -> None:
        self.port = VirtualPort()
        self.sessions: list[KeySession] = []

    def key(
        self,
        name: str | KeyProfile = "yubikey5",
        *,
        auto_touch: float | None = 0.0,
        touch_timeout: float = 5.0,
        **kwargs: Any,
    ) -> VirtualKey:
        prof = PROFILES[name] if isinstance(name, str) else name
        return VirtualKey(prof, auto_touch=auto_touch, touch_timeout=touch_timeout, **kwargs)

    def session(self, key: VirtualKey, **kwargs: Any) -> KeySession:
        """Plug ``key`` in (if it is not) and open a session on it."""
        if not key.plugged:
            self.port.plug(key)
        path = next(d for d in self.port.list_descriptors() if self.port.key_at(str(d.path)) is key)
        session = KeySession(self.port.open(path), **kwargs)
        self.sessions.append(session)
        return session

    def reinsert(self, key: VirtualKey, **kwargs: Any) -> KeySession:
        self.port.unplug(key)
        return self.session(key, **kwargs)

    def close(self) -> None:
        for session in self.sessions:
            session.close()
        self.port.unplug()


@contextmanager
def rig() -> Iterator[Rig]:
    r = Rig()
    try:
        yield r
    finally:
        r.close()


def graph_options(
    *,
    user_id: bytes = b"\x01user-object-id\xfe",
    challenge: bytes | None = None,
    exclude: list[str] | None = None,
    rk: bool = True,
    extensions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``publicKey`` object shaped like Graph's creationOptions response."""
    return {
        "challenge": b64url(challenge or os.urandom(32)),
        "timeout": 300000,
        "attestation": "direct",
        "rp": {"id": RP_ID, "name": "Microsoft"},
        "user": {
            "id": b64url(user_id),
            "displayName": "Adele Vance",
            "name": "adelev@contoso.example",
        },
        "pubKeyCredParams": [
            {"type": "public-key", "alg": -7},
            {"type": "public-key", "alg": -257},
        ],
        "excludeCredentials": [
            {"type": "public-key", "id": i, "transports": []} for i in exclude or []
        ],
        "authenticatorSelection": {
            "authenticatorAttachment": "cross-platform",
            "requireResidentKey": rk,
            "userVerification": "required",
        },
        "extensions": extensions
        if extensions is not None
        else {
            "hmacCreateSecret": True,
            "enforceCredentialProtectionPolicy": True,
            "credentialProtectionPolicy": "userVerificationOptional",
        },
    }
