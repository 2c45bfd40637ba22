"""The operator's controls: cancel, retry, skip, select; Graph trouble shown and retried."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from kiosk.config import GraphSettings
from kiosk.enroll.events import ErrorRaised, Event, Prompt, PromptChanged, StepChanged, TouchNeeded
from kiosk.model.steps import Step
from tests.fixtures.engine import EngineRig


def test_cancel_at_the_touch_then_retry_with_another_key(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig()
    (upn,) = rig.add_users(1)
    stubborn = rig.key(auto_touch=None)  # nobody touches it
    good = rig.key()

    def operator(event: Event) -> None:
        if isinstance(event, TouchNeeded) and event.reason == "credential" and (
            rig.port.keys and rig.port.keys[0] is stubborn
        ):
            rig.engine.cancel()

    rig.engine.subscribe(operator)
    rig.robot(iter([stubborn, good]))
    rig.start()
    (cancelled,) = rig.wait_results(1)
    assert cancelled.status is Step.FAILED and "cancelled" in cancelled.reason
    # The kiosk had already set a PIN on the stubborn key: the operator is told to reset it.
    assert f"Key {stubborn.profile.serial} keeps the PIN the kiosk set" in cancelled.reason
    assert rig.store.queue.counts()["failed"] == 1
    rig.wait(lambda evs: not rig.port.keys)  # the robot pulled the cancelled key
    rig.engine.retry()
    results = rig.wait_results(2)
    rig.stop()
    assert results[1].status is Step.DONE
    (method,) = rig.tenant.state.methods_of(upn)
    assert str(good.profile.serial) in method.display_name
    assert rig.store.journal.with_state("failed")[0].reason.startswith("cancelled")


def test_a_touch_never_given_after_the_pin_was_set_says_the_key_must_be_reset(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig(reset="never")
    (upn,) = rig.add_users(1)
    untouched = rig.key(auto_touch=None, touch_timeout=0.5)  # the key gives up waiting
    good = rig.key()
    rig.robot(iter([untouched, good]))
    rig.start()
    (result,) = rig.wait_results(1, timeout=60)
    rig.stop()
    assert result.status is Step.DONE
    serial = str(untouched.profile.serial)
    (error,) = rig.of(ErrorRaised)
    assert "touch" in error.title.lower()  # what went wrong stays the title
    assert f"Key {serial} keeps the PIN the kiosk set" in error.detail
    assert f"Key {serial} must be reset before it is used again: set it aside" in (
        error.next_step
    )  # policy.reset = never
    assert error.next_step.index("touch") < error.next_step.index(f"Key {serial}")  # own first
    (failed,) = rig.store.journal.with_state("failed")
    assert failed.serial == serial and "keeps the PIN" in failed.reason
    assert str(good.profile.serial) in rig.tenant.state.methods_of(upn)[0].display_name


def test_escrow_failing_after_the_credential_keeps_its_own_advice_then_asks_for_a_reset(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig(reset="never")
    (upn,) = rig.add_users(1)
    escrow = Path(rig.settings.escrow.directory)
    key = rig.key()

    def operator(event: Event) -> None:
        if isinstance(event, TouchNeeded) and event.reason == "credential":
            shutil.rmtree(escrow, ignore_errors=True)
            escrow.write_bytes(b"")  # a file where the directory was: the PIN cannot be sealed
        if isinstance(event, ErrorRaised):
            escrow.unlink()
            rig.engine.skip("escrow broken")

    rig.engine.subscribe(operator)
    rig.robot(iter([key]))
    rig.start()
    (result,) = rig.wait_results(1)
    rig.stop()
    assert result.status is Step.SKIPPED
    (error,) = rig.of(ErrorRaised)
    serial = str(key.profile.serial)
    assert error.title == "PIN escrow failed"
    assert f"Key {serial} keeps the PIN the kiosk set and a credential that was not registered" in (
        error.detail
    )
    assert error.next_step.startswith("Do not hand the key out")
    assert f"Key {serial} must be reset before it is used again" in error.next_step
    assert rig.tenant.state.methods_of(upn) == []


def test_skip_while_waiting_for_a_key(engine_rig: Callable[..., EngineRig]) -> None:
    rig = engine_rig()
    first, second = rig.add_users(2)

    def operator(event: Event) -> None:
        is_prompt = isinstance(event, PromptChanged) and event.prompt is Prompt.INSERT_KEY
        if is_prompt and first in event.detail:  # type: ignore[union-attr]
            rig.engine.skip("no key in stock")

    rig.engine.subscribe(operator)
    rig.robot()
    rig.start()
    results = rig.wait_results(2)
    rig.stop()
    assert [(r.upn, r.status) for r in results] == [(first, Step.SKIPPED), (second, Step.DONE)]
    assert results[0].reason == "no key in stock"
    assert rig.tenant.state.methods_of(first) == []
    assert rig.engine.queue_page(0, 5, status="skipped")[0].reason == "no key in stock"


def test_select_moves_an_entry_to_the_front(engine_rig: Callable[..., EngineRig]) -> None:
    rig = engine_rig()
    upns = rig.add_users(3)
    last = rig.engine.queue_page(0, 3)[2].entry_id
    rig.engine.select(last)
    rig.robot()
    rig.start()
    results = rig.wait_results(3)
    rig.stop()
    assert [r.upn for r in results] == [upns[2], upns[0], upns[1]]


def test_graph_failure_at_registration_is_shown_and_retried_once_registered(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig(graph=GraphSettings(max_retries=0, timeout_seconds=5.0, prefetch=1))
    (upn,) = rig.add_users(1)
    rig.tenant.faults.schedule("503", "register", 1, 2, 3, retry_after=None)
    retried: list[bool] = []

    def operator(event: Event) -> None:
        if isinstance(event, ErrorRaised) and not retried:
            retried.append(True)
            rig.engine.retry()

    rig.engine.subscribe(operator)
    rig.robot()
    rig.start()
    (result,) = rig.wait_results(1, timeout=60)
    rig.stop()
    assert result.status is Step.DONE
    (error,) = rig.of(ErrorRaised)
    assert "Microsoft Graph" in error.title
    assert error.retryable and error.next_step
    assert len(rig.tenant.state.methods_of(upn)) == 1
    assert [s for _m, _r, s in rig.tenant.routes_called("register")] == [503, 503, 503, 201]


def test_lost_register_answer_is_reconciled_not_sent_twice(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig()
    (upn,) = rig.add_users(1)
    rig.tenant.faults.schedule("lost_response", "register", 1)
    rig.robot()
    rig.start()
    (result,) = rig.wait_results(1)
    rig.stop()
    assert result.status is Step.DONE
    assert len(rig.tenant.state.methods_of(upn)) == 1
    assert rig.store.journal.with_state("done")[0].method_id == (
        rig.tenant.state.methods_of(upn)[0].id
    )


def test_sign_in_refused_is_shown_and_the_engine_stays_up(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig()
    (upn,) = rig.add_users(1)
    tenant = rig.tenant
    tenant.state.update_app(tenant.client_id, admin_consent=False)

    def operator(event: Event) -> None:
        if isinstance(event, ErrorRaised):
            rig.engine.skip("no Graph access today")

    rig.engine.subscribe(operator)
    rig.robot()
    rig.start()
    (result,) = rig.wait_results(1)
    rig.stop()
    assert rig.failure is None
    assert (result.status, result.reason) == (Step.SKIPPED, "no Graph access today")
    error = rig.of(ErrorRaised)[0]
    assert "consent" in error.title.lower() and "admin consent" in error.next_step.lower()
    assert tenant.state.methods_of(upn) == []


def test_locked_kiosk_waits_and_uses_the_key_inserted_meanwhile(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig(operator=None)
    (upn,) = rig.add_users(1)
    key = rig.key()
    rig.start()
    rig.wait(lambda evs: any(
        isinstance(e, PromptChanged) and e.prompt is Prompt.IDLE and "Sign in" in e.detail
        for e in evs
    ))
    rig.port.plug(key)  # the operator puts the key down before signing in
    rig.wait(lambda evs: bool(rig.engine.watcher.present))
    assert rig.of(StepChanged) == []  # nothing happens while locked
    rig.engine.set_operator("Olivia")
    (result,) = rig.wait_results(1)
    rig.port.unplug()
    rig.stop()
    assert result.status is Step.DONE
    assert str(key.profile.serial) in rig.tenant.state.methods_of(upn)[0].display_name
    audit = Path(rig.settings.store.audit_path).read_text(encoding="utf-8")
    assert '"operator":"Olivia"' in audit


def test_stop_during_a_touch_wait_is_prompt_and_resumable(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig()
    (upn,) = rig.add_users(1)
    rig.robot(iter([rig.key(auto_touch=None, touch_timeout=30.0)]))
    rig.start()
    rig.wait(lambda evs: any(isinstance(e, TouchNeeded) and e.reason == "credential"
                             for e in evs))
    started = time.monotonic()
    rig.stop()
    assert time.monotonic() - started < 5.0  # did not wait out the 30-second touch
    (attempt,) = rig.store.journal.open_attempts()  # left for recovery, like a crash
    assert attempt.upn == upn and attempt.step is Step.PIN_SET
