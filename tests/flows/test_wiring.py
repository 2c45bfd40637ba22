"""kiosk.wiring builds the kiosk the same way for `kiosk run`, `kiosk demo` and the tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from kiosk.config import Settings, StoreSettings
from kiosk.demo.environment import write_helpdesk
from kiosk.entra.fake.server import FakeTenant
from kiosk.keys.virtual.port import VirtualPort
from kiosk.wiring import build_kiosk


def test_state_directories_are_created_private(fake_tenant: FakeTenant, tmp_path: Path) -> None:
    cert, _ = write_helpdesk(tmp_path / "helpdesk")
    state = tmp_path / "new" / "state"
    audit = tmp_path / "new" / "audit"
    base = Settings(
        store=StoreSettings(path=str(state / "kiosk.db"), audit_path=str(audit / "audit.jsonl")),
    )
    settings = fake_tenant.settings("certificate", base)
    settings = dataclasses.replace(
        settings,
        escrow=dataclasses.replace(
            settings.escrow, recipients=[str(cert)], directory=str(state / "escrow")
        ),
    )
    kiosk = build_kiosk(settings, VirtualPort(), env={})
    try:
        for directory in (state, audit):
            assert directory.is_dir()
            assert directory.stat().st_mode & 0o077 == 0, f"{directory} is open to others"
        assert kiosk.engine.counts()["pending"] == 0
    finally:
        kiosk.close()
