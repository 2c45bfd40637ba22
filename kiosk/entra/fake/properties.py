"""The properties the fake tenant returns of a directory object, as Graph does: a default set,
or exactly what ``$select`` names."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kiosk.entra.fake.state import DEFAULT_USER_PROPERTIES, POSTAL_PROPERTIES, DirectoryUser


def select_properties(
    obj: dict[str, Any], select: Sequence[str] | None, keep_type: bool
) -> dict[str, Any]:
    """``obj`` cut to ``$select`` (all of it without one); ``@odata.type`` kept if asked."""
    if select is None:
        return obj
    out = {k: obj[k] for k in select if k in obj}
    if keep_type and "@odata.type" in obj:
        out = {"@odata.type": obj["@odata.type"], **out}
    return out


def _postal(name: str) -> Callable[[DirectoryUser], Any]:
    return lambda u: u.postal.get(name)


_USER_GETTERS: dict[str, Callable[[DirectoryUser], Any]] = {
    "id": lambda u: u.id,
    "userPrincipalName": lambda u: u.user_principal_name,
    "displayName": lambda u: u.display_name,
    "mail": lambda u: u.mail,
    "givenName": lambda u: u.given_name,
    "surname": lambda u: u.surname,
    "jobTitle": lambda u: u.job_title,
    "userType": lambda u: u.user_type,
    "accountEnabled": lambda u: u.account_enabled,
    "businessPhones": lambda u: [],
    "mobilePhone": lambda u: None,
    "preferredLanguage": lambda u: None,
    **{name: _postal(name) for name in POSTAL_PROPERTIES},
}
USER_PROPERTIES = frozenset(_USER_GETTERS)


def user_properties(user: DirectoryUser, select: Sequence[str] | None) -> dict[str, Any]:
    """The user as Graph returns it: the default property set, or exactly ``$select``."""
    wanted = DEFAULT_USER_PROPERTIES if select is None else select
    return {k: _USER_GETTERS[k](user) for k in wanted if k in _USER_GETTERS}
