"""docs/install.md's update check, run as the page writes it: silent (but for its last line)
when the shipped kiosk.toml.example matches the installed code, a diff when it does not."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "docs" / "install.md"
OK_LINE = "settings reference matches the installed code"


def _documented_check() -> str:
    """The update section's render-and-diff command (its continued lines joined), with the
    page's ``.venv/bin/python`` replaced by the python running these tests."""
    section = INSTALL.read_text(encoding="utf-8").split("\n## Updating\n", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    assert block is not None, "the update section has no commands"
    joined = block.group(1).replace("\\\n", " ")
    command = next((line for line in joined.splitlines() if "render_example" in line), None)
    assert command is not None, "the update section no longer checks kiosk.toml.example"
    return command.replace(".venv/bin/python", shlex.quote(sys.executable))


def _run(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # the documented command, run as an admin would
        ["/bin/sh", "-c", command], cwd=cwd, capture_output=True, text=True, timeout=60,
        check=False,
    )


def test_the_documented_update_check_is_silent_on_a_matching_example() -> None:
    done = _run(_documented_check(), ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == OK_LINE  # no spurious blank-line difference
    assert done.stderr == ""


def test_the_documented_update_check_shows_a_setting_the_example_lacks(tmp_path: Path) -> None:
    example = (ROOT / "kiosk.toml.example").read_text(encoding="utf-8")
    lines = example.splitlines(keepends=True)
    dropped = next(i for i, line in enumerate(lines) if re.match(r"^#?\s*\w+ = ", line))
    (tmp_path / "kiosk.toml.example").write_text(
        "".join(lines[:dropped] + lines[dropped + 1 :]), encoding="utf-8"
    )
    done = _run(_documented_check(), tmp_path)
    assert done.returncode == 1
    assert f"> {lines[dropped].rstrip()}" in done.stdout and OK_LINE not in done.stdout
