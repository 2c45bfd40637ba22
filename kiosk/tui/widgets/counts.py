"""Counts per queue status, each with a symbol so colour is never the only signal."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.widgets import Static

from kiosk.tui.glyphs import UNICODE, Glyphs, glyphs_of

STATUSES = ("pending", "active", "done", "failed", "skipped")


def status_symbol(status: str, glyphs: Glyphs = UNICODE) -> str:
    """The symbol of a queue status (it always goes beside the status word)."""
    return {
        "pending": glyphs.pending,
        "active": glyphs.active,
        "done": glyphs.done,
        "failed": glyphs.failed,
        "skipped": glyphs.skipped,
    }.get(status, glyphs.to_come)


def render_counts(counts: Mapping[str, int], glyphs: Glyphs = UNICODE) -> Text:
    text = Text()
    for status in STATUSES:
        symbol = status_symbol(status, glyphs)
        style = "bold" if status in ("active", "failed") and counts.get(status) else ""
        text.append(f" {symbol} {status} {counts.get(status, 0)} ", style=style)
    return text


class CountsBar(Static):
    DEFAULT_CSS = """
    CountsBar { height: 1; width: 1fr; }
    """

    def show(self, counts: Mapping[str, int]) -> None:
        self.update(render_counts(counts, glyphs_of(self)))
