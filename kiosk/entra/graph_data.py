"""Graph's wire format, without I/O: URLs, parsing answers into models, finding our method.
Every string Graph gives (names, UPNs, mail) loses control and bidi characters here
(:func:`kiosk.model.text.clean`): a guest's display name is chosen by another tenant.

:mod:`kiosk.entra.graph` does the calls; everything here is a pure function, tested on its own.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from kiosk.entra.errors import GraphResponseError
from kiosk.entra.models import MAX_POSTAL, POSTAL_FIELDS, Fido2Method, Group, User
from kiosk.model.codec import id_matches
from kiosk.model.keys import CreatedCredential
from kiosk.model.text import clean

log = logging.getLogger(__name__)

RECONCILE_CLOCK_SKEW = timedelta(minutes=5)
"""How far Graph's clock may be behind ours when matching a method created after our send."""

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def looks_like_guid(text: str) -> bool:
    return bool(_GUID.match(text.strip()))


def user_path(upn_or_id: str) -> str:
    """The ``/users/...`` path segment for an object id or UPN.

    Each character that is not safe in a path is percent-encoded (``#EXT#`` becomes
    ``%23EXT%23``, ``/`` becomes ``%2F``); ``@`` stays as Graph shows it. A UPN starting with
    ``$`` needs Graph's ``users('...')`` form.
    """
    text = upn_or_id.strip()
    if text.startswith("$"):
        return "users('" + quote(text.replace("'", "''"), safe="@$'") + "')"
    return "users/" + quote(text, safe="@")


def odata_string(value: str) -> str:
    """An OData string literal: single quotes doubled, wrapped in quotes."""
    return "'" + value.replace("'", "''") + "'"


def query_string(params: Mapping[str, str]) -> str:
    """``?$a=...&$b=...`` with values percent-encoded (spaces as %20, never ``+``)."""
    return "?" + "&".join(f"{k}={quote(v, safe=',()')}" for k, v in params.items())


def parse_datetime(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Graph sometimes sends 7 fractional digits; Python takes at most 6.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_method(data: Mapping[str, Any], what: str) -> Fido2Method:
    mid = data.get("id")
    if not isinstance(mid, str) or not mid:
        raise GraphResponseError(f"{what}: Graph returned a FIDO2 method without an id.")
    aaguid = data.get("aaGuid")
    return Fido2Method(
        id=mid,
        display_name=clean(data.get("displayName")),
        # Graph's examples spell it both ways (the v1.0 create answer: creationDateTime).
        created=parse_datetime(data.get("createdDateTime") or data.get("creationDateTime")),
        aaguid=str(aaguid).lower() if isinstance(aaguid, str) and aaguid else None,
        model=clean(data.get("model")) if isinstance(data.get("model"), str) else None,
        attestation_level=(
            data["attestationLevel"] if isinstance(data.get("attestationLevel"), str) else None
        ),
        raw=dict(data),
    )


def parse_user(data: Mapping[str, Any], what: str) -> User:
    uid = data.get("id")
    upn = data.get("userPrincipalName")
    if not isinstance(uid, str) or not uid or not isinstance(upn, str):
        raise GraphResponseError(f"{what}: Graph returned a user without id or userPrincipalName.")
    mail = data.get("mail")
    return User(
        id=uid,
        user_principal_name=clean(upn),
        display_name=clean(data.get("displayName")),
        mail=clean(mail) if isinstance(mail, str) else None,
        postal={
            k: clean(v, MAX_POSTAL) for k in POSTAL_FIELDS
            if isinstance(v := data.get(k), str) and v.strip()
        },
    )


def method_matches(
    method: Fido2Method, credential: CreatedCredential, display_name: str, sent_at: datetime
) -> bool:
    """Is ``method`` the registration of ``credential`` we sent at ``sent_at``?

    Graph's method id is an encoding of the credential id in one of Graph's spellings: when
    any reading of it (:func:`~kiosk.model.codec.credential_id_readings`) is the credential
    id, that is a certain match. Otherwise the same display name (which holds the serial),
    the same AAGUID and a creation time no earlier than our send (less clock skew) count.
    """
    if id_matches(method.id, credential.credential_id):
        return True
    if method.display_name != display_name:
        return False
    if (method.aaguid or "").lower() != credential.aaguid.lower():
        return False
    return method.created is not None and method.created >= sent_at - RECONCILE_CLOCK_SKEW


def find_registered(
    methods: list[Fido2Method], credential: CreatedCredential, display_name: str, sent_at: datetime
) -> Fido2Method | None:
    """The method among ``methods`` that is our credential, if any (exact id match first)."""
    for m in methods:
        if id_matches(m.id, credential.credential_id):
            return m
    candidates = [m for m in methods if method_matches(m, credential, display_name, sent_at)]
    if not candidates:
        return None
    return max(candidates, key=lambda m: m.created or sent_at)


def parse_group(data: Mapping[str, Any], what: str) -> Group:
    gid = data.get("id")
    if not isinstance(gid, str) or not gid:
        raise GraphResponseError(f"{what}: Graph returned a group without an id.")
    return Group(id=gid, display_name=clean(data.get("displayName")))


def challenge_expiry(
    body: Mapping[str, Any], sent_at: datetime, minutes: int, what: str
) -> datetime:
    """When the challenge dies: the earlier of Graph's ``challengeTimeoutDateTime`` and our
    own estimate (send time + the lifetime asked for). A Graph time before we even asked is
    a clock out of step (``kiosk check`` reports the skew): our estimate is used then."""
    local = sent_at + timedelta(minutes=minutes)
    given = parse_datetime(body.get("challengeTimeoutDateTime"))
    if given is None:
        return local
    if given <= sent_at:
        log.warning(
            "%s: Graph says the challenge expires at %s, before it was asked for; is this "
            "clock out of step? Using %d minutes from now.", what, given.isoformat(), minutes
        )
        return local
    return min(given, local)


def decode_json(content: bytes, status: int, request_id: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        raise GraphResponseError(
            f"{what}: Graph's answer is not valid JSON ({len(content)} bytes; it may "
            "have been cut short).",
            status=status,
            request_id=request_id,
        ) from None
    if not isinstance(data, dict):
        raise GraphResponseError(
            f"{what}: Graph's answer is not a JSON object.", status=status, request_id=request_id
        )
    return data
