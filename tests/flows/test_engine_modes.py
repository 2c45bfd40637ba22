"""Replace mode, operator-typed PINs, and queue sources (CSV full of bad rows, groups, UPNs),
over the real engine, virtual keys and the fake tenant."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kiosk.enroll.events import ErrorRaised, Event, PinHandover, Prompt, PromptChanged
from kiosk.model.steps import Step
from tests.fixtures.engine import EngineRig


def _enroll_once(engine_rig: Callable[..., EngineRig]) -> tuple[str, bytes]:
    first = engine_rig()
    (upn,) = first.add_users(1)
    first.robot()
    first.start()
    first.wait_results(1)
    first.stop()
    (old,) = first.tenant.state.methods_of(upn)
    return upn, old.credential_id


def test_replace_confirmed_deletes_old_methods_after_the_new_key(
    engine_rig: Callable[..., EngineRig],
) -> None:
    upn, old_credential = _enroll_once(engine_rig)
    rig = engine_rig()
    report = rig.engine.add_user(upn, replace=True)
    assert (report.added, report.problems) == (1, ())
    rig.robot(replace=True)
    rig.start()
    (result,) = rig.wait_results(1)
    rig.stop()
    assert result.status is Step.DONE
    (method,) = rig.tenant.state.methods_of(upn)
    assert method.credential_id != old_credential
    confirm = [p for p in rig.of(PromptChanged) if p.prompt is Prompt.CONFIRM_REPLACE]
    assert len(confirm) == 1 and "1 security key" in confirm[0].detail
    audit = Path(rig.settings.store.audit_path).read_text()
    assert '"event":"method deleted"' in audit
    assert rig.store.queue.find(upn).replace is False  # type: ignore[union-attr]


def test_replace_not_confirmed_skips_and_keeps_the_old_method(
    engine_rig: Callable[..., EngineRig],
) -> None:
    upn, old_credential = _enroll_once(engine_rig)
    rig = engine_rig()
    rig.engine.add_user(upn, replace=True)
    bot = rig.robot(replace=False)
    rig.start()
    (result,) = rig.wait_results(1)
    rig.stop()
    assert result.status is Step.SKIPPED
    assert "not confirmed" in result.reason
    assert [m.credential_id for m in rig.tenant.state.methods_of(upn)] == [old_credential]
    assert bot.log.plugged == []  # no key was used
    assert rig.store.queue.counts()["skipped"] == 1


def test_operator_typed_pin_is_checked_then_used(engine_rig: Callable[..., EngineRig]) -> None:
    rig = engine_rig(pin_source="operator", escrow_mode="both")
    rig.add_users(1)
    good = "73915824"

    def operator(event: Event) -> None:
        if isinstance(event, PromptChanged) and event.prompt is Prompt.TYPE_PIN:
            rig.engine.provide_pin("123456")  # sequential and common: refused
        elif isinstance(event, ErrorRaised) and event.title == "PIN not accepted":
            rig.engine.provide_pin(good)

    rig.engine.subscribe(operator)
    rig.robot()
    rig.start()
    (result,) = rig.wait_results(1)
    rig.stop()
    assert result.status is Step.DONE
    (error,) = rig.of(ErrorRaised)
    assert "123456" not in error.detail
    (handover,) = rig.of(PinHandover)
    assert handover.pin == good


def test_csv_full_of_bad_rows_reports_each_by_line(
    engine_rig: Callable[..., EngineRig], tmp_path: Path
) -> None:
    rig = engine_rig()
    domain = rig.tenant.state.domain
    for name in ("ann", "bob", "cyd"):
        rig.tenant.state.add_user(f"{name}@{domain}", name.title())
    text = "\ufeffUserPrincipalName;Keys\n" + "\n".join(
        [
            f"ann@{domain};",  # 2: fine
            "",  # 3: blank, ignored
            "not-an-upn;",  # 4: not a UPN
            f"ghost@{domain};",  # 5: unknown in Entra
            f"ANN@{domain};",  # 6: duplicate of line 2
            f"bob@{domain};2",  # 7: fine, two keys
            f"cyd@{domain};zero",  # 8: bad keys value
            '"=cmd|calc"!A0;',  # 9: formula-looking junk
        ]
    ) + "\n"
    path = tmp_path / "users.csv"
    path.write_text(text, encoding="utf-8")
    report = rig.engine.import_csv(path)
    assert (report.added, report.already_queued) == (2, 0)
    lines = {p.line: p.reason for p in report.problems}
    assert set(lines) == {4, 5, 6, 8, 9}
    assert "no such user" in lines[5]
    assert "duplicate" in lines[6]
    rows = rig.engine.queue_page(0, 10)
    assert [(r.upn, r.keys_wanted) for r in rows] == [(f"ann@{domain}", 1), (f"bob@{domain}", 2)]
    again = rig.engine.import_csv(path)
    assert (again.added, again.already_queued) == (0, 2)


def test_group_and_single_upn_sources(engine_rig: Callable[..., EngineRig]) -> None:
    rig = engine_rig()
    state = rig.tenant.state
    users = [state.add_user(f"g{i}@{state.domain}", f"G {i}") for i in range(5)]
    inner = state.add_group("Inner", users[3:])
    state.add_group("Mailroom batch", [*users[:3], inner])
    report = rig.engine.sync_group("Mailroom batch", keys_per_user=2)
    assert (report.added, report.problems) == (5, ())
    assert {r.keys_wanted for r in rig.engine.queue_page(0, 10)} == {2}
    assert rig.engine.add_user(f"g0@{state.domain}").already_queued == 1
    unknown = rig.engine.add_user(f"nobody@{state.domain}")
    assert unknown.added == 0 and "no such user" in unknown.problems[0].reason
    missing = rig.engine.sync_group("No such group")
    assert missing.added == 0 and missing.problems
    assert rig.engine.counts()["pending"] == 5
