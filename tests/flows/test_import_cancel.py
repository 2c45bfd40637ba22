"""A CSV import stopped by the operator (the admin screen's Esc), over the real engine and the
fake tenant: while the file is read, between reading and the Entra look-ups, and during the
look-ups. Each stop queues nobody, says how far the import came, and is audited."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.enroll.csv_source import ImportCancelled
from kiosk.model.queue import ImportProgress
from tests.fixtures.engine import EngineRig

UNKNOWN = 4_000


def _csv(rig: EngineRig, tmp_path: Path) -> Path:
    """Five users Entra knows first, then 4,000 it does not (each looked up all the same)."""
    state = rig.tenant.state
    known = [state.add_user(f"known{i}@{state.domain}", f"Known {i}") for i in range(5)]
    lines = ["upn", *(u.user_principal_name for u in known)]
    lines += [f"nobody{i}@{state.domain}" for i in range(UNKNOWN)]
    path = tmp_path / "long.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _stop_when(
    wanted: Callable[[ImportProgress], bool], told: list[ImportProgress]
) -> Callable[[ImportProgress], bool]:
    def progress(done: ImportProgress) -> bool:
        told.append(done)
        return not wanted(done)

    return progress


def _last_audit(rig: EngineRig) -> dict[str, object]:
    text = Path(rig.settings.store.audit_path).read_text(encoding="utf-8")
    record: dict[str, object] = json.loads(text.splitlines()[-1])
    return record


def test_esc_during_the_look_ups_stops_sending_them_and_queues_nobody(
    engine_rig: Callable[..., EngineRig], tmp_path: Path
) -> None:
    rig = engine_rig()
    path = _csv(rig, tmp_path)
    told: list[ImportProgress] = []
    progress = _stop_when(lambda p: (p.looked_up or 0) >= 1000, told)
    with pytest.raises(ImportCancelled) as stopped:
        rig.engine.import_csv(path, progress=progress)
    total = UNKNOWN + 5
    assert stopped.value.title == "Import cancelled"
    assert stopped.value.detail == (
        f"stopped after 1,000 of {total:,} users were looked up in Entra ID; "
        "nothing was queued."
    )
    assert [p.rows_read for p in told if p.looked_up is None] == [1000, 2000, 3000, 4000]
    assert [(p.looked_up, p.to_look_up) for p in told if p.looked_up is not None] == [
        (0, total), (1000, total)
    ]
    assert rig.engine.counts()["pending"] == 0  # the five known users are not queued either
    batches = len(rig.tenant.routes_called("batch"))
    all_batches = -(-total // 20)
    # 50 batches answer the first thousand; the (at most three) others in flight finish;
    # the rest are never sent.
    assert 50 <= batches <= 53 < all_batches
    audit = _last_audit(rig)
    assert audit["event"] == "queue import failed" and audit["source"] == "csv:long.csv"
    assert str(audit["reason"]).startswith("Import cancelled: stopped after 1,000")


def test_esc_as_the_file_is_read_sends_no_look_up(
    engine_rig: Callable[..., EngineRig], tmp_path: Path
) -> None:
    rig = engine_rig()
    path = _csv(rig, tmp_path)
    told: list[ImportProgress] = []
    with pytest.raises(ImportCancelled, match="cancelled at line 2002; nothing was queued"):
        rig.engine.import_csv(path, progress=_stop_when(lambda p: p.rows_read >= 2000, told))
    assert told == [ImportProgress(1000), ImportProgress(2000)]
    assert rig.tenant.routes_called("batch") == []
    assert rig.engine.counts()["pending"] == 0


def test_esc_after_the_last_row_but_before_the_look_ups_sends_none(
    engine_rig: Callable[..., EngineRig], tmp_path: Path
) -> None:
    rig = engine_rig()
    path = _csv(rig, tmp_path)
    told: list[ImportProgress] = []
    with pytest.raises(ImportCancelled, match="stopped after 0 of 4,005 users"):
        rig.engine.import_csv(path, progress=_stop_when(lambda p: p.looked_up == 0, told))
    assert rig.tenant.routes_called("batch") == []
    assert rig.engine.counts()["pending"] == 0


def test_esc_once_every_user_is_looked_up_still_queues_nobody(
    engine_rig: Callable[..., EngineRig], tmp_path: Path
) -> None:
    """The last safe point: all answers are in, nothing is written yet."""
    rig = engine_rig()
    path = _csv(rig, tmp_path)
    total = UNKNOWN + 5
    told: list[ImportProgress] = []
    with pytest.raises(ImportCancelled, match=f"stopped after {total:,} of {total:,}"):
        rig.engine.import_csv(path, progress=_stop_when(lambda p: p.looked_up == total, told))
    looked_up = [p.looked_up for p in told if p.looked_up is not None]
    # Told at 0, at each thousand crossed (answers come in any order: the short last batch
    # may make it 3,005 rather than 3,000), and at the end, before anything is written.
    assert looked_up == sorted(set(looked_up)) and looked_up[0] == 0 and looked_up[-1] == total
    assert {n // 1000 for n in looked_up} == {0, 1, 2, 3, 4}
    assert rig.engine.counts()["pending"] == 0


def test_an_import_told_to_go_on_queues_as_before(
    engine_rig: Callable[..., EngineRig], tmp_path: Path
) -> None:
    rig = engine_rig()
    path = _csv(rig, tmp_path)
    told: list[ImportProgress] = []
    report = rig.engine.import_csv(path, progress=_stop_when(lambda p: False, told))
    assert (report.added, len(report.problems)) == (5, UNKNOWN)
    assert rig.engine.counts()["pending"] == 5
    assert len(rig.tenant.routes_called("batch")) == -(-(UNKNOWN + 5) // 20)
