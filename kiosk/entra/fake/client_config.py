"""What a client needs to talk to the fake tenant: its authority, CA, app credential files,
and ready-made kiosk ``Settings`` and ``[tenant]`` text pointing at it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from kiosk.config import Settings, TenantSettings
from kiosk.entra.fake.pki import TenantPki


class ClientConfig:
    """The client's side of :class:`~kiosk.entra.fake.server.FakeTenant` (which sets these)."""

    tenant_id: str
    client_id: str
    login_url: str
    graph_url: str
    pki: TenantPki
    client_secret_file: Path

    @property
    def authority(self) -> str:
        return f"{self.login_url}/{self.tenant_id}"

    @property
    def ca_file(self) -> Path:
        return self.pki.ca_file

    @property
    def certificate_file(self) -> Path:
        return self.pki.app_cert_file

    @property
    def private_key_file(self) -> Path:
        return self.pki.app_key_file

    def tenant_settings(self, credential: str = "certificate") -> TenantSettings:
        """``[tenant]`` settings for this fake; ``credential`` is "certificate" or "secret"."""
        base = TenantSettings(
            tenant_id=self.tenant_id,
            client_id=self.client_id,
            login_url=self.login_url,
            graph_url=self.graph_url,
            ca_bundle=str(self.ca_file),
        )
        if credential == "certificate":
            return replace(
                base,
                certificate_file=str(self.certificate_file),
                private_key_file=str(self.private_key_file),
            )
        if credential == "secret":
            return replace(base, client_secret_file=str(self.client_secret_file))
        raise ValueError("credential must be 'certificate' or 'secret'")

    def settings(self, credential: str = "certificate", base: Settings | None = None) -> Settings:
        """A whole Settings (defaults, or ``base``) whose ``[tenant]`` points at this fake."""
        return replace(base or Settings(), tenant=self.tenant_settings(credential))

    def kiosk_toml(self, credential: str = "certificate") -> str:
        """A ready ``[tenant]`` section for kiosk.toml."""
        t = self.tenant_settings(credential)
        keys = ["tenant_id", "client_id", "login_url", "graph_url", "ca_bundle"]
        keys += (
            ["certificate_file", "private_key_file"]
            if credential == "certificate"
            else ["client_secret_file"]
        )
        lines = ["[tenant]"] + [f"{k} = {json.dumps(getattr(t, k))}" for k in keys]
        return "\n".join(lines) + "\n"
