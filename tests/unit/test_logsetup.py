"""Log destinations: journald lines with priorities under systemd; never the TUI's terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CHILD = """
import logging, os, sys
from kiosk.logsetup import configure_logging
from kiosk.audit import AuditTrail
where = configure_logging()
print(where)
with AuditTrail(sys.argv[1]) as trail:
    trail.append("enrolled", upn="alice@contoso.com", outcome="ok")
    head = trail.head
logging.getLogger("kiosk.engine").warning("a warning")
print(head)
"""


def _run(tmp_path: Path, journal: bool) -> tuple[list[str], str]:
    err_path = tmp_path / "stderr"
    with err_path.open("wb") as err:
        env = dict(os.environ)
        env.pop("JOURNAL_STREAM", None)
        if journal:
            st = os.fstat(err.fileno())
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(tmp_path / "audit.jsonl")],
            stdout=subprocess.PIPE, stderr=err, text=True, env=env, timeout=60, check=True,
        )
    return out.stdout.splitlines(), err_path.read_text()


def test_under_systemd_audit_records_reach_the_journal_with_priorities(tmp_path: Path) -> None:
    (where, head), log = _run(tmp_path, journal=True)
    assert where == "journal"
    lines = log.splitlines()
    audit = [ln for ln in lines if ln.startswith("<6>kiosk.audit: ")]
    assert len(audit) == 1
    assert "alice@contoso.com" in audit[0] and f"hash={head}" in audit[0]
    assert "<4>kiosk.engine: a warning" in lines


def test_outside_systemd_a_pipe_gets_timestamped_lines(tmp_path: Path) -> None:
    (where, _head), log = _run(tmp_path, journal=False)
    assert where == "stderr"
    assert " INFO kiosk.audit: audit seq=1 event=enrolled" in log
    assert not log.startswith("<")


def test_a_terminal_is_never_written_to(tmp_path: Path) -> None:
    import pty

    from kiosk.logsetup import configure_logging

    leader, follower = pty.openpty()
    try:
        with os.fdopen(follower, "w", closefd=False) as tty:
            assert configure_logging(stream=tty, env={}).startswith("nowhere")
            where = configure_logging(stream=tty, env={"LOGS_DIRECTORY": str(tmp_path)})
            assert where == f"file {tmp_path / 'kiosk.log'}"
    finally:
        os.close(leader)
        os.close(follower)
        import logging

        from kiosk.logsetup import MARKER

        kiosk_logger = logging.getLogger("kiosk")
        for handler in [h for h in kiosk_logger.handlers if getattr(h, MARKER, False)]:
            kiosk_logger.removeHandler(handler)
            handler.close()
