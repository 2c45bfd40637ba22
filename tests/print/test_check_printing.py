"""`kiosk check` on printing, against a real CUPS server: the queues are ready, and CUPS is
set up to keep no PIN (job files not preserved, short job history, spool on tmpfs)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from kiosk.check_context import CheckContext
from kiosk.check_paper import check_printing
from kiosk.config import PaperSettings, Settings
from tests.fixtures.cups import CupsServer

pytestmark = [pytest.mark.slow, pytest.mark.print]


def mountinfo(tmp_path: Path, spool: Path, kind: str) -> Path:
    """A mountinfo with the root on ext4 and ``spool`` mounted as ``kind``."""
    path = tmp_path / f"mountinfo-{kind}"
    path.write_text(
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        f"40 22 0:35 / {spool} rw,nosuid shared:20 - {kind} {kind} rw,mode=755\n"
    )
    return path


def context(server: CupsServer, tmp_path: Path, *, mailers: bool = True) -> CheckContext:
    paper = PaperSettings(cups_server=server.socket, label_queue="labels",
                          mailer_queue="mailers" if mailers else "")
    return CheckContext(config_path=tmp_path / "kiosk.toml",
                        settings=dataclasses.replace(Settings(), paper=paper))


def test_recommended_settings_pass_and_each_gap_is_named(
    cups_server: CupsServer, tmp_path: Path
) -> None:
    cups_server.add_pdf_queue("labels")
    cups_server.add_pdf_queue("mailers")
    ctx = context(cups_server, tmp_path)
    tmpfs = mountinfo(tmp_path, cups_server.spool, "tmpfs")
    ok = check_printing(ctx, cups_server.root, tmpfs)
    assert ok.status == "ok", ok
    assert "labels, mailers" in ok.detail

    on_disk = check_printing(ctx, cups_server.root, mountinfo(tmp_path, cups_server.spool, "ext4"))
    assert on_disk.status == "fail" and f"{cups_server.spool} is on ext4" in on_disk.detail

    conf = cups_server.root / "cupsd.conf"
    conf.write_text(conf.read_text().replace("PreserveJobFiles No", "PreserveJobFiles Yes")
                    .replace("PreserveJobHistory 300", "PreserveJobHistory 2d"))
    kept = check_printing(ctx, cups_server.root, tmpfs)
    assert kept.status == "fail"
    assert "PreserveJobFiles No" in kept.detail and "PreserveJobHistory" in kept.detail
    labels_only = check_printing(context(cups_server, tmp_path, mailers=False),
                                 cups_server.root, tmpfs)
    assert labels_only.status == "warn"  # no PIN goes to CUPS without mailers


def test_a_stopped_or_missing_queue_fails_with_its_fix(
    cups_server: CupsServer, tmp_path: Path
) -> None:
    cups_server.add_pdf_queue("labels")
    ctx = context(cups_server, tmp_path)
    missing = check_printing(ctx, cups_server.root)
    assert missing.status == "fail" and "'mailers'" in missing.detail
    cups_server.add_pdf_queue("mailers")
    cups_server.disable("labels")
    stopped = check_printing(ctx, cups_server.root)
    assert stopped.status == "fail" and "cupsenable labels" in stopped.fix
    cups_server.stop()
    down = check_printing(ctx, cups_server.root)
    assert down.status == "fail" and "systemctl start cups" in down.fix
