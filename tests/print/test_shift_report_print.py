"""A shift report printed through a real CUPS server (CUPS-PDF queue) and read back: the real
engine (virtual keys, fake tenant) enrolls keys whose PINs print on mailers; the operator signs
out, the report is written to the outbox, and printed on the report queue: first while that
queue is stopped (audited as not printed, the operator told), then again once it runs. No PIN
in the report's page, its files, the trail or CUPS's spool and logs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.config import PaperSettings
from kiosk.enroll.events import PaperNotice, PinHandover
from kiosk.enroll.shift_report import report_paths
from tests.fixtures.cups import CupsServer, wait_for_pdfs
from tests.fixtures.engine import EngineRig
from tests.print.readback import pdf_text
from tests.print.test_print_flows import assert_pins_nowhere, audit_records, desk_of, run_batch

pytestmark = [pytest.mark.slow, pytest.mark.print]


def test_a_shift_report_prints_on_the_report_queue_and_never_holds_a_pin(
    engine_rig: Callable[..., EngineRig], cups_server: CupsServer, tmp_path: Path
) -> None:
    cups_server.add_pdf_queue("mailers")
    reports = cups_server.add_pdf_queue("reports")
    settings = PaperSettings(
        cups_server=cups_server.socket, mailer_queue="mailers", report_queue="reports",
        job_timeout_seconds=30.0,
    )
    rig = engine_rig(operator=None, escrow_mode="both", paper=settings)
    rig.engine.set_operator("Olivia Shift")
    run_batch(rig, 2)
    rig.stop()
    report = rig.engine.set_operator(None)  # Olivia signs out
    assert report is not None and report.operator == "Olivia Shift" and report.enrolled == 2
    csv_path, json_path = report_paths(report, Path(rig.settings.store.manifest_directory))
    assert json.loads(json_path.read_text(encoding="utf-8"))["enrolled"] == 2

    cups_server.disable("reports")
    assert rig.engine.print_shift_report(report)
    assert desk_of(rig).drain(60)
    (refused,) = audit_records(rig, "shift report not printed")
    assert refused["operator"] == "Olivia Shift" and "stopped" in str(refused["reason"])
    said = [e for e in rig.of(PaperNotice) if e.kind == "report"]
    assert [e.ok for e in said] == [False] and "Shift report not printed" in said[0].text

    cups_server.enable("reports")
    assert rig.engine.print_shift_report(report)
    assert desk_of(rig).drain(60)
    (pdf,) = wait_for_pdfs(reports, 1)
    page = pdf_text(pdf)
    for expected in ("Shift report: Olivia Shift", "Keys enrolled: 2", "Users failed: 0",
                     "Keys needing a reset: 0", "Keys returned: 0"):
        assert expected in page, (expected, page)
    (printed,) = audit_records(rig, "shift report printed")
    job = printed["print"]
    assert isinstance(job, dict) and job["queue"] == "reports"
    assert job["job_name"] == f"kiosk-shift-{report.first_seq:06d}" and job["state"] == "completed"
    assert printed["counts"]["enrolled"] == 2  # type: ignore[index]

    pins = [e.pin for e in rig.of(PinHandover)]
    assert len(pins) == 2
    for pin in pins:
        assert pin not in page
        assert pin not in csv_path.read_text(encoding="utf-8-sig")
    assert_pins_nowhere(rig, cups_server, pins, tmp_path)
