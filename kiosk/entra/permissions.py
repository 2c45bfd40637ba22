"""Graph application permissions: which call needs which, and which the app's token holds.

An Entra access token is a JWT whose ``roles`` claim lists the application permissions the app
was granted (with admin consent). The kiosk reads that claim (it does not verify the token: it
only reports what the token says) to tell an admin which permission it uses and whether a
narrower one would do. Nothing here logs or returns the token.
"""

from __future__ import annotations

import base64
import binascii
import json

PASSKEY = "UserAuthMethod-Passkey.ReadWrite.All"
"""Least privilege for creation options, register, list and delete of passkey methods."""
ALL_METHODS = "UserAuthenticationMethod.ReadWrite.All"
"""The broader permission over every authentication method type; also works."""
POLICY_READ = "Policy.Read.AuthenticationMethod"
"""Least privilege to read the passkey (FIDO2) policy (``Policy.Read.All`` also works)."""
POLICY_READ_ALL = "Policy.Read.All"

FIDO2_METHODS = (PASSKEY, ALL_METHODS)
POLICY = (POLICY_READ, POLICY_READ_ALL, "Policy.ReadWrite.AuthenticationMethod")


def token_roles(token: str) -> frozenset[str] | None:
    """The ``roles`` of a JWT access token; None when the token is not a readable JWT."""
    parts = token.split(".")
    if len(parts) != 3 or len(parts[1]) > 64_000:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    roles = claims.get("roles") if isinstance(claims, dict) else None
    if not isinstance(roles, list):
        return frozenset()
    return frozenset(r[:100] for r in roles[:200] if isinstance(r, str))


def methods_note(roles: frozenset[str] | None) -> str:
    """A sentence on the passkey permission the token holds ('' when it cannot be told)."""
    if roles is None:
        return ""
    if PASSKEY in roles:
        return f"the app uses {PASSKEY} (least privilege)"
    if ALL_METHODS in roles:
        return (
            f"the app uses {ALL_METHODS}; the narrower {PASSKEY} is enough: grant it and "
            "remove the broader one"
        )
    return f"the app's token holds neither {PASSKEY} nor {ALL_METHODS}"
