"""Reduced motion: with ``KioskApp(motion=False)`` nothing blinks or moves (snapshots, tests)."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input


def calm_inputs(screen: Any) -> None:
    """Stop the cursor of every Input on ``screen`` from blinking when motion is off."""
    if not getattr(screen.app, "motion", True):
        for field in screen.query(Input):
            field.cursor_blink = False
