"""`kiosk run` refuses, with a next step, to start a kiosk nobody can sign in to or exit."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.tui.auth import hash_pin


def _config(tmp_path: Path, kiosk_section: str) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(kiosk_section, encoding="utf-8")
    return path


def test_run_without_operators_says_how_to_add_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config(tmp_path, "[kiosk]\nidle_lock_minutes = 5\n")
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "no [[kiosk.operators]]" in err
    assert "kiosk operator add NAME" in err


def test_run_without_admin_pin_says_nobody_could_exit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = hash_pin("4321")
    path = _config(tmp_path, f'[[kiosk.operators]]\nname = "Ana"\npin_hash = "{h}"\n')
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "admin_pin_hash is not set" in err
    assert "--admin" in err


def test_run_with_a_mangled_hash_names_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config(
        tmp_path,
        '[kiosk]\nadmin_pin_hash = "scrypt$oops"\n'
        '[[kiosk.operators]]\nname = "Ana"\npin_hash = "plain-text-pin"\n',
    )
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "not readable" in err
    assert "plain-text-pin" not in err


def test_run_without_app_credentials_stops_before_the_screen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = hash_pin("4321")
    path = _config(
        tmp_path,
        f'[kiosk]\nadmin_pin_hash = "{h}"\n'
        f'[store]\npath = "{tmp_path}/kiosk.db"\naudit_path = "{tmp_path}/audit.jsonl"\n'
        f'[[kiosk.operators]]\nname = "Ana"\npin_hash = "{h}"\n',
    )
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "No credential for the kiosk app" in err
    assert "next:" in err
