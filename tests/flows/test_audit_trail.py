"""The audit trail names the Graph calls made for each enrollment (request ids the fake tenant
actually issued, with their timings) and records the operator's actions; `kiosk audit verify`
passes on every trail these flows leave. Real engine, virtual keys, fake tenant; nothing mocked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kiosk.cli import main
from kiosk.config import GraphSettings
from kiosk.enroll.csv_source import CsvImportError
from kiosk.enroll.events import ErrorRaised
from kiosk.entra.fake.faults import Fault
from kiosk.entra.fake.server import Issued
from kiosk.model.steps import Step
from tests.fixtures.engine import EngineRig


def records(rig: EngineRig) -> list[dict[str, Any]]:
    text = Path(rig.settings.store.audit_path).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def issued(rig: EngineRig, route: str, user_id: str | None = None) -> list[Issued]:
    return [
        i for i in list(rig.tenant.issued)
        if i.route == route and (user_id is None or f"/{user_id}/" in i.path + "/")
    ]


def verified_by_cli(rig: EngineRig, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", rig.settings.store.audit_path]) == 0
    assert "intact" in capsys.readouterr().out


def calls_named(record: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [c for c in record.get("graph_calls", []) if c["call"] == name]


def test_each_enrolled_record_names_the_graph_calls_made_for_it(
    engine_rig: Callable[..., EngineRig], capsys: pytest.CaptureFixture[str]
) -> None:
    rig = engine_rig()
    rig.add_users(3)
    rig.robot()
    rig.start()
    results = rig.wait_results(3)
    rig.stop()
    assert [r.status for r in results] == [Step.DONE] * 3
    enrolled = [r for r in records(rig) if r["event"] == "enrolled"]
    assert len(enrolled) == 3
    for record in enrolled:
        user = record["user_id"]
        # The options that gave this enrollment its challenge (fetched ahead, on the
        # prefetch thread) are named by the request id the tenant issued for them.
        (options,) = calls_named(record, "creation_options")
        assert options["status"] == 200
        fetched = issued(rig, "creation_options", user)
        assert options["request_id"] in {i.request_id for i in fetched}
        # The register call, exactly as the tenant answered it.
        (register,) = calls_named(record, "register")
        (answered,) = issued(rig, "register", user)
        assert (register["request_id"], register["status"]) == (answered.request_id, 201)
        assert register["client_request_id"] == answered.client_request_id
        assert register["ms"] > 0 and options["ms"] > 0
        # Every id in the record was issued for this user's calls, none for another user's.
        mine = {i.request_id for i in rig.tenant.issued if f"/{user}/" in i.path}
        assert record["graph_request_ids"] == [options["request_id"], register["request_id"]]
        assert set(record["graph_request_ids"]) <= mine
    verified_by_cli(rig, capsys)


def test_register_retries_and_a_lost_answer_are_all_named(
    engine_rig: Callable[..., EngineRig], capsys: pytest.CaptureFixture[str]
) -> None:
    rig = engine_rig()
    first, second = rig.add_users(2)
    rig.tenant.faults.schedule("429", "register", 1, retry_after=0)
    rig.tenant.faults.schedule("lost_response", "register", 3)
    rig.robot()
    rig.start()
    results = rig.wait_results(2)
    rig.stop()
    assert [r.status for r in results] == [Step.DONE] * 2
    by_upn = {r["upn"]: r for r in records(rig) if r["event"] == "enrolled"}
    # First user: throttled once, sent again under the same client request id.
    throttled, accepted = calls_named(by_upn[first], "register")
    assert (throttled["status"], throttled["attempt"]) == (429, 1)
    assert (accepted["status"], accepted["attempt"]) == (201, 2)
    assert throttled["client_request_id"] == accepted["client_request_id"]
    user = by_upn[first]["user_id"]
    assert [throttled["request_id"], accepted["request_id"]] == [
        i.request_id for i in issued(rig, "register", user)
    ]
    # Second user: the answer was lost (no request id reached us), then the method list was
    # read to find the registration instead of sending it twice; both are on the record.
    record = by_upn[second]
    (lost,) = calls_named(record, "register")
    assert lost["status"] == 0 and "request_id" not in lost and lost["client_request_id"]
    listing = calls_named(record, "list_methods")
    user = record["user_id"]
    assert listing and {c["request_id"] for c in listing} <= {
        i.request_id for i in issued(rig, "list_methods", user)
    }
    assert len(rig.tenant.state.methods_of(user)) == 1
    verified_by_cli(rig, capsys)


def test_a_refused_registration_is_audited_with_graphs_answer(
    engine_rig: Callable[..., EngineRig], capsys: pytest.CaptureFixture[str]
) -> None:
    rig = engine_rig()
    (upn,) = rig.add_users(1)
    rig.tenant.faults.schedule("403", "register", 1)
    rig.robot()
    rig.start()
    (result,) = rig.wait_results(1)  # the second key is enrolled
    rig.stop()
    assert result.status is Step.DONE
    trail = records(rig)
    (orphan,) = [r for r in trail if r["event"] == "orphan credential"]
    (enrolled,) = [r for r in trail if r["event"] == "enrolled"]
    user = orphan["user_id"]
    refused, accepted = issued(rig, "register", user)
    assert [(c["status"], c["request_id"]) for c in calls_named(orphan, "register")] == [
        (403, refused.request_id)
    ]
    assert [c["request_id"] for c in calls_named(enrolled, "register")] == [accepted.request_id]
    # Each attempt spent its own challenge: two different options fetches.
    (spent_first,) = calls_named(orphan, "creation_options")
    (spent_second,) = calls_named(enrolled, "creation_options")
    assert spent_first["request_id"] != spent_second["request_id"]
    assert refused.request_id not in enrolled["graph_request_ids"]
    assert orphan["upn"] == upn
    verified_by_cli(rig, capsys)


def test_replace_mode_deletions_carry_their_delete_calls(
    engine_rig: Callable[..., EngineRig], capsys: pytest.CaptureFixture[str]
) -> None:
    first = engine_rig()
    (upn,) = first.add_users(1)
    first.robot()
    first.start()
    first.wait_results(1)
    first.stop()
    (old,) = first.tenant.state.methods_of(upn)
    rig = engine_rig()
    rig.engine.add_user(upn, replace=True)
    rig.robot(replace=True)
    rig.start()
    (result,) = rig.wait_results(1)
    rig.stop()
    assert result.status is Step.DONE
    (deleted,) = [r for r in records(rig) if r["event"] == "method deleted"]
    assert deleted["credential"]["method_id"] == old.id
    (call,) = calls_named(deleted, "delete_method")
    (answered,) = issued(rig, "delete_method")
    assert (call["request_id"], call["status"]) == (answered.request_id, answered.status)
    assert deleted["graph_request_ids"] == [answered.request_id]
    verified_by_cli(rig, capsys)


def test_operator_actions_are_audited_by_the_engine(
    engine_rig: Callable[..., EngineRig], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rig = engine_rig(operator=None)
    domain = rig.tenant.state.domain
    for name in ("ann", "ben", "cat"):
        rig.tenant.state.add_user(f"{name}@{domain}", name.title())
    rig.tenant.state.add_group("Mailroom batch", [rig.tenant.state.user_by_upn(f"cat@{domain}")])
    engine = rig.engine
    engine.set_operator("Olivia")
    engine.set_operator("Olivia")  # the same operator again: nothing new to record
    engine.add_user(f"ann@{domain}")
    csv = tmp_path / "users.csv"
    csv.write_text(f"upn\nben@{domain}\nnobody@{domain}\nnot-an-upn\n", encoding="utf-8")
    engine.import_csv(csv, keys_per_user=2)
    engine.sync_group("Mailroom batch")
    with pytest.raises(CsvImportError):
        engine.import_csv(tmp_path / "missing.csv")
    rig.robot()
    rig.start()
    rig.wait_results(3, timeout=60)
    rig.stop()
    paths = engine.export_manifest(tmp_path / "manifests")
    engine.set_operator(None)  # locked
    engine.set_operator("Bob")
    report = engine.verify_audit()
    assert report.ok
    trail = records(rig)
    events = [r["event"] for r in trail]
    assert events[:5] == [
        "operator signed in", "queue imported", "queue imported", "queue imported",
        "queue import failed",
    ]
    assert events[-5:] == [
        "manifest exported", "operator signed out", "shift reported", "operator signed in",
        "audit verified",
    ]
    assert events.count("enrolled") == 4  # ann, ben twice (two keys), cat
    signed_in, upn_import, csv_import, group_import, failed = trail[:5]
    assert signed_in["operator"] == "Olivia"
    assert (upn_import["source"], upn_import["counts"]) == (
        "upn", {"added": 1, "already_queued": 0, "problems": 0, "keys_per_user": 1}
    )
    assert csv_import["source"] == "csv:users.csv" and csv_import["outcome"] == "partial"
    assert csv_import["counts"] == {
        "added": 1, "already_queued": 0, "problems": 2, "keys_per_user": 2
    }
    assert group_import["source"] == "group:Mailroom batch"
    assert group_import["counts"]["added"] == 1
    assert failed["outcome"] == "failed" and failed["source"] == "csv:missing.csv"
    assert all(r["operator"] == "Olivia" for r in trail[1:5])
    exported, out, shift, back_in, verified = trail[-5:]
    assert shift["operator"] == "Olivia" and shift["counts"]["enrolled"] == 4
    assert exported["count"] == 4 and all(str(p) in exported["detail"] for p in paths)
    assert (out["operator"], back_in["operator"], verified["operator"]) == ("Olivia", "Bob", "Bob")
    assert verified["count"] == report.records == len(trail) - 1
    assert verified["counts"] == {"problems": 0}
    verified_by_cli(rig, capsys)


def test_a_sign_in_that_cannot_be_audited_leaves_the_kiosk_locked(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig(operator=None)
    rig.audit.close()  # the trail can no longer be written
    rig.engine.set_operator("Olivia")
    assert rig.engine.operator is None
    (error,) = rig.of(ErrorRaised)
    assert "audit" in error.title.lower()


def test_an_enrollment_finished_after_a_restart_names_the_calls_that_finished_it(
    engine_rig: Callable[..., EngineRig], capsys: pytest.CaptureFixture[str]
) -> None:
    rig = engine_rig(graph=GraphSettings(max_retries=0, timeout_seconds=5.0, prefetch=2))
    (upn,) = rig.add_users(1)
    outage = rig.tenant.inject(Fault("503", "register", probability=1.0, retry_after=None))
    rig.robot()
    rig.start()
    rig.wait(lambda evs: any(isinstance(e, ErrorRaised) for e in evs))
    rig.stop()  # Graph kept failing; the kiosk stops with the credential journaled
    (open_attempt,) = rig.store.journal.open_attempts()
    assert open_attempt.credential() is not None
    rig.tenant.faults.faults.remove(outage)
    rig.store.close()
    rig.audit.close()
    again = EngineRig(rig.tenant, rig.settings)  # the restart, over the same state
    try:
        again.start()
        again.wait(lambda _: bool(again.store.journal.with_state("done")))
    finally:
        again.stop()
        again.store.close()
        again.audit.close()
    (finished,) = [r for r in records(rig) if r["event"] == "enrolled"]
    assert finished["reason"] == "finished after a restart"
    user = finished["user_id"]
    (looked,) = calls_named(finished, "list_methods")  # looked before sending (never twice)
    (register,) = calls_named(finished, "register")
    assert register["status"] == 201
    (answered,) = [i for i in issued(rig, "register", user) if i.status == 201]
    assert register["request_id"] == answered.request_id
    assert looked["request_id"] in {i.request_id for i in issued(rig, "list_methods", user)}
    assert len(rig.tenant.state.methods_of(upn)) == 1
    verified_by_cli(rig, capsys)


def test_typed_text_that_looks_secret_stays_out_of_the_import_record(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig()
    typed = "password=Winter2026-mailroom-pass"
    report = rig.engine.sync_group(typed)  # no such group: a problem, nothing queued
    assert (report.added, len(report.problems)) == (0, 1)
    (record,) = records(rig)
    # Typed text is outside input: written as its hash and flagged, never refused.
    assert record["event"] == "queue imported" and record["source"].startswith("sha256:")
    assert "source" in record["flagged"]
    assert record["counts"]["problems"] == 1
    assert "Winter2026" not in Path(rig.settings.store.audit_path).read_text(encoding="utf-8")
