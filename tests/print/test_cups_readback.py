"""Labels and mailers printed through a real CUPS server (CUPS-PDF queue) and read back."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kiosk.paper.cups import Cups, PrintFault
from kiosk.paper.label import LabelData, render_label
from kiosk.paper.mailer import MailerData, render_mailer
from kiosk.paper.stocks import STOCKS
from tests.fixtures.cups import CupsServer, wait_for_pdfs
from tests.print.readback import barcodes, pdf_text

pytestmark = [pytest.mark.slow, pytest.mark.print]

LABEL = LabelData(
    name="Zoë Ångström", upn="zoe.angstrom@contoso.example",
    address=("1 Harbour Road", "2000 Sydney", "Australia"), model="YubiKey 5 NFC",
    serial="31415926", reference="K000042-9F86D081", batch="20261204", date="2026-12-04",
)


@pytest.mark.parametrize("stock", sorted(STOCKS))
def test_a_printed_label_reads_back_name_upn_serial_and_both_codes(
    cups_server: CupsServer, stock: str, tmp_path: Path
) -> None:
    out = cups_server.add_pdf_queue("labels")
    cups = Cups(cups_server.socket, timeout=60)
    job = cups.print_pdf("labels", render_label(LABEL, STOCKS[stock]), "kiosk-label-000042")
    assert job.state == "completed" and job.job_name == "kiosk-label-000042"

    (pdf,) = wait_for_pdfs(out, 1)
    text = pdf_text(pdf)
    for expected in ("Zoë Ångström", "zoe.angstrom@contoso.example", "31415926",
                     "1 Harbour Road", "YubiKey 5 NFC", "Batch 20261204"):
        assert expected in text, (expected, text)
    codes = barcodes(pdf, tmp_path)
    assert codes.get("CODE-128") == {"31415926"}
    assert codes.get("QR-Code") == {"K000042-9F86D081"}


def test_hostile_strings_print_cleaned_and_bounded(cups_server: CupsServer) -> None:
    out = cups_server.add_pdf_queue("labels")
    hostile = LabelData(
        name="Mallory\u202e\x1b[31mEvil\x00" + "x" * 500, upn="m@contoso.example",
        address=("Street\r\nInjected", "\u200b"), model="Key\x07", serial="SN-\u202e1",
        reference="K000001-00000000", batch="b", date="2026-12-04",
    )
    Cups(cups_server.socket).print_pdf("labels", render_label(hostile, STOCKS["4x6"]), "k")
    text = pdf_text(wait_for_pdfs(out, 1)[0])
    assert "MalloryEvil" in text.replace("[31m", "")
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert "x" * 200 not in text  # bounded
    assert "Street Injected" in text  # line breaks folded, not a second address line


def test_a_mailer_prints_the_pin_and_cups_keeps_no_copy(
    cups_server: CupsServer, tmp_path: Path
) -> None:
    out = cups_server.add_pdf_queue("mailers")
    pin = "70315264"
    mailer = MailerData(
        name="Zoë Ångström", upn="zoe.angstrom@contoso.example", address=("1 Harbour Road",),
        pin=pin, force_pin_change=True, helpdesk="Helpdesk +61 2 5550 0100", date="2026-12-04",
    )
    assert pin not in repr(mailer)
    job = Cups(cups_server.socket).print_pdf("mailers", render_mailer(mailer),
                                             "kiosk-mailer-000042")
    text = pdf_text(wait_for_pdfs(out, 1)[0])
    assert pin in text and "Helpdesk +61 2 5550 0100" in text
    assert "asks you for a new PIN" in text
    # CUPS's spool and logs (job control files, history, page log) never hold the PIN.
    assert job.job_name == "kiosk-mailer-000042"
    assert_no_pin_in(cups_server, pin, tmp_path)


def assert_no_pin_in(server: CupsServer, pin: str, workdir: Path) -> None:
    """Neither the spool (job files, control files) nor the logs hold ``pin``; a document
    left in the spool is also searched as text (PDF streams are compressed)."""
    for path in [*server.spool.rglob("*"), *server.logs.rglob("*")]:
        if not path.is_file():
            continue
        data = path.read_bytes()
        assert pin.encode() not in data, path
        if data.startswith(b"%PDF"):
            copy = workdir / "spooled.pdf"
            copy.write_bytes(data)
            assert pin not in pdf_text(copy), path
    documents = [p for p in server.spool.glob("d*") if p.is_file()]
    assert documents == [], "PreserveJobFiles No: no document stays in the spool"


def test_faults_name_what_is_wrong(cups_server: CupsServer) -> None:
    cups_server.add_pdf_queue("labels")
    cups = Cups(cups_server.socket, timeout=20)
    pdf = render_label(LABEL, STOCKS["62mm"])
    with pytest.raises(PrintFault) as missing:
        cups.print_pdf("no-such-queue", pdf, "kiosk-label-000001")
    assert missing.value.kind == "no-queue" and "no-such-queue" in missing.value.detail
    cups_server.disable("labels")
    with pytest.raises(PrintFault) as stopped:
        cups.print_pdf("labels", pdf, "kiosk-label-000001")
    assert stopped.value.kind == "stopped" and "cupsenable labels" in stopped.value.next_step
    cups_server.stop()
    with pytest.raises(PrintFault) as down:
        cups.print_pdf("labels", pdf, "kiosk-label-000001")
    assert down.value.kind == "cups-down" and down.value.title == "CUPS is not running"


def test_a_held_job_is_cancelled_and_named(cups_server: CupsServer) -> None:
    out = cups_server.add_pdf_queue("labels")
    cups_server.admin("lpadmin", "-p", "labels", "-o", "job-hold-until-default=indefinite")
    cups = Cups(cups_server.socket, timeout=20)
    with pytest.raises(PrintFault) as held:
        cups.print_pdf("labels", render_label(LABEL, STOCKS["4x6"]), "kiosk-label-000007")
    assert held.value.kind == "held" and held.value.job_id is not None
    cups_server.admin("lpadmin", "-p", "labels", "-o", "job-hold-until-default=no-hold")
    cups_server.admin("cupsenable", "labels")
    ok = cups.print_pdf("labels", render_label(LABEL, STOCKS["4x6"]), "kiosk-label-000007")
    assert ok.state == "completed"
    wait_for_pdfs(out, 1)
    time.sleep(2)
    assert len(list(out.glob("*.pdf"))) == 1  # the held job was cancelled, not released later
