"""HTTP for login and Graph: one session, timeouts, retries, the bearer token, timings.

* :class:`KioskSession` is the one ``requests.Session`` the kiosk uses for Entra ID (through
  MSAL) and Graph. It puts a timeout on every call and verifies TLS against exactly the CA
  bundle configured (``tenant.ca_bundle``) or the system's: no environment variable and no
  argument can widen or switch off verification.
* :class:`RetryPolicy` decides how long to wait: ``Retry-After`` (seconds or an HTTP date,
  capped), otherwise exponential backoff with full jitter.
* :class:`GraphHttp` sends one Graph request with those retries (429, 503, 504, connection
  errors; never another 4xx), one fresh token and one retry on a 401, and reports every
  attempt's timing (request id, milliseconds) to a hook, and to the collectors of
  :mod:`kiosk.entra.calls` (how each enrollment's audit record gets its Graph request ids).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from kiosk.config import GraphSettings, TenantSettings
from kiosk.entra import calls
from kiosk.entra.errors import (
    GraphError,
    GraphResponseError,
    GraphThrottledError,
    LostResponseError,
    NetworkError,
    TlsError,
    graph_error_from_response,
)
from kiosk.entra.limits import Deadline, PlainHttpRefused, read_body, watched
from kiosk.entra.on_sent import SignallingAdapter
from kiosk.entra.retry import RetryPolicy, parse_retry_after
from kiosk.model.timing import Timing

__all__ = [
    "GraphHttp", "KioskSession", "RetryPolicy", "TokenSource", "make_session", "network_error",
    "parse_retry_after",
]
log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 503, 504})


class KioskSession(requests.Session):
    """A ``requests.Session`` with a default timeout and pinned TLS verification."""

    def __init__(self, *, timeout: float, ca_bundle: str = "", loopback_http: bool = False) -> None:
        super().__init__()
        self.default_timeout = timeout
        self._verify: str | bool = ca_bundle or True
        self.verify = self._verify
        self._env_proxies: dict[tuple[str, str], dict[str, str]] = {}
        # requests' own adapter, whose connections also say when a request has left
        # (kiosk.entra.paging asks for the next page before decoding this one).
        self.mount("https://", SignallingAdapter())
        # No plain http:// (tests may allow it to their own loopback servers only).
        self.mount("http://", PlainHttpRefused())
        if loopback_http:
            self.mount("http://127.0.0.1", SignallingAdapter())
        self.headers["User-Agent"] = "fido-kiosk/0.1 " + str(self.headers.get("User-Agent", ""))

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        kwargs["verify"] = self._verify
        kwargs["allow_redirects"] = False  # a 3xx is an answer (an error), never followed
        if isinstance(self._verify, str) and not os.path.isfile(self._verify):
            raise TlsError(
                f"The CA bundle {self._verify} (tenant.ca_bundle) does not exist.",
                next_step="Fix tenant.ca_bundle in kiosk.toml, or leave it empty to trust the "
                "system's certificate authorities.",
            )
        return super().request(method, url, *args, **kwargs)

    def merge_environment_settings(  # type: ignore[override]
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        # Proxies: the environment's (HTTPS_PROXY, NO_PROXY...), looked up once per host because
        # requests would read the whole environment twice per call; then the session's; then
        # the call's. TLS verification is always ours: requests would let REQUESTS_CA_BUNDLE /
        # CURL_CA_BUNDLE replace it.
        text = url.decode("ascii", "replace") if isinstance(url, bytes) else (url or "")
        parts = urlsplit(text)
        key = (parts.scheme, parts.netloc)
        env = self._env_proxies.get(key)
        if env is None:
            env = dict(requests.utils.get_environ_proxies(text)) if self.trust_env else {}
            self._env_proxies[key] = env
        chosen = {**self.proxies, **env, **(proxies or {})}
        return {
            "proxies": {k: v for k, v in chosen.items() if v is not None},
            "stream": self.stream if stream is None else stream,
            "verify": self._verify,
            "cert": self.cert if cert is None else cert,
        }


def make_session(tenant: TenantSettings, graph: GraphSettings) -> KioskSession:
    return KioskSession(timeout=graph.timeout_seconds, ca_bundle=tenant.ca_bundle)


class TokenSource(Protocol):
    def token(self, *, force_refresh: bool = False) -> str: ...


def network_error(exc: requests.RequestException, what: str) -> NetworkError:
    """A typed error for an exception raised by requests; no URL query, no secrets."""
    if isinstance(exc, requests.exceptions.SSLError):
        return TlsError(f"{what}: the TLS connection failed ({_reason(exc)}).")
    if isinstance(exc, requests.exceptions.Timeout):
        return NetworkError(f"{what}: no answer in time ({type(exc).__name__}).")
    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        return NetworkError(
            f"{what}: the server answered HTTP {exc.response.status_code}.",
            status=exc.response.status_code,
            request_id=exc.response.headers.get("request-id", ""),
        )
    if isinstance(
        exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError
    ):
        return NetworkError(f"{what}: the answer was cut short ({_reason(exc)}).")
    return NetworkError(f"{what}: the connection failed ({_reason(exc)}).")


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "certificate verify failed"
    if "Read timed out" in text:
        return "read timed out"
    for marker in (
        "RemoteDisconnected",
        "Connection refused",
        "Connection reset",
        "Connection aborted",
        "IncompleteRead",
        "Name or service not known",
        "No route to host",
    ):
        if marker in text:
            return marker
    return type(exc).__name__


def _path_of(url: str) -> str:
    return urlsplit(url).path


class GraphHttp:
    """Sends Graph requests with the bearer token, retries and timings.

    ``sleep`` and ``now`` are injectable so tests never wait for real. ``on_timing`` is
    called after every attempt.
    """

    def __init__(
        self,
        session: requests.Session,
        tokens: TokenSource,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_timing: Callable[[Timing], None] | None = None,
        timeout: float | None = None,
        call_deadline: float = 300.0,
    ) -> None:
        self.session = session
        self.tokens = tokens
        self.policy = policy
        self.sleep = sleep
        self.clock = clock
        self.now = now
        self.on_timing = on_timing
        self.timeout = timeout
        self.call_deadline = call_deadline

    def _once(
        self,
        method: str,
        url: str,
        *,
        json_body: Any,
        headers: Mapping[str, str],
        attempt: int,
        force_refresh: bool,
        deadline: Deadline,
        what: str,
    ) -> requests.Response:
        token = self.tokens.token(force_refresh=force_refresh)
        all_headers = {"Authorization": "Bearer " + token, "Accept": "application/json"}
        all_headers.update(headers)
        start = self.clock()
        status = 0
        rid = ""
        crid = str(all_headers.get("client-request-id", ""))  # ours, even without an answer
        try:
            per_call = self.timeout or getattr(self.session, "default_timeout", None)
            timeout = min(per_call or self.call_deadline, max(0.01, deadline.left()))
            with watched(deadline):
                resp = self.session.request(
                    method, url, json=json_body, headers=all_headers, timeout=timeout, stream=True
                )
                resp._content = read_body(resp, what=what, deadline=deadline)
            resp._content_consumed = True  # type: ignore[attr-defined]
            status = resp.status_code
            rid = resp.headers.get("request-id", "")
            crid = resp.headers.get("client-request-id", "") or crid
            return resp
        finally:
            ms = (self.clock() - start) * 1000.0
            timing = Timing(method, _path_of(url), status, rid, crid, ms, attempt)
            calls.report(timing)
            if self.on_timing is not None:
                self.on_timing(timing)

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        replay_safe: bool = True,
    ) -> requests.Response:
        """Send until a final answer; return a 2xx response or raise a :class:`GraphError`.

        With ``replay_safe=False`` (a POST that creates something), an attempt whose outcome
        is unknown (connection dropped or timed out after sending, 500/502/503/504) raises
        :class:`LostResponseError` at once instead of being sent again: the caller reconciles.
        A 429 is always retried: Graph refused it before doing anything.
        """
        hdrs = dict(headers or {})
        # One id for the call and all its retries: Graph logs it, so an admin can find them.
        hdrs.setdefault("client-request-id", str(uuid.uuid4()))
        attempt = 0
        refreshed = False
        force_refresh = False
        deadline = Deadline(self.call_deadline)  # real time: a limit on the wall clock
        while True:
            attempt += 1
            if deadline.left() <= 0:
                raise deadline.error(what)
            try:
                resp = self._once(
                    method,
                    url,
                    json_body=json_body,
                    headers=hdrs,
                    attempt=attempt,
                    force_refresh=force_refresh,
                    deadline=deadline,
                    what=what,
                )
                force_refresh = False
            except requests.RequestException as exc:
                self.sleep(self._wait_after_failure(exc, what, attempt, deadline, replay_safe))
                continue
            status = resp.status_code
            if 200 <= status < 300:
                return resp
            if status == 401 and not refreshed:
                refreshed = force_refresh = True
                _discard(resp)
                log.info("%s: 401, getting a fresh token and trying once more", what)
                continue
            self.sleep(self._wait_after_answer(resp, what, attempt, deadline, replay_safe))

    def _wait_after_failure(
        self,
        exc: requests.RequestException,
        what: str,
        attempt: int,
        deadline: Deadline,
        replay_safe: bool,
    ) -> float:
        """Seconds to wait before sending again after no answer; raises when it must not be."""
        if deadline.left() <= 0 and replay_safe:
            raise deadline.error(what) from None
        err = network_error(exc, what)
        if isinstance(err, TlsError):
            raise err from None
        if not replay_safe and not _never_connected(exc):
            raise LostResponseError(err.detail) from None
        if attempt > self.policy.max_retries:
            if _cut_short(exc):
                raise GraphResponseError(err.detail) from None
            raise err from None
        wait = self.policy.delay(attempt)
        if wait >= deadline.left():
            raise deadline.error(what) from None
        log.info("%s: %s; retry %d in %.2fs", what, err.detail, attempt, wait)
        return wait

    def _wait_after_answer(
        self,
        resp: requests.Response,
        what: str,
        attempt: int,
        deadline: Deadline,
        replay_safe: bool,
    ) -> float:
        """Seconds to wait before sending again after an error answer; raises the answer's
        error when it is final (not retried, out of retries or of time, or not replay-safe)."""
        status = resp.status_code
        body = _body_for_error(resp)
        if status not in RETRY_STATUSES and (replay_safe or status < 500):
            raise graph_error_from_response(status, body, resp.headers, what)
        if not replay_safe and status != 429:
            err = graph_error_from_response(status, body, resp.headers, what)
            raise LostResponseError(
                err.detail,
                status=status,
                code=err.code,
                message=err.message,
                request_id=err.request_id,
                client_request_id=err.client_request_id,
            )
        if attempt > self.policy.max_retries:
            raise _exhausted(status, body, resp.headers, what, attempt)
        wait = self.policy.delay(attempt, resp.headers.get("Retry-After"), self.now())
        if wait >= deadline.left():
            raise _exhausted(status, body, resp.headers, what, attempt)
        log.info("%s: HTTP %d; retry %d in %.2fs", what, status, attempt, wait)
        return wait


def _exhausted(
    status: int, body: bytes, headers: Mapping[str, str], what: str, attempts: int
) -> GraphError:
    err = graph_error_from_response(status, body, headers, what)
    return GraphThrottledError(
        f"{err.detail.rstrip('.')} after {attempts} attempts.",
        status=status,
        code=err.code,
        message=err.message,
        request_id=err.request_id,
        client_request_id=err.client_request_id,
    )


def _cut_short(exc: requests.RequestException) -> bool:
    return isinstance(
        exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError
    )


def _never_connected(exc: requests.RequestException) -> bool:
    """True when the request certainly never reached the server (safe to send again)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    text = str(exc)
    return isinstance(exc, requests.exceptions.ConnectionError) and (
        "NewConnectionError" in text or "Connection refused" in text
    )


def _body_for_error(resp: requests.Response) -> bytes:
    try:
        return resp.content[:65536]
    except requests.RequestException:
        return b""


def _discard(resp: requests.Response) -> None:
    with contextlib.suppress(requests.RequestException):
        _ = resp.content
    resp.close()
