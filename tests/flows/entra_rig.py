"""Shared pieces of the Entra client's flow tests: a client wired to a fake tenant, a key.

Nothing of ours is mocked: the client signs in with MSAL (secret or certificate assertion) and
talks HTTPS to the fake tenant (``fake_tenant_factory`` from tests/fixtures/tenant.py), which
verifies everything itself; attestations come from the virtual key through the device layer's
KeySession. Only ``sleep`` is injected, so retries honouring ``Retry-After`` cost no real time;
what they would have waited is checked instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kiosk.config import GraphSettings, Settings
from kiosk.entra.auth import TokenProvider
from kiosk.entra.display_name import make_display_name
from kiosk.entra.fake.server import FakeTenant
from kiosk.entra.graph import GraphClient
from kiosk.entra.http import make_session
from kiosk.entra.secrets import load_credential
from kiosk.keys.session import KeySession
from kiosk.keys.virtual.device import VirtualKey
from kiosk.keys.virtual.port import VirtualPort
from kiosk.keys.virtual.profiles import PROFILES
from kiosk.model.keys import CreatedCredential
from kiosk.model.timing import Timing

PIN = "13572468"
NAME = make_display_name("{model} {serial}", model="YubiKey 5 NFC", serial="31400001")
ALICE = "alice@contoso.onmicrosoft.com"


@dataclass
class Client:
    tenant: FakeTenant
    settings: Settings
    tokens: TokenProvider
    graph: GraphClient
    slept: list[float] = field(default_factory=list)
    timings: list[Timing] = field(default_factory=list)

    def calls(self, route: str) -> list[int]:
        """HTTP statuses of every call of ``route`` so far (0: no answer)."""
        return [status for _m, _r, status in self.tenant.routes_called(route)]


def connect(
    tenant: FakeTenant,
    credential: str = "certificate",
    graph: GraphSettings | None = None,
    **tenant_changes: Any,
) -> Client:
    """Our real client (MSAL token provider + Graph client) pointed at ``tenant``."""
    base = Settings(graph=graph or GraphSettings(max_retries=3, timeout_seconds=5.0))
    settings = tenant.settings(credential, base)
    if tenant_changes:
        settings = dataclasses.replace(
            settings, tenant=dataclasses.replace(settings.tenant, **tenant_changes)
        )
    slept: list[float] = []
    timings: list[Timing] = []
    session = make_session(settings.tenant, settings.graph)
    tokens = TokenProvider(settings, load_credential(settings.tenant, env={}), session)
    graph_client = GraphClient(
        settings, tokens, session, sleep=slept.append, on_timing=timings.append
    )
    return Client(tenant, settings, tokens, graph_client, slept, timings)


def virtual_key_session() -> Iterator[KeySession]:
    """A virtual YubiKey plugged into a virtual port, with a PIN, as the device layer sees it."""
    port = VirtualPort()
    key = VirtualKey(PROFILES["yubikey5"], auto_touch=0.0, seed=3)
    descriptor = port.plug(key)
    session = KeySession(port.open(descriptor))
    session.set_pin(PIN)
    yield session
    session.close()
    port.unplug()


def attest(client: Client, key: KeySession, user_id: str) -> CreatedCredential:
    """Creation options from the tenant, a credential from the virtual key."""
    options = client.graph.creation_options(user_id)
    return key.make_credential(options.public_key, PIN)
