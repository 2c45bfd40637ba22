"""Typed Microsoft Graph calls the kiosk needs: users, groups, creation options, FIDO2 methods.

Every call goes through :class:`~kiosk.entra.http.GraphHttp` (token, timeout, retries,
timings) and returns :mod:`kiosk.entra.models` types. Graph's answers are checked before use:
an answer that is not JSON, has the wrong content type, was cut short or lacks the fields we
need raises :class:`~kiosk.entra.errors.GraphResponseError`, never a ``KeyError``.

Registering a method is the one call that must not simply be sent again: if its answer is lost,
:meth:`GraphClient.register_fido2_method` looks for the credential in the user's method list
first (see :func:`find_registered`), so a credential is never registered twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Sequence
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

import requests

from kiosk.config import Settings
from kiosk.entra.batch import BatchGetter, Progress, one_by_one, user_from_answer
from kiosk.entra.calls import GraphCalls
from kiosk.entra.errors import (
    AuthError,
    GraphError,
    GraphNotFoundError,
    GraphRequestError,
    GraphResponseError,
    LostResponseError,
)
from kiosk.entra.graph_data import (
    challenge_expiry,
    find_registered,
    looks_like_guid,
    odata_string,
    parse_group,
    parse_method,
    parse_user,
    query_string,
    user_path,
)
from kiosk.entra.graph_reader import GraphReader
from kiosk.entra.http import GraphHttp, RetryPolicy, TokenSource, make_session
from kiosk.entra.models import POSTAL_FIELDS, CreationOptions, Fido2Method, Group, User
from kiosk.entra.passkey_policy import POLICY_PATH, PasskeyPolicy, parse_policy
from kiosk.errors import KioskError
from kiosk.model.keys import CreatedCredential
from kiosk.model.timing import Timing

log = logging.getLogger(__name__)

USER_SELECT = (
    "id,userPrincipalName,displayName,mail,"
    + ",".join(POSTAL_FIELDS)  # addresses for shipping labels (kiosk.paper)
)
PAGE_SIZE = 999
DISPLAY_NAME_MAX = 30
V1_CHALLENGE_MINUTES = 5

__all__ = [
    "GraphClient",
    "find_registered",
    "looks_like_guid",
    "odata_string",
    "parse_method",
    "parse_user",
    "query_string",
    "user_path",
]


class GraphClient(GraphReader):
    """The Graph calls of the kiosk, typed."""

    def __init__(
        self,
        settings: Settings,
        token_provider: TokenSource,
        session: requests.Session | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_timing: Callable[[Timing], None] | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.api = settings.graph.creation_options_api
        self.session = session or make_session(settings.tenant, settings.graph)
        self.policy = policy or RetryPolicy.from_settings(settings.graph)
        self.now = now
        self.sleep = sleep
        self.batching = True
        """:meth:`get_users` uses Graph's JSON batching (off: one GET per user)."""
        http = GraphHttp(
            self.session,
            token_provider,
            self.policy,
            sleep=sleep,
            now=now,
            on_timing=on_timing,
            timeout=settings.graph.timeout_seconds,
            call_deadline=settings.graph.call_deadline_seconds,
        )
        super().__init__(settings.tenant.graph_url.rstrip("/"), http)

    # ---------------------------------------------------------------- users and groups

    def get_user(self, upn_or_id: str) -> User:
        """One user by object id or UPN (guest UPNs with ``#EXT#`` included)."""
        if not upn_or_id.strip():
            raise KioskError("No user given.", title="Which user?", next_step="Type a UPN.")
        what = f"Looking up user {upn_or_id.strip()}"
        url = self._url(user_path(upn_or_id)) + query_string({"$select": USER_SELECT})
        return parse_user(self._get_json(url, what), what)

    def get_users(
        self, upns_or_ids: Sequence[str], *, progress: Progress | None = None
    ) -> dict[str, User | KioskError]:
        """Many users by object id or UPN: ``{as given: the user, or why not}``.

        Unknown users are a :class:`GraphNotFoundError`, as :meth:`get_user` raises it.
        With :attr:`batching` (the default), 20 lookups go in each ``$batch`` round trip,
        several batches at once (:mod:`kiosk.entra.batch`); without it, one GET each,
        :data:`~kiosk.entra.batch.UNBATCHED_WORKERS` at a time. ``progress`` is told how many
        lookups are answered so far; when it returns False, no more are sent and the users
        not looked up yet are missing from the answer.
        """
        keys = list(dict.fromkeys(upns_or_ids))
        out: dict[str, User | KioskError] = {}
        lookups: list[tuple[str, str]] = []
        for key in keys:
            if key.strip():
                select = query_string({"$select": USER_SELECT})
                lookups.append((key, "/" + user_path(key) + select))
            else:
                out[key] = KioskError(
                    "No user given.", title="Which user?", next_step="Type a UPN."
                )
        if not self.batching:
            out.update(one_by_one(self._user_or_error, [k for k, _url in lookups], progress))
            return out
        getter = BatchGetter(
            self.http,
            self._url("$batch"),
            urlsplit(self._url("")).path,
            sleep=self.sleep,
            now=self.now,
        )
        for key, answer in getter.get_all(lookups, "Looking up users", progress).items():
            out[key] = user_from_answer(key, answer)
        return out

    def _user_or_error(self, key: str) -> User | KioskError:
        try:
            return self.get_user(key)
        except (GraphError, AuthError) as exc:
            return exc

    def find_group(self, name_or_id: str) -> Group:
        """A group by object id (if it looks like a GUID) or by exact display name."""
        text = name_or_id.strip()
        if not text:
            raise KioskError("No group given.", title="Which group?", next_step="Type its name.")
        if looks_like_guid(text):
            what = f"Looking up group {text}"
            data = self._get_json(
                self._url("groups/" + quote(text)) + query_string({"$select": "id,displayName"}),
                what,
            )
            return parse_group(data, what)
        what = f"Finding group {text!r}"
        url = self._url("groups") + query_string(
            {"$filter": f"displayName eq {odata_string(text)}", "$select": "id,displayName"}
        )
        found = [parse_group(g, what) for page in self._pages(url, what) for g in page]
        if not found:
            raise GraphNotFoundError(
                f"No group is named {text!r}.",
                next_step="Check the group's name in Entra ID, or give its object id.",
            )
        if len(found) > 1:
            ids = ", ".join(g.id for g in found[:5])
            raise GraphError(
                f"{len(found)} groups are named {text!r} ({ids}).",
                title="More than one group has this name",
                next_step="Give the group's object id instead of its name.",
            )
        return found[0]

    def iter_group_users(self, group_id: str) -> Generator[User, None, None]:
        """Every user in the group, nested groups included; other members skipped.

        A generator over one page at a time: memory stays flat however large the group is.
        The members are listed without an OData cast (``/microsoft.graph.user``), which Graph
        serves only as an advanced query (``ConsistencyLevel: eventual``, from an index that
        can lag recent changes): a user added to the group a minute ago is listed too, and
        devices, groups and other objects are skipped here by their ``@odata.type``.
        """
        what = f"Listing members of group {group_id}"
        url = self._url(
            f"groups/{quote(group_id.strip(), safe='')}/transitiveMembers"
        ) + query_string({"$select": USER_SELECT, "$top": str(PAGE_SIZE)})
        for page in self._pages_ahead(url, what):
            for item in page:
                if not isinstance(item, dict):
                    continue
                kind = item.get("@odata.type")
                if kind is not None and kind != "#microsoft.graph.user":
                    continue
                yield parse_user(item, what)

    # ---------------------------------------------------------------- FIDO2 methods

    def _methods_path(self, user_id: str) -> str:
        return f"{user_path(user_id)}/authentication/fido2Methods"

    def creation_options(self, user_id: str) -> CreationOptions:
        """WebAuthn creation options for ``user_id``, challenge lifetime per the settings."""
        what = f"Getting creation options for {user_id}"
        if self.api == "beta":
            minutes = self.settings.graph.challenge_timeout_minutes
            path = (
                f"{self._methods_path(user_id)}/creationOptions"
                f"(challengeTimeoutInMinutes={minutes})"
            )
        else:
            minutes = V1_CHALLENGE_MINUTES
            path = f"{self._methods_path(user_id)}/creationOptions"
        sent_at = self.now()
        with GraphCalls() as fetch:
            data = self._get_json(self._url(path, self.api), what)
        body = data.get("value", data) if "publicKey" not in data else data
        if not isinstance(body, dict):
            raise GraphResponseError(f"{what}: the creation options are not a JSON object.")
        public_key = body.get("publicKey")
        if not isinstance(public_key, dict) or not isinstance(public_key.get("challenge"), str):
            raise GraphResponseError(f"{what}: the answer has no publicKey with a challenge.")
        user = public_key.get("user")
        if not isinstance(user, dict) or not isinstance(user.get("id"), str):
            raise GraphResponseError(f"{what}: the answer's publicKey has no user id.")
        return CreationOptions(
            user_id=user_id,
            public_key=public_key,
            challenge_expires_at=challenge_expiry(body, sent_at, minutes, what),
            graph_calls=tuple(fetch.calls),
        )

    def fido2_policy(self) -> PasskeyPolicy:
        """The tenant's passkey (FIDO2) policy (needs Policy.Read.AuthenticationMethod)."""
        what = "Reading the tenant's passkey (FIDO2) policy"
        return parse_policy(self._get_json(self._url(POLICY_PATH), what))

    def list_fido2_methods(self, user_id: str) -> list[Fido2Method]:
        what = f"Listing FIDO2 methods of {user_id}"
        url = self._url(self._methods_path(user_id), self.api)
        return [
            parse_method(m, what)
            for page in self._pages(url, what)
            for m in page
            if isinstance(m, dict)
        ]

    def delete_fido2_method(self, user_id: str, method_id: str) -> None:
        what = f"Deleting FIDO2 method {method_id} of {user_id}"
        url = self._url(f"{self._methods_path(user_id)}/{quote(method_id, safe='')}", self.api)
        self.http.request("DELETE", url, what=what, replay_safe=False)  # lost: caller lists

    def register_fido2_method(
        self, user_id: str, display_name: str, credential: CreatedCredential
    ) -> Fido2Method:
        """Register ``credential`` for ``user_id``; never twice, even if an answer is lost.

        When an answer is lost (see :class:`LostResponseError`) the user's methods are listed
        before the request goes again; if it went through, that method is returned. If a later
        attempt is refused (Graph may refuse a challenge it has already seen, and a directory
        read can lag a write), the list is read once more before giving up.
        """
        if len(display_name) > DISPLAY_NAME_MAX:
            raise ValueError("display_name is longer than 30 characters; use make_display_name")
        what = f"Registering the security key for {user_id}"
        url = self._url(self._methods_path(user_id), self.api)
        body = {
            "displayName": display_name,
            "publicKeyCredential": credential.public_key_credential(),
        }
        first_sent = self.now()
        maybe_registered = False
        attempt = 0
        while True:
            attempt += 1
            try:
                resp = self.http.request("POST", url, what=what, json_body=body, replay_safe=False)
            except LostResponseError as lost:
                log.warning("%s: %s; checking whether it was registered", what, lost.detail)
                maybe_registered = True
                self.sleep(self.policy.delay(attempt))
                found = self._find(user_id, credential, display_name, first_sent)
                if found is not None:
                    return found
                if attempt > self.policy.max_retries:
                    raise
                continue
            except (GraphRequestError, GraphNotFoundError):
                if maybe_registered:
                    found = self._find(user_id, credential, display_name, first_sent)
                    if found is not None:
                        return found
                raise
            try:
                return parse_method(self._json(resp, what), what)
            except GraphResponseError:
                # Graph took it (2xx) but the answer is unreadable: find the method instead.
                found = self._find(user_id, credential, display_name, first_sent)
                if found is None:
                    raise
                return found

    def _find(
        self, user_id: str, credential: CreatedCredential, display_name: str, sent_at: datetime
    ) -> Fido2Method | None:
        found = find_registered(self.list_fido2_methods(user_id), credential, display_name, sent_at)
        if found is not None:
            log.info(
                "The credential is registered already (method %s); not sending it again", found.id
            )
        return found
