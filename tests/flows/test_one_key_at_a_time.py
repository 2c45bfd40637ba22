"""One key at a time, at every wait (issue 11, item 2): a second key in the port stops the
enrollment at a safe point with ONLY ONE KEY AT A TIME and the serials in the port; the step
goes on with the key it identified once the others are pulled, and never touches another key.
The keys are virtual (real CTAPHID packets), the tenant the fake one (real HTTPS)."""

from __future__ import annotations

import time
from collections.abc import Callable

from kiosk.enroll.events import (
    EnrollmentResult,
    Event,
    PortChanged,
    Prompt,
    PromptChanged,
    TouchNeeded,
)
from kiosk.keys.virtual.device import VirtualKey
from kiosk.model.steps import Step
from tests.fixtures.engine import EngineRig


def _prompts(rig: EngineRig) -> list[PromptChanged]:
    return rig.of(PromptChanged)


def _wait_prompt(rig: EngineRig, prompt: Prompt, after: int = 0) -> PromptChanged:
    """The first ``prompt`` said after the ``after`` first prompts."""
    rig.wait(lambda _: any(p.prompt is prompt for p in _prompts(rig)[after:]), timeout=10)
    return next(p for p in _prompts(rig)[after:] if p.prompt is prompt)


def _until(what: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _serial(key: VirtualKey) -> str:
    return str(key.profile.serial)


def _untouched(key: VirtualKey, *, credentials: int = 0, pin: bool = False) -> None:
    """The kiosk did nothing to ``key``: no PIN set, no credential made, nothing erased."""
    assert key.authenticator.pin_set is pin
    assert key.authenticator.credential_count == credentials


def _goes_on_with(rig: EngineRig, upn: str, first: VirtualKey, second: VirtualKey) -> None:
    """The second key is pulled: the first blinks again, is touched and enrolled for ``upn``;
    the second was never touched by the kiosk."""
    rig.port.unplug(second)
    _until(lambda: first.waiting_for_touch)
    first.touch()
    rig.wait_results(1)
    rig.stop()
    _enrolled_with(rig, upn, first)
    _untouched(second)


def _enrolled_with(rig: EngineRig, upn: str, key: VirtualKey) -> None:
    (result,) = [r for r in rig.of(EnrollmentResult) if r.upn == upn]
    assert result.status is Step.DONE
    (method,) = rig.tenant.state.methods_of(upn)
    assert _serial(key) in method.display_name
    assert key.authenticator.credential_count == 1


def test_a_second_key_during_the_touch_stops_until_it_is_pulled(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig()
    (upn,) = rig.add_users(1)
    first, second = rig.key(auto_touch=None), rig.key()
    rig.port.plug(first)
    rig.start()
    _until(lambda: first.waiting_for_touch)
    rig.port.plug(second)
    crowd = _wait_prompt(rig, Prompt.ONE_KEY_ONLY)
    assert f"2 keys are in the port ({_serial(first)}, {_serial(second)})" in crowd.detail
    assert f"keep key {_serial(first)} in" in crowd.detail
    # Stopped at a safe point: the key no longer blinks, and a touch now makes nothing.
    assert not first.waiting_for_touch
    first.touch()
    time.sleep(0.3)
    assert first.authenticator.credential_count == 0
    assert _prompts(rig)[-1].prompt is Prompt.ONE_KEY_ONLY
    touches = len(rig.of(TouchNeeded))
    _goes_on_with(rig, upn, first, second)
    assert len(rig.of(TouchNeeded)) == touches + 1  # the touch was asked again


def test_two_keys_plugged_a_moment_apart_at_the_insert(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig()
    (upn,) = rig.add_users(1)
    first, second = rig.key(auto_touch=None), rig.key()
    rig.start()
    _wait_prompt(rig, Prompt.INSERT_KEY)
    rig.port.plug(first)
    time.sleep(0.3)
    rig.port.plug(second)
    crowd = _wait_prompt(rig, Prompt.ONE_KEY_ONLY)
    assert f"({_serial(first)}, {_serial(second)})" in crowd.detail
    assert f"keep key {_serial(first)} in" in crowd.detail  # the key the kiosk took first
    _goes_on_with(rig, upn, first, second)


def test_a_second_key_at_the_reinsert_and_the_reset_touch_is_never_reset(
    engine_rig: Callable[..., EngineRig],
) -> None:
    """The reset's re-insert handshake: a second key while the kiosk asks for the used key
    back, and again while the re-inserted key blinks for its reset. The other key is a used
    one too: a reset sent to it would erase its PIN and credentials."""
    rig = engine_rig(reset="automatic")
    (upn,) = rig.add_users(1)
    used = rig.key("used", auto_touch=None)
    used.authenticator.reset_window = 0.0  # its window has passed: the kiosk asks it back
    other = rig.key("used")
    held = other.authenticator.credential_count
    rig.port.plug(used)
    rig.start()
    reinsert = _wait_prompt(rig, Prompt.REINSERT_KEY)
    seen = len(_prompts(rig))
    rig.port.plug(other)  # while the used key is still in, before it is pulled
    crowd = _wait_prompt(rig, Prompt.ONE_KEY_ONLY, seen)
    assert f"({_serial(used)}, {_serial(other)})" in crowd.detail
    assert f"leave only key {_serial(used)} in" in crowd.detail
    rig.port.unplug(other)
    assert _wait_prompt(rig, Prompt.REINSERT_KEY, seen) == reinsert  # asked back again
    used.authenticator.reset_window = 10.0  # a fresh insert opens the window
    rig.port.unplug(used)
    rig.port.plug(used)
    _until(lambda: used.waiting_for_touch)  # blinking for its reset
    seen = len(_prompts(rig))
    rig.port.plug(other)
    _wait_prompt(rig, Prompt.ONE_KEY_ONLY, seen)
    assert not used.waiting_for_touch
    used.presence.auto_touch = 0.0  # from now on the operator touches it when it blinks
    rig.port.unplug(other)
    rig.wait_results(1)
    rig.stop()
    # The reset's touch was asked for again, then the credential's.
    assert [t.reason for t in rig.of(TouchNeeded)][-3:] == ["reset", "reset", "credential"]
    _enrolled_with(rig, upn, used)
    _untouched(other, credentials=held, pin=True)


def test_keys_plugged_while_the_key_waits_for_removal(
    engine_rig: Callable[..., EngineRig],
) -> None:
    """Two more keys while the enrolled one waits to be pulled: named, and the port's
    picture stays true when the enrolled key is pulled with the others still in."""
    rig = engine_rig()
    upns = rig.add_users(2)
    enrolled, a, b = rig.key(), rig.key(), rig.key()
    rig.port.plug(enrolled)
    rig.start()
    _wait_prompt(rig, Prompt.REMOVE_KEY)
    seen = len(_prompts(rig))
    rig.port.plug(a)
    rig.port.plug(b)
    rig.wait(
        lambda _: any(
            p.prompt is Prompt.ONE_KEY_ONLY and p.detail.startswith("3 keys")
            for p in _prompts(rig)[seen:]
        ),
        timeout=10,
    )
    crowd = next(p for p in _prompts(rig)[seen:] if p.detail.startswith("3 keys"))
    assert f"({_serial(enrolled)}, {_serial(a)}, {_serial(b)}): pull them all" in crowd.detail
    rig.port.unplug(enrolled)

    def port_is(*keys: VirtualKey) -> Callable[[list[Event]], bool]:
        want = tuple(_serial(k) for k in keys)
        return lambda _: bool(rig.of(PortChanged)) and rig.of(PortChanged)[-1].serials == want

    rig.wait(port_is(a, b), timeout=10)
    time.sleep(0.3)
    assert _prompts(rig)[-1].prompt is Prompt.ONE_KEY_ONLY  # no key taken for the next user
    rig.port.unplug(b)
    rig.wait(port_is(a), timeout=10)
    _wait_prompt(rig, Prompt.REMOVE_KEY, seen)
    rig.port.unplug(a)
    rig.wait(port_is(), timeout=10)
    _wait_prompt(rig, Prompt.INSERT_KEY, seen)
    rig.stop()
    _enrolled_with(rig, upns[0], enrolled)
    _untouched(a)
    _untouched(b)


def test_a_second_key_while_a_refused_key_waits_to_be_pulled(
    engine_rig: Callable[..., EngineRig],
) -> None:
    """After an error the kiosk waits for the key to go (or a retry): a second key then is
    named too, and the kiosk asks for the next key only once both are out."""
    rig = engine_rig(reset="never")
    rig.add_users(1)
    used, other = rig.key("used"), rig.key()
    held = used.authenticator.credential_count
    rig.port.plug(used)
    rig.start()
    _wait_prompt(rig, Prompt.REMOVE_KEY)  # refused: it holds a PIN and credentials
    seen = len(_prompts(rig))
    rig.port.plug(other)
    crowd = _wait_prompt(rig, Prompt.ONE_KEY_ONLY, seen)
    assert f"({_serial(used)}, {_serial(other)}): pull them all" in crowd.detail
    rig.port.unplug(used)
    _wait_prompt(rig, Prompt.REMOVE_KEY, seen)
    time.sleep(0.3)
    assert not any(p.prompt is Prompt.INSERT_KEY for p in _prompts(rig)[seen:])
    rig.port.unplug(other)
    _wait_prompt(rig, Prompt.INSERT_KEY, seen)
    rig.stop()
    _untouched(used, credentials=held, pin=True)
    _untouched(other)
