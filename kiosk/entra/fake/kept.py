"""A fake tenant's identity at start: made new, or read back from its state directory.

With ``keep`` (``FakeTenant(keep=True)``, the demo's ``--state-dir``) a tenant started again
over the same directory has the same tenant and app ids, client secret, directory, methods,
challenges, trusted attestation roots (:mod:`.snapshot`) and certificates
(:func:`~kiosk.entra.fake.pki.load_pki`); ``domain``, ``tenant_id``, ``client_id`` and
``id_spelling`` then only serve a new tenant. The snapshot is written last, so a directory
without one (a first start killed half way) just makes a new tenant.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from kiosk.entra.fake.pki import TenantPki, create_pki, load_pki
from kiosk.entra.fake.snapshot import SNAPSHOT_NAME, Keeper, bad_file, load
from kiosk.entra.fake.state import AppRegistration, TenantState
from kiosk.entra.fake.wire import utcnow


@dataclass
class TenantCore:
    pki: TenantPki
    state: TenantState
    client_id: str
    client_secret: str
    keeper: Keeper | None = None
    restored: bool = False
    """Read back from the state directory (a restart)."""
    trust_roots: list[bytes] = field(default_factory=list)
    """Attestation roots the kept tenant trusted (keys made before the restart)."""


def open_tenant(
    state_dir: Path,
    *,
    keep: bool,
    app_key: rsa.RSAPrivateKey | None,
    domain: str,
    tenant_id: str | None,
    client_id: str | None,
    id_spelling: str,
) -> TenantCore:
    """The tenant kept in ``state_dir`` (``keep`` and one is there), else a new one.
    :class:`~kiosk.entra.fake.snapshot.SnapshotError` names a kept file that is bad."""
    keeper = Keeper(state_dir / SNAPSHOT_NAME) if keep else None
    kept = load(keeper.path) if keeper is not None else None
    if kept is not None:
        try:
            pki = load_pki(state_dir)
        except (OSError, ValueError) as exc:
            raise bad_file(state_dir / "server-cert.pem", exc) from None
        return TenantCore(pki, kept.state, kept.client_id, kept.client_secret, keeper, True,
                          kept.trust_roots)
    pki = create_pki(state_dir, app_key=app_key)
    state = TenantState(tenant_id or _new_id(), domain)
    state.id_spelling = id_spelling
    client = client_id or _new_id()
    secret = "fk~" + secrets.token_urlsafe(30)
    state.add_app(
        AppRegistration(
            client_id=client,
            display_name="fido-kiosk",
            secrets=((secret, utcnow() + timedelta(days=180)),),
            certificates=(pki.app_certificate.public_bytes(Encoding.DER),),
        )
    )
    return TenantCore(pki, state, client, secret, keeper)


def _new_id() -> str:
    return str(uuid.UUID(int=secrets.randbits(128), version=4))
