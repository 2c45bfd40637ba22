"""CSV import resolves its users with Graph JSON batching: same report, fewer round trips.

The engine is the real one (tests/fixtures/engine.py) over the fake tenant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from kiosk.model.queue import ImportProblem, ImportReport
from tests.fixtures.engine import EngineRig

GOOD = 30


def _csv(tmp_path: Path, domain: str, guest: str) -> Path:
    lines = ["UserPrincipalName;Keys"]
    lines += [f"good{i:02d}@{domain};" for i in range(GOOD)]  # lines 2..31
    lines += [
        f"ghost@{domain};",  # 32: unknown in Entra
        f"{guest};2",  # 33: a B2B guest, #EXT# in the UPN, two keys
        "not-an-upn;",  # 34: malformed
        f"GOOD03@{domain};",  # 35: duplicate of line 5
        f"good30@{domain};11",  # 36: bad key count
        f"nobody.else@{domain};",  # 37: unknown in Entra
        f"late@{domain};",  # 38: fine
    ]
    path = tmp_path / "people.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _expected(domain: str) -> ImportReport:
    return ImportReport(
        "CSV people.csv",
        GOOD + 2,
        0,
        (
            ImportProblem(32, f"ghost@{domain}", "no such user in Entra ID"),
            ImportProblem(34, "not-an-upn", "a UPN needs an @ (name@domain)"),
            ImportProblem(35, f"GOOD03@{domain}", "duplicate of line 5"),
            ImportProblem(36, f"good30@{domain}", "the keys column must be a whole number "
                          "from 1 to 10"),
            ImportProblem(37, f"nobody.else@{domain}", "no such user in Entra ID"),
        ),
    )


def _seed(rig: EngineRig) -> str:
    state = rig.tenant.state
    for i in range(GOOD):
        state.add_user(f"good{i:02d}@{state.domain}", f"Good {i}")
    state.add_user(f"late@{state.domain}", "Late")
    return state.add_guest("gail@fabrikam.example", "Gail").user_principal_name


def test_csv_report_is_the_same_with_and_without_batching(
    engine_rig: Callable[..., EngineRig], tmp_path: Path
) -> None:
    batched_rig = engine_rig()
    guest = _seed(batched_rig)
    tenant = batched_rig.tenant
    domain = tenant.state.domain
    path = _csv(tmp_path, domain, guest)
    tenant.faults.schedule("429", "user", 7, retry_after=0)

    report = batched_rig.engine.import_csv(path)

    assert replace(report, rows=()) == _expected(domain)
    assert sorted(outcome for _upn, outcome in report.rows) == ["queued"] * (GOOD + 2)
    batches = [s for _m, r, s in tenant.routes_called() if r == "batch"]
    assert batches == [200, 200, 200]  # 34 lookups in 2 batches, then the throttled one alone
    assert [s for _m, r, s in tenant.routes_called() if r == "user"].count(429) == 1
    queued = {(r.upn, r.keys_wanted) for r in batched_rig.engine.queue_page(0, 100)}
    assert (guest, 2) in queued and (f"late@{domain}", 1) in queued
    assert len(queued) == GOOD + 2

    single_rig = engine_rig()
    single_rig.graph.batching = False
    before = len(tenant.routes_called("batch"))
    again = single_rig.engine.import_csv(path)
    assert again == report
    assert len(tenant.routes_called("batch")) == before
    assert {(r.upn, r.keys_wanted) for r in single_rig.engine.queue_page(0, 100)} == queued


def test_a_lookup_graph_refuses_is_named_by_its_line(
    engine_rig: Callable[..., EngineRig], tmp_path: Path
) -> None:
    rig = engine_rig()
    guest = _seed(rig)
    domain = rig.tenant.state.domain
    rig.tenant.faults.randomly("403", "user", 1.0, limit=1)
    report = rig.engine.import_csv(_csv(tmp_path, domain, guest))
    assert report.added == GOOD + 1
    refused = [p for p in report.problems if p.reason.startswith("could not be looked up")]
    assert len(refused) == 1
    (problem,) = refused
    assert problem.line is not None and 2 <= problem.line <= 38
    assert "Insufficient privileges" in problem.reason
    assert f"Looking up user {problem.value}" in problem.reason
