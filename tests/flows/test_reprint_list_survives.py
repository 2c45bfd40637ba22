"""The reprint list is kept in the store: labels that did not print (here: no CUPS at all)
are still listed after the kiosk restarts, and only the operator's reprint sends them again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kiosk.config import PaperSettings
from kiosk.enroll.events import KeyEnrolled, PaperNotice
from kiosk.keys.virtual.port import VirtualPort
from kiosk.wiring import build_kiosk
from tests.fixtures.engine import EngineRig


def test_labels_that_did_not_print_wait_across_a_restart(
    engine_rig: Callable[..., EngineRig], tmp_path: Path
) -> None:
    paper = PaperSettings(cups_server=str(tmp_path / "no-cups.sock"), label_queue="labels")
    rig = engine_rig(paper=paper)
    rig.add_users(2)
    rig.robot()
    rig.start()
    rig.wait_results(2, timeout=60)
    desk = rig.kiosk.paper
    assert desk is not None and desk.drain(60)
    rig.stop()
    serials = {e.serial for e in rig.of(KeyEnrolled)}
    faults = [n for n in rig.of(PaperNotice) if not n.ok]
    assert len(faults) == 2 and "CUPS" in faults[0].text and faults[-1].waiting == 2
    desk.close()
    rig.store.close()
    rig.audit.close()

    again = build_kiosk(rig.settings, VirtualPort(), operator="next shift", env={})
    try:
        waiting = again.engine.labels_to_print()
        assert {w.serial for w in waiting} == serials
        assert all(w.sent == 1 and w.state == "failed" for w in waiting)
        assert again.paper is not None and again.paper.drain(5)
        assert again.store.labels.to_print()[0].sent == 1  # nothing sent by itself
        assert again.engine.reprint_labels() == 2
        assert again.paper.drain(60)
        assert [w.sent for w in again.engine.labels_to_print()] == [2, 2]
    finally:
        again.close()


def test_a_label_the_desk_cannot_draw_is_reported_not_fatal(
    engine_rig: Callable[..., EngineRig], tmp_path: Path
) -> None:
    paper = PaperSettings(cups_server=str(tmp_path / "no-cups.sock"), label_queue="labels")
    rig = engine_rig(paper=paper)
    desk = rig.kiosk.paper
    assert desk is not None
    row = rig.store.labels.add(enrollment_id=99, entry_id=1, upn="x@contoso.example",
                               serial="1", reference="K000099-00000000", content="{}")
    assert desk.reprint(row.label_id) and desk.drain(30)
    (notice,) = [n for n in rig.of(PaperNotice) if not n.ok]
    assert "print desk failed (TypeError)" in notice.text and notice.waiting == 1
    assert desk.reprint(row.label_id) and desk.drain(30)  # the desk still works
