"""Enrollments that print: the real engine (virtual keys, fake tenant) with the print desk
sending labels and PIN mailers to a real CUPS server, faults included. A printer never undoes
or blocks an enrollment; the reprint list holds exactly the labels that did not print; nothing
prints twice unless the operator asks; the PIN never reaches a file, a job name or CUPS."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.config import PaperSettings
from kiosk.enroll.events import KeyEnrolled, PaperNotice, PinHandover
from kiosk.model.steps import Step
from kiosk.paper.desk import PrintDesk
from tests.fixtures.cups import CupsServer, wait_for_pdfs
from tests.fixtures.engine import EngineRig
from tests.print.readback import barcodes, pdf_text
from tests.print.test_cups_readback import assert_no_pin_in

pytestmark = [pytest.mark.slow, pytest.mark.print]


def paper(server: CupsServer, *, mailers: bool = True) -> PaperSettings:
    return PaperSettings(
        cups_server=server.socket, label_queue="labels",
        mailer_queue="mailers" if mailers else "", helpdesk="Helpdesk 0800 555 0100",
        batch_id="B-TEST", job_timeout_seconds=30.0,
    )


def desk_of(rig: EngineRig) -> PrintDesk:
    assert rig.kiosk.paper is not None
    return rig.kiosk.paper


def audit_records(rig: EngineRig, event: str) -> list[dict[str, object]]:
    lines = Path(rig.settings.store.audit_path).read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["event"] == event]


def run_batch(rig: EngineRig, users: int) -> list[str]:
    upns = rig.add_users(users)
    rig.robot()
    rig.start()
    results = rig.wait_results(users, timeout=120)
    assert {r.status for r in results} == {Step.DONE}
    return upns


def test_every_key_gets_its_label_and_its_pin_mailer_apart(
    engine_rig: Callable[..., EngineRig], cups_server: CupsServer, tmp_path: Path
) -> None:
    labels = cups_server.add_pdf_queue("labels")
    mailers = cups_server.add_pdf_queue("mailers")
    rig = engine_rig(escrow_mode="both", paper=paper(cups_server))
    upns = run_batch(rig, 3)
    assert desk_of(rig).drain(120)

    enrolled = {e.upn: e for e in rig.of(KeyEnrolled)}
    pins = {e.upn: e.pin for e in rig.of(PinHandover)}
    assert set(enrolled) == set(pins) == set(upns)
    label_pdfs = wait_for_pdfs(labels, 3)
    mailer_pdfs = wait_for_pdfs(mailers, 3)
    texts = [pdf_text(p) for p in label_pdfs]
    for upn, event in enrolled.items():
        (text,) = [t for t in texts if upn in t]
        assert event.serial and event.serial in text and "B-TEST" in text
        assert not any(pin in text for pin in pins.values())  # no PIN on any label
        (mail,) = [pdf_text(p) for p in mailer_pdfs if upn in pdf_text(p)]
        assert pins[upn] in mail and "Helpdesk 0800 555 0100" in mail
    # The QR code carries the reference the manifest has for that key.
    codes = barcodes(label_pdfs[0], tmp_path)
    (reference,) = codes["QR-Code"]
    manifest_csv = rig.engine.export_manifest(tmp_path / "manifests")[0]
    assert reference in manifest_csv.read_text(encoding="utf-8-sig")
    assert codes["CODE-128"] <= {e.serial for e in enrolled.values()}

    assert desk_of(rig).waiting() == []
    printed = audit_records(rig, "label printed") + audit_records(rig, "PIN mailer printed")
    assert len(printed) == 6
    assert {r["print"]["job_name"] for r in printed} == {  # type: ignore[index]
        f"kiosk-{kind}-{e.enrollment_id:06d}"
        for e in enrolled.values() for kind in ("label", "mailer")
    }
    assert_pins_nowhere(rig, cups_server, list(pins.values()), tmp_path)


def assert_pins_nowhere(rig: EngineRig, server: CupsServer, pins: list[str], work: Path) -> None:
    """No PIN in any file the kiosk wrote (state directory: database, WAL, audit trail,
    manifests), nor in CUPS's spool, job history or logs."""
    state = Path(rig.settings.store.path).parent
    for path in state.rglob("*"):
        if path.is_file() and path.suffix != ".p7m":  # sealed PINs are encrypted
            data = path.read_bytes()
            for pin in pins:
                assert pin.encode() not in data, path
    for pin in pins:
        assert_no_pin_in(server, pin, work)


def test_printer_stopped_enrollments_finish_and_labels_wait_for_a_reprint(
    engine_rig: Callable[..., EngineRig], cups_server: CupsServer
) -> None:
    labels = cups_server.add_pdf_queue("labels")
    cups_server.disable("labels")
    rig = engine_rig(paper=paper(cups_server, mailers=False))
    run_batch(rig, 3)
    desk = desk_of(rig)
    assert desk.drain(120)

    serials = {e.serial for e in rig.of(KeyEnrolled)}
    waiting = desk.waiting()
    assert {row.serial for row in waiting} == serials and len(waiting) == 3
    assert all(row.state == "failed" and "stopped" in row.reason for row in waiting)
    faults = [n for n in rig.of(PaperNotice) if not n.ok]
    assert len(faults) == 3 and "cupsenable labels" in faults[0].next_step
    assert faults[-1].waiting == 3

    cups_server.enable("labels")
    time.sleep(3)
    assert list(labels.glob("*.pdf")) == []  # the given-up jobs were cancelled
    for row in waiting:
        assert desk.reprint(row.label_id)
    assert desk.drain(120)
    assert len(wait_for_pdfs(labels, 3)) == 3
    assert desk.waiting() == []
    assert len(audit_records(rig, "label reprint asked")) == 3
    time.sleep(2)
    assert len(list(labels.glob("*.pdf"))) == 3  # nothing twice


def test_queue_deleted_then_added_back(
    engine_rig: Callable[..., EngineRig], cups_server: CupsServer
) -> None:
    cups_server.add_pdf_queue("labels")
    cups_server.delete("labels")
    rig = engine_rig(paper=paper(cups_server, mailers=False))
    run_batch(rig, 2)
    desk = desk_of(rig)
    assert desk.drain(120)
    waiting = desk.waiting()
    assert len(waiting) == 2 and all("no printer queue" in r.reason for r in waiting)
    failed = audit_records(rig, "label not printed")
    assert [r["print"]["state"] for r in failed] == ["no-queue", "no-queue"]  # type: ignore[index]

    labels = cups_server.add_pdf_queue("labels")
    for row in waiting:
        desk.reprint(row.label_id)
    assert desk.drain(120)
    assert len(wait_for_pdfs(labels, 2)) == 2 and desk.waiting() == []


def test_cupsd_stopped_mid_batch(
    engine_rig: Callable[..., EngineRig], cups_server: CupsServer
) -> None:
    labels = cups_server.add_pdf_queue("labels")
    rig = engine_rig(paper=paper(cups_server, mailers=False))
    run_batch(rig, 2)
    desk = desk_of(rig)
    assert desk.drain(120)
    assert len(wait_for_pdfs(labels, 2)) == 2

    cups_server.stop()
    later = rig.add_users(3, prefix="later")
    results = rig.wait_results(5, timeout=120)
    assert {r.status for r in results} == {Step.DONE}  # the printer never blocks a key
    assert desk.drain(120)
    waiting = desk.waiting()
    assert sorted(r.upn for r in waiting) == sorted(later)  # exactly the missing labels
    assert all("CUPS" in r.reason for r in waiting)

    cups_server.start()
    for row in waiting:
        desk.reprint(row.label_id)
    assert desk.drain(120)
    assert len(wait_for_pdfs(labels, 5)) == 5 and desk.waiting() == []
    time.sleep(2)
    assert len(list(labels.glob("*.pdf"))) == 5
