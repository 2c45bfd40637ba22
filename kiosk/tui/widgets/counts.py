"""Counts per queue status, each with a symbol so colour is never the only signal."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.widgets import Static

SYMBOLS: dict[str, str] = {
    "pending": "○",
    "active": "◐",
    "done": "✔",
    "failed": "✘",
    "skipped": "↷",
}


def render_counts(counts: Mapping[str, int]) -> Text:
    text = Text()
    for status, symbol in SYMBOLS.items():
        style = "bold" if status in ("active", "failed") and counts.get(status) else ""
        text.append(f" {symbol} {status} {counts.get(status, 0)} ", style=style)
    return text


class CountsBar(Static):
    DEFAULT_CSS = """
    CountsBar { height: 1; width: 1fr; }
    """

    def show(self, counts: Mapping[str, int]) -> None:
        self.update(render_counts(counts))
