"""`kiosk run` refuses, with a next step, to start a kiosk nobody can sign in to or exit."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.operators.pin_hash import hash_pin


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


def test_run_without_an_admin_says_nobody_could_exit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = hash_pin("482913")
    path = _config(tmp_path, f'[[kiosk.operators]]\nname = "Ana"\npin_hash = "{h}"\n')
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert 'no [[kiosk.operators]] has role = "admin"' in err
    assert "nobody could open the admin screen or exit the kiosk" in err
    assert "--admin" in err


def test_an_old_shared_admin_pin_says_how_to_move_to_named_admins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = hash_pin("482913")
    path = _config(
        tmp_path,
        f'[kiosk]\nadmin_pin_hash = "{h}"\n[[kiosk.operators]]\nname = "Ana"\npin_hash = "{h}"\n',
    )
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "kiosk.toml:2" in err and "admin_pin_hash" in err
    assert "kiosk operator add NAME --admin" in err and 'role = "admin"' in err
    assert h not in err


def test_run_with_a_mangled_hash_names_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config(
        tmp_path,
        '[[kiosk.operators]]\nname = "Ana"\nrole = "admin"\npin_hash = "plain-text-pin"\n',
    )
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "kiosk.operators[0].pin_hash" in err and "scrypt$" in err
    assert "plain-text-pin" not in err


def test_run_without_app_credentials_stops_before_the_screen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = hash_pin("482913")
    path = _config(
        tmp_path,
        f'[store]\npath = "{tmp_path}/kiosk.db"\naudit_path = "{tmp_path}/audit.jsonl"\n'
        f'[[kiosk.operators]]\nname = "Ana"\nrole = "admin"\npin_hash = "{h}"\n',
    )
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "No credential for the kiosk app" in err
    assert "next:" in err


def test_an_operator_name_that_is_not_text_stops_the_start_with_its_key_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = hash_pin("482913")
    path = _config(tmp_path, f'[[kiosk.operators]]\nname = 42\nrole = "admin"\npin_hash = "{h}"\n')
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "kiosk.toml:2: kiosk.operators[0].name" in err and "a quoted string" in err
    assert "Traceback" not in err and h not in err
