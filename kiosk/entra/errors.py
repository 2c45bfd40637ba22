"""Errors from Entra ID (sign-in) and Microsoft Graph, fit to show an operator or an admin.

Every class here is a :class:`~kiosk.errors.KioskError`: a title, what happened, and the next
step. None of them ever carries a secret: messages are built from status codes, Graph error
codes, AADSTS codes, request ids and host names only, and text that came from a server passes
through :func:`redact` (which removes anything shaped like a bearer token) before it is kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from kiosk.errors import KioskError

_JWT = re.compile(r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*")
_BEARER = re.compile(r"(?i)bearer\s+[A-Za-z0-9._\-~+/=]{8,}")
_MAX_SERVER_TEXT = 300


def redact(text: str, *secrets: str) -> str:
    """``text`` without bearer tokens, JWTs or any of ``secrets``; cut to a readable length."""
    out = _BEARER.sub("Bearer [redacted]", text)
    out = _JWT.sub("[redacted token]", out)
    for secret in secrets:
        if secret and len(secret) >= 4:
            out = out.replace(secret, "[redacted]")
    out = " ".join(out.split())
    if len(out) > _MAX_SERVER_TEXT:
        out = out[: _MAX_SERVER_TEXT - 1] + "…"
    return out


# --------------------------------------------------------------------------------------------
# Graph


_G = TypeVar("_G", bound="GraphError")


class GraphError(KioskError):
    """Microsoft Graph answered with an error (or not at all).

    ``status`` is the HTTP status (0 when there was no answer), ``code`` and ``message`` come
    from Graph's error JSON, ``request_id`` / ``client_request_id`` from its headers (or the
    error's ``innerError``) so an admin can quote them to Microsoft support.
    """

    title = "Microsoft Graph refused the request"
    next_step = "Try again. If it keeps failing, give the request id to the kiosk administrator."

    def __init__(
        self,
        detail: str,
        *,
        status: int = 0,
        code: str = "",
        message: str = "",
        request_id: str = "",
        client_request_id: str = "",
        title: str | None = None,
        next_step: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.client_request_id = client_request_id
        if request_id and request_id not in detail:
            detail = f"{detail} (request id {request_id})"
        super().__init__(detail, title=title, next_step=next_step)

    def retyped(self, kind: type[_G], detail: str) -> _G:
        """The same Graph answer (status, code, ids) as another kind of error."""
        return kind(
            detail,
            status=self.status,
            code=self.code,
            message=self.message,
            request_id=self.request_id,
            client_request_id=self.client_request_id,
        )


class GraphThrottledError(GraphError):
    """429, 503 or 504 still after every retry the settings allow."""

    title = "Microsoft Graph is busy"
    next_step = "Wait a minute and try again; Graph is throttling or briefly unavailable."


class GraphServerError(GraphError):
    """A 5xx from Graph that is not worth retrying (or no longer)."""

    title = "Microsoft Graph had a problem"


class GraphNotFoundError(GraphError):
    """404: the user, group or method does not exist (or the app may not see it)."""

    title = "Not found in Entra ID"
    next_step = "Check the spelling of the user or group; it may have been deleted."


class GraphPermissionError(GraphError):
    """403: the app registration lacks a Graph permission or admin consent."""

    title = "The kiosk app is not allowed to do this"
    next_step = (
        "Ask an Entra ID admin to grant the kiosk app the Graph application permissions "
        "UserAuthMethod-Passkey.ReadWrite.All (the narrower one; "
        "UserAuthenticationMethod.ReadWrite.All also works), User.Read.All and "
        "GroupMember.Read.All, with admin consent."
    )


class GraphRequestError(GraphError):
    """400, 409 and other 4xx: Graph understood the request and refused it."""


class PasskeyPolicyRefusedError(GraphRequestError):
    """Graph refused a registration, and the tenant's passkey (FIDO2) policy explains why."""

    title = "Entra's passkey policy refused this key"
    next_step = (
        "Use a key model the tenant's passkey (FIDO2) policy allows, or ask an Entra admin to "
        "change the policy; `kiosk check` lists what the policy blocks."
    )


class GraphUnauthorizedError(GraphError):
    """401 even with a freshly issued token."""

    title = "Microsoft Graph did not accept the kiosk's sign-in"
    next_step = (
        "Check that the app registration has admin consent for the Graph permissions and that "
        "tenant.graph_url matches tenant.login_url (same cloud)."
    )


class GraphResponseError(GraphError):
    """Graph's answer could not be used: not JSON, wrong content type, cut short, bad shape."""

    title = "Microsoft Graph sent an answer the kiosk cannot read"
    next_step = "Try again. If it keeps happening, a proxy may be rewriting the traffic."


class NetworkError(GraphError):
    """No answer: the connection failed, dropped or timed out."""

    title = "Cannot reach Microsoft Entra ID"
    next_step = "Check the network cable or Wi-Fi and the proxy, then try again."


class TlsError(NetworkError):
    """The server's certificate was not trusted: never bypassed."""

    title = "The server's certificate is not trusted"
    next_step = (
        "Check the system clock and that no proxy intercepts TLS. For a private test tenant, "
        "set tenant.ca_bundle to its CA file."
    )


class LostResponseError(NetworkError):
    """A request that changes state was sent but its answer was lost (dropped, timed out, 5xx).

    The caller must find out whether it took effect before sending it again.
    """

    title = "The answer from Microsoft Graph was lost"


class GraphSelfServiceError(GraphError):
    """405 on a user's FIDO2 methods: Graph's answer when the caller acts on itself."""

    title = "Graph will not do this for this account"
    next_step = (
        "Graph does not let an identity register passkeys for itself through this API "
        "(self-service): enroll this user from another account, or skip the user."
    )


_STATUS_CLASSES: Mapping[int, type[GraphError]] = {
    401: GraphUnauthorizedError,
    403: GraphPermissionError,
    404: GraphNotFoundError,
    405: GraphSelfServiceError,
    429: GraphThrottledError,
    503: GraphThrottledError,
    504: GraphThrottledError,
}


def parse_graph_error(body: bytes | str) -> tuple[str, str, str, str]:
    """(code, message, request id, client request id) from Graph's error JSON; blanks if none.

    Never raises: a body that is not Graph's error JSON gives blanks.
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "", "", "", ""
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        return "", "", "", ""
    code = err.get("code")
    message = err.get("message")
    inner = err.get("innerError") or err.get("innererror") or {}
    if not isinstance(inner, dict):
        inner = {}
    rid = inner.get("request-id") or inner.get("requestId") or ""
    crid = inner.get("client-request-id") or inner.get("clientRequestId") or ""
    return (
        redact(code) if isinstance(code, str) else "",
        redact(message) if isinstance(message, str) else "",
        rid if isinstance(rid, str) else "",
        crid if isinstance(crid, str) else "",
    )


def graph_error_from_response(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    what: str,
) -> GraphError:
    """The typed error for a Graph answer with an error status; ``what`` names the call."""
    code, message, rid, crid = parse_graph_error(body)
    rid = headers.get("request-id") or rid
    crid = headers.get("client-request-id") or crid
    cls: type[GraphError] = _STATUS_CLASSES.get(status) or (
        GraphServerError if status >= 500 else GraphRequestError
    )
    parts = [f"{what} failed with HTTP {status}"]
    if code:
        parts.append(f"{code}")
    detail = ": ".join(parts)
    if message:
        detail += f" ({message})"
    detail += "."
    scope = headers.get("x-ms-throttle-scope", "").split("/")[0][:60]
    if status == 429 and scope.replace("_", "").isalnum():
        detail += f" Graph throttles this per {scope.replace('_', ' and ').lower()}."
    return cls(
        detail, status=status, code=code, message=message, request_id=rid, client_request_id=crid
    )


# --------------------------------------------------------------------------------------------
# Sign-in (token endpoint)


class AuthError(KioskError):
    """The kiosk could not sign in to Entra ID as its app registration."""

    title = "The kiosk cannot sign in to Entra ID"
    next_step = "Check tenant.tenant_id, tenant.client_id and the app's credential in kiosk.toml."

    def __init__(
        self,
        detail: str,
        *,
        aadsts: int | None = None,
        error: str = "",
        correlation_id: str = "",
        title: str | None = None,
        next_step: str | None = None,
    ) -> None:
        self.aadsts = aadsts
        self.error = error
        self.correlation_id = correlation_id
        if correlation_id and correlation_id not in detail:
            detail = f"{detail} (correlation id {correlation_id})"
        super().__init__(detail, title=title, next_step=next_step)


class InvalidClientError(AuthError):
    """Wrong secret, wrong certificate, or an app id the tenant does not know."""

    title = "Entra ID rejected the kiosk's app credential"
    next_step = (
        "Check tenant.client_id, and that the secret or certificate configured is the one "
        "uploaded to the app registration (Certificates & secrets)."
    )


class UnknownTenantError(AuthError):
    title = "Entra ID does not know this tenant"
    next_step = "Check tenant.tenant_id (directory id or verified domain) and tenant.login_url."


class CredentialExpiredError(AuthError):
    """The client secret or certificate has expired (told by Entra or seen locally)."""

    title = "The kiosk's app credential has expired"
    next_step = (
        "Create a new client secret or upload a new certificate in the app registration, "
        "install it on the kiosk, and restart the kiosk."
    )


class ConsentMissingError(AuthError):
    title = "The kiosk app has no admin consent"
    next_step = (
        "Ask an Entra ID admin to grant admin consent for the kiosk app's Graph application "
        "permissions (API permissions > Grant admin consent)."
    )


class AuthUnavailableError(AuthError):
    """The token endpoint was busy or unreachable even after retries."""

    title = "Entra ID sign-in is unavailable"
    next_step = "Check the network, wait a minute and try again."


# AADSTS code -> (class, what it means). Codes from Microsoft's AADSTS error code reference.
AADSTS: Mapping[int, tuple[type[AuthError], str]] = {
    7000215: (InvalidClientError, "the client secret is not valid for this app"),
    7000222: (CredentialExpiredError, "the client secret has expired"),
    700027: (
        InvalidClientError,
        "the certificate or its signature was not accepted (not uploaded to the app, or expired)",
    ),
    700024: (InvalidClientError, "the client assertion is not within its valid time range"),
    700016: (InvalidClientError, "no application with this client id exists in the tenant"),
    7000112: (InvalidClientError, "the application is disabled"),
    90002: (UnknownTenantError, "the tenant was not found"),
    900023: (UnknownTenantError, "the tenant id is not a valid GUID or domain"),
    90033: (UnknownTenantError, "the tenant is not available"),
    65001: (ConsentMissingError, "the app has not been granted consent"),
    500011: (
        ConsentMissingError,
        "Microsoft Graph is not registered in the tenant for this app (missing consent or "
        "wrong graph_url)",
    ),
    1002012: (AuthError, "the requested scope is not valid"),
}


def auth_error_from_result(result: Mapping[str, Any], *secrets: str) -> AuthError:
    """The typed error for an MSAL error result (``error``, ``error_description``, codes)."""
    codes = result.get("error_codes") or []
    raw_error = result.get("error")
    if isinstance(raw_error, dict):
        # Not AAD's OAuth error form (a proxy or gateway answered): a transient failure.
        code = raw_error.get("code")
        return AuthUnavailableError(
            "The login endpoint answered with an error"
            + (f" ({redact(code)})" if isinstance(code, str) and code else "")
            + "."
        )
    error = str(raw_error or "")
    description = redact(str(result.get("error_description") or ""), *secrets)
    correlation = str(result.get("correlation_id") or "")
    if not codes:
        m = re.search(r"AADSTS(\d+)", description)
        codes = [int(m.group(1))] if m else []
    for raw in codes:
        try:
            code = int(raw)
        except (TypeError, ValueError):
            continue
        if code in AADSTS:
            cls, meaning = AADSTS[code]
            return cls(
                f"Sign-in refused with AADSTS{code}: {meaning}.",
                aadsts=code,
                error=error,
                correlation_id=correlation,
            )
    first = None
    for raw in codes:
        try:
            first = int(raw)
            break
        except (TypeError, ValueError):
            continue
    head = f"AADSTS{first}" if first is not None else (error or "an unknown error")
    text = f"Sign-in refused with {head}"
    if description:
        text += f": {description}"
    cls2: type[AuthError] = AuthError
    if error == "invalid_client":
        cls2 = InvalidClientError
    elif error == "temporarily_unavailable":
        cls2 = AuthUnavailableError
    return cls2(text.rstrip(".") + ".", aadsts=first, error=error, correlation_id=correlation)
