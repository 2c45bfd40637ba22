"""Entra's side of sign-in: OIDC discovery and the v2.0 token endpoint (client credentials).

What MSAL 1.39 fetches for ``authority=https://127.0.0.1:PORT/<tenant>`` with
``instance_discovery=False``: ``GET /<tenant>/v2.0/.well-known/openid-configuration`` and then
``POST`` to the ``token_endpoint`` it names. The token endpoint accepts a client secret or a
client-assertion JWT (RS256 or PS256, signed by a registered certificate named by ``x5t`` or
``x5t#S256``), and answers failures in AAD's form with the AADSTS codes a client maps:

=========  ======================  =====================================================
AADSTS     error                   when
=========  ======================  =====================================================
90002      invalid_tenant          the tenant in the path is unknown (discovery and token)
700016     unauthorized_client     the client id is not an app in the tenant
7000215    invalid_client          wrong client secret
7000222    invalid_client          the client secret has expired
700027     invalid_client          assertion signature bad, key unknown, or certificate expired
700024     invalid_client          assertion outside its validity time (exp / nbf)
700021     invalid_client          assertion ``aud`` is not this token endpoint
50027      invalid_request         assertion malformed, or iss/sub not the client id
65001      invalid_grant           admin consent has not been granted for the app
70011      invalid_scope           the scope is not ``<resource>/.default``
500011     invalid_resource        the resource is not Microsoft Graph
70003      unsupported_grant_type  anything other than client_credentials
=========  ======================  =====================================================

Bearer tokens are opaque random strings with an expiry; Graph answers 401
``InvalidAuthenticationToken`` to a missing, unknown or expired one.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kiosk.entra.fake.state import AppRegistration, TenantState
from kiosk.entra.fake.wire import GraphError, TokenError, utcnow

GRAPH_RESOURCE = "https://graph.microsoft.com"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class IssuedToken:
    client_id: str
    expires_at: datetime
    roles: frozenset[str] = frozenset()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _thumb(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


class TokenService:
    """Discovery documents, the token endpoint and bearer-token checks for one tenant."""

    def __init__(self, state: TenantState, lifetime_s: float = 3600.0) -> None:
        self.state = state
        self.lifetime_s = lifetime_s
        self.login_url = ""
        self.graph_url = ""
        self._tokens: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()
        self.issued_count = 0

    # ---- discovery ------------------------------------------------------------------------
    def _tenant_ok(self, segment: str) -> bool:
        return segment.lower() in (self.state.tenant_id.lower(), self.state.domain.lower())

    def _unknown_tenant(self, segment: str) -> TokenError:
        return TokenError(
            400,
            "invalid_tenant",
            90002,
            f"Tenant '{segment}' not found. Check to make sure you have the correct tenant ID "
            "and are signing into the correct cloud.",
        )

    def token_endpoint(self) -> str:
        return f"{self.login_url}/{self.state.tenant_id}/oauth2/v2.0/token"

    def openid_configuration(self, segment: str) -> dict[str, Any]:
        if not self._tenant_ok(segment):
            raise self._unknown_tenant(segment)
        base = f"{self.login_url}/{self.state.tenant_id}"
        return {
            "token_endpoint": self.token_endpoint(),
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{self.login_url}/{self.state.tenant_id}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{self.graph_url}/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "tid"],
            "kerberos_endpoint": f"{base}/kerberos",
            "tenant_region_scope": "EU",
            "cloud_instance_name": "fake.local",
            "cloud_graph_host_name": "graph.fake.local",
            "msgraph_host": self.graph_url.split("://", 1)[-1],
        }

    # ---- token endpoint --------------------------------------------------------------------
    def token(self, segment: str, body: bytes) -> dict[str, Any]:
        if not self._tenant_ok(segment):
            raise self._unknown_tenant(segment)
        try:
            parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise TokenError(
                400, "invalid_request", 900144, "The request body is not a form."
            ) from None
        form = {k: v[-1] for k, v in parsed.items()}
        if form.get("grant_type") != "client_credentials":
            raise TokenError(
                400,
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type "
                f"'{form.get('grant_type', '')}'.",
            )
        client_id = form.get("client_id", "")
        with self.state.lock:
            app = self.state.apps.get(client_id)
        if app is None:
            raise TokenError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{self.state.domain}'.",
            )
        if "client_assertion" in form:
            self._check_assertion(app, form)
        elif "client_secret" in form:
            self._check_secret(app, form["client_secret"])
        else:
            raise TokenError(
                401,
                "invalid_client",
                7000216,
                "'client_assertion', 'client_secret' or 'request' is required for the "
                "'client_credentials' grant type.",
            )
        self._check_scope(form.get("scope", ""))
        if not app.admin_consent:
            raise TokenError(
                400,
                "invalid_grant",
                65001,
                "The user or administrator has not consented to use the application with ID "
                f"'{app.client_id}' named '{app.display_name}'.",
            )
        expires_at = utcnow() + timedelta(seconds=self.lifetime_s)
        token = self._jwt_shaped(app.client_id, app.roles, expires_at)
        with self._lock:
            if len(self._tokens) >= 10_000:
                stale = utcnow() - timedelta(hours=1)
                for key in [k for k, t in self._tokens.items() if t.expires_at < stale]:
                    del self._tokens[key]
            self._tokens[token] = IssuedToken(app.client_id, expires_at, frozenset(app.roles))
            self.issued_count += 1
        lifetime = int(self.lifetime_s)
        return {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }

    def _jwt_shaped(self, client_id: str, roles: tuple[str, ...], expires: datetime) -> str:
        """A token shaped like Entra's (a JWT whose ``roles`` name the app's permissions); its
        signature is random: this fake knows its tokens by value, not by signature."""
        head = {"typ": "JWT", "alg": "RS256"}
        claims = {
            "aud": GRAPH_RESOURCE, "iss": f"{self.login_url}/{self.state.tenant_id}/v2.0",
            "tid": self.state.tenant_id, "appid": client_id, "roles": list(roles),
            "exp": int(expires.timestamp()), "uti": secrets.token_urlsafe(16),
        }
        return ".".join([
            _thumb(json.dumps(head).encode()),
            _thumb(json.dumps(claims).encode()),
            secrets.token_urlsafe(48),
        ])

    def _check_scope(self, scope: str) -> None:
        wanted = [s for s in scope.split() if s.endswith("/.default")]
        if not wanted:
            raise TokenError(
                400,
                "invalid_scope",
                70011,
                f"The provided value for the input parameter 'scope' is not valid: '{scope}'. "
                "The scope for the client credentials flow must be <resource>/.default.",
            )
        resources = {GRAPH_RESOURCE, GRAPH_RESOURCE + "/", self.graph_url}
        for s in wanted:
            if s[: -len("/.default")] not in resources:
                raise TokenError(
                    400,
                    "invalid_resource",
                    500011,
                    f"The resource principal named {s[: -len('/.default')]} was not found "
                    f"in the tenant named {self.state.domain}.",
                )

    def _check_secret(self, app: AppRegistration, given: str) -> None:
        now = utcnow()
        for value, expires in app.secrets:
            if hmac.compare_digest(value.encode(), given.encode()):
                if expires <= now:
                    raise TokenError(
                        401,
                        "invalid_client",
                        7000222,
                        f"The provided client secret keys for app '{app.client_id}' are "
                        "expired. Visit the Azure portal to create new keys for your app.",
                    )
                return
        raise TokenError(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the "
            f"client secret value, not the client secret ID, for a secret added to app "
            f"'{app.client_id}'.",
        )

    def _check_assertion(self, app: AppRegistration, form: Mapping[str, str]) -> None:
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise TokenError(
                400, "invalid_request", 50027, "client_assertion_type is not jwt-bearer."
            )
        try:
            head_b64, payload_b64, sig_b64 = form["client_assertion"].split(".")
            header = json.loads(_b64url_decode(head_b64))
            claims = json.loads(_b64url_decode(payload_b64))
            signature = _b64url_decode(sig_b64)
            if not isinstance(header, dict) or not isinstance(claims, dict):
                raise ValueError("not objects")
        except (ValueError, binascii.Error):
            raise TokenError(
                400, "invalid_request", 50027, "JWT token is invalid or malformed."
            ) from None
        cert = self._registered_cert(app, header)
        if cert.not_valid_after_utc <= utcnow():
            raise TokenError(
                401,
                "invalid_client",
                700027,
                "The certificate with identifier used to sign the client assertion is expired "
                "on application.",
            )
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise TokenError(401, "invalid_client", 700027, "Unsupported key type.")
        signed = f"{head_b64}.{payload_b64}".encode("ascii")
        alg = header.get("alg")
        pad: padding.AsymmetricPadding
        if alg == "RS256":
            pad = padding.PKCS1v15()
        elif alg == "PS256":
            pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
        else:
            raise TokenError(
                401, "invalid_client", 700027, f"Unsupported signing algorithm {alg!r}."
            )
        try:
            key.verify(signature, signed, pad, hashes.SHA256())
        except InvalidSignature:
            raise TokenError(
                401, "invalid_client", 700027, "Client assertion failed signature validation."
            ) from None
        if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
            raise TokenError(
                400,
                "invalid_request",
                50027,
                "Invalid JWT token: iss and sub must both be the client id.",
            )
        audiences = {
            self.token_endpoint(),
            f"{self.login_url}/{self.state.domain}/oauth2/v2.0/token",
            f"{self.login_url}/{self.state.tenant_id}/v2.0",
        }
        if claims.get("aud") not in audiences:
            raise TokenError(
                401,
                "invalid_client",
                700021,
                f"Client assertion audience claim does not match Realm issuer. Audience: "
                f"'{claims.get('aud')}'.",
            )
        now = utcnow().timestamp()
        exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat", 0))
        if not isinstance(exp, int | float) or exp <= now or (
            isinstance(nbf, int | float) and nbf > now + 300
        ):
            raise TokenError(
                401,
                "invalid_client",
                700024,
                "Client assertion is not within its valid time range.",
            )

    def _registered_cert(self, app: AppRegistration, header: Mapping[str, Any]) -> x509.Certificate:
        s256, s1 = header.get("x5t#S256"), header.get("x5t")
        for der in app.certificates:
            cert = x509.load_der_x509_certificate(der)
            if isinstance(s256, str) and s256.rstrip("=") == _thumb(
                cert.fingerprint(hashes.SHA256())
            ):
                return cert
            # x5t is a SHA-1 thumbprint by definition (RFC 7515 4.1.7); MSAL sends it for ADFS.
            sha1 = cert.fingerprint(hashes.SHA1())  # noqa: S303
            if isinstance(s1, str) and s1.rstrip("=") == _thumb(sha1):
                return cert
        raise TokenError(
            401,
            "invalid_client",
            700027,
            "Client assertion contains an invalid signature. [Reason - The key was not found.]",
        )

    # ---- bearer tokens ----------------------------------------------------------------------
    def check_bearer(self, authorization: str) -> IssuedToken:
        scheme, _, token = authorization.strip().partition(" ")
        if not token and scheme.count(".") == 2:
            # Graph also takes the token alone, without "Bearer " (clients written against
            # it, like Yubico's bulk registration sample, send it so).
            scheme, token = "bearer", scheme
        if not token or scheme.lower() != "bearer":
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
        with self._lock:
            issued = self._tokens.get(token.strip())
        if issued is None:
            raise GraphError(
                401,
                "InvalidAuthenticationToken",
                "Access token validation failure. Invalid audience.",
            )
        if issued.expires_at <= utcnow():
            raise GraphError(
                401,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
            )
        return issued

    def issued_tokens(self) -> list[str]:
        """Every access token handed out (and not yet forgotten): what leak tests look for."""
        with self._lock:
            return list(self._tokens)

    def expire_all(self) -> None:
        """Every token issued so far expires now (a token running out in the middle of a batch)."""
        past = utcnow() - timedelta(seconds=1)
        with self._lock:
            for token, issued in self._tokens.items():
                self._tokens[token] = IssuedToken(issued.client_id, past, issued.roles)
