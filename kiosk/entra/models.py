"""Typed Graph models, parsed leniently from Graph's JSON. No I/O here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kiosk.model.timing import Timing


@dataclass(frozen=True)
class User:
    id: str
    user_principal_name: str
    display_name: str = ""
    mail: str | None = None
    postal: Mapping[str, str] = field(default_factory=dict, compare=False)
    """Graph's address and office properties (:data:`POSTAL_FIELDS`) that are set, as
    received (bounded, not yet cleaned: :mod:`kiosk.paper.address` does that)."""


POSTAL_FIELDS = (
    "streetAddress", "city", "state", "postalCode", "country", "officeLocation", "companyName",
    "department",
)
MAX_POSTAL = 256


@dataclass(frozen=True)
class Group:
    id: str
    display_name: str


@dataclass(frozen=True)
class CreationOptions:
    """WebAuthn creation options fetched from Graph for one user.

    ``public_key`` is Graph's ``publicKey`` object as received (ids in whatever base64 flavour
    Graph used); the device layer turns it into CTAP parameters.
    """

    user_id: str
    public_key: Mapping[str, Any]
    challenge_expires_at: datetime
    graph_calls: tuple[Timing, ...] = field(default=(), compare=False, repr=False)
    """The Graph call (with its retries) that fetched these options, whichever thread made it:
    the audit record of the enrollment that spends the challenge names its request id."""

    @property
    def rp_id(self) -> str:
        rp = self.public_key.get("rp") or {}
        return str(rp.get("id") or "login.microsoft.com")

    @property
    def origin(self) -> str:
        return "https://" + self.rp_id

    def expired(self, now: datetime, margin_seconds: float = 0.0) -> bool:
        return (self.challenge_expires_at - now).total_seconds() <= margin_seconds


@dataclass(frozen=True)
class Fido2Method:
    id: str
    display_name: str
    created: datetime | None = None
    aaguid: str | None = None
    model: str | None = None
    attestation_level: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
