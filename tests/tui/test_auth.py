"""Operator PINs: scrypt hashes, constant-time checks, the idle lock, `kiosk operator add`."""

from __future__ import annotations

import tomllib

import pytest

from kiosk.cli import main
from kiosk.errors import KioskError
from kiosk.tui.auth import IdleLock, PinHashError, hash_pin, verify_pin


def test_hash_verifies_the_right_pin_only() -> None:
    stored = hash_pin("482913")
    assert stored.startswith("scrypt$n=16384,r=8,p=1$")
    assert "482913" not in stored
    assert verify_pin("482913", stored)
    assert not verify_pin("482914", stored)
    assert not verify_pin("", stored)


def test_same_pin_gets_a_different_salt_each_time() -> None:
    assert hash_pin("482913") != hash_pin("482913")


def test_short_pin_is_refused_with_a_next_step() -> None:
    with pytest.raises(KioskError) as err:
        hash_pin("12")
    assert "at least 4" in err.value.next_step


@pytest.mark.parametrize(
    "bad",
    ["", "plain", "bcrypt$x$y$z", "scrypt$n=3,r=8,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
     "scrypt$n=16384$AAAA$BBBB"],
)
def test_unreadable_hash_names_the_fix(bad: str) -> None:
    with pytest.raises(PinHashError) as err:
        verify_pin("1234", bad)
    assert "kiosk operator add" in err.value.next_step


def test_idle_lock_is_due_after_the_configured_minutes() -> None:
    now = [100.0]
    idle = IdleLock(2.0, clock=lambda: now[0])
    now[0] += 119
    assert not idle.due()
    idle.touch()
    now[0] += 119
    assert not idle.due()
    now[0] += 2
    assert idle.due()


def test_idle_lock_zero_minutes_never_locks() -> None:
    now = [0.0]
    idle = IdleLock(0.0, clock=lambda: now[0])
    now[0] += 10_000
    assert not idle.due()


def _feed(monkeypatch: pytest.MonkeyPatch, answers: list[str]) -> list[str]:
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return answers.pop(0)

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    return prompts


def test_operator_add_prints_a_toml_entry_that_verifies(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts = _feed(monkeypatch, ["735190", "735190"])
    assert main(["operator", "add", "Ana Silva"]) == 0
    out = capsys.readouterr().out
    assert len(prompts) == 2
    assert "735190" not in out
    entry = tomllib.loads(out)["kiosk"]["operators"][0]
    assert entry["name"] == "Ana Silva"
    assert verify_pin("735190", entry["pin_hash"])


def test_operator_add_admin_prints_admin_pin_hash(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _feed(monkeypatch, ["90210", "90210"])
    assert main(["operator", "add", "root", "--admin"]) == 0
    out = capsys.readouterr().out
    value = tomllib.loads(out)["admin_pin_hash"]
    assert verify_pin("90210", value)


def test_operator_add_refuses_two_different_pins(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _feed(monkeypatch, ["735190", "735191"])
    assert main(["operator", "add", "Ana"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "PINs differ" in captured.err
    assert "735190" not in captured.err


def test_operator_key_registered_by_the_command_signs_in_only_its_operator() -> None:
    from kiosk.commands.operator import register_key, snippet
    from kiosk.config import parse
    from kiosk.keys.virtual.device import VirtualKey
    from kiosk.keys.virtual.port import VirtualPort
    from kiosk.keys.virtual.profiles import PROFILES
    from kiosk.tui.operator_key import OperatorKeyError, identify
    from kiosk.tui.screens.signin import operator_keys

    port = VirtualPort()
    key = VirtualKey(PROFILES["yubikey5"].with_serial(48000001), auto_touch=0.01)
    port.plug(key)
    said: list[str] = []
    credential = register_key("Ana Silva", port, timeout=5, say=said.append)
    assert "Touch the key now (it blinks)." in said
    text = snippet("Ana Silva", hash_pin("735190"), admin=False, key_credential=credential)
    settings = parse(text, "kiosk.toml")
    keys = operator_keys(settings)
    assert keys == [("Ana Silva", credential)]
    device = port.open(port.list_descriptors()[0])
    try:
        assert identify(device, keys) == "Ana Silva"
    finally:
        device.close()
    # Another key, never registered, signs nobody in.
    port.unplug(key)
    port.plug(VirtualKey(PROFILES["yubikey5"].with_serial(48000002), auto_touch=0.01))
    other = port.open(port.list_descriptors()[0])
    try:
        with pytest.raises(OperatorKeyError, match="belongs to no operator"):
            identify(other, keys)
    finally:
        other.close()


def test_operator_key_is_refused_when_none_or_two_are_inserted() -> None:
    from kiosk.commands.operator import register_key
    from kiosk.keys.virtual.port import VirtualPort

    with pytest.raises(KioskError, match="0 keys were found"):
        register_key("Ana", VirtualPort(), timeout=0.3, say=lambda _t: None)
