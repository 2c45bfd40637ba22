"""The pictures of the screens in the README and the operator guide are the screens' snapshots
(tests/tui/test_snapshots.py, 80x24), byte for byte, and each is shown in the docs: a screen
that changes fails here until `scripts/doc_pictures.sh` copies its new snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = ROOT / "tests" / "tui" / "__snapshots__" / "test_snapshots"
PICTURES = ROOT / "docs" / "images" / "screens"
SCREENS = ("signin", "enroll_touch", "handover", "queue", "summary")


@pytest.mark.parametrize("screen", SCREENS)
def test_the_picture_in_the_docs_is_the_screens_snapshot(screen: str) -> None:
    snapshot = SNAPSHOTS / f"test_screen_snapshot[{screen}-80x24].svg"
    picture = PICTURES / f"{screen}.svg"
    assert picture.read_bytes() == snapshot.read_bytes(), (
        f"{picture.relative_to(ROOT)} differs from its snapshot: run scripts/doc_pictures.sh"
    )


def test_every_picture_is_shown_in_the_readme_or_the_operator_guide() -> None:
    docs = (ROOT / "README.md").read_text(encoding="utf-8") + (
        ROOT / "docs" / "operator-guide.md"
    ).read_text(encoding="utf-8")
    for screen in SCREENS:
        assert f"images/screens/{screen}.svg" in docs, screen
    assert sorted(p.stem for p in PICTURES.glob("*.svg")) == sorted(SCREENS)
