"""Fault injection and latency in the fake tenant: scheduled, probabilistic, reproducible."""

from __future__ import annotations

import re
import time

import pytest
import requests

from kiosk.entra.fake.faults import Fault, FaultPlan, parse_fault
from kiosk.entra.fake.server import FakeTenant
from tests.fixtures.tenant import SoftAuthenticator, graph_headers


@pytest.fixture
def user_url(fake_tenant: FakeTenant) -> str:
    user = fake_tenant.state.add_user("ada@contoso.onmicrosoft.com")
    return f"{fake_tenant.graph_url}/v1.0/users/{user.id}"


@pytest.fixture
def headers(fake_tenant: FakeTenant, tenant_session: requests.Session) -> dict[str, str]:
    return graph_headers(fake_tenant, tenant_session)


def statuses(session: requests.Session, url: str, headers: dict[str, str], n: int) -> list[int]:
    return [session.get(url, headers=headers, timeout=10).status_code for _ in range(n)]


def test_scheduled_503_hits_only_that_call(fake_tenant, tenant_session, user_url, headers):
    fake_tenant.faults.schedule("503", "user", 2, retry_after=3)
    first = tenant_session.get(user_url, headers=headers, timeout=10)
    second = tenant_session.get(user_url, headers=headers, timeout=10)
    third = tenant_session.get(user_url, headers=headers, timeout=10)
    assert [first.status_code, second.status_code, third.status_code] == [200, 503, 200]
    assert second.headers["Retry-After"] == "3"
    assert second.json()["error"]["innerError"]["request-id"] == second.headers["request-id"]
    assert fake_tenant.faults.fired_kinds("user") == ["503"]


def test_429_carries_retry_after_and_504_does_not(fake_tenant, tenant_session, user_url, headers):
    fake_tenant.faults.schedule("429", "user", 1, retry_after=7)
    fake_tenant.faults.schedule("504", "user", 2)
    throttled = tenant_session.get(user_url, headers=headers, timeout=10)
    timed_out = tenant_session.get(user_url, headers=headers, timeout=10)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "7"
    assert throttled.json()["error"]["code"] == "TooManyRequests"
    assert timed_out.status_code == 504 and "Retry-After" not in timed_out.headers


def test_the_login_endpoint_throttles_in_plain_text(fake_tenant, tenant_session):
    fake_tenant.faults.schedule("429", "token", 1, retry_after=60)
    url = f"{fake_tenant.login_url}/{fake_tenant.tenant_id}/oauth2/v2.0/token"
    throttled = tenant_session.post(url, data={"grant_type": "client_credentials"}, timeout=10)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "60"
    assert throttled.headers["Content-Type"].startswith("text/plain")
    assert throttled.text == "Too Many Requests"


def test_a_dropped_register_call_registers_nothing(fake_tenant, tenant_session, headers):
    user = fake_tenant.state.add_user("ada@contoso.onmicrosoft.com")
    base = f"{fake_tenant.graph_url}/beta/users/{user.id}/authentication/fido2Methods"
    options = tenant_session.get(base + "/creationOptions", headers=headers, timeout=10).json()
    fake_tenant.faults.schedule("drop", "register", 1)
    body = {"displayName": "k", "publicKeyCredential": SoftAuthenticator().register(
        options, fmt="none")}
    with pytest.raises(requests.ConnectionError):
        tenant_session.post(base, json=body, headers=headers, timeout=10)
    assert fake_tenant.state.methods_of(user.id) == []
    # Sent again, it goes through: nothing was consumed.
    assert tenant_session.post(base, json=body, headers=headers, timeout=10).status_code == 201


def test_a_lost_response_still_registers(fake_tenant, tenant_session, headers):
    user = fake_tenant.state.add_user("ada@contoso.onmicrosoft.com")
    base = f"{fake_tenant.graph_url}/beta/users/{user.id}/authentication/fido2Methods"
    options = tenant_session.get(base + "/creationOptions", headers=headers, timeout=10).json()
    fake_tenant.faults.schedule("lost_response", "register", 1)
    body = {"displayName": "k", "publicKeyCredential": SoftAuthenticator().register(
        options, fmt="none")}
    with pytest.raises(requests.ConnectionError):
        tenant_session.post(base, json=body, headers=headers, timeout=10)
    assert len(fake_tenant.state.methods_of(user.id)) == 1
    listed = tenant_session.get(base, headers=headers, timeout=10).json()["value"]
    assert len(listed) == 1
    again = tenant_session.post(base, json=body, headers=headers, timeout=10)
    assert again.status_code == 409


def test_slow_answers_come_late(fake_tenant, tenant_session, user_url, headers):
    fake_tenant.faults.schedule("slow", "user", 1, delay_s=0.3)
    start = time.monotonic()
    assert tenant_session.get(user_url, headers=headers, timeout=10).status_code == 200
    assert time.monotonic() - start >= 0.3
    with pytest.raises(requests.Timeout):
        fake_tenant.faults.schedule("slow", "user", 2, delay_s=0.5)
        tenant_session.get(user_url, headers=headers, timeout=0.2)


def test_token_expiry_in_the_middle_of_a_batch(fake_tenant, tenant_session, user_url, headers):
    fake_tenant.faults.schedule("expire_token", "user", 3)
    assert statuses(tenant_session, user_url, headers, 4) == [200, 200, 401, 401]


def test_broken_bodies(fake_tenant, tenant_session, user_url, headers):
    fake_tenant.faults.schedule("bad_json", "user", 1)
    fake_tenant.faults.schedule("html", "user", 2)
    fake_tenant.faults.schedule("truncated", "user", 3)
    bad = tenant_session.get(user_url, headers=headers, timeout=10)
    assert bad.status_code == 200 and bad.headers["Content-Type"].startswith("application/json")
    with pytest.raises(ValueError):
        bad.json()
    html = tenant_session.get(user_url, headers=headers, timeout=10)
    assert html.headers["Content-Type"] == "text/html" and html.text.startswith("<html>")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        tenant_session.get(user_url, headers=headers, timeout=10)
    assert tenant_session.get(user_url, headers=headers, timeout=10).status_code == 200


def test_faults_can_hit_the_token_endpoint(fake_tenant, tenant_session):
    fake_tenant.faults.schedule("503", "token", 1)
    with pytest.raises(requests.HTTPError):
        graph_headers(fake_tenant, tenant_session)
    assert graph_headers(fake_tenant, tenant_session)["Authorization"].startswith("Bearer ")


def test_random_faults_are_reproducible_from_the_seed(fake_tenant_factory):
    def run(seed: int) -> list[int]:
        tenant: FakeTenant = fake_tenant_factory(seed=seed)
        tenant.faults.randomly("503", "user", 0.3)
        session = requests.Session()
        session.trust_env = False
        session.verify = str(tenant.ca_file)
        user = tenant.state.add_user("ada@contoso.onmicrosoft.com")
        return statuses(session, f"{tenant.graph_url}/v1.0/users/{user.id}",
                        graph_headers(tenant, session), 30)

    first, again, other = run(7), run(7), run(8)
    assert first == again
    assert 503 in first and 200 in first
    assert first != other


def test_plan_draws_do_not_depend_on_other_routes():
    a, b = FaultPlan(seed=3), FaultPlan(seed=3)
    for plan in (a, b):
        plan.randomly("429", "register", 0.5)
    a_hits = [a.next_call("register") is not None for _ in range(40)]
    b_hits = []
    for _ in range(40):
        b.next_call("user")  # interleaved calls of another route change nothing
        b_hits.append(b.next_call("register") is not None)
    assert a_hits == b_hits and any(a_hits) and not all(a_hits)


def test_a_limit_caps_how_often_a_fault_fires():
    plan = FaultPlan(seed=1)
    plan.randomly("503", "*", 1.0, limit=2)
    assert [plan.next_call("user") is not None for _ in range(5)] == [True, True, False, False,
                                                                       False]


def test_unknown_route_names_are_refused():
    with pytest.raises(ValueError, match="unknown route"):
        Fault("503", "registr")


def test_round_trip_time_is_added_to_every_request(fake_tenant, tenant_session, user_url,
                                                   headers):
    fake_tenant.faults.rtt_ms = 40
    start = time.monotonic()
    assert statuses(tenant_session, user_url, headers, 5) == [200] * 5
    assert time.monotonic() - start >= 0.2


@pytest.mark.parametrize(
    ("spec", "kind", "route", "calls", "probability"),
    [
        ("503@register:3", "503", "register", {3}, 0.0),
        ("lost_response@register:1,2", "lost_response", "register", {1, 2}, 0.0),
        ("429@*:10%", "429", "*", set(), 0.1),
        ("drop@token", "drop", "token", set(), 1.0),
    ],
)
def test_fault_specs_from_the_command_line(spec, kind, route, calls, probability):
    fault = parse_fault(spec)
    assert (fault.kind, fault.route, set(fault.calls)) == (kind, route, calls)
    assert fault.probability == pytest.approx(probability)


@pytest.mark.parametrize("spec", ["503", "boom@register:1", "503@registr:1", "503@user:0",
                                  "503@user:150%", "503@user:x"])
def test_bad_fault_specs_say_what_is_wrong(spec):
    with pytest.raises(ValueError, match=re.escape(repr(spec))):
        parse_fault(spec)
