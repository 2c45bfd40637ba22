"""The tenant's passkey (FIDO2) authentication method policy, in both of Graph's shapes.

``GET /policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2`` answers a
``fido2AuthenticationMethodConfiguration``: ``state``, ``includeTargets`` / ``excludeTargets``,
``isSelfServiceRegistrationAllowed``, and either the older global ``isAttestationEnforced`` and
``keyRestrictions`` (``isEnforced``, ``enforcementType`` allow/block, ``aaGuids``) or, in a
tenant moved to passkey profiles, ``passkeyProfiles`` (each with ``passkeyTypes``,
``attestationEnforcement`` and its own ``keyRestrictions``), ``defaultPasskeyProfile`` and
``allowedPasskeyProfiles`` on each include target. Shapes from Microsoft's documentation of the
resource and of its update request.

The same settings decide what :mod:`kiosk.entra.fake.verify` registers, so a blocking policy
blocks both in ``kiosk check`` and at the key. Refusals name the policy setting; Microsoft does
not document the exact error text for these, so the kiosk never relies on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kiosk.entra.fake.wire import GraphError

ALL_USERS = "all_users"
DEFAULT_PROFILE_ID = "00000000-0000-0000-0000-000000000001"


@dataclass
class KeyRestrictions:
    is_enforced: bool = False
    enforcement_type: str = "block"
    """``allow`` (only these AAGUIDs) or ``block`` (all but these)."""
    aaguids: list[str] = field(default_factory=list)

    def to_graph(self) -> dict[str, Any]:
        return {
            "isEnforced": self.is_enforced,
            "enforcementType": self.enforcement_type,
            "aaGuids": list(self.aaguids),
        }

    def refuses(self, aaguid: str) -> bool:
        if not self.is_enforced:
            return False
        listed = aaguid.lower() in {a.lower() for a in self.aaguids}
        return not listed if self.enforcement_type == "allow" else listed


@dataclass
class PasskeyProfile:
    name: str
    id: str = DEFAULT_PROFILE_ID
    passkey_types: str = "deviceBound,synced"
    attestation_enforcement: str = "disabled"
    """``disabled`` or ``registrationOnly``."""
    key_restrictions: KeyRestrictions = field(default_factory=KeyRestrictions)

    def to_graph(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "passkeyTypes": self.passkey_types,
            "attestationEnforcement": self.attestation_enforcement,
            "keyRestrictions": self.key_restrictions.to_graph(),
        }

    def refusal(self, aaguid: str, attested: bool) -> str | None:
        """Why this profile refuses a security key (device-bound), or None."""
        if "devicebound" not in self.passkey_types.replace(" ", "").lower().split(","):
            return f"passkey profile '{self.name}' does not allow device-bound passkeys"
        if self.attestation_enforcement != "disabled" and not attested:
            return f"passkey profile '{self.name}' enforces attestation"
        if self.key_restrictions.refuses(aaguid):
            return f"passkey profile '{self.name}' key restrictions"
        return None


@dataclass
class Target:
    id: str = ALL_USERS
    """A group id, or ``all_users``."""
    allowed_profiles: list[str] = field(default_factory=lambda: [DEFAULT_PROFILE_ID])


@dataclass
class Fido2MethodPolicy:
    """The FIDO2 configuration of one fake tenant (legacy shape unless ``profiles`` is set)."""

    state: str = "enabled"
    self_service: bool = True
    include: list[Target] = field(default_factory=lambda: [Target()])
    exclude: list[str] = field(default_factory=list)
    """Excluded group ids."""
    attestation_enforced: bool = False
    """Legacy ``isAttestationEnforced``."""
    restrictions: KeyRestrictions = field(default_factory=KeyRestrictions)
    """Legacy ``keyRestrictions``."""
    profiles: list[PasskeyProfile] | None = None
    """Passkey profiles (None: the tenant still has the older global settings)."""

    def to_graph(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "@odata.type": "#microsoft.graph.fido2AuthenticationMethodConfiguration",
            "id": "Fido2",
            "state": self.state,
            "isSelfServiceRegistrationAllowed": self.self_service,
            "isAttestationEnforced": self.attestation_enforced,
            "keyRestrictions": self.restrictions.to_graph(),
        }
        targets = []
        for t in self.include:
            item: dict[str, Any] = {
                "targetType": "group", "id": t.id, "isRegistrationRequired": False,
            }
            if self.profiles is not None:
                item["allowedPasskeyProfiles"] = list(t.allowed_profiles)
            targets.append(item)
        body["includeTargets"] = targets
        body["excludeTargets"] = [{"targetType": "group", "id": g} for g in self.exclude]
        if self.profiles is not None:
            body["passkeyProfiles"] = [p.to_graph() for p in self.profiles]
            body["defaultPasskeyProfile"] = DEFAULT_PROFILE_ID
        return body

    def refusal(
        self, in_group: Callable[[str], bool], aaguid: str, attested: bool
    ) -> GraphError | None:
        """Graph's refusal of registering this key for a user (``in_group(gid)``), or None."""
        if self.state != "enabled":
            return _refused("the passkey (FIDO2) method is disabled in the tenant's policy")
        if any(in_group(g) for g in self.exclude):
            return _refused("the user is excluded from the passkey (FIDO2) policy")
        targets = [t for t in self.include if t.id == ALL_USERS or in_group(t.id)]
        if not targets:
            return _refused("the user is in no group the passkey (FIDO2) policy targets")
        if self.profiles is None:
            if self.attestation_enforced and not attested:
                return _refused("the passkey (FIDO2) policy enforces attestation")
            if self.restrictions.refuses(aaguid):
                return _refused(f"the passkey (FIDO2) policy key restrictions refuse {aaguid}")
            return None
        by_id = {p.id: p for p in self.profiles}
        wanted = {pid for t in targets for pid in t.allowed_profiles}
        reasons = [
            r for p in (by_id[i] for i in sorted(wanted) if i in by_id)
            if (r := p.refusal(aaguid, attested))
        ]
        if len(reasons) < len([i for i in wanted if i in by_id]):
            return None  # one of the user's profiles takes the key
        return _refused("; ".join(reasons) or "no passkey profile applies to the user")


def _refused(why: str) -> GraphError:
    return GraphError(400, "badRequest", f"The passkey registration is not allowed: {why}.")
