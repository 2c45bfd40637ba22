"""The Microsoft Graph endpoints the kiosk uses, for ``v1.0`` and ``beta``.

Paths are relative to the fake's Graph base URL (``https://127.0.0.1:PORT/graph``). Each path
segment is percent-decoded on its own, so a UPN with ``#EXT#`` must arrive as ``%23EXT%23``
and a method id with ``/`` as ``%2F``, as with the real service.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import struct
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from kiosk.entra.fake.options import MAX_TIMEOUT_MINUTES, MIN_TIMEOUT_MINUTES, OptionsFactory
from kiosk.entra.fake.properties import USER_PROPERTIES, select_properties, user_properties
from kiosk.entra.fake.state import (
    DirectoryGroup,
    DirectoryUser,
    TenantState,
)
from kiosk.entra.fake.verify import RegistrationVerifier, method_to_graph
from kiosk.entra.fake.wire import GRAPH_JSON, GraphError, Request, Response

VERSIONS = ("v1.0", "beta")
POLICY_PATH = ("policies", "authenticationMethodsPolicy", "authenticationMethodConfigurations")
MAX_TOP = 999
_FILTER = re.compile(r"^\s*displayName\s+eq\s+'((?:[^']|'')*)'\s*$")
_OPTIONS = re.compile(r"^creationOptions(?:\(challengeTimeoutInMinutes=([^)]*)\))?$")

Handler = Callable[[], Response]
log = logging.getLogger(__name__)

SYSTEM_OPTIONS = frozenset(
    {"$select", "$filter", "$top", "$skiptoken", "$count", "$orderby", "$expand", "$search",
     "$skip", "$format"}
)
"""OData system query options Graph knows; another ``$`` option is refused with a 400."""


def _not_found(what: str) -> GraphError:
    return GraphError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{what}' does not exist or one of its queried reference-property objects "
        "are not present.",
    )


def _bad_segment(segment: str) -> GraphError:
    return GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")


def _advanced_query(req: Request) -> bool:
    """The advanced query parameters: ``ConsistencyLevel: eventual`` and ``$count=true``."""
    return (
        req.header("consistencylevel").strip().lower() == "eventual"
        and req.query.get("$count", "").lower() == "true"
    )


class GraphApi:
    """Routes one Graph request to its handler."""

    def __init__(
        self,
        state: TenantState,
        options: OptionsFactory,
        verifier: RegistrationVerifier,
        *,
        page_size: int = 100,
        options_value_wrapper: bool = False,
    ) -> None:
        self.state = state
        self.options = options
        self.verifier = verifier
        self.page_size = page_size
        self.options_value_wrapper = options_value_wrapper
        self.base_url = ""
        self.ignored_options: list[tuple[str, str]] = []
        """(path, option) of every query option this fake ignored (not one of Graph's)."""

    # ---- routing ----------------------------------------------------------------------------
    def route(self, req: Request, segments: list[str]) -> tuple[str, Handler]:
        """(route name, handler) for a request whose path is ``segments`` below the base URL."""
        if not segments or segments[0] not in VERSIONS:
            seg = segments[0] if segments else ""
            raise GraphError(
                400, "BadRequest", f"Invalid version: {seg or '(none)'}. Use v1.0 or beta."
            )
        version, rest = segments[0], segments[1:]
        self._check_query(req)
        m = req.method
        n = len(rest)
        if n >= 2 and rest[0] == "users":
            uid = rest[1]
            if n == 2 and m == "GET":
                return "user", lambda: self._user(version, uid, req)
            if n >= 4 and rest[2] == "authentication" and rest[3] == "fido2Methods":
                if n == 4 and m == "GET":
                    return "list_methods", lambda: self._list_methods(version, uid)
                if n == 4 and m == "POST":
                    return "register", lambda: self._register(version, uid, req)
                if n == 5 and m == "GET" and rest[4].startswith("creationOptions"):
                    return "creation_options", lambda: self._options(version, uid, rest[4])
                if n == 5 and m == "GET":
                    return "get_method", lambda: self._get_method(uid, rest[4])
                if n == 5 and m == "DELETE":
                    return "delete_method", lambda: self._delete_method(uid, rest[4])
        if n == 4 and rest[:3] == list(POLICY_PATH) and rest[3].lower() == "fido2" and m == "GET":
            return "fido2_policy", lambda: self._fido2_policy(version)
        if n == 1 and rest[0] == "groups" and m == "GET":
            return "groups", lambda: self._groups(version, req)
        if n >= 2 and rest[0] == "groups" and m == "GET":
            gid = rest[1]
            if n == 2:
                return "group", lambda: self._group(gid, req)
            if rest[2] == "members" and n == 3:
                return "members", lambda: self._members(version, gid, req, False, direct=True)
            if rest[2] == "transitiveMembers" and n in (3, 4):
                users_only = n == 4
                if users_only and rest[3] != "microsoft.graph.user":
                    raise _bad_segment(rest[3])
                if users_only and not _advanced_query(req):
                    # Graph documents the OData cast on transitive members as an advanced
                    # query only (docs: "Advanced query capabilities on Microsoft Entra ID
                    # objects", "Use of OData cast with transitive members list").
                    raise GraphError(
                        400,
                        "Request_UnsupportedQuery",
                        "Request with an OData cast on transitiveMembers only works with the "
                        "request header 'ConsistencyLevel: eventual' and $count=true.",
                    )
                return "members", lambda: self._members(version, gid, req, users_only)
        for seg in rest:
            if seg not in ("users", "groups", "authentication", "fido2Methods"):
                raise _bad_segment(seg)
        raise GraphError(405, "Request_BadRequest", f"The method {m} is not allowed here.")

    # ---- helpers ----------------------------------------------------------------------------
    def _check_query(self, req: Request) -> None:
        """Graph refuses an OData system option it does not know and ignores other query
        parameters; the fake does the same and logs what it ignored (a client relying on an
        ignored option, like ``creationOptions?challengeTimeoutInMinutes=60``, shows here)."""
        for name in req.query:
            if name.startswith("$") and name.lower() not in SYSTEM_OPTIONS:
                raise GraphError(
                    400, "BadRequest", f"Query option '{name}' is not allowed."
                )
            if not name.startswith("$"):
                log.info("fake tenant: ignoring query option %r on %s", name, req.raw_path)
                self.ignored_options.append((req.raw_path, name))

    def _user_or_404(self, uid: str) -> DirectoryUser:
        user = self.state.find_user(uid)
        if user is None:
            raise _not_found(uid)
        return user

    def _ok(self, status: int, payload: Any) -> Response:
        return Response.json(status, payload, GRAPH_JSON)

    def _select_param(self, req: Request, known: Iterable[str] | None) -> list[str] | None:
        raw = req.query.get("$select")
        if raw is None:
            return None
        fields = [f.strip() for f in raw.split(",") if f.strip()]
        if known is not None:
            known_set = set(known)
            for f in fields:
                if f not in known_set:
                    raise GraphError(
                        400,
                        "Request_BadRequest",
                        f"Could not find a property named '{f}' on type 'microsoft.graph.user'.",
                    )
        return fields

    def _top(self, req: Request) -> int:
        raw = req.query.get("$top")
        if raw is None:
            return min(100, self.page_size)
        try:
            top = int(raw)
        except ValueError:
            top = 0
        if not 1 <= top <= MAX_TOP:
            raise GraphError(
                400,
                "Request_UnsupportedQuery",
                f"Invalid page size specified: '{raw}'. Must be between 1 and {MAX_TOP} inclusive.",
            )
        return min(top, self.page_size)

    # ---- users and groups ------------------------------------------------------------------
    def _user(self, version: str, uid: str, req: Request) -> Response:
        user = self._user_or_404(uid)
        select = self._select_param(req, USER_PROPERTIES)
        body = {"@odata.context": f"{self.base_url}/{version}/$metadata#users/$entity"}
        body.update(user_properties(user, select))
        return self._ok(200, body)

    def _group_json(self, g: DirectoryGroup, select: Sequence[str] | None) -> dict[str, Any]:
        return select_properties(g.to_graph(), select, keep_type=False)

    def _groups(self, version: str, req: Request) -> Response:
        raw = req.query.get("$filter")
        if raw is None:
            with self.state.lock:
                groups = list(self.state.groups.values())
        else:
            m = _FILTER.match(raw)
            if m is None:
                raise GraphError(
                    400,
                    "Request_UnsupportedQuery",
                    f"Syntax error or unsupported filter clause: {raw}",
                )
            groups = self.state.find_groups_by_name(m.group(1).replace("''", "'"))
        select = self._select_param(req, None)
        return self._ok(
            200,
            {
                "@odata.context": f"{self.base_url}/{version}/$metadata#groups",
                "value": [self._group_json(g, select) for g in groups],
            },
        )

    def _group(self, gid: str, req: Request) -> Response:
        group = self.state.groups.get(gid)
        if group is None:
            raise _not_found(gid)
        return self._ok(200, self._group_json(group, self._select_param(req, None)))

    def _skiptoken(self, gid: str, offset: int) -> str:
        raw = b"FKSKIP\x01" + struct.pack(">I", offset) + gid.encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def _offset(self, gid: str, token: str) -> int:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raw = b""
        if not raw.startswith(b"FKSKIP\x01") or raw[11:] != gid.encode():
            raise GraphError(400, "Request_BadRequest", "The skip token is not valid.")
        return int(struct.unpack(">I", raw[7:11])[0])

    def _fido2_policy(self, version: str) -> Response:
        body = {
            "@odata.context": f"{self.base_url}/{version}/$metadata#policies/"
            "authenticationMethodsPolicy/authenticationMethodConfigurations/$entity",
            **self.verifier.policy.effective().to_graph(),
        }
        return self._ok(200, body)

    def _members(
        self, version: str, gid: str, req: Request, users_only: bool, *, direct: bool = False
    ) -> Response:
        """``transitiveMembers`` (optionally cast to users), or the direct ``members``."""
        if gid not in self.state.groups:
            raise _not_found(gid)
        if direct:
            with self.state.lock:
                ids = list(self.state.groups[gid].members)
        else:
            ids = self.state.transitive_member_ids(gid, users_only=users_only)
        top = self._top(req)
        select = self._select_param(
            req, USER_PROPERTIES if users_only else None
        )
        token = req.query.get("$skiptoken")
        offset = self._offset(gid, token) if token else 0
        page_ids = ids[offset : offset + top]
        with self.state.lock:
            items = [self._member_json(i, select, users_only) for i in page_ids]
        cast = "/microsoft.graph.user" if users_only else ""
        context = f"{self.base_url}/{version}/$metadata#" + (
            "users" if users_only else "directoryObjects"
        )
        link_member = ""
        if offset + top < len(ids):
            params = [f"$top={top}"] + (["$count=true"] if users_only else [])
            if select is not None:
                params.append("$select=" + ",".join(select))
            params.append("$skiptoken=" + self._skiptoken(gid, offset + top))
            segment = "members" if direct else "transitiveMembers"
            link = f"{self.base_url}/{version}/groups/{gid}/{segment}{cast}?" + "&".join(params)
            link_member = ',"@odata.nextLink":' + json.dumps(link)
        # Graph's order: context, then the next link, then the page's values.
        count = f',"@odata.count":{len(ids)}' if users_only else ""  # asked with $count=true
        body = (
            '{"@odata.context":' + json.dumps(context) + count + link_member + ',"value":'
            + json.dumps(items, separators=(",", ":")) + "}"
        )
        return Response(200, body.encode("utf-8"), GRAPH_JSON)

    def _member_json(
        self, oid: str, select: Sequence[str] | None, users_only: bool
    ) -> dict[str, Any]:
        user = self.state.users.get(oid)
        if user is not None:
            item = user_properties(user, select)
            return item if users_only else {"@odata.type": "#microsoft.graph.user", **item}
        obj = self.state.directory_object(oid).to_graph()
        return select_properties(obj, select, keep_type=True)

    # ---- FIDO2 methods ----------------------------------------------------------------------
    def _options(self, version: str, uid: str, segment: str) -> Response:
        m = _OPTIONS.match(segment)
        if m is None:
            raise _bad_segment(segment)
        user = self._user_or_404(uid)
        self.verifier.check_user_allowed(user)
        self.verifier.check_self_service()
        minutes = 5
        if m.group(1) is not None:
            if version == "v1.0":
                raise GraphError(
                    400,
                    "BadRequest",
                    "The parameter 'challengeTimeoutInMinutes' is not supported in v1.0.",
                )
            try:
                minutes = int(m.group(1))
            except ValueError:
                minutes = -1
            if not MIN_TIMEOUT_MINUTES <= minutes <= MAX_TIMEOUT_MINUTES:
                raise GraphError(
                    400,
                    "badRequest",
                    f"challengeTimeoutInMinutes must be between {MIN_TIMEOUT_MINUTES} and "
                    f"{MAX_TIMEOUT_MINUTES}.",
                )
        opts = self.options.create(user, minutes)
        context = (
            f"{self.base_url}/{version}/$metadata#microsoft.graph.webauthnCredentialCreationOptions"
        )
        opts = {"@odata.type": "#microsoft.graph.webauthnCredentialCreationOptions", **opts}
        if self.options_value_wrapper:
            return self._ok(200, {"@odata.context": context, "value": opts})
        return self._ok(200, {"@odata.context": context, **opts})

    def _register(self, version: str, uid: str, req: Request) -> Response:
        user = self._user_or_404(uid)
        try:
            body = json.loads(req.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise GraphError(400, "BadRequest", "Unable to read JSON request payload.") from None
        record = self.verifier.register(user, body, version)
        payload = {
            "@odata.context": f"{self.base_url}/{version}/$metadata#users('{user.id}')/"
            "authentication/fido2Methods/$entity",
            **method_to_graph(record, created_answer=version == "v1.0"),
        }
        resp = self._ok(201, payload)
        resp.headers["Location"] = (
            f"{self.base_url}/{version}/users/{user.id}/authentication/fido2Methods/{record.id}"
        )
        return resp

    def _list_methods(self, version: str, uid: str) -> Response:
        user = self._user_or_404(uid)
        return self._ok(
            200,
            {
                "@odata.context": f"{self.base_url}/{version}/$metadata#users('{user.id}')/"
                "authentication/fido2Methods",
                "value": [method_to_graph(m) for m in self.state.methods_of(user.id)],
            },
        )

    def _get_method(self, uid: str, method_id: str) -> Response:
        user = self._user_or_404(uid)
        for m in self.state.methods_of(user.id):
            if m.id == method_id:
                return self._ok(200, method_to_graph(m))
        raise _not_found(method_id)

    def _delete_method(self, uid: str, method_id: str) -> Response:
        user = self._user_or_404(uid)
        if not self.state.delete_method(user.id, method_id):
            raise _not_found(method_id)
        return Response(204, b"", "")
