"""What the engine needs from its collaborators, as structural protocols.

The real objects (``kiosk.entra.GraphClient``, ``kiosk.enroll.escrow.EscrowStore``) satisfy
these; the engine is built with them injected, never with stand-ins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

from kiosk.entra.errors import AuthError, GraphError
from kiosk.entra.models import CreationOptions, Fido2Method, Group, User
from kiosk.entra.passkey_policy import PasskeyPolicy
from kiosk.errors import KioskError
from kiosk.model.keys import CreatedCredential


class Graph(Protocol):
    def get_user(self, upn_or_id: str) -> User: ...
    def get_users(
        self, upns_or_ids: Sequence[str], *, progress: Callable[[int], bool] | None = None
    ) -> Mapping[str, User | KioskError]: ...
    def find_group(self, name_or_id: str) -> Group: ...
    def iter_group_users(self, group_id: str) -> Iterable[User]: ...
    def creation_options(self, user_id: str) -> CreationOptions: ...
    def register_fido2_method(
        self, user_id: str, display_name: str, credential: CreatedCredential
    ) -> Fido2Method: ...
    def list_fido2_methods(self, user_id: str) -> Sequence[Fido2Method]: ...
    def delete_fido2_method(self, user_id: str, method_id: str) -> None: ...
    def fido2_policy(self) -> PasskeyPolicy: ...


ENTRA_ERRORS = (GraphError, AuthError)
"""What a Graph call can raise that the operator must see: Graph's answer, or the sign-in."""
EntraError = GraphError | AuthError
