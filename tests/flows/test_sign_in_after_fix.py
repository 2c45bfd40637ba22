"""A sign-in Entra refused is asked again once the admin has fixed the tenant (MSAL would
otherwise replay its cached refusal, correlation id and all), but not in a tight loop: within
the hold the same answer comes back without reaching the login endpoint. Real MSAL, real HTTPS,
the fake tenant toggling consent and secrets; only the hold's clock is ours to move."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kiosk.enroll.events import ErrorRaised, Event
from kiosk.entra.auth import REFUSAL_HOLD_SECONDS, TokenProvider
from kiosk.entra.errors import ConsentMissingError, InvalidClientError
from kiosk.entra.fake.server import FakeTenant
from kiosk.entra.http import make_session
from kiosk.entra.secrets import load_credential
from kiosk.model.steps import Step
from tests.fixtures.engine import EngineRig


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def provider(tenant: FakeTenant, credential: str, clock: Clock) -> TokenProvider:
    settings = tenant.settings(credential)
    return TokenProvider(
        settings,
        load_credential(settings.tenant, env={}),
        make_session(settings.tenant, settings.graph),
        clock=clock,
    )


def token_calls(tenant: FakeTenant) -> list[int]:
    return [status for _m, _r, status in tenant.routes_called("token")]


@pytest.mark.parametrize("credential", ["secret", "certificate"])
def test_consent_granted_after_a_refusal_is_seen_on_the_next_retry(
    fake_tenant: FakeTenant, credential: str
) -> None:
    clock = Clock()
    tokens = provider(fake_tenant, credential, clock)
    fake_tenant.state.update_app(fake_tenant.client_id, admin_consent=False)
    with pytest.raises(ConsentMissingError) as first:
        tokens.token()
    assert first.value.aadsts == 65001
    assert token_calls(fake_tenant) == [400]

    fake_tenant.state.update_app(fake_tenant.client_id, admin_consent=True)  # the admin's fix
    # Within the hold: the same answer, and Entra is not asked again.
    clock.now += REFUSAL_HOLD_SECONDS / 2
    with pytest.raises(ConsentMissingError) as held:
        tokens.token()
    assert held.value.correlation_id == first.value.correlation_id
    assert token_calls(fake_tenant) == [400]
    # After it: Entra is asked afresh (MSAL would have replayed its cached 400 for 60 s).
    clock.now += REFUSAL_HOLD_SECONDS
    assert tokens.token()
    assert token_calls(fake_tenant) == [400, 200]


def test_a_fixed_client_secret_is_used_on_the_retry(fake_tenant: FakeTenant) -> None:
    clock = Clock()
    tokens = provider(fake_tenant, "secret", clock)
    app = fake_tenant.state.apps[fake_tenant.client_id]
    fake_tenant.state.update_app(fake_tenant.client_id, secrets=())  # secret deleted in Entra
    with pytest.raises(InvalidClientError) as refused:
        tokens.token()
    assert refused.value.aadsts == 7000215
    fake_tenant.state.update_app(fake_tenant.client_id, secrets=app.secrets)  # put back
    clock.now += REFUSAL_HOLD_SECONDS
    assert tokens.token()
    assert token_calls(fake_tenant) == [401, 200]


def test_a_refusal_keeps_being_reported_while_it_lasts(fake_tenant: FakeTenant) -> None:
    clock = Clock()
    tokens = provider(fake_tenant, "certificate", clock)
    fake_tenant.state.update_app(fake_tenant.client_id, admin_consent=False)
    seen = set()
    for _ in range(3):
        with pytest.raises(ConsentMissingError) as refused:
            tokens.token()
        seen.add(refused.value.correlation_id)
        clock.now += REFUSAL_HOLD_SECONDS
    # Each retry after the hold really reached Entra (a new correlation id each time).
    assert token_calls(fake_tenant) == [400, 400, 400]
    assert len(seen) == 3


def test_the_operators_retry_after_the_fix_enrolls_the_user(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig()
    (upn,) = rig.add_users(1)
    tenant = rig.tenant
    tenant.state.update_app(tenant.client_id, admin_consent=False)
    rig.graph.http.tokens.refusal_hold = 0.0  # type: ignore[attr-defined]
    errors: list[ErrorRaised] = []

    def operator(event: Event) -> None:
        if isinstance(event, ErrorRaised):
            errors.append(event)
            tenant.state.update_app(tenant.client_id, admin_consent=True)  # the admin's fix
            rig.engine.retry()

    rig.engine.subscribe(operator)
    rig.robot()
    rig.start()
    (result,) = rig.wait_results(1)
    rig.stop()
    assert result.status is Step.DONE
    assert len(errors) == 1 and "consent" in errors[0].title.lower()
    assert len(tenant.state.methods_of(upn)) == 1
