"""The fake tenant's directory: users, groups, other objects, FIDO2 methods and challenges.

Everything is guarded by one lock, so tests and the demo can inspect it (``methods_of``,
``challenges_of``) while the server answers requests on other threads.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from kiosk.entra.fake.wire import utcnow


@dataclass(frozen=True)
class DirectoryUser:
    id: str
    user_principal_name: str
    display_name: str
    mail: str | None = None
    given_name: str | None = None
    surname: str | None = None
    job_title: str | None = None
    user_type: str = "Member"
    account_enabled: bool = True
    postal: dict[str, str | None] = field(default_factory=dict)
    """Graph's address and office properties (streetAddress, city, state, postalCode,
    country, officeLocation, companyName, department); absent ones read as null."""

    def to_graph(self) -> dict[str, object]:
        return {
            "@odata.type": "#microsoft.graph.user",
            "id": self.id,
            "businessPhones": [],
            "displayName": self.display_name,
            "givenName": self.given_name,
            "jobTitle": self.job_title,
            "mail": self.mail,
            "mobilePhone": None,
            "officeLocation": self.postal.get("officeLocation"),
            "preferredLanguage": None,
            "surname": self.surname,
            "userPrincipalName": self.user_principal_name,
            "userType": self.user_type,
            "accountEnabled": self.account_enabled,
        }


POSTAL_PROPERTIES = (
    "streetAddress", "city", "state", "postalCode", "country", "officeLocation", "companyName",
    "department",
)
_CITIES = (("Sydney", "NSW", "2000", "Australia"), ("Toronto", "ON", "M5H 2N2", "Canada"),
           ("Leeds", None, "LS1 4AP", "United Kingdom"), ("Lyon", None, "69002", "France"))


def made_up_address(upn: str) -> dict[str, str | None]:
    """A plausible address and office for a fake user, the same for the same UPN."""
    n = sum(upn.encode()) % 97
    city, state, postcode, country = _CITIES[n % len(_CITIES)]
    return {
        "streetAddress": f"{n + 1} Harbour Road", "city": city, "state": state,
        "postalCode": postcode, "country": country,
        "officeLocation": f"Building {n % 5 + 1}, floor {n % 3 + 1}",
        "companyName": "Contoso", "department": ("Finance", "Sales", "IT")[n % 3],
    }


DEFAULT_USER_PROPERTIES = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)
"""What Graph returns for a user when no ``$select`` is given."""


@dataclass(frozen=True)
class DirectoryObject:
    """A non-user, non-group member: a device, a service principal, an org contact."""

    id: str
    odata_type: str
    display_name: str

    def to_graph(self) -> dict[str, object]:
        return {"@odata.type": self.odata_type, "id": self.id, "displayName": self.display_name}


@dataclass
class DirectoryGroup:
    id: str
    display_name: str
    members: list[str] = field(default_factory=list)
    """Direct member ids: users, nested groups, other directory objects."""
    description: str | None = None

    def to_graph(self) -> dict[str, object]:
        return {
            "@odata.type": "#microsoft.graph.group",
            "id": self.id,
            "displayName": self.display_name,
            "description": self.description,
            "mailEnabled": False,
            "securityEnabled": True,
            "groupTypes": [],
        }


@dataclass(frozen=True)
class MethodRecord:
    """One registered FIDO2 method, as the fake keeps it."""

    id: str
    """The method id Graph shows (an encoding of the credential id; flavours vary)."""
    user_id: str
    credential_id: bytes
    display_name: str
    aaguid: str
    model: str | None
    attestation_level: str
    attestation_format: str
    attestation_certificates: tuple[str, ...]
    created: datetime
    public_key: bytes
    """The COSE public key (CBOR), as in the attested credential data."""


@dataclass
class Challenge:
    value: bytes
    user_id: str
    issued_at: datetime
    expires_at: datetime
    used: bool = False


@dataclass(frozen=True)
class AppRegistration:
    client_id: str
    display_name: str
    secrets: tuple[tuple[str, datetime], ...] = ()
    """(secret value, expiry) pairs the token endpoint accepts until they expire."""
    certificates: tuple[bytes, ...] = ()
    """DER of every registered certificate credential."""
    admin_consent: bool = True
    roles: tuple[str, ...] = (
        "UserAuthMethod-Passkey.ReadWrite.All",
        "User.Read.All",
        "GroupMember.Read.All",
        "Policy.Read.AuthenticationMethod",
    )
    """Application permissions granted (with consent): the ``roles`` of its tokens."""


class TenantState:
    """The directory of one fake tenant. Safe to use from many threads."""

    def __init__(self, tenant_id: str, domain: str) -> None:
        self.tenant_id = tenant_id
        self.domain = domain
        self.lock = threading.RLock()
        self.users: dict[str, DirectoryUser] = {}
        self._by_upn: dict[str, str] = {}
        self.groups: dict[str, DirectoryGroup] = {}
        self.objects: dict[str, DirectoryObject] = {}
        self.methods: dict[str, list[MethodRecord]] = {}
        self.challenges: dict[bytes, Challenge] = {}
        self.apps: dict[str, AppRegistration] = {}
        self.id_spelling = "mixed"
        """How Graph spells credential and method ids here: one of
        :data:`~kiosk.entra.fake.options.ID_SPELLINGS`, or "mixed" (each id one of them)."""
        self.user_spellings: dict[str, str] = {}
        """Per-user exceptions to :attr:`id_spelling` (tests mix spellings in one tenant)."""
        self._version = 0
        self._flat_cache: dict[str, tuple[int, list[str]]] = {}

    # ---- seeding -------------------------------------------------------------------------
    def add_user(
        self,
        upn: str,
        display_name: str = "",
        *,
        user_id: str | None = None,
        mail: str | None = None,
        user_type: str = "Member",
        postal: dict[str, str | None] | None = None,
    ) -> DirectoryUser:
        """A user; ``postal`` gives Graph's address properties (default: a made-up address
        and office derived from the UPN; ``{}`` for none)."""
        local = upn.split("@", 1)[0]
        given, _, surname = (display_name or local).partition(" ")
        user = DirectoryUser(
            id=user_id or str(uuid.uuid4()),
            user_principal_name=upn,
            display_name=display_name or local,
            mail=mail if mail is not None else (None if "#EXT#" in upn else upn),
            given_name=given or None,
            surname=surname or None,
            user_type=user_type,
            postal=made_up_address(upn) if postal is None else dict(postal),
        )
        with self.lock:
            if upn.lower() in self._by_upn:
                raise ValueError(f"a user with UPN {upn} exists already")
            self.users[user.id] = user
            self._by_upn[upn.lower()] = user.id
            self.methods.setdefault(user.id, [])
            self._version += 1
        return user

    def add_guest(self, email: str, display_name: str = "") -> DirectoryUser:
        """A B2B guest: UPN ``alice_example.com#EXT#@<tenant domain>``."""
        upn = email.replace("@", "_") + "#EXT#@" + self.domain
        return self.add_user(upn, display_name, mail=email, user_type="Guest")

    def add_object(self, odata_type: str, display_name: str) -> DirectoryObject:
        obj = DirectoryObject(str(uuid.uuid4()), odata_type, display_name)
        with self.lock:
            self.objects[obj.id] = obj
            self._version += 1
        return obj

    def add_device(self, display_name: str) -> DirectoryObject:
        return self.add_object("#microsoft.graph.device", display_name)

    def add_service_principal(self, display_name: str) -> DirectoryObject:
        return self.add_object("#microsoft.graph.servicePrincipal", display_name)

    def add_group(
        self,
        name: str,
        members: Iterable[DirectoryUser | DirectoryGroup | DirectoryObject | str] = (),
        *,
        group_id: str | None = None,
    ) -> DirectoryGroup:
        group = DirectoryGroup(group_id or str(uuid.uuid4()), name)
        with self.lock:
            self.groups[group.id] = group
            self._version += 1
        self.add_members(group, members)
        return group

    def add_members(
        self,
        group: DirectoryGroup | str,
        members: Iterable[DirectoryUser | DirectoryGroup | DirectoryObject | str],
    ) -> None:
        gid = group if isinstance(group, str) else group.id
        with self.lock:
            target = self.groups[gid]
            for m in members:
                mid = m if isinstance(m, str) else m.id
                if mid not in self.users and mid not in self.groups and mid not in self.objects:
                    raise KeyError(f"no directory object {mid}")
                if mid not in target.members:
                    target.members.append(mid)
            self._version += 1

    def add_app(self, app: AppRegistration) -> None:
        with self.lock:
            self.apps[app.client_id] = app

    def update_app(self, client_id: str, **changes: object) -> AppRegistration:
        with self.lock:
            app = replace(self.apps[client_id], **changes)  # type: ignore[arg-type]
            self.apps[client_id] = app
            return app

    # ---- lookups -------------------------------------------------------------------------
    def find_user(self, id_or_upn: str) -> DirectoryUser | None:
        with self.lock:
            user = self.users.get(id_or_upn.lower()) or self.users.get(id_or_upn)
            if user is None and id_or_upn.lower() in self._by_upn:
                user = self.users[self._by_upn[id_or_upn.lower()]]
            return user

    def user_by_upn(self, upn: str) -> DirectoryUser:
        user = self.find_user(upn)
        if user is None:
            raise KeyError(upn)
        return user

    def find_groups_by_name(self, name: str) -> list[DirectoryGroup]:
        with self.lock:
            return [g for g in self.groups.values() if g.display_name.lower() == name.lower()]

    def transitive_member_ids(self, group_id: str, *, users_only: bool = False) -> list[str]:
        """Every member of the group and of its nested groups (nested groups included), once,
        in a stable order; only users if ``users_only``. Cached until the directory changes."""
        key = group_id + ("/users" if users_only else "")
        with self.lock:
            cached = self._flat_cache.get(key)
            if cached and cached[0] == self._version:
                return cached[1]
            if users_only:
                ids = self.transitive_member_ids(group_id)
                users = [i for i in ids if i in self.users]
                self._flat_cache[key] = (self._version, users)
                return users
            seen: set[str] = {group_id}
            out: list[str] = []
            stack = list(reversed(self.groups[group_id].members))
            while stack:
                mid = stack.pop()
                if mid in seen:
                    continue
                seen.add(mid)
                out.append(mid)
                if mid in self.groups:
                    stack.extend(reversed(self.groups[mid].members))
            self._flat_cache[group_id] = (self._version, out)
            return out

    def directory_object(self, oid: str) -> DirectoryUser | DirectoryGroup | DirectoryObject:
        with self.lock:
            return self.users.get(oid) or self.groups.get(oid) or self.objects[oid]

    # ---- methods and challenges ---------------------------------------------------------
    def spelling_for(self, user_id: str) -> str:
        """The id spelling used for this user's credential and method ids."""
        with self.lock:
            return self.user_spellings.get(user_id, self.id_spelling)

    def methods_of(self, user: str | DirectoryUser) -> list[MethodRecord]:
        """The FIDO2 methods registered for a user (by id, UPN or object)."""
        uid = user.id if isinstance(user, DirectoryUser) else user
        found = self.find_user(uid)
        with self.lock:
            return list(self.methods.get(found.id if found else uid, []))

    def all_methods(self) -> list[MethodRecord]:
        with self.lock:
            return [m for ms in self.methods.values() for m in ms]

    def method_by_credential_id(self, credential_id: bytes) -> MethodRecord | None:
        with self.lock:
            for m in self.all_methods():
                if m.credential_id == credential_id:
                    return m
        return None

    def add_method(self, record: MethodRecord) -> None:
        with self.lock:
            self.methods.setdefault(record.user_id, []).append(record)

    def delete_method(self, user_id: str, method_id: str) -> bool:
        with self.lock:
            methods = self.methods.get(user_id, [])
            for i, m in enumerate(methods):
                if m.id == method_id:
                    del methods[i]
                    return True
        return False

    def issue_challenge(self, value: bytes, user_id: str, lifetime: timedelta) -> Challenge:
        now = utcnow()
        challenge = Challenge(value, user_id, now, now + lifetime)
        with self.lock:
            if len(self.challenges) >= 10_000:
                # A long demo must not grow without bound: forget challenges that died an
                # hour ago or more (an answer to one of those is "not issued" either way).
                stale = now - timedelta(hours=1)
                for key in [k for k, c in self.challenges.items() if c.expires_at < stale]:
                    del self.challenges[key]
            self.challenges[value] = challenge
        return challenge

    def challenges_of(self, user_id: str) -> list[Challenge]:
        with self.lock:
            return [c for c in self.challenges.values() if c.user_id == user_id]

    def expire_challenges(self, user_id: str | None = None) -> None:
        """Make issued challenges expire now (for tests of challenge expiry)."""
        with self.lock:
            for c in self.challenges.values():
                if user_id is None or c.user_id == user_id:
                    c.expires_at = utcnow() - timedelta(seconds=1)
