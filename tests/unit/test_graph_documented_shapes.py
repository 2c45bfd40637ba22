"""Our Graph client against the answer shapes of Microsoft's documentation
(tests/fixtures/graph_docs.py), through a transport that answers them: a change in our
client is checked against Graph as documented, not against our fake tenant."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from kiosk.config import GraphSettings, Settings, TenantSettings
from kiosk.entra.errors import GraphSelfServiceError, GraphThrottledError
from kiosk.entra.graph import GraphClient
from kiosk.entra.http import KioskSession
from kiosk.keys.creation import exclude_list
from kiosk.model.codec import id_matches
from kiosk.model.keys import CreatedCredential
from tests.fixtures import graph_docs as docs
from tests.unit.graph_rig import Tokens

NOW = datetime(2026, 12, 4, 17, 0, 0, tzinfo=UTC)


def _client(
    answers: list[tuple[int, dict[str, Any], dict[str, str]]], api: str = "beta"
) -> GraphClient:
    class Documented(BaseAdapter):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
            status, body, headers = answers.pop(0)
            resp = requests.Response()
            resp.status_code = status
            resp.request = request
            resp.headers.update({"Content-Type": "application/json", **headers})
            resp._content = json.dumps(body).encode()
            return resp

        def close(self) -> None:
            pass

    settings = Settings(
        tenant=TenantSettings(graph_url="https://graph.example"),
        graph=GraphSettings(creation_options_api=api, challenge_timeout_minutes=60,
                            max_retries=1),
    )
    session = KioskSession(timeout=1.0)
    session.mount("https://", Documented())
    return GraphClient(settings, Tokens(), session, sleep=lambda _s: None, now=lambda: NOW)


def test_beta_options_exclude_padding_count_ids_and_expire_when_graph_says() -> None:
    options = _client([(200, docs.CREATION_OPTIONS_BETA, {})]).creation_options("u1")
    excluded = [bytes(d.id) for d in exclude_list(options.public_key)]
    assert docs.CRED_ID in excluded and b"\x99\x06\x11\x01" in excluded
    # asked for 60 minutes; Graph's challengeTimeoutDateTime (5 minutes) is earlier and wins
    assert options.challenge_expires_at == datetime(2026, 12, 4, 17, 5, tzinfo=UTC)


def test_v1_options_keep_the_local_estimate_when_it_is_earlier() -> None:
    later = {**docs.CREATION_OPTIONS_V1, "challengeTimeoutDateTime": "2026-12-04T17:09:00Z"}
    options = _client([(200, later, {})], api="v1.0").creation_options("u1")
    assert options.challenge_expires_at == NOW + timedelta(minutes=5)
    assert [bytes(d.id) for d in exclude_list(options.public_key)] == [docs.CRED_ID]


def test_a_graph_expiry_before_the_request_is_a_skewed_clock_not_an_expired_challenge() -> None:
    skewed = {**docs.CREATION_OPTIONS_V1, "challengeTimeoutDateTime": "2026-12-04T16:50:00Z"}
    options = _client([(200, skewed, {})], api="v1.0").creation_options("u1")
    assert options.challenge_expires_at == NOW + timedelta(minutes=5)


def test_the_v1_create_answer_with_creation_date_time_is_read() -> None:
    cred = CreatedCredential(docs.CRED_ID, b"{}", b"\xa0", docs.CREATED_METHOD_V1["aaGuid"],
                             "packed")
    method = _client([(201, docs.CREATED_METHOD_V1, {})]).register_fido2_method(
        "u1", "Ada's key", cred
    )
    assert method.created == datetime(2026, 12, 4, 17, 1, 2, tzinfo=UTC)
    assert method.raw["passkeyType"] == "deviceBound"
    assert id_matches(method.id, docs.CRED_ID)


def test_the_documented_method_list_is_read_and_matched_by_id() -> None:
    methods = _client([(200, docs.METHOD_LIST, {})]).list_fido2_methods("u1")
    assert [m.display_name for m in methods] == ["Red key", "Ada's key"]
    assert all(m.created is not None for m in methods)
    assert id_matches(methods[0].id, b"\x99\x06\x11\x01")
    assert id_matches(methods[1].id, docs.CRED_ID)


def test_throttling_names_graphs_scope_and_405_names_self_service() -> None:
    throttled = _client([(429, docs.ERROR, docs.THROTTLED_HEADERS)] * 2)
    with pytest.raises(GraphThrottledError) as caught:
        throttled.list_fido2_methods("u1")
    assert "tenant and application" in caught.value.detail
    refused = _client([(405, docs.ERROR, {})])
    with pytest.raises(GraphSelfServiceError) as self_service:
        refused.creation_options("u1")
    assert "self-service" in self_service.value.next_step


def test_the_documented_policy_shapes_are_read_and_pass_as_given() -> None:
    from kiosk.entra.passkey_policy import judge

    for shape, profiles in ((docs.FIDO2_POLICY_LEGACY, False), (docs.FIDO2_POLICY_PROFILES, True)):
        policy = _client([(200, shape, {})]).fido2_policy()
        assert policy.uses_profiles is profiles and policy.enabled and policy.self_service
        verdict = judge(policy, ("g1", "Rollout"), [docs.CREATED_METHOD_V1["aaGuid"]])
        assert verdict.problems == () and verdict.warnings == ()
    blocked = {**docs.FIDO2_POLICY_PROFILES, "passkeyProfiles": [{
        **docs.FIDO2_POLICY_PROFILES["passkeyProfiles"][0],
        "keyRestrictions": {"isEnforced": True, "enforcementType": "allow", "aaGuids": []},
    }]}
    policy = _client([(200, blocked, {})]).fido2_policy()
    (problem,) = judge(policy, None, [docs.CREATED_METHOD_V1["aaGuid"]]).problems
    assert "'Default passkey profile' allows only listed AAGUIDs" in problem
