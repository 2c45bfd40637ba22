"""WebAuthn creation options shaped like Graph's ``fido2Methods/creationOptions`` answer.

The challenge is a long opaque base64url string (Graph's is a signed blob); the user handle is
opaque bytes derived from the object id; ``excludeCredentials`` lists the user's existing
methods in the tenant's (or the user's) id spelling (:data:`ID_SPELLINGS`, or "mixed": each id
in one of them), so a client must read every spelling Graph uses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
import uuid
from datetime import timedelta
from typing import Any

from kiosk.entra.fake.state import DirectoryUser, MethodRecord, TenantState
from kiosk.entra.fake.wire import iso

RP_ID = "login.microsoft.com"
RP_NAME = "Microsoft"
ORIGIN = "https://" + RP_ID
ALG_ES256 = -7
ALG_RS256 = -257
ALLOWED_ALGS = (ALG_ES256, ALG_RS256)
MIN_TIMEOUT_MINUTES = 5
MAX_TIMEOUT_MINUTES = 43200


def b64url(data: bytes, *, pad: bool = False) -> str:
    text = base64.urlsafe_b64encode(data).decode("ascii")
    return text if pad else text.rstrip("=")


ID_SPELLINGS = ("base64url", "padcount", "base64")
"""The spellings Graph writes credential ids in: base64url without padding; base64url without
padding plus one digit counting the ``=`` removed (.NET UrlTokenEncode, as in the beta
creationOptions documentation and the method list example); standard base64 with padding."""


def spell_id(credential_id: bytes, spelling: str) -> str:
    """``credential_id`` in one of :data:`ID_SPELLINGS`."""
    if spelling == "base64":
        return base64.b64encode(credential_id).decode("ascii")
    text = b64url(credential_id)
    if spelling == "padcount":
        return text + str(-len(text) % 4)
    if spelling == "base64url":
        return text
    raise ValueError(f"unknown id spelling {spelling!r}")


def graph_id_encoding(credential_id: bytes) -> str:
    """A "mixed" tenant's spelling of an id: one of the three, stable per id (from a hash), so
    a tenant with several methods shows every spelling."""
    return spell_id(credential_id, ID_SPELLINGS[hashlib.sha256(credential_id).digest()[0] % 3])


def method_id(credential_id: bytes, spelling: str) -> str:
    """A method id as Graph shows it: always URL-safe (a standard-base64 tenant's method ids
    carry the padding-count digit, like the documentation's list example)."""
    if spelling == "mixed":
        spelling = ID_SPELLINGS[hashlib.sha256(credential_id).digest()[0] % 2]
    return spell_id(credential_id, "padcount" if spelling == "base64" else spelling)


def exclude_id(credential_id: bytes, spelling: str) -> str:
    """An ``excludeCredentials`` id as Graph writes it for a tenant (or user) ``spelling``."""
    if spelling == "mixed":
        return graph_id_encoding(credential_id)
    return spell_id(credential_id, spelling)


class OptionsFactory:
    """Makes creation options and records the challenge it issued to each user."""

    def __init__(self, state: TenantState, secret: bytes | None = None) -> None:
        self.state = state
        self._secret = secret or os.urandom(32)

    def user_handle(self, user: DirectoryUser) -> bytes:
        """Opaque, stable per user: the object id plus a keyed digest (48 bytes)."""
        tag = hmac.new(self._secret, b"user:" + user.id.encode(), hashlib.sha256).digest()
        return uuid.UUID(user.id).bytes + tag if _is_uuid(user.id) else tag + tag[:16]

    def _challenge(self, user: DirectoryUser, minutes: int) -> bytes:
        body = (
            b"\x02"
            + os.urandom(32)
            + hashlib.sha256(user.id.encode()).digest()[:16]
            + struct.pack(">I", minutes)
            + os.urandom(72)
        )
        return body + hmac.new(self._secret, body, hashlib.sha256).digest()

    def create(self, user: DirectoryUser, minutes: int) -> dict[str, Any]:
        """The ``webauthnCredentialCreationOptions`` object for ``user`` (challenge recorded)."""
        challenge = self.state.issue_challenge(
            self._challenge(user, minutes), user.id, timedelta(minutes=minutes)
        )
        existing: list[MethodRecord] = self.state.methods_of(user.id)
        return {
            "challengeTimeoutDateTime": iso(challenge.expires_at),
            "publicKey": {
                "challenge": b64url(challenge.value),
                "timeout": minutes * 60 * 1000,
                "attestation": "direct",
                "rp": {"id": RP_ID, "name": RP_NAME},
                "user": {
                    "id": b64url(self.user_handle(user)),
                    "name": user.user_principal_name,
                    "displayName": user.display_name,
                },
                "pubKeyCredParams": [
                    {"type": "public-key", "alg": ALG_ES256},
                    {"type": "public-key", "alg": ALG_RS256},
                ],
                "excludeCredentials": [
                    {
                        "type": "public-key",
                        "id": exclude_id(m.credential_id, self.state.spelling_for(user.id)),
                        "transports": [],
                    }
                    for m in existing
                ],
                "authenticatorSelection": {
                    "authenticatorAttachment": "cross-platform",
                    "requireResidentKey": True,
                    "residentKey": "required",
                    "userVerification": "required",
                },
                "extensions": {
                    "hmacCreateSecret": True,
                    "enforceCredentialProtectionPolicy": True,
                    "credentialProtectionPolicy": "userVerificationOptional",
                },
            },
        }


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
