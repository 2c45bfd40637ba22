"""Operators: scrypt hashes with bounded cost, the idle lock, `kiosk operator add` (PIN rules,
end of input, named admins), the typed [[kiosk.operators]] tables and the sign-in gate."""

from __future__ import annotations

import io
import tomllib

import pytest

from kiosk.cli import main
from kiosk.config import OperatorSettings, Settings, parse
from kiosk.errors import ConfigError, KioskError
from kiosk.operators.idle import IdleLock
from kiosk.operators.pin_hash import PinHashError, hash_pin, verify_pin
from kiosk.operators.sign_in import (
    ADMIN_UNLOCKED,
    KIOSK_EXITED,
    SIGN_IN_FAILED,
    SIGN_IN_PAUSED,
    SignInGate,
    SignInRecord,
    check_sign_in,
)
from kiosk.operators.throttle import PinThrottle


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
        hash_pin("4829")
    assert "at least 6" in err.value.next_step


@pytest.mark.parametrize(
    "bad",
    ["", "plain", "bcrypt$x$y$z", "scrypt$n=3,r=8,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
     "scrypt$n=16384$AAAA$BBBB", "scrypt$n=16384,r=8,p=1,x=2$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
     "scrypt$n=16384,r=8,p=1$AA!A$BBBB", "scrypt$n=16384,r=8,p=1$" + "A" * 300 + "$BBBB"],
)
def test_unreadable_hash_names_the_fix(bad: str) -> None:
    with pytest.raises(PinHashError) as err:
        verify_pin("482913", bad)
    assert "kiosk operator add" in err.value.next_step


@pytest.mark.parametrize(
    "params", ["n=1048576,r=32,p=1", "n=131072,r=8,p=1", "n=65536,r=8,p=16"]
)
def test_a_hash_that_would_cost_too_much_per_check_is_refused_before_any_work(
    params: str,
) -> None:
    """kiosk.toml is input: n=2**20, r=32 would take 4 GiB for one PIN check."""
    stored = f"scrypt${params}$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    with pytest.raises(PinHashError, match="more memory or work"):
        verify_pin("482913", stored)


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
        if not answers:
            raise EOFError
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
    assert "role" not in entry  # an operator, by default
    assert verify_pin("735190", entry["pin_hash"])


def test_operator_add_admin_prints_a_named_admin_that_kiosk_toml_accepts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _feed(monkeypatch, ["902158", "902158"])
    assert main(["operator", "add", "Dana Root", "--admin"]) == 0
    out = capsys.readouterr().out
    settings = parse(out, "kiosk.toml")
    (admin,) = settings.kiosk.operators
    assert (admin.name, admin.role) == ("Dana Root", "admin")
    assert verify_pin("902158", admin.pin_hash)
    check_sign_in(settings)  # one admin is enough to start


@pytest.mark.parametrize(
    ("weak", "why"),
    [("0000", "at least 6"), ("1234", "at least 6"), ("123456", "consecutive"),
     ("111111", "same character"), ("121212", "repeated"), ("198403", "year"),
     ("654321", "consecutive")],
)
def test_operator_add_refuses_a_weak_pin_without_quoting_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], weak: str, why: str
) -> None:
    _feed(monkeypatch, [weak, weak])
    assert main(["operator", "add", "Ana", "--admin"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "PIN too weak" in captured.err and why in captured.err
    assert weak not in captured.err


def test_operator_add_refuses_two_different_pins(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _feed(monkeypatch, ["735190", "735191"])
    assert main(["operator", "add", "Ana"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "PINs differ" in captured.err
    assert "735190" not in captured.err


@pytest.mark.parametrize("answers", [[], ["735190"]])
def test_operator_add_says_clearly_when_its_input_ends_early(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], answers: list[str]
) -> None:
    _feed(monkeypatch, answers)
    assert main(["operator", "add", "Ana"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "No PIN typed" in captured.err and "input ended" in captured.err
    assert "Traceback" not in captured.err and "EOFError" not in captured.err


def test_operator_add_at_the_end_of_real_stdin_gives_no_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """getpass falls back to stdin without a terminal; an empty stdin ends at once."""
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    monkeypatch.setattr("getpass.getpass", lambda prompt="": input(prompt))
    assert main(["operator", "add", "Ana"]) == 2
    assert "No PIN typed" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("table", "named", "allowed"),
    [
        ('name = 42\npin_hash = "x"', "kiosk.operators[1].name", "a quoted string"),
        ('name = "Bo"\nrole = "root"\npin_hash = "x"', "kiosk.operators[1].role", "'admin'"),
        ('name = "Bo"', "kiosk.operators[1] has no pin_hash", "needs one"),
        ('name = ""\npin_hash = "x"', "kiosk.operators[1].name", "1 to 64 printable"),
        ('name = "Bo"\npin = "482913"', "kiosk.operators[1].pin", "Known settings"),
    ],
)
def test_a_bad_operator_table_is_a_config_error_naming_the_key(
    table: str, named: str, allowed: str
) -> None:
    text = f'[[kiosk.operators]]\nname = "Ana"\npin_hash = "x"\n\n[[kiosk.operators]]\n{table}\n'
    with pytest.raises(ConfigError) as err:
        parse(text, "kiosk.toml")
    assert named in err.value.detail and allowed in err.value.detail
    assert "kiosk.toml:" in err.value.detail
    assert "482913" not in str(err.value)


def test_a_bad_key_credential_or_two_people_of_one_name_are_refused_at_start() -> None:
    h = hash_pin("482913")
    admin = OperatorSettings("Dana", "admin", h)
    bad_key = OperatorSettings("Ana", pin_hash=h, key_credential="not-a-credential")
    with pytest.raises(ConfigError, match=r"kiosk.operators\[1\].key_credential"):
        check_sign_in(_settings(admin, bad_key))
    with pytest.raises(ConfigError, match="two operators are called 'dana'"):
        check_sign_in(_settings(admin, OperatorSettings("dana", pin_hash=h)))


def _settings(*people: OperatorSettings) -> Settings:
    from dataclasses import replace

    base = Settings(source="kiosk.toml")
    return replace(base, kiosk=replace(base.kiosk, operators=list(people)))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_back_off_grows_and_a_pause_does_not_buy_new_free_tries() -> None:
    clock = Clock()
    throttle = PinThrottle(clock)
    assert [throttle.failed() for _ in range(5)] == [0, 0, 0, 0, 30]
    assert throttle.wait_seconds() == 31
    clock.now += 31
    assert throttle.wait_seconds() == 0
    assert throttle.failed() == 60  # the very next wrong PIN: a longer pause
    clock.now += 61
    assert throttle.failed() == 120
    clock.now += 121
    throttle.succeeded()
    assert [throttle.failed() for _ in range(5)] == [0, 0, 0, 0, 30]


def test_the_back_off_is_capped() -> None:
    clock = Clock()
    throttle = PinThrottle(clock, max_pause=600)
    pauses = []
    for _ in range(20):
        pauses.append(throttle.failed())
        clock.now += 10_000
    assert max(pauses) == 600 and pauses[-1] == 600


def test_the_back_off_survives_a_restart(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "sign-in-throttle.json"  # type: ignore[operator]
    clock = Clock()
    first = PinThrottle(clock, path=path)
    for _ in range(5):
        first.failed()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    again = PinThrottle(clock, path=path)  # the kiosk started again
    assert again.wait_seconds() == 31
    clock.now += 31
    assert again.failed() == 60
    path.write_text("{not json")
    broken = PinThrottle(clock, path=path)
    assert broken.failed() > 0  # an unreadable state gives no free tries


def _gate(clock: Clock) -> tuple[SignInGate, list[SignInRecord]]:
    h = hash_pin("482913")
    settings = _settings(
        OperatorSettings("Ana", pin_hash=h), OperatorSettings("Dana", "admin", hash_pin("902158"))
    )
    records: list[SignInRecord] = []
    return SignInGate(lambda: settings, PinThrottle(clock), records.append), records


def test_the_gate_records_failures_pauses_unlocks_and_exits_never_the_pin() -> None:
    clock = Clock()
    gate, records = _gate(clock)
    ana, dana = gate.people
    assert gate.check_pin(ana, "482913", "sign-in").ok
    assert records == []  # a sign-in itself is recorded by the engine (set_operator)
    messages = [gate.check_pin(ana, "000000", "sign-in").message for _ in range(5)]
    assert messages[0] == "Wrong PIN for Ana. 4 tries before a pause."
    assert messages[-1] == "Wrong PIN 5 times: refused for 30 s."
    assert [r.event for r in records].count(SIGN_IN_FAILED) == 5
    assert records[-1] == SignInRecord(SIGN_IN_PAUSED, "Ana", "paused", "wrong PIN", 5, 30)
    waiting = gate.check_pin(dana, "902158", "admin")
    assert waiting.message == "Too many wrong PINs. Wait 31 seconds."
    clock.now += 31
    assert not gate.check_pin(ana, "482913", "admin").ok  # Ana is no admin
    assert gate.check_pin(dana, "902158", "admin").ok
    gate.exited("Dana")
    assert [r.event for r in records[-2:]] == [ADMIN_UNLOCKED, KIOSK_EXITED]
    assert records[-2].name == records[-1].name == "Dana"
    assert not any("482913" in repr(r) or "000000" in repr(r) for r in records)


def test_operator_key_registered_by_the_command_signs_in_only_its_operator() -> None:
    from kiosk.commands.operator import register_key, snippet
    from kiosk.keys.virtual.device import VirtualKey
    from kiosk.keys.virtual.port import VirtualPort
    from kiosk.keys.virtual.profiles import PROFILES
    from kiosk.operators.key_sign_in import OperatorKeyError, identify

    port = VirtualPort()
    key = VirtualKey(PROFILES["yubikey5"].with_serial(48000001), auto_touch=0.01)
    port.plug(key)
    said: list[str] = []
    credential = register_key("Ana Silva", port, timeout=5, say=said.append)
    assert "Touch the key now (it blinks)." in said
    assert any("This key has no PIN" in s for s in said)
    text = snippet("Ana Silva", hash_pin("735190"), admin=False, key_credential=credential)
    operators = parse(text, "kiosk.toml").kiosk.operators
    assert operators[0].key_credential == credential
    device = port.open(port.list_descriptors()[0])
    try:
        assert identify(device, operators, verification=False) == "Ana Silva"
    finally:
        device.close()
    # Another key, never registered, signs nobody in.
    port.unplug(key)
    port.plug(VirtualKey(PROFILES["yubikey5"].with_serial(48000002), auto_touch=0.01))
    other = port.open(port.list_descriptors()[0])
    try:
        with pytest.raises(OperatorKeyError, match="belongs to no operator"):
            identify(other, operators, verification=False)
    finally:
        other.close()


def test_operator_key_is_refused_when_none_or_two_are_inserted() -> None:
    from kiosk.commands.operator import register_key
    from kiosk.keys.virtual.port import VirtualPort

    with pytest.raises(KioskError, match="0 keys were found"):
        register_key("Ana", VirtualPort(), timeout=0.3, say=lambda _t: None)


def _demo_key() -> tuple[object, object, list[OperatorSettings]]:
    from kiosk.demo.operators import demo_people, make_operator_key
    from kiosk.keys.virtual.port import VirtualPort

    port = VirtualPort()
    key, credential = make_operator_key(port)
    return port, key, demo_people(credential)


def test_an_operator_key_is_named_without_a_touch_and_other_keys_are_left_alone() -> None:
    from fido2.ctap2.base import Ctap2

    from kiosk.keys.virtual.device import VirtualKey
    from kiosk.keys.virtual.port import VirtualPort
    from kiosk.keys.virtual.profiles import PROFILES
    from kiosk.operators.key_sign_in import (
        OperatorKeyInserted,
        operator_key_owner,
        refuse_operator_key,
    )

    port, key, people = _demo_key()
    assert isinstance(port, VirtualPort) and isinstance(key, VirtualKey)
    port.plug(key)  # nobody touches it: a touch would block until the key's timeout
    device = port.open(port.list_descriptors()[0])
    try:
        assert operator_key_owner(device, people) == "Demo operator"
        with pytest.raises(OperatorKeyInserted, match="This is Demo operator's operator key"):
            refuse_operator_key(device, people)
    finally:
        device.close()
    assert key.wink_count == 0 and not key.waiting_for_touch
    port.unplug(key)
    stranger = VirtualKey(PROFILES["yubikey5"].with_serial(48000009))
    port.plug(stranger)
    device = port.open(port.list_descriptors()[0])
    try:
        refuse_operator_key(device, people)  # not an operator's: no error, no touch
        assert not Ctap2(device).get_info().options.get("clientPin")  # no PIN tried or set
    finally:
        device.close()
    assert stranger.wink_count == 0 and not stranger.waiting_for_touch


def test_key_sign_in_needs_the_keys_own_pin_unless_turned_off() -> None:
    from kiosk.demo.operators import DEMO_KEY_PIN
    from kiosk.keys.errors import WrongPinError
    from kiosk.keys.virtual.device import VirtualKey
    from kiosk.keys.virtual.port import VirtualPort
    from kiosk.operators.key_sign_in import OperatorKeyError, identify

    port, key, people = _demo_key()
    assert isinstance(port, VirtualPort) and isinstance(key, VirtualKey)
    key.presence.auto_touch = 0.01
    port.plug(key)
    device = port.open(port.list_descriptors()[0])
    try:
        with pytest.raises(OperatorKeyError, match="needs the key's own PIN"):
            identify(device, people)
        with pytest.raises(WrongPinError):
            identify(device, people, pin="975310")
        assert identify(device, people, pin=DEMO_KEY_PIN) == "Demo operator"
        assert identify(device, people, verification=False) == "Demo operator"
    finally:
        device.close()
