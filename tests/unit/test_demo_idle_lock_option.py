"""`kiosk demo --idle-lock MINUTES`: a short idle lock for showing it (and for the shift test in
a real terminal); a value the setting would refuse is refused with the setting's own words."""

from __future__ import annotations

import pytest

from kiosk.cli import build_parser


def test_the_idle_lock_is_taken_in_minutes() -> None:
    args = build_parser().parse_args(["demo", "--idle-lock", "0.5"])
    assert args.idle_lock == 0.5
    assert build_parser().parse_args(["demo"]).idle_lock is None


@pytest.mark.parametrize("bad", ["0.2", "nan", "x", "-1", "241"])
def test_a_value_the_setting_refuses_is_refused(
    bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as out:
        build_parser().parse_args(["demo", "--idle-lock", bad])
    assert out.value.code == 2
    assert "give a number from 0.5 to 240 (minutes)" in capsys.readouterr().err
