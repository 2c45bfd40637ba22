"""Fixtures of the Entra client's flow tests (test_entra_client.py, test_entra_register.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kiosk.entra.fake.server import FakeTenant
from kiosk.entra.fake.state import DirectoryUser
from tests.flows.entra_rig import ALICE, Client, connect


@pytest.fixture
def tenant(fake_tenant_factory: Callable[..., FakeTenant]) -> FakeTenant:
    """A fake tenant with pages of 4, so small groups already span several pages."""
    return fake_tenant_factory(page_size=4)


@pytest.fixture
def client(tenant: FakeTenant) -> Client:
    return connect(tenant)


@pytest.fixture
def alice(tenant: FakeTenant) -> DirectoryUser:
    return tenant.state.add_user(ALICE, "Alice Liddell")
