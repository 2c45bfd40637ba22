"""The process guards: no core dump, and a crash loop is named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kiosk.process import ADMIN_EXIT, RunLog


def test_every_command_makes_the_process_non_dumpable_with_no_core(tmp_path: Path) -> None:
    code = (
        "import resource\n"
        "from kiosk.cli import main\n"
        "from kiosk.process import is_dumpable\n"
        "try:\n"
        "    main(['audit', 'verify', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(is_dumpable(), resource.getrlimit(resource.RLIMIT_CORE))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.stdout.strip().splitlines()[-1] == "False (0, 0)", out.stdout + out.stderr


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_three_bad_ends_in_ten_minutes_are_a_crash_loop(tmp_path: Path) -> None:
    clock = _Clock()
    runs = RunLog(tmp_path / "runs.jsonl", clock)
    for code in (1, 0, 1):
        assert runs.started() == ""
        clock.now += 30
        runs.ended(code)
    runs.started()  # killed: never said how it ended
    clock.now += 30
    warning = runs.started()
    assert "crash loop: 3 runs" in warning and "killed" in warning and "exit 1" in warning
    assert runs.crash_loop(running=True)
    clock.now += 3600
    assert runs.crash_loop() == ""


def test_the_admin_exit_is_no_crash(tmp_path: Path) -> None:
    runs = RunLog(tmp_path / "runs.jsonl")
    for _ in range(5):
        runs.started()
        runs.ended(ADMIN_EXIT)
    assert runs.crash_loop() == ""


def test_a_garbled_runs_file_is_read_past(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    path.write_bytes(b"\xff\xfe garbage\n[1,2]\n{\"event\": \"start\", \"at\": \"x\"}\n")
    runs = RunLog(path)
    assert runs.started() == ""
    assert len(runs.runs()) == 1
