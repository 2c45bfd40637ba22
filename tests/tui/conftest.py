"""TUI tests: the glyph set is chosen from TERM ("auto"); pin it so a run on tty1 or under
TERM=linux draws the same screens as anywhere else. Console-mode tests ask for it outright."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _unicode_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
