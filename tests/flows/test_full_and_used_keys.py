"""Full and used keys are found from getInfo before any change to the key (issue 11, item 4).

CTAP 2.1 section 6.4 (authenticatorGetInfo): ``remainingDiscoverableCredentials`` (0x14) is
"the estimated number of additional discoverable credentials that can be stored"; absent, the
number is unknown. ``options.clientPin`` true means a PIN is set. The virtual key answers both
as the section says (a CTAP 2.0 key, which predates 0x14, leaves it out). A key that reports 0
is full: it is reset (asked) or refused before its PIN is set. A full key that does not say so
is found at makeCredential after the kiosk set its PIN: it is then tracked as needing a reset,
and when it comes back the reset question says that the kiosk itself set that PIN.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.enroll.events import ErrorRaised, Prompt, PromptChanged, StepChanged
from kiosk.keys.virtual.device import VirtualKey
from kiosk.keys.virtual.profiles import CTAP20_KEY, FULL_KEY
from kiosk.model.steps import Step
from tests.fixtures.engine import EngineRig

SET_PIN = "clientPIN.setPIN"


def _key(profile: object) -> VirtualKey:
    return VirtualKey(profile, auto_touch=0.0, touch_timeout=5.0)  # type: ignore[arg-type]


def test_a_full_key_is_asked_about_before_its_pin_is_set_and_reset(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig()
    (upn,) = rig.add_users(1)
    full = _key(FULL_KEY)
    rig.robot(iter([full]))
    rig.start()
    (result,) = rig.wait_results(1)
    rig.stop()
    assert result.status is Step.DONE
    (asked,) = [e for e in rig.of(PromptChanged) if e.prompt is Prompt.CONFIRM_RESET]
    assert f"Key {FULL_KEY.serial} is full: it reports no room" in asked.detail
    names = full.transactions.names()
    assert names.index("reset") < names.index(SET_PIN)  # no PIN before the reset
    assert names.count("makeCredential") == 1  # no touch wasted on a full key
    assert len(rig.tenant.state.methods_of(upn)) == 1


def test_a_full_key_is_refused_unchanged_where_keys_are_never_reset(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig(reset="never")
    rig.add_users(1)
    full, good = _key(FULL_KEY), rig.key()
    rig.robot(iter([full, good]))
    rig.start()
    (result,) = rig.wait_results(1)
    rig.stop()
    assert result.status is Step.DONE
    refusal = rig.of(ErrorRaised)[0]
    assert "This key is full: it reports no room for another credential" in refusal.detail
    assert "never resets keys" in refusal.detail
    names = full.transactions.names()
    assert SET_PIN not in names and "makeCredential" not in names and "reset" not in names
    assert not full.authenticator.pin_set
    assert full.authenticator.credential_count == FULL_KEY.preset_credentials


def test_a_full_key_that_does_not_say_so_is_tracked_and_its_reset_names_the_kiosks_pin(
    engine_rig: Callable[..., EngineRig],
) -> None:
    quiet_full = dataclasses.replace(
        CTAP20_KEY, name="quiet-full", hid_serial="QF000001", max_credentials=2,
        preset_credentials=2,
    )
    rig = engine_rig(pin_policy="optional")
    (upn,) = rig.add_users(1)
    key = _key(quiet_full)
    rig.robot(iter([key, key]))  # it fails, is pulled, and comes back to be reset
    rig.start()
    (result,) = rig.wait_results(1)
    rig.stop()
    assert result.status is Step.DONE
    (failure,) = rig.of(ErrorRaised)
    assert failure.title == "Key is full"
    assert "Key QF000001 keeps the PIN the kiosk set" in failure.detail
    # While it was out it was tracked as needing a reset, naming the kiosk's PIN and user.
    audit = rig.audit.path.read_text(encoding="utf-8")
    assert '"event":"key needs_reset"' in audit and '"event":"key in_stock"' in audit
    (asked,) = [e for e in rig.of(PromptChanged) if e.prompt is Prompt.CONFIRM_RESET]
    assert "Key QF000001 already holds a PIN: this kiosk left it so" in asked.detail
    assert f"it holds the PIN the kiosk set for {upn}" in asked.detail
    assert "Key is full" in asked.detail
    assert "your own stock" not in asked.detail  # the kiosk knows this key
    # Reset by the kiosk, then enrolled: it needs no reset any more.
    entry = rig.store.inventory.get("QF000001")
    assert entry is not None and entry.state == "enrolled"
    assert rig.engine.keys_needing_reset() == []
    assert [s.step for s in rig.of(StepChanged)].count(Step.RESET) == 1
    assert len(rig.tenant.state.methods_of(upn)) == 1


def test_a_key_left_holding_the_kiosks_pin_is_in_the_export_until_reset(
    engine_rig: Callable[..., EngineRig], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    quiet_full = dataclasses.replace(
        CTAP20_KEY, name="quiet-full", hid_serial="QF000002", max_credentials=1,
        preset_credentials=1,
    )
    rig = engine_rig(pin_policy="optional")
    (upn,) = rig.add_users(1)
    rig.robot(iter([_key(quiet_full), rig.key()]))  # the full key is set aside, not reset
    rig.start()
    (result,) = rig.wait_results(1)
    rig.stop()
    assert result.status is Step.DONE
    (tracked,) = rig.engine.keys_needing_reset()
    assert tracked.serial == "QF000002" and f"the PIN the kiosk set for {upn}" in tracked.reason
    config = tmp_path / "kiosk.toml"
    store = rig.settings.store
    config.write_text(
        rig.tenant.kiosk_toml("certificate")
        + f'\n[store]\npath = "{store.path}"\naudit_path = "{store.audit_path}"\n'
        + f"\n[escrow]\nrecipients = {json.dumps(rig.settings.escrow.recipients)}\n"
        + f'directory = "{rig.settings.escrow.directory}"\n',
        encoding="utf-8",
    )
    capsys.readouterr()
    assert main(["export", "--config", str(config), "--dir", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "Keys to reset before reuse: 1" in out
    assert f"  QF000002: it holds the PIN the kiosk set for {upn}" in out
