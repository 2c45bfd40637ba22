"""Our Entra/Graph client against the fake tenant: sign-in, users and groups, faults.

Over real HTTPS and through MSAL; see tests/flows/entra_rig.py for what is real here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from kiosk.config import GraphSettings, Settings
from kiosk.entra.auth import TokenProvider
from kiosk.entra.errors import (
    AuthError,
    AuthUnavailableError,
    ConsentMissingError,
    CredentialExpiredError,
    GraphError,
    GraphNotFoundError,
    GraphResponseError,
    GraphThrottledError,
    InvalidClientError,
    NetworkError,
    TlsError,
    UnknownTenantError,
)
from kiosk.entra.fake.demo_tenant import make_demo_tenant
from kiosk.entra.fake.faults import Fault
from kiosk.entra.fake.server import FakeTenant
from kiosk.entra.fake.state import DirectoryUser
from kiosk.entra.graph import GraphClient
from kiosk.entra.http import make_session
from kiosk.entra.secrets import load_credential
from tests.flows.entra_rig import ALICE, Client, connect

# ------------------------------------------------------------------------------ sign-in


@pytest.mark.parametrize("credential", ["secret", "certificate"])
def test_sign_in_with_secret_or_certificate(
    tenant: FakeTenant, alice: DirectoryUser, credential: str
) -> None:
    c = connect(tenant, credential)
    assert c.tokens.uses_certificate is (credential == "certificate")
    assert c.graph.get_user(alice.id).user_principal_name == alice.user_principal_name
    assert c.graph.get_user(alice.user_principal_name).id == alice.id
    # the second call used MSAL's cached token
    assert c.calls("token") == [200]
    assert c.tokens.tokens_fetched == 1


def test_wrong_secret_is_invalid_client(tenant: FakeTenant) -> None:
    c = connect(
        tenant, "secret", client_secret_file="", client_secret="fk~wrong", allow_inline_secret=True
    )
    with pytest.raises(InvalidClientError) as info:
        c.tokens.token()
    assert info.value.aadsts == 7000215
    assert "fk~wrong" not in str(info.value)
    assert tenant.client_secret not in str(info.value)


def test_expired_secret(tenant: FakeTenant) -> None:
    tenant.state.update_app(
        tenant.client_id,
        secrets=((tenant.client_secret, datetime.now(UTC) - timedelta(days=1)),),
    )
    c = connect(tenant, "secret")
    with pytest.raises(CredentialExpiredError) as info:
        c.tokens.token()
    assert info.value.aadsts == 7000222


def test_certificate_not_registered_with_the_app(tenant: FakeTenant) -> None:
    tenant.state.update_app(tenant.client_id, certificates=())
    c = connect(tenant, "certificate")
    with pytest.raises(InvalidClientError):
        c.tokens.token()


def test_unknown_tenant(tenant: FakeTenant) -> None:
    c = connect(tenant, tenant_id="nobody.example")
    with pytest.raises(UnknownTenantError) as info:
        c.graph.get_user("alice@contoso.onmicrosoft.com")
    assert "tenant_id" in info.value.next_step
    assert "not known" in info.value.detail


def test_unknown_client_id(tenant: FakeTenant) -> None:
    c = connect(tenant, client_id="00000000-0000-0000-0000-000000000001")
    with pytest.raises(InvalidClientError) as info:
        c.tokens.token()
    assert info.value.aadsts == 700016


def test_missing_admin_consent(tenant: FakeTenant) -> None:
    tenant.state.update_app(tenant.client_id, admin_consent=False)
    c = connect(tenant)
    with pytest.raises(ConsentMissingError) as info:
        c.tokens.token()
    assert "admin consent" in info.value.next_step


def test_server_not_trusted_without_its_ca(tenant: FakeTenant) -> None:
    c = connect(tenant, ca_bundle="")
    with pytest.raises(AuthError) as info:
        c.tokens.token()
    assert "certificate" in info.value.title.lower()
    # and the Graph side refuses the same way, without retrying
    s = c.settings
    graph = GraphClient(s, _StaticToken(), make_session(s.tenant, s.graph), sleep=c.slept.append)
    with pytest.raises(TlsError):
        graph.get_user("x")
    assert c.slept == []


class _StaticToken:
    def token(self, *, force_refresh: bool = False) -> str:
        return "never-sent"


def test_token_is_renewed_before_it_expires(
    fake_tenant_factory: Callable[..., FakeTenant],
) -> None:
    # Tokens that live 4 minutes are inside MSAL's 5-minute renewal margin: every call gets a
    # fresh one, so Graph never sees a token about to run out (no 401 at all).
    short = fake_tenant_factory(token_lifetime_s=240)
    user = short.state.add_user(ALICE)
    c = connect(short)
    for _ in range(3):
        c.graph.get_user(user.id)
    assert c.calls("token") == [200, 200, 200]
    assert c.calls("user") == [200, 200, 200]
    long = fake_tenant_factory(token_lifetime_s=3600)
    user = long.state.add_user(ALICE)
    c = connect(long)
    for _ in range(3):
        c.graph.get_user(user.id)
    assert c.calls("token") == [200]


@pytest.mark.parametrize("route", ["token", "discovery"])
@pytest.mark.parametrize("kind", ["429", "503", "504", "drop", "bad_json", "html", "truncated"])
def test_sign_in_survives_one_fault(tenant: FakeTenant, route: str, kind: str) -> None:
    slept: list[float] = []
    settings = tenant.settings("secret")
    tokens = TokenProvider(
        settings,
        load_credential(settings.tenant, env={}),
        make_session(settings.tenant, settings.graph),
        sleep=slept.append,
    )
    tenant.faults.schedule(kind, route, 1, retry_after=2)  # type: ignore[arg-type]
    if route == "discovery" and kind in ("bad_json", "html"):
        # MSAL reads the discovery document once, when the app is built: a broken one is a
        # clear error, and the next call builds the app again.
        with pytest.raises(AuthUnavailableError, match="not valid JSON"):
            tokens.token()
    assert tokens.token()
    if kind in ("429", "503"):
        assert slept == [2.0]


def test_sign_in_that_stays_throttled_says_so(tenant: FakeTenant) -> None:
    """Entra's token endpoint throttles in plain text with Retry-After (not JSON)."""
    slept: list[float] = []
    settings = tenant.settings("secret", Settings(graph=GraphSettings(max_retries=2)))
    tokens = TokenProvider(
        settings,
        load_credential(settings.tenant, env={}),
        make_session(settings.tenant, settings.graph),
        sleep=slept.append,
    )
    tenant.inject(Fault("429", "token", probability=1.0, retry_after=7))
    with pytest.raises(AuthError) as info:
        tokens.token()
    assert slept == [7.0, 7.0]  # Retry-After honoured, then no more asking
    assert tenant.routes_called("token") == [("POST", "token", 429)] * 3
    assert "throttling" in info.value.detail and "7 s" in info.value.detail
    assert "another" in info.value.next_step or "other program" in info.value.next_step


@pytest.mark.parametrize("kind", ["503", "drop", "html"])
def test_sign_in_that_keeps_failing_is_a_typed_error(tenant: FakeTenant, kind: str) -> None:
    c = connect(tenant)
    tenant.inject(Fault(kind, "token", probability=1.0, retry_after=1))  # type: ignore[arg-type]
    with pytest.raises(AuthError) as info:
        c.graph.get_user("alice@contoso.onmicrosoft.com")
    assert info.value.next_step
    assert len(c.calls("token")) == 3  # first try + 2 retries
    assert c.calls("user") == []


# ------------------------------------------------------------------------------ users and groups


def test_guest_upn_with_ext(tenant: FakeTenant, client: Client) -> None:
    guest = tenant.state.add_guest("bob@fabrikam.example", "Bob")
    assert "#EXT#" in guest.user_principal_name
    assert client.graph.get_user(guest.user_principal_name).id == guest.id


def test_unknown_user_is_not_found_without_retry(client: Client) -> None:
    with pytest.raises(GraphNotFoundError) as info:
        client.graph.get_user("nobody@contoso.onmicrosoft.com")
    assert info.value.code == "Request_ResourceNotFound"
    assert info.value.request_id
    assert client.calls("user") == [404]
    assert client.slept == []


def test_group_members_paged_nested_users_only(tenant: FakeTenant, client: Client) -> None:
    group = make_demo_tenant(tenant.state, 14, group_name="Mailroom wave")
    expected = {i for i in tenant.state.transitive_member_ids(group.id) if i in tenant.state.users}
    assert client.graph.find_group("Mailroom wave").id == group.id
    users = list(client.graph.iter_group_users(group.id))
    assert {u.id for u in users} == expected
    assert len(users) == len(expected) == 14  # nested Wave 2 users in, device and SP out
    # Page size 4 over every member (14 users, the nested group, a device, a service
    # principal): listed without an OData cast, the non-users are skipped on our side.
    members = tenant.state.transitive_member_ids(group.id)
    assert len(members) == 17
    assert len(client.calls("members")) == -(-len(members) // 4) == 5


def test_group_by_name_with_quotes_and_by_id(tenant: FakeTenant, client: Client) -> None:
    group = tenant.state.add_group("O'Brien's \"team\" & co")
    assert client.graph.find_group("O'Brien's \"team\" & co").id == group.id
    assert client.graph.find_group(group.id).display_name == group.display_name
    with pytest.raises(GraphNotFoundError):
        client.graph.find_group("No such group")
    tenant.state.add_group("Twice")
    tenant.state.add_group("Twice")
    with pytest.raises(GraphError, match="2 groups"):
        client.graph.find_group("Twice")


# ------------------------------------------------------------------------------ faults on reads


@pytest.mark.parametrize(
    ("kind", "retry_after", "expect_sleep"),
    [("429", 7.0, [7.0]), ("503", 2.0, [2.0]), ("504", None, None), ("drop", None, None)],
)
def test_transient_faults_are_retried(
    client: Client,
    alice: DirectoryUser,
    kind: str,
    retry_after: float | None,
    expect_sleep: list[float] | None,
) -> None:
    client.tenant.faults.schedule(kind, "user", 1, retry_after=retry_after)  # type: ignore[arg-type]
    assert client.graph.get_user(alice.id).id == alice.id
    assert len(client.calls("user")) == 2
    assert len(client.slept) == 1
    if expect_sleep is not None:
        assert client.slept == expect_sleep  # Retry-After honoured
    else:
        assert 0.0 <= client.slept[0] <= 0.5  # backoff with jitter, first step


def test_retry_after_is_capped(tenant: FakeTenant, alice: DirectoryUser) -> None:
    c = connect(tenant, graph=GraphSettings(retry_after_cap_seconds=10.0))
    tenant.faults.schedule("429", "user", 1, retry_after=3600)
    c.graph.get_user(alice.id)
    assert c.slept == [10.0]


def test_throttling_that_never_ends_gives_up(client: Client, alice: DirectoryUser) -> None:
    client.tenant.inject(Fault("429", "user", probability=1.0, retry_after=1))
    with pytest.raises(GraphThrottledError) as info:
        client.graph.get_user(alice.id)
    assert client.calls("user") == [429] * 4  # max_retries = 3
    assert client.slept == [1.0, 1.0, 1.0]
    assert info.value.request_id
    assert info.value.code == "TooManyRequests"


def test_slow_answer_times_out_and_is_retried(tenant: FakeTenant, alice: DirectoryUser) -> None:
    c = connect(tenant, graph=GraphSettings(timeout_seconds=0.3, max_retries=2))
    c.tokens.token()
    tenant.faults.schedule("slow", "user", 1, delay_s=1.0)
    assert c.graph.get_user(alice.id).id == alice.id
    assert len(c.slept) == 1


@pytest.mark.parametrize("kind", ["bad_json", "html", "truncated"])
def test_broken_answers_are_typed_errors(client: Client, alice: DirectoryUser, kind: str) -> None:
    client.tenant.inject(Fault(kind, "user", probability=1.0))  # type: ignore[arg-type]
    with pytest.raises(GraphResponseError) as info:
        client.graph.get_user(alice.id)
    assert info.value.title and info.value.next_step
    if kind == "truncated":
        assert "cut short" in str(info.value)


def test_a_truncated_page_once_is_read_again(tenant: FakeTenant, client: Client) -> None:
    group = make_demo_tenant(tenant.state, 9)
    tenant.faults.schedule("truncated", "members", 2)
    assert len(list(client.graph.iter_group_users(group.id))) == 9


def test_token_expiring_mid_batch_is_renewed(tenant: FakeTenant, client: Client) -> None:
    group = make_demo_tenant(tenant.state, 14)
    tenant.faults.schedule("expire_token", "members", 3)
    users = list(client.graph.iter_group_users(group.id))
    assert len(users) == 14
    assert client.calls("token") == [200, 200]
    assert 401 in client.calls("members")
    assert client.tokens.tokens_fetched == 2


def test_timings_carry_request_ids(client: Client, alice: DirectoryUser) -> None:
    client.graph.get_user(alice.id)
    (timing,) = client.timings
    assert timing.status == 200
    assert timing.request_id
    assert timing.milliseconds > 0
    assert timing.path.endswith(f"/users/{alice.id}")


def test_network_down(fake_tenant_factory: Callable[..., FakeTenant], tmp_path: Path) -> None:
    gone = fake_tenant_factory(state_dir=tmp_path)  # keeps its CA file after stopping
    user = gone.state.add_user(ALICE)
    c = connect(gone, graph=GraphSettings(max_retries=1))
    c.tokens.token()
    gone.stop()
    with pytest.raises(NetworkError) as info:
        c.graph.get_user(user.id)
    assert "network" in info.value.next_step.lower()
    assert len(c.slept) == 1


def test_missing_ca_bundle_is_a_clear_error(tenant: FakeTenant) -> None:
    c = connect(tenant, ca_bundle="/nonexistent/ca.pem")
    with pytest.raises(TlsError) as info:
        c.tokens.token()
    assert "tenant.ca_bundle" in str(info.value)


def test_paging_reads_ahead_a_bounded_amount_and_stops_with_the_caller(
    tenant: FakeTenant, client: Client
) -> None:
    group = make_demo_tenant(tenant.state, 40)  # 10 pages of 4
    users = client.graph.iter_group_users(group.id)
    first = next(users)
    assert first.id
    users.close()  # the caller stops: the helper thread must stop too
    time.sleep(0.5)
    fetched = len(client.calls("members"))
    assert 1 <= fetched <= 3  # the page in hand, one queued, one in flight at most
    time.sleep(0.3)
    assert len(client.calls("members")) == fetched


def test_an_error_on_a_later_page_reaches_the_caller(tenant: FakeTenant, client: Client) -> None:
    group = make_demo_tenant(tenant.state, 14)
    tenant.inject(Fault("html", "members", calls=frozenset({3})))
    seen: list[str] = []
    with pytest.raises(GraphResponseError):
        for user in client.graph.iter_group_users(group.id):
            seen.append(user.id)
    assert len(seen) == 8  # two full pages came first


@pytest.mark.parametrize("credential", ["secret", "certificate"])
def test_no_secret_or_token_in_any_log(
    tenant: FakeTenant, credential: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Every logger at DEBUG (ours, MSAL's, urllib3's) through sign-in, a 401 and a retry."""
    user = tenant.state.add_user(ALICE)
    c = connect(tenant, credential)
    tenant.faults.schedule("expire_token", "user", 1)
    tenant.faults.schedule("503", "user", 3)
    with caplog.at_level(logging.DEBUG):
        c.graph.get_user(user.id)
        c.graph.get_user(user.id)
        token = c.tokens.token()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "retry" in text  # the logs did capture the client's work
    assert token not in text
    assert tenant.client_secret not in text
    key_body = tenant.private_key_file.read_text().splitlines()[1]
    assert key_body not in text


def test_sign_in_with_a_pfx_and_passphrase(tenant: FakeTenant, tmp_path: Path) -> None:
    key = serialization.load_pem_private_key(tenant.private_key_file.read_bytes(), None)
    cert = x509.load_pem_x509_certificate(tenant.certificate_file.read_bytes())
    assert isinstance(key, rsa.RSAPrivateKey)
    pfx = tmp_path / "kiosk.pfx"
    pfx.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"kiosk", key, cert, None, serialization.BestAvailableEncryption(b"pfx-pass")
        )
    )
    passphrase = tmp_path / "pfx-pass"
    passphrase.write_bytes(b"pfx-pass\n")
    for path in (pfx, passphrase):
        path.chmod(0o600)
    user = tenant.state.add_user(ALICE)
    c = connect(
        tenant,
        certificate_file="",
        private_key_file="",
        pfx_file=str(pfx),
        pfx_passphrase_file=str(passphrase),
    )
    assert c.tokens.uses_certificate
    assert c.graph.get_user(user.id).id == user.id


def test_discovery_that_stays_unavailable(tenant: FakeTenant) -> None:
    c = connect(tenant)
    tenant.inject(Fault("503", "discovery", probability=1.0, retry_after=1))
    with pytest.raises(AuthUnavailableError) as info:
        c.tokens.token()
    assert "503" in str(info.value)
    assert len(tenant.routes_called("discovery")) == 3  # first try + 2 retries
