"""App-only sign-in to Entra ID with MSAL: the bearer token every Graph call carries.

:class:`TokenProvider` wraps one ``msal.ConfidentialClientApplication`` (client credentials
flow). MSAL keeps the token in its in-memory cache and hands out a new one when the cached one
is within five minutes of expiry, so calling :meth:`TokenProvider.token` before every request
costs nothing. After a 401 from Graph the caller asks for ``force_refresh=True``: the cached
token is dropped and a new one fetched. The MSAL app is built on first use (building it
already talks to the login endpoint), and every failure becomes a typed
:class:`~kiosk.entra.errors.AuthError`.

A refusal must not outlive its cause. MSAL's ``ThrottledHttpClient`` keeps error answers in the
app's ``http_cache`` (an HTTP 400 such as AADSTS65001, missing consent, for 60 seconds; a busy
answer for its ``Retry-After``) and hands the same answer, correlation id included, back to
every call until then, so an operator's retry after the admin fixed the tenant would never
reach Entra. After any sign-in failure the MSAL app is therefore dropped, and the next call
builds a new one (a new ``http_cache``, a fresh client assertion) that asks Entra again. So
that the kiosk's threads (prefetch, crash recovery, lookups) cannot hammer the login endpoint
meanwhile, a refusal is repeated without asking Entra for :data:`REFUSAL_HOLD_SECONDS`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests

from kiosk.config import Settings
from kiosk.entra.errors import (
    AuthError,
    AuthUnavailableError,
    UnknownTenantError,
    auth_error_from_result,
    redact,
)
from kiosk.entra.http import RetryPolicy, network_error, parse_retry_after
from kiosk.entra.secrets import CertificateCredential, Credential, SecretCredential

log = logging.getLogger(__name__)

MICROSOFT_LOGIN_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoft.com",
        "login.windows.net",
        "login.microsoftonline.us",
        "login.chinacloudapi.cn",
        "login.partner.microsoftonline.cn",
    }
)


REFUSAL_HOLD_SECONDS = 5.0
"""After Entra refuses sign-in, calls within this many seconds get the same error without
asking Entra; the first call after it asks again (MSAL's own throttle for a confidential client's
busy answers is 5 seconds too)."""


def graph_scope(graph_url: str) -> str:
    """``https://graph.microsoft.com/.default`` for the public cloud; national clouds differ."""
    return graph_url.rstrip("/") + "/.default"


def authority_url(login_url: str, tenant_id: str) -> str:
    return login_url.rstrip("/") + "/" + tenant_id.strip("/")


class TokenProvider:
    """Bearer tokens for Graph, app-only, from MSAL's cache.

    Thread-safe: the engine's prefetch worker and the enrollment worker share one provider.
    """

    def __init__(
        self,
        settings: Settings,
        credential: Credential,
        session: requests.Session,
        *,
        sleep: Callable[[float], None] = time.sleep,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        refusal_hold: float = REFUSAL_HOLD_SECONDS,
    ) -> None:
        tenant = settings.tenant
        if not tenant.tenant_id or not tenant.client_id:
            missing = "tenant.tenant_id" if not tenant.tenant_id else "tenant.client_id"
            raise AuthError(
                f"{missing} is not set.",
                title="The kiosk is not set up for a tenant",
                next_step=f"Set {missing} in kiosk.toml (from the app registration's overview).",
            )
        self.settings = settings
        self.credential = credential
        self.session = session
        self.scope = graph_scope(tenant.graph_url)
        self.authority = authority_url(tenant.login_url, tenant.tenant_id)
        self.sleep = sleep
        self.policy = policy or RetryPolicy(max_retries=2, retry_after_cap=30.0)
        self.clock = clock
        self.refusal_hold = refusal_hold
        """Seconds a refusal is repeated without asking Entra again (see the module's notes)."""
        self._lock = threading.Lock()
        self._app: Any = None
        self._refused: tuple[float, AuthError] | None = None
        self.tokens_fetched = 0
        """How many tokens came from the token endpoint (not the cache)."""

    @property
    def uses_certificate(self) -> bool:
        return isinstance(self.credential, CertificateCredential)

    def _secrets(self) -> tuple[str, ...]:
        if isinstance(self.credential, SecretCredential):
            return (self.credential.secret,)
        return ()

    def _build_app(self) -> Any:
        import msal
        from msal.exceptions import MsalError

        tenant = self.settings.tenant
        host = (urlsplit(tenant.login_url).hostname or "").lower()
        known = host in MICROSOFT_LOGIN_HOSTS
        try:
            return msal.ConfidentialClientApplication(
                tenant.client_id,
                client_credential=self.credential.msal_credential(),
                authority=self.authority,
                http_client=_LoginHttp(self.session, self.policy, self.sleep),
                instance_discovery=None if known else False,
                validate_authority=known,
                token_cache=msal.TokenCache(),
            )
        except requests.RequestException as exc:
            raise _auth_network_error(exc) from None
        except ValueError as exc:
            if isinstance(exc, json.JSONDecodeError) or isinstance(
                exc.__context__, json.JSONDecodeError
            ):
                raise AuthUnavailableError(
                    f"The sign-in configuration of {self.authority} is not valid JSON.",
                    next_step="Try again in a minute; if it persists, a proxy may be rewriting "
                    "the traffic to the login endpoint.",
                ) from None
            text = f"{exc} {exc.__context__ or ''}"
            if "OIDC Discovery failed" in text or "Unable to get authority" in text:
                raise UnknownTenantError(
                    f"{self.authority} has no sign-in configuration: {_discovery_hint(text)}."
                ) from None
            raise AuthError(
                f"The app credential could not be used ({redact(text, *self._secrets())})."
            ) from None
        except (RuntimeError, MsalError) as exc:
            raise AuthUnavailableError(
                f"The login endpoint's discovery document could not be fetched "
                f"({redact(str(exc), *self._secrets())})."
            ) from None

    def token(self, *, force_refresh: bool = False) -> str:
        """A valid access token for :attr:`scope`; raises :class:`AuthError` when sign-in fails.

        A refusal is repeated for :attr:`refusal_hold` seconds without asking Entra; the first
        call after that asks Entra afresh, with a new MSAL app (no answer cached by MSAL)."""
        with self._lock:
            if self._refused is not None:
                when, refusal = self._refused
                if self.clock() - when < self.refusal_hold:
                    log.info("Sign-in was refused %.1fs ago; not asking Entra again yet",
                             self.clock() - when)
                    raise refusal.with_traceback(None)
                self._refused = None
            try:
                return self._token_locked(force_refresh)
            except AuthError as exc:
                self._app = None  # MSAL would replay this answer from its http_cache
                if not isinstance(exc, AuthUnavailableError):
                    self._refused = (self.clock(), exc)
                raise

    def _token_locked(self, force_refresh: bool) -> str:
        from msal.exceptions import MsalError

        # The caller holds self._lock.
        if self._app is None:
            self._app = self._build_app()
        if force_refresh:
            self._app.remove_tokens_for_client()
        attempt = 0
        while True:
            attempt += 1
            try:
                result = self._app.acquire_token_for_client([self.scope])
            except requests.RequestException as exc:
                # Busy answers and dropped connections were already retried by _LoginHttp.
                raise _auth_network_error(exc) from None
            except MsalError as exc:
                # An error status MSAL could not read as OAuth's error JSON; _LoginHttp has
                # already retried the busy ones.
                raise AuthUnavailableError(
                    "The login endpoint refused the request "
                    f"({redact(str(exc), *self._secrets())})."
                ) from None
            except ValueError as exc:
                err: AuthError = AuthUnavailableError(
                    "The login endpoint answered with something that is not a token "
                    f"({type(exc).__name__}: {redact(str(exc), *self._secrets())})."
                )
            else:
                if isinstance(result, dict) and "access_token" in result:
                    if result.get("token_source") == "identity_provider":
                        self.tokens_fetched += 1
                    return str(result["access_token"])
                err = auth_error_from_result(
                    result if isinstance(result, dict) else {}, *self._secrets()
                )
                if not isinstance(err, AuthUnavailableError):
                    raise err
            if attempt > self.policy.max_retries:
                raise err
            wait = self.policy.delay(attempt)
            log.info("Sign-in: %s; retry %d in %.2fs", err.detail, attempt, wait)
            self.sleep(wait)


class _LoginHttp:
    """What MSAL calls to reach the login endpoint: our session, with retries.

    MSAL leaves retries to a caller-supplied ``http_client``. Asking for a token (or the
    discovery document) again is harmless, so 429, 500, 502, 503, 504 and connection errors are
    retried here with :class:`RetryPolicy` (``Retry-After`` honoured), before MSAL sees (and
    caches) a busy answer.
    """

    RETRY = frozenset({429, 500, 502, 503, 504})

    def __init__(
        self, session: requests.Session, policy: RetryPolicy, sleep: Callable[[float], None]
    ) -> None:
        self.session = session
        self.policy = policy
        self.sleep = sleep

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        attempt = 0
        while True:
            attempt += 1
            try:
                resp = self.session.request(method, url, **kwargs)
            except requests.exceptions.SSLError:
                raise
            except requests.RequestException as exc:
                if attempt > self.policy.max_retries:
                    raise
                wait = self.policy.delay(attempt)
                log.info("Sign-in: %s; retry %d in %.2fs", _short(exc), attempt, wait)
                self.sleep(wait)
                continue
            if resp.status_code not in self.RETRY:
                return resp
            if attempt > self.policy.max_retries:
                # Said here: MSAL would only report that the (plain-text) body is not JSON.
                raise _login_busy(resp, attempt)
            wait = self.policy.delay(attempt, resp.headers.get("Retry-After"))
            log.info("Sign-in: HTTP %d; retry %d in %.2fs", resp.status_code, attempt, wait)
            resp.close()
            self.sleep(wait)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self._send("POST", url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self._send("GET", url, **kwargs)

    def close(self) -> None:
        """The session belongs to the kiosk, not to MSAL: it stays open."""


def _login_busy(resp: requests.Response, attempts: int) -> AuthUnavailableError:
    status = resp.status_code
    wait = parse_retry_after(resp.headers.get("Retry-After"))
    resp.close()
    asked = f" It asked to wait {wait:g} s." if wait else ""
    if status == 429:
        return AuthUnavailableError(
            f"Entra ID is throttling sign-ins from this kiosk (HTTP 429, {attempts} attempts)."
            + asked,
            next_step="Wait a minute and try again. If it keeps happening, check that no other "
            "program signs in with this app registration in a loop.",
        )
    return AuthUnavailableError(
        f"The Entra ID login endpoint answered HTTP {status} to {attempts} attempts." + asked
    )


def _short(exc: requests.RequestException) -> str:
    return network_error(exc, "Sign-in to Entra ID").detail


def _discovery_hint(text: str) -> str:
    if "HTTP status: 400" in text or "HTTP status: 404" in text:
        return "the tenant id or domain is not known there"
    return "the answer was not usable"


def _auth_network_error(exc: requests.RequestException) -> AuthError:
    net = network_error(exc, "Sign-in to Entra ID")
    return AuthUnavailableError(net.detail, title=net.title, next_step=net.next_step)
