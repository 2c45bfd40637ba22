"""The tenant's passkey (FIDO2) policy, read from Graph and judged for the kiosk's keys.

Graph's ``fido2AuthenticationMethodConfiguration`` comes in two shapes: the older global
settings (``isAttestationEnforced``, ``keyRestrictions``) and, in a tenant moved to passkey
profiles, ``passkeyProfiles`` (each with ``passkeyTypes``, ``attestationEnforcement`` and its
own ``keyRestrictions``) handed to each include target by ``allowedPasskeyProfiles``. Both are
read into one :class:`PasskeyPolicy` whose profiles say what a group's users may register
(the older settings become one profile, "the tenant's FIDO2 settings").

:func:`judge` says what stands in the way of enrolling a group with a set of key models; no
I/O here. Reading the policy needs ``Policy.Read.AuthenticationMethod`` (or the broader
``Policy.Read.All``): without it the kiosk works, but cannot say in advance what the tenant
refuses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kiosk.entra.errors import GraphPermissionError
from kiosk.entra.models import Group
from kiosk.entra.permissions import POLICY_READ
from kiosk.errors import KioskError

POLICY_PATH = "policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2"
READ_PERMISSION = "Policy.Read.AuthenticationMethod"
"""The least privileged permission that reads the policy (``Policy.Read.All`` also does)."""
ALL_USERS = "all_users"
LEGACY_NAME = "the tenant's FIDO2 settings"
MAX_ITEMS = 200
"""At most this many targets, profiles and AAGUIDs are read (Graph's answer is hostile input)."""


@dataclass(frozen=True)
class Profile:
    name: str
    id: str = ""
    device_bound: bool = True
    """Does it allow device-bound passkeys (security keys)?"""
    attestation: bool = False
    """Is attestation enforced?"""
    restriction: str = ""
    """``allow`` or ``block`` when key restrictions are enforced, else blank."""
    aaguids: frozenset[str] = frozenset()

    def refusal(self, aaguid: str, in_metadata: bool) -> str | None:
        """Why this profile refuses a key of ``aaguid`` (None: it takes it)."""
        where = f"{self.name!r}" if self.name != LEGACY_NAME else self.name
        if not self.device_bound:
            return f"{where} allows no device-bound passkeys (security keys)"
        if self.restriction == "allow" and aaguid not in self.aaguids:
            return f"{where} allows only listed AAGUIDs (key restrictions), not {aaguid}"
        if self.restriction == "block" and aaguid in self.aaguids:
            return f"{where} blocks AAGUID {aaguid} (key restrictions)"
        if self.attestation and not in_metadata:
            return (
                f"{where} enforces attestation and AAGUID {aaguid} is not in the kiosk's FIDO "
                "metadata, so Entra cannot verify it"
            )
        return None


@dataclass(frozen=True)
class Target:
    id: str
    profiles: tuple[str, ...] = ()


@dataclass(frozen=True)
class PasskeyPolicy:
    enabled: bool
    self_service: bool
    include: tuple[Target, ...]
    exclude: tuple[str, ...]
    profiles: tuple[Profile, ...]
    uses_profiles: bool
    attestation_anywhere: bool = field(default=False)

    def profiles_for(self, target: Target) -> list[Profile]:
        if not self.uses_profiles:
            return list(self.profiles)
        return [p for p in self.profiles if p.id in target.profiles]


def _text(value: object, limit: int = 100) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _list(value: object) -> list[Any]:
    return list(value[:MAX_ITEMS]) if isinstance(value, list) else []


def _restrictions(data: object) -> tuple[str, frozenset[str]]:
    if not isinstance(data, Mapping) or data.get("isEnforced") is not True:
        return "", frozenset()
    kind = _text(data.get("enforcementType")).lower()
    aaguids = frozenset(_text(a, 40).lower() for a in _list(data.get("aaGuids")))
    return (kind if kind in ("allow", "block") else "allow"), aaguids


def parse_policy(data: Mapping[str, Any]) -> PasskeyPolicy:
    """Graph's configuration object (either shape) as a :class:`PasskeyPolicy`."""
    raw_profiles = data.get("passkeyProfiles")
    uses_profiles = isinstance(raw_profiles, list) and bool(raw_profiles)
    profiles: list[Profile] = []
    if uses_profiles:
        for item in _list(raw_profiles):
            if not isinstance(item, Mapping):
                continue
            kind, aaguids = _restrictions(item.get("keyRestrictions"))
            types = _text(item.get("passkeyTypes"), 200).replace(" ", "").lower().split(",")
            profiles.append(Profile(
                name=_text(item.get("name")) or _text(item.get("id")) or "unnamed profile",
                id=_text(item.get("id")),
                device_bound="devicebound" in types,
                attestation=_text(item.get("attestationEnforcement")).lower()
                not in ("", "disabled"),
                restriction=kind,
                aaguids=aaguids,
            ))
    else:
        kind, aaguids = _restrictions(data.get("keyRestrictions"))
        profiles.append(Profile(
            name=LEGACY_NAME,
            attestation=data.get("isAttestationEnforced") is True,
            restriction=kind,
            aaguids=aaguids,
        ))
    include = tuple(
        Target(
            _text(t.get("id")),
            tuple(_text(p) for p in _list(t.get("allowedPasskeyProfiles"))),
        )
        for t in _list(data.get("includeTargets"))
        if isinstance(t, Mapping)
    )
    exclude = tuple(
        _text(t.get("id")) for t in _list(data.get("excludeTargets")) if isinstance(t, Mapping)
    )
    return PasskeyPolicy(
        enabled=_text(data.get("state")).lower() == "enabled",
        self_service=data.get("isSelfServiceRegistrationAllowed") is not False,
        include=include,
        exclude=exclude,
        profiles=tuple(profiles),
        uses_profiles=uses_profiles,
        attestation_anywhere=any(p.attestation for p in profiles),
    )


@dataclass(frozen=True)
class Verdict:
    problems: tuple[str, ...]
    """What blocks enrollment (each names the policy setting)."""
    warnings: tuple[str, ...]
    fine: tuple[str, ...]


def _targets(
    policy: PasskeyPolicy,
    group: tuple[str, str] | None,
    problems: list[str],
    warnings: list[str],
    fine: list[str],
) -> list[Target]:
    """The include targets that apply to ``group`` (all of them when it is not known)."""
    if group is None:
        return list(policy.include)
    gid, name = group
    if gid in policy.exclude:
        problems.append(f"Group {name!r} is excluded from the passkey (FIDO2) policy.")
    targets = [t for t in policy.include if t.id in (ALL_USERS, gid)]
    if targets:
        fine.append(f"FIDO2 is enabled for group {name!r}")
        return targets
    named = ", ".join(t.id for t in policy.include[:5]) or "no group"
    warnings.append(
        f"The passkey (FIDO2) policy targets {named}, not group {name!r}: its users can only "
        "be enrolled if they are members of a targeted group."
    )
    return list(policy.include)


def judge(
    policy: PasskeyPolicy,
    group: tuple[str, str] | None,
    aaguids: Iterable[str],
    in_metadata: Iterable[str] = (),
) -> Verdict:
    """What the policy means for enrolling ``group`` (id, name; None: not configured) with
    keys of ``aaguids`` (the kiosk's allowed list or the models in its inventory)."""
    problems: list[str] = []
    warnings: list[str] = []
    fine: list[str] = []
    if not policy.enabled:
        problems.append("The passkey (FIDO2) method is disabled in the tenant's policy.")
    if not policy.self_service:
        problems.append(
            "'Allow self-service set up' (isSelfServiceRegistrationAllowed) is off: Graph's "
            "provisioning API needs it on (a known issue Microsoft documents)."
        )
    targets = _targets(policy, group, problems, warnings, fine)
    profiles = {p for t in targets for p in policy.profiles_for(t)}
    if policy.uses_profiles and targets and not profiles:
        problems.append("No passkey profile is allowed for the group's target in the policy.")
    known = {a.lower() for a in in_metadata}
    keys = sorted({a.strip().lower() for a in aaguids if a.strip()})
    for aaguid in keys:
        reasons = [r for p in sorted(profiles, key=lambda p: p.name)
                   if (r := p.refusal(aaguid, aaguid in known))]
        if profiles and len(reasons) == len(profiles):
            problems.append(f"Keys of AAGUID {aaguid} would be refused: {'; '.join(reasons)}.")
    if not keys and any(p.restriction for p in profiles):
        warnings.append(
            "The policy restricts AAGUIDs, and the kiosk accepts any key: set "
            "policy.allowed_aaguids to the models the policy allows."
        )
    if any(p.attestation for p in profiles):
        fine.append("attestation is enforced")
    if keys and not problems:
        fine.append(f"{len(keys)} key model(s) pass its restrictions")
    return Verdict(tuple(problems), tuple(warnings), tuple(fine))


def explain_refusal(policy: PasskeyPolicy, aaguid: str, in_metadata: bool) -> str | None:
    """The policy rules that refuse a key of ``aaguid``, when every profile refuses it."""
    verdict = judge(policy, None, [aaguid], [aaguid] if in_metadata else [])
    return " ".join(verdict.problems) or None


class PolicySource(Protocol):
    def fido2_policy(self) -> PasskeyPolicy: ...
    def find_group(self, name_or_id: str) -> Group: ...


def assess(
    source: PolicySource, group: str, aaguids: Iterable[str], in_metadata: Iterable[str]
) -> Verdict:
    """Read the policy (a :class:`KioskError` when it cannot be read, e.g. a 403 without
    Policy.Read.AuthenticationMethod) and judge it for ``group`` (a name or id; one Graph
    cannot find is judged as not known) and the kiosk's key models."""
    policy = source.fido2_policy()
    found = None
    if group:
        try:
            g = source.find_group(group)
            found = (g.id, g.display_name)
        except KioskError:
            pass
    return judge(policy, found, aaguids, in_metadata)


def verdict_lines(verdict: Verdict) -> list[str]:
    """The verdict for a screen: what blocks (✘), what to watch (!), what is fine (✔)."""
    lines = [f"✘ {p}" for p in verdict.problems] + [f"! {w}" for w in verdict.warnings]
    return lines + [f"✔ {f}" for f in verdict.fine] or ["✔ nothing in it blocks enrollment"]


def policy_lines(
    source: PolicySource, group: str, aaguids: Iterable[str], in_metadata: Iterable[str]
) -> list[str]:
    """:func:`assess` as :func:`verdict_lines`; a missing permission said as such (the admin
    screen's passkey policy)."""
    try:
        verdict = assess(source, group, aaguids, in_metadata)
    except GraphPermissionError:
        return [
            f"! The kiosk app may not read the passkey policy: grant it the application "
            f"permission {POLICY_READ} (with admin consent) to see it here."
        ]
    return verdict_lines(verdict)
