"""Our Entra/Graph client against the fake tenant: creation options and registering keys.

Attestations are made by the virtual key; a lost answer must never register a key twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from kiosk.config import GraphSettings
from kiosk.entra.errors import GraphRequestError
from kiosk.entra.fake.server import FakeTenant
from kiosk.entra.fake.state import DirectoryUser
from kiosk.keys.session import KeySession
from kiosk.model.keys import CreatedCredential
from tests.flows.entra_rig import ALICE, NAME, Client, attest, connect, virtual_key_session


@pytest.fixture(scope="module")
def key_session() -> Iterator[KeySession]:
    yield from virtual_key_session()


# ------------------------------------------------------------------------------ creation options


@pytest.mark.parametrize("wrapped", [False, True])
def test_creation_options_with_and_without_value(
    fake_tenant_factory: Callable[..., FakeTenant], wrapped: bool
) -> None:
    t = fake_tenant_factory(options_value_wrapper=wrapped)
    user = t.state.add_user(ALICE)
    c = connect(t)
    before = datetime.now(UTC)
    options = c.graph.creation_options(user.id)
    assert options.rp_id == "login.microsoft.com"
    assert options.origin == "https://login.microsoft.com"
    assert options.public_key["challenge"]
    minutes = c.settings.graph.challenge_timeout_minutes
    # never later than Graph's challengeTimeoutDateTime (whole seconds) nor our estimate
    (issued,) = t.state.challenges_of(user.id)
    assert options.challenge_expires_at <= issued.expires_at.replace(microsecond=0)
    assert before + timedelta(minutes=minutes, seconds=-1) <= options.challenge_expires_at
    assert options.challenge_expires_at <= datetime.now(UTC) + timedelta(minutes=minutes)


def test_creation_options_v1_has_five_minutes(tenant: FakeTenant, alice: DirectoryUser) -> None:
    c = connect(tenant, graph=GraphSettings(creation_options_api="v1.0"))
    options = c.graph.creation_options(alice.id)
    left = options.challenge_expires_at - datetime.now(UTC)
    assert timedelta(minutes=4) < left <= timedelta(minutes=5)


# ------------------------------------------------------------------------------ register


def test_register_list_delete_with_virtual_key(
    tenant: FakeTenant, client: Client, alice: DirectoryUser, key_session: KeySession
) -> None:
    credential = attest(client, key_session, alice.id)
    method = client.graph.register_fido2_method(alice.id, NAME, credential)
    assert method.display_name == "YubiKey 5 NFC 31400001"
    assert method.aaguid == credential.aaguid
    assert method.created is not None
    stored = tenant.state.methods_of(alice.id)
    assert [m.credential_id for m in stored] == [credential.credential_id]
    assert [m.id for m in client.graph.list_fido2_methods(alice.id)] == [method.id]
    # the next options exclude it (ids decode leniently whatever flavour Graph used)
    client.graph.delete_fido2_method(alice.id, method.id)
    assert tenant.state.methods_of(alice.id) == []
    assert client.graph.list_fido2_methods(alice.id) == []


def test_a_refused_attestation_is_not_retried(
    tenant: FakeTenant, client: Client, alice: DirectoryUser, key_session: KeySession
) -> None:
    credential = attest(client, key_session, alice.id)
    tampered = dataclasses.replace(
        credential, client_data_json=credential.client_data_json.replace(b"webauthn", b"webauthX")
    )
    with pytest.raises(GraphRequestError) as info:
        client.graph.register_fido2_method(alice.id, NAME, tampered)
    assert info.value.status == 400
    assert info.value.request_id
    assert client.calls("register") == [400]
    assert client.slept == []
    assert tenant.state.methods_of(alice.id) == []


def test_display_name_over_30_is_refused_before_sending(
    client: Client, alice: DirectoryUser
) -> None:
    cred = CreatedCredential(b"id", b"{}", b"\xa0", "0" * 32, "none")
    with pytest.raises(ValueError, match="30"):
        client.graph.register_fido2_method(alice.id, "x" * 31, cred)
    assert client.calls("register") == []


@pytest.mark.parametrize("kind", ["lost_response", "503", "504"])
def test_lost_answer_is_reconciled_not_registered_twice(
    tenant: FakeTenant,
    client: Client,
    alice: DirectoryUser,
    key_session: KeySession,
    kind: str,
) -> None:
    credential = attest(client, key_session, alice.id)
    # lost_response: Graph registered it, then the connection dropped; 503/504: a 5xx after
    # the body was sent, so whether it took effect is unknown.
    tenant.faults.schedule(kind, "register", 1)  # type: ignore[arg-type]
    method = client.graph.register_fido2_method(alice.id, NAME, credential)
    stored = tenant.state.methods_of(alice.id)
    assert len(stored) == 1
    assert stored[0].credential_id == credential.credential_id
    assert method.id == stored[0].id
    assert client.calls("list_methods")  # it looked before sending again
    if kind == "lost_response":
        assert client.calls("register") == [0]  # sent once, never again
    else:
        assert client.calls("register") == [int(kind), 201]


def test_dropped_before_processing_is_sent_again_once(
    tenant: FakeTenant, client: Client, alice: DirectoryUser, key_session: KeySession
) -> None:
    credential = attest(client, key_session, alice.id)
    tenant.faults.schedule("drop", "register", 1)
    method = client.graph.register_fido2_method(alice.id, NAME, credential)
    assert client.calls("register") == [0, 201]
    assert client.calls("list_methods") == [200]
    assert [m.id for m in tenant.state.methods_of(alice.id)] == [method.id]


def test_unreadable_201_is_resolved_from_the_method_list(
    tenant: FakeTenant, client: Client, alice: DirectoryUser, key_session: KeySession
) -> None:
    credential = attest(client, key_session, alice.id)
    tenant.faults.schedule("bad_json", "register", 1)
    method = client.graph.register_fido2_method(alice.id, NAME, credential)
    assert client.calls("register") == [200]
    assert [m.id for m in tenant.state.methods_of(alice.id)] == [method.id]
