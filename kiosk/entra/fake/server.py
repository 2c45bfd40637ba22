"""The fake tenant: one HTTPS server on 127.0.0.1 playing Entra's login endpoint and Graph.

>>> with FakeTenant(page_size=3) as tenant:          # doctest: +SKIP
...     alice = tenant.state.add_user("alice@contoso.example", "Alice")
...     settings = tenant.settings()                  # a kiosk Settings pointing here
...     tenant.state.methods_of(alice.id)             # what got registered

``login_url`` is ``https://127.0.0.1:PORT`` (MSAL authority ``login_url/tenant_id``, with
``instance_discovery=False``); ``graph_url`` is ``https://127.0.0.1:PORT/graph``. Clients must
trust ``ca_file`` (a CA made at start) and nothing else. HTTP/1.1 keep-alive, Nagle off, TLS
handshakes on the connection's own thread, so one ``requests.Session`` pays connection setup
once and each call costs about one round trip.

Latency: ``rtt_ms`` is a floor on every answer: it leaves the server no sooner than ``rtt_ms``
after the request arrived; a new connection first pays two more (TCP and TLS handshakes).
The fake's own work happens inside that time (a 999-user page takes a few milliseconds),
because the fake's CPU time is an artefact of the test rig, not something the client under
test should be charged for; the real service's processing time is unknown and folded into
whatever RTT a test chooses. ``slow`` faults come on top of the floor.

``gzip_level`` 1..9 makes the fake gzip answers over 1 KB as Graph does (``Content-Encoding:
gzip``) when the request's ``Accept-Encoding`` allows it (requests sends ``gzip, deflate``);
the compression runs inside the round-trip floor. Off by default: on loopback there is no
bandwidth to save and the client's decompression made the Graph benchmark no faster
(docs/benchmarks.md, "## Graph").
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import ssl
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from kiosk.entra.fake.batch import answer_batch
from kiosk.entra.fake.client_config import ClientConfig
from kiosk.entra.fake.faults import Fault, FaultPlan
from kiosk.entra.fake.graph_api import VERSIONS, GraphApi
from kiosk.entra.fake.http_server import Outcome, TenantHttpServer
from kiosk.entra.fake.kept import open_tenant
from kiosk.entra.fake.options import OptionsFactory
from kiosk.entra.fake.permissions import check_roles
from kiosk.entra.fake.pki import write_private
from kiosk.entra.fake.snapshot import dump as dump_snapshot
from kiosk.entra.fake.tokens import TokenService
from kiosk.entra.fake.verify import RegistrationPolicy, RegistrationVerifier
from kiosk.entra.fake.wire import (
    GraphError,
    Request,
    Response,
    TokenError,
    graph_error_response,
    gzip_response,
    new_request_id,
    token_error_response,
)

log = logging.getLogger(__name__)

GRAPH_PREFIX = "graph"
SETUP_ROUND_TRIPS = 2
"""Round trips a new connection costs before its first request: TCP, then TLS 1.3."""
KNOWN_MODELS = {"a25342c0-3cdc-4414-8e46-f4807fca511c": "YubiKey 5 Series with NFC"}
"""AAGUID -> model name, as Graph reports it from FIDO metadata (others: no model)."""


@dataclass(frozen=True)
class Issued:
    """One answered request as the fake saw it: what a test compares a client's records with."""

    method: str
    route: str
    status: int
    request_id: str
    client_request_id: str
    path: str
    """The URL path as sent (percent-encoded; no query)."""


class FakeTenant(ClientConfig):
    """A fake Entra ID tenant and Graph, over real HTTPS on 127.0.0.1."""

    def __init__(
        self,
        state_dir: Path | None = None,
        *,
        page_size: int = 100,
        rtt_ms: float = 0.0,
        token_lifetime_s: float = 3600.0,
        seed: int = 0,
        options_value_wrapper: bool = False,
        policy: RegistrationPolicy | None = None,
        port: int = 0,
        domain: str = "contoso.onmicrosoft.com",
        tenant_id: str | None = None,
        client_id: str | None = None,
        trust_virtual_keys: bool = True,
        app_key: rsa.RSAPrivateKey | None = None,
        gzip_level: int = 0,
        id_spelling: str = "mixed",
        keep: bool = False,
    ) -> None:
        """``keep``: the tenant lives on in ``state_dir`` (:mod:`.kept`)."""
        self._own_dir = state_dir is None
        self.state_dir = Path(tempfile.mkdtemp(prefix="fake-tenant-")) if state_dir is None else (
            Path(state_dir)
        )
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.port = port
        core = open_tenant(self.state_dir, keep=keep, app_key=app_key, domain=domain,
                           tenant_id=tenant_id, client_id=client_id, id_spelling=id_spelling)
        self.keeper, self.restored = core.keeper, core.restored
        self.pki, self.state, self.tenant_id = core.pki, core.state, core.state.tenant_id
        self.client_id, self.client_secret = core.client_id, core.client_secret
        """The client secret is a demo secret for this fake tenant only; fine to print."""
        self.client_secret_file = self.state_dir / "client-secret"
        write_private(self.client_secret_file, self.client_secret.encode())
        self.faults = FaultPlan(seed=seed, rtt_ms=rtt_ms)
        self.gzip_level = gzip_level
        """zlib level for answers a client accepts gzipped (as Graph sends them); 0: never."""
        self.tokens = TokenService(self.state, token_lifetime_s)
        self.policy = policy or RegistrationPolicy()
        if not self.policy.models:
            self.policy.models.update(KNOWN_MODELS)
        if trust_virtual_keys:
            # Entra trusts the FIDO metadata roots; this fake trusts the virtual keys' root.
            from kiosk.keys.virtual.attestation import attestation_root_pem

            self.trust_root_pem(attestation_root_pem())
        for root in core.trust_roots:
            if root not in self.policy.trust_roots:  # the roots of keys made before a restart
                self.policy.trust_roots.append(root)
        self.options = OptionsFactory(self.state)
        self.verifier = RegistrationVerifier(self.state, self.policy)
        self.graph = GraphApi(
            self.state,
            self.options,
            self.verifier,
            page_size=page_size,
            options_value_wrapper=options_value_wrapper,
        )
        self.requests: deque[tuple[str, str, int]] = deque(maxlen=100_000)
        """(method, route, status) of every answered request, oldest first."""
        self.issued: deque[Issued] = deque(maxlen=100_000)
        """The request id issued to every answered request (with its route and path)."""
        self.connections_accepted = 0
        self._conns: set[ssl.SSLSocket] = set()
        self._lock = threading.Lock()
        self._server: TenantHttpServer | None = None
        self._thread: threading.Thread | None = None
        self.login_url = ""
        self.graph_url = ""

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FakeTenant:
        if self._server is not None:
            return self
        server = TenantHttpServer(("127.0.0.1", self.port), self, self.pki.server_context())
        self._server = server
        self.port = server.server_address[1]
        self.login_url = f"https://127.0.0.1:{self.port}"
        self.graph_url = f"{self.login_url}/{GRAPH_PREFIX}"
        self.tokens.login_url = self.login_url
        self.tokens.graph_url = self.graph_url
        self.graph.base_url = self.graph_url
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True,
            name=f"fake-tenant:{self.port}",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._own_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> FakeTenant:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- test and demo controls ----------------------------------------------------------
    def save(self) -> None:
        """Write the tenant to its state directory if it is kept and changed (the server does
        after every answer, before it leaves; seeding code calls it once done)."""
        if self.keeper is not None:
            self.keeper.save(lambda: dump_snapshot(
                self.state, client_id=self.client_id, client_secret=self.client_secret,
                trust_roots=self.policy.trust_roots,
            ))

    def expire_tokens(self) -> None:
        """Every bearer token issued so far expires now."""
        self.tokens.expire_all()

    def trust_root_pem(self, pem: bytes) -> None:
        """Trust one more attestation root (PEM) for ``packed`` x5c chains."""
        der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
        if der not in self.policy.trust_roots:
            self.policy.trust_roots.append(der)

    def inject(self, fault: Fault) -> Fault:
        return self.faults.add(fault)

    def routes_called(self, route: str | None = None) -> list[tuple[str, str, int]]:
        with self._lock:
            return [r for r in self.requests if route is None or r[1] == route]

    # ---- request handling ------------------------------------------------------------------
    def _route(self, req: Request) -> tuple[str, Any, bool]:
        """(route name, handler, needs a bearer token)."""
        segs = req.segments
        batch = segs[:1] == [GRAPH_PREFIX] and segs[2:] == ["$batch"] and segs[1] in VERSIONS
        if batch and req.method == "POST":
            return "batch", lambda: answer_batch(self, req, segs[0], segs[1]), True
        if segs and segs[0] == GRAPH_PREFIX:
            name, handler = self.graph.route(req, segs[1:])
            return name, handler, True
        discovery = ["v2.0", ".well-known", "openid-configuration"]
        if len(segs) == 4 and segs[1:] == discovery and req.method == "GET":
            return (
                "discovery",
                lambda: self._json(self.tokens.openid_configuration(segs[0])),
                False,
            )
        if len(segs) == 4 and segs[1:] == ["oauth2", "v2.0", "token"] and req.method == "POST":
            return "token", lambda: self._json(self.tokens.token(segs[0], req.body)), False
        raise GraphError(404, "NotFound", f"No such endpoint: {req.method} {req.raw_path}")

    @staticmethod
    def _json(payload: Any) -> Response:
        return Response.json(200, payload, "application/json; charset=utf-8")

    def dispatch(self, req: Request) -> Outcome:
        """Answer one request (latency and faults included). Called on the connection's thread."""
        arrived = req.arrived or time.monotonic()
        rid = new_request_id()
        crid = req.header("client-request-id").replace("\r", "").replace("\n", "")[:100]
        route, outcome = self.answer(req, (rid, crid))
        if outcome.response is not None:
            outcome.response.headers.setdefault("request-id", rid)
            outcome.response.headers.setdefault("client-request-id", crid or rid)
            outcome.response.headers.setdefault("x-ms-request-id", rid)
            # Compressed here, before the round-trip floor, so its time is inside the RTT.
            gzip_response(outcome.response, req.header("accept-encoding"), self.gzip_level)
        status = outcome.response.status if outcome.response is not None else 0
        self.record(req, route, status, (rid, crid), answered=outcome.response is not None)
        self.save()  # what this answer tells is on disk before it leaves
        _wait_until(arrived + self.faults.rtt_ms / 1000.0 + outcome.delay_s)
        return outcome

    def answer(self, req: Request, ids: tuple[str, str]) -> tuple[str, Outcome]:
        """(route name, outcome) of one request through the routes and the fault plan; no
        latency and no record (a batch item is answered this way too)."""
        rid, crid = ids
        try:
            route, handler, needs_token = self._route(req)
        except GraphError as err:
            return "unknown", Outcome(graph_error_response(err, rid, crid))
        return route, self._run(route, handler, needs_token, req, ids)

    def record(
        self, req: Request, route: str, status: int, ids: tuple[str, str], *, answered: bool = True
    ) -> None:
        """Keep one request in ``requests`` and, when it was answered, in ``issued``."""
        rid, crid = ids
        with self._lock:
            self.requests.append((req.method, route, status))
            if answered:
                self.issued.append(Issued(req.method, route, status, rid, crid, req.raw_path))

    def _run(
        self, route: str, handler: Any, needs_token: bool, req: Request, ids: tuple[str, str]
    ) -> Outcome:
        rid, crid = ids
        self.faults.wait_if_held(route)
        fault = self.faults.next_call(route)
        kind = fault.kind if fault else None
        if fault is not None and kind == "drop":
            return Outcome(None)
        if fault is not None and kind == "403":
            denied = GraphError(403, "Authorization_RequestDenied",
                                "Insufficient privileges to complete the operation.")
            return Outcome(graph_error_response(denied, rid, crid))
        if fault is not None and kind == "429" and route in ("token", "discovery"):
            # The login endpoint throttles in plain text with Retry-After, not in Graph's JSON
            # (MSAL.NET issue 2855: "ResponseBody: Too Many Requests, Retry-After: 60").
            throttled = Response(429, b"Too Many Requests", "text/plain")
            if fault.retry_after is not None:
                throttled.headers["Retry-After"] = f"{fault.retry_after:g}"
            return Outcome(throttled)
        if fault is not None and kind in ("429", "503", "504"):
            codes = {"429": "TooManyRequests", "503": "serviceNotAvailable", "504": "UnknownError"}
            messages = {
                "429": "Too many requests. Please try again later.",
                "503": "The service is temporarily unavailable. Please try again later.",
                "504": "The gateway timed out.",
            }
            headers = {}
            if fault.retry_after is not None and kind != "504":
                headers["Retry-After"] = str(int(fault.retry_after)) if float(
                    fault.retry_after
                ).is_integer() else str(fault.retry_after)
            if kind == "429":  # Graph's throttling headers (docs: "Throttling limits")
                headers["x-ms-throttle-scope"] = (
                    f"Tenant_Application/ReadWrite/{self.tenant_id}/{self.client_id}"
                )
                headers["x-ms-throttle-information"] = "ResourceUnitLimitExceeded"
            err = GraphError(int(kind), codes[kind], messages[kind], headers)
            return Outcome(graph_error_response(err, rid, crid))
        if kind == "expire_token":
            self.tokens.expire_all()
        try:
            if needs_token:
                check_roles(route, self.tokens.check_bearer(req.header("authorization")))
            resp: Response = handler()
        except GraphError as err:
            resp = graph_error_response(err, rid, crid)
            if err.status == 401:
                resp.headers["WWW-Authenticate"] = (
                    f'Bearer realm="", authorization_uri="{self.authority}/oauth2/authorize", '
                    f'client_id="00000003-0000-0000-c000-000000000000"'
                )
        except TokenError as err:
            resp = token_error_response(err, rid, crid)
        except Exception:  # a bug in the fake must show as a 500, not a dead connection
            log.exception("fake tenant: unhandled error on %s %s", req.method, route)
            resp = graph_error_response(
                GraphError(500, "generalException", "General exception while processing."),
                rid,
                crid,
            )
        delay = fault.delay_s if fault is not None and kind == "slow" else 0.0
        if kind == "lost_response":
            return Outcome(None)
        if kind == "bad_json":
            resp = Response(200, b'{"value": [{"id": "1",', resp.content_type)
        elif kind == "html":
            resp = Response(
                200, b"<html><body><h1>Service Unavailable</h1></body></html>", "text/html"
            )
        elif kind == "truncated":
            return Outcome(resp, truncate=True)
        return Outcome(resp, delay_s=delay)

    def connection_setup_s(self) -> float:
        """Set-up time of a new connection: one round trip for TCP, one for TLS 1.3."""
        return SETUP_ROUND_TRIPS * self.faults.rtt_ms / 1000.0

    def track(self, conn: ssl.SSLSocket, add: bool) -> None:
        with self._lock:
            if add:
                self._conns.add(conn)
                self.connections_accepted += 1
            else:
                self._conns.discard(conn)


def _wait_until(deadline: float) -> None:
    """Sleep until ``deadline`` (monotonic) without overshooting it by a sleep's slack (tenths of
    a millisecond, which a network's round trip does not add): the last half millisecond is
    waited out in short yields."""
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(left - 0.0005 if left > 0.001 else 0)
