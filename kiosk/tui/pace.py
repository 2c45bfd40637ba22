"""The batch as pictures drawn in text: a bar of done / failed / skipped / pending and the keys
enrolled per quarter hour as a sparkline. Plain Rich text in the glyph set's characters, so the
Linux console (TERM=linux) draws them too: Textual's ProgressBar and Sparkline draw with
characters its fonts lack (heavy lines, eighth blocks)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text

from kiosk.tui.glyphs import Glyphs

QUARTER = 15 * 60.0

# (status, unicode mark, console mark, style): the bar's segments, in order.
SEGMENTS = (
    ("done", "█", "#", "green"),
    ("failed", "▓", "X", "red"),
    ("skipped", "▒", "/", "yellow"),
    ("pending", "░", "-", "dim"),
)
UNICODE_LEVELS = "▁▂▃▄▅▆▇█"
CONSOLE_LEVELS = "_.-=+*#"


def batch_bar(counts: Mapping[str, int], width: int, glyphs: Glyphs) -> Text:
    """One line ``width`` cells wide, each status's share drawn in its own mark and colour
    (pending includes the user being enrolled now); a status with users gets a cell at least."""
    parts = [
        (counts.get(s, 0) + (counts.get("active", 0) if s == "pending" else 0), u, c, st)
        for s, u, c, st in SEGMENTS
    ]
    total = sum(n for n, *_ in parts)
    text = Text()
    if total == 0 or width <= 0:
        return text
    cells = [max(1, n * width // total) if n else 0 for n, *_ in parts]
    cells[cells.index(max(cells))] += width - sum(cells)  # rounding goes to the largest
    for (_, uni, con, style), n in zip(parts, cells, strict=True):
        text.append((con if glyphs.mode == "console" else uni) * n, style=style)
    return text


def per_quarter(times: Sequence[float], start: float | None, now: float) -> list[int]:
    """How many of ``times`` fall in each quarter hour from ``start`` to ``now`` (oldest first)."""
    if start is None or now < start:
        return []
    counts = [0] * (int((now - start) // QUARTER) + 1)
    for t in times:
        if start <= t <= now:
            counts[int((t - start) // QUARTER)] += 1
    return counts


def sparkline(values: Sequence[int], width: int, glyphs: Glyphs) -> str:
    """The last ``width`` values as bars, highest = the tallest mark; none: empty."""
    shown = list(values)[-width:] if width > 0 else []
    if not shown:
        return ""
    levels = CONSOLE_LEVELS if glyphs.mode == "console" else UNICODE_LEVELS
    top = max(shown) or 1
    # A quarter with no key is a blank; the busiest gets the tallest mark.
    return "".join(
        " " if v <= 0 else levels[max(0, -(-v * len(levels) // top) - 1)] for v in shown
    )
