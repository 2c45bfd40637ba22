"""`kiosk demo --headless --print`: a label and a PIN mailer per key, to a CUPS-PDF queue
where CUPS has one (a real cupsd here), else as PDF files in the demo's state directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.demo.headless import run_headless
from tests.fixtures.cups import CupsServer, wait_for_pdfs
from tests.print.readback import pdf_text

pytestmark = [pytest.mark.slow, pytest.mark.print]


def test_headless_demo_prints_to_a_cups_pdf_queue(cups_server: CupsServer) -> None:
    out = cups_server.add_pdf_queue("PDF")
    result = run_headless(5, paper=True, cups_server=cups_server.socket)
    assert result.ok
    assert result.fields()["labels_printed"] == 5 and result.fields()["mailers_printed"] == 5
    texts = [pdf_text(p) for p in wait_for_pdfs(out, 10)]
    assert sum("SHIP TO" in t for t in texts) == 5
    assert sum("Your PIN" in t for t in texts) == 5


def test_without_cups_the_demo_writes_pdfs_to_its_state_directory(tmp_path: Path) -> None:
    result = run_headless(3, paper=True, cups_server=str(tmp_path / "no-cups.sock"),
                          state_dir=tmp_path / "demo")
    assert result.fields()["labels_printed"] == 3 and result.fields()["mailers_printed"] == 3
    printed = sorted((tmp_path / "demo" / "printed" / "demo").glob("*.pdf"))
    assert [p.name.split("-")[1] for p in printed] == ["label"] * 3 + ["mailer"] * 3
    assert "SHIP TO" in pdf_text(printed[0])


def test_the_command_line_reports_what_it_printed(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kiosk", "demo", "--headless", "--users", "5", "--print"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    line = json.loads(done.stdout.strip().splitlines()[-1])
    assert line["enrolled"] == 5
    assert line["labels_printed"] == 5 and line["mailers_printed"] == 5


def test_without_print_the_json_line_is_unchanged(tmp_path: Path) -> None:
    result = run_headless(2, state_dir=tmp_path / "demo")
    assert "labels_printed" not in result.to_json() and result.ok
