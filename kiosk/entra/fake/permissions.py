"""Which application permission each Graph route of the fake tenant needs."""

from __future__ import annotations

from kiosk.entra.fake.tokens import IssuedToken
from kiosk.entra.fake.wire import GraphError

ROUTE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "user": ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All"),
    "groups": ("GroupMember.Read.All", "Group.Read.All", "Directory.Read.All"),
    "group": ("GroupMember.Read.All", "Group.Read.All", "Directory.Read.All"),
    "members": ("GroupMember.Read.All", "Group.Read.All", "Directory.Read.All"),
    **dict.fromkeys(
        ("creation_options", "register", "list_methods", "get_method", "delete_method"),
        ("UserAuthMethod-Passkey.ReadWrite.All", "UserAuthenticationMethod.ReadWrite.All"),
    ),
    "fido2_policy": (
        "Policy.Read.AuthenticationMethod", "Policy.Read.All",
        "Policy.ReadWrite.AuthenticationMethod",
    ),
}
"""The application permissions (any one) each route needs, as Graph's permission tables say."""


def check_roles(route: str, token: IssuedToken) -> None:
    """A 403 as Graph answers it when the token holds none of the permissions ``route`` needs."""
    needed = ROUTE_PERMISSIONS.get(route, ())
    if needed and not token.roles.intersection(needed):
        raise GraphError(
            403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
        )
