"""The kiosk killed while a key waits for its touch (kill -9, a power cut): the key keeps the
PIN the kiosk set and nothing else of this attempt. Started again, recovery says that (not a
credential that was never made), the trail records the key needing a reset (not an orphan
credential), and the reset question gives the reason in a few words.

The kill is taken as the crash test takes it: the journal and the trail as they stood at
that moment (copied while the engine waits for the touch), then a second kiosk over the
copies and the same key, which held only its new PIN."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

from kiosk.enroll.events import ErrorRaised, Prompt, PromptChanged
from kiosk.entra.fake.server import FakeTenant
from kiosk.model.steps import Step
from tests.fixtures.engine import EngineRig
from tests.fixtures.engine_build import build_settings


def _as_killed(rig: EngineRig, state: Path) -> None:
    """The store and trail as a kill leaves them, in ``state``."""
    state.mkdir()
    source = sqlite3.connect(rig.settings.store.path)
    copy = sqlite3.connect(state / "kiosk.db")
    source.backup(copy)
    copy.close()
    source.close()
    shutil.copy(rig.settings.store.audit_path, state / "audit.jsonl")


def test_killed_at_the_touch_recovery_says_the_key_keeps_the_kiosk_pin(
    engine_rig: Callable[..., EngineRig], fake_tenant: FakeTenant,
    helpdesk: tuple[Path, Path], tmp_path: Path,
) -> None:
    first = engine_rig()
    (upn,) = first.add_users(1)
    key = first.key(auto_touch=None, touch_timeout=30.0)  # nobody touches it
    first.robot(iter([key]))
    first.start()
    first.wait(lambda evs: any(isinstance(e, PromptChanged) and e.prompt is Prompt.TOUCH_KEY
                               for e in evs))
    (attempt,) = first.store.journal.open_attempts()
    assert attempt.step is Step.PIN_SET and attempt.credential() is None
    state = tmp_path / "after-kill"
    _as_killed(first, state)
    first.stop()  # the key is pulled with the kiosk gone; it holds the PIN, no credential
    assert key.authenticator.state.pin_set and not key.authenticator.state.credentials

    again = EngineRig(fake_tenant, build_settings(fake_tenant, state, helpdesk[0]))
    bot = again.robot(iter([key]))
    try:
        again.start()
        again.wait(lambda _: bool(again.engine.recovery_report))
        (line,) = again.engine.recovery_report
        serial = str(key.profile.serial)
        assert line.startswith(f"Key {serial} keeps the PIN the kiosk set"), line
        assert "holds a credential" not in line and "not registered" not in line, line
        (error,) = again.of(ErrorRaised)
        assert error.title == f"Key {serial} must be reset"
        trail = [json.loads(r) for r in (state / "audit.jsonl").read_text().splitlines()]
        assert not [r for r in trail if r["event"] == "orphan credential"]
        (tracked,) = [r for r in trail if r["event"] == "key needs_reset"]
        assert "keeps the PIN the kiosk set" in tracked["reason"] and tracked["upn"] == upn
        assert again.store.inventory.get(serial).state == "needs_reset"

        # Put in again, the kiosk asks to reset it, giving the reason as a short clause.
        again.wait(lambda evs: any(isinstance(e, PromptChanged)
                                   and e.prompt is Prompt.CONFIRM_RESET for e in evs))
        (asked,) = [e for e in again.of(PromptChanged) if e.prompt is Prompt.CONFIRM_RESET]
        assert f"Key {serial} already holds a PIN: this kiosk left it so (it keeps the PIN " \
            f"the kiosk set for {upn}). Reset it?" in asked.detail, asked.detail
    finally:
        bot.stop()
        again.stop()
