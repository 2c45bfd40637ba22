"""Each of Graph's id spellings end to end: the fake tenant writes the user's existing methods
in one spelling (per tenant, or mixed per user), our client reads the creation options over
HTTPS, and the virtual key (real CTAPHID packets) refuses to make a second credential for a
user it is already registered to."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from kiosk.entra.fake.options import ID_SPELLINGS
from kiosk.entra.fake.server import FakeTenant
from kiosk.keys.errors import CredentialExcludedError
from kiosk.keys.session import KeySession
from kiosk.model.codec import id_matches
from tests.flows.entra_rig import NAME, PIN, attest, connect, virtual_key_session


@pytest.fixture
def key_session() -> Iterator[KeySession]:
    yield from virtual_key_session()


def _spelled_like(spelling: str, text: str) -> bool:
    if spelling == "base64":
        return text.endswith("=") or len(text) % 4 == 0
    return "=" not in text and "+" not in text and "/" not in text


@pytest.mark.parametrize("spelling", [*ID_SPELLINGS, "mixed"])
def test_a_key_already_registered_to_the_user_is_refused_in_every_spelling(
    fake_tenant_factory: Callable[..., FakeTenant], key_session: KeySession, spelling: str
) -> None:
    tenant = fake_tenant_factory(id_spelling=spelling)
    c = connect(tenant)
    user = tenant.state.add_user("ada@contoso.onmicrosoft.com", "Ada")
    first = attest(c, key_session, user.id)
    method = c.graph.register_fido2_method(user.id, NAME, first)
    assert id_matches(method.id, first.credential_id)

    options = c.graph.creation_options(user.id)
    (listed,) = options.public_key["excludeCredentials"]
    if spelling != "mixed":
        assert _spelled_like(spelling, listed["id"])
    with pytest.raises(CredentialExcludedError) as caught:
        key_session.make_credential(options.public_key, PIN)
    assert "already registered" in caught.value.detail
    assert len(tenant.state.methods_of(user.id)) == 1


def test_spellings_mixed_per_user_in_one_tenant(
    fake_tenant_factory: Callable[..., FakeTenant], key_session: KeySession
) -> None:
    tenant = fake_tenant_factory(id_spelling="base64url")
    c = connect(tenant)
    for n, spelling in enumerate(ID_SPELLINGS):
        user = tenant.state.add_user(f"user{n}@contoso.onmicrosoft.com", f"User {n}")
        tenant.state.user_spellings[user.id] = spelling
        first = attest(c, key_session, user.id)
        method = c.graph.register_fido2_method(user.id, NAME, first)
        # method ids go into URL paths: only Graph's URL-safe spellings
        assert "=" not in method.id and "+" not in method.id and "/" not in method.id
        (listed,) = c.graph.list_fido2_methods(user.id)
        assert id_matches(listed.id, first.credential_id)
        with pytest.raises(CredentialExcludedError):
            attest(c, key_session, user.id)
        c.graph.delete_fido2_method(user.id, method.id)
        assert tenant.state.methods_of(user.id) == []


@pytest.mark.parametrize("spelling", ID_SPELLINGS)
def test_a_lost_posts_method_is_found_by_its_id_in_every_spelling(
    fake_tenant_factory: Callable[..., FakeTenant], key_session: KeySession, spelling: str
) -> None:
    """The answer to the register call is lost after Graph registered the key. Our clock runs
    an hour ahead, so the name + AAGUID + time fallback cannot match: only the method id, in
    the tenant's spelling, finds it; nothing is registered twice."""
    tenant = fake_tenant_factory(id_spelling=spelling)
    c = connect(tenant)
    user = tenant.state.add_user("ada@contoso.onmicrosoft.com", "Ada")
    credential = attest(c, key_session, user.id)
    c.graph.now = lambda: datetime.now(UTC) + timedelta(hours=1)
    tenant.faults.schedule("lost_response", "register", 1)
    method = c.graph.register_fido2_method(user.id, NAME, credential)
    (stored,) = tenant.state.methods_of(user.id)
    assert method.id == stored.id and id_matches(method.id, credential.credential_id)
    assert c.calls("register") == [0]  # sent once; found by id, never sent again
