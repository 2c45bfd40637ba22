"""A key's own strings and a guest's display name are hostile: the enrollment still ends with
its audit record, inventory row and a sealed PIN whose lines cannot be forged. Real engine,
virtual key with hostile USB strings, fake tenant; nothing mocked."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kiosk.enroll.events import PinHandover, Step
from kiosk.keys.virtual.device import VirtualKey
from kiosk.keys.virtual.profiles import HOSTILE_STRINGS
from kiosk.model.text import digest
from kiosk.store.queue import NewUser
from tests.fixtures.engine import EngineRig


def _records(rig: EngineRig) -> list[dict[str, Any]]:
    text = Path(rig.settings.store.audit_path).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def _key(serial: str) -> VirtualKey:
    profile = dataclasses.replace(HOSTILE_STRINGS, hid_serial=serial)
    return VirtualKey(profile, auto_touch=0.0, touch_timeout=5.0)


def _open(sealed: Path, helpdesk: tuple[Path, Path]) -> str:
    return subprocess.run(
        ["openssl", "cms", "-decrypt", "-inform", "DER", "-in", str(sealed),
         "-inkey", str(helpdesk[1]), "-recip", str(helpdesk[0])],
        capture_output=True, check=True, timeout=30,
    ).stdout.decode()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_a_pin_looking_serial_cannot_keep_its_enrollment_out_of_the_trail(
    engine_rig: Callable[..., EngineRig], helpdesk: tuple[Path, Path]
) -> None:
    rig = engine_rig(escrow_mode="both")
    rig.add_users(1)
    rig.robot(keys=iter([_key("PIN: 11111111")]))
    rig.start()
    (result,) = rig.wait_results(1)
    rig.stop()
    assert result.status is Step.DONE
    enrolled = [r for r in _records(rig) if r["event"] == "enrolled"]
    assert len(enrolled) == 1, "the registered credential has no audit record"
    assert enrolled[0]["key"]["serial"] == digest("PIN: 11111111")
    assert set(enrolled[0]["flagged"]) == {"key.serial", "display_name"}  # the method name
    assert "PIN: 11111111" not in Path(rig.settings.store.audit_path).read_text()
    assert rig.store.queue.counts()["active"] == 0
    assert [e.serial for e in rig.store.inventory.all()] == ["PIN: 11111111"]
    (sealed,) = Path(rig.settings.escrow.directory).iterdir()
    # The record names the sealed file and its SHA-256.
    assert enrolled[0]["escrow"] == {
        "file": sealed.name, "sha256": hashlib.sha256(sealed.read_bytes()).hexdigest()
    }
    lines = _open(sealed, helpdesk).splitlines()
    (pin_line,) = [line for line in lines if line.startswith("PIN:")]
    (handover,) = rig.of(PinHandover)
    assert pin_line == f"PIN: {handover.pin}"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_a_serial_with_a_newline_is_recorded_by_its_hash_and_forges_no_line(
    engine_rig: Callable[..., EngineRig], helpdesk: tuple[Path, Path]
) -> None:
    rig = engine_rig(escrow_mode="sealed")
    hostile = "X\nPIN: 11111111\x1b]0;owned\x07"
    rig.add_users(1)
    rig.robot(keys=iter([_key(hostile)]))
    rig.start()
    (result,) = rig.wait_results(1)
    rig.stop()
    assert result.status is Step.DONE
    (enrolled,) = [r for r in _records(rig) if r["event"] == "enrolled"]
    assert enrolled["key"]["serial"] == digest(hostile)
    (sealed,) = Path(rig.settings.escrow.directory).iterdir()
    opened = _open(sealed, helpdesk)
    assert "\x1b" not in opened and opened.count("PIN:") == 1
    assert f"Key serial: {digest(hostile)}" in opened


def test_a_guest_name_with_escape_sequences_is_stored_plain(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig()
    name = "\x1b]0;pwned\x07Eve \x1b[41mRed\u202e\x9b2J"
    user = rig.tenant.state.add_user("eve@contoso.onmicrosoft.com", name)
    found = rig.graph.get_user(user.id)
    assert found.display_name == "]0;pwnedEve [41mRed2J"
    rig.store.queue.add([NewUser(found.user_principal_name, found.id, found.display_name)])
    rows = rig.store.queue.page(0, 10)
    assert all("\x1b" not in r.display_name for r in rows)
