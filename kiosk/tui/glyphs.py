"""The symbols every screen draws, in two sets: full Unicode, and one the Linux console can draw.

The Linux text console (tty1, TERM=linux) has a 256/512-glyph font: ASCII, Latin letters,
light box drawing and a full block, little else. ✔ ✘ ☝ ⧗ 🔒 and friends come out blank
there, and several of them carry meaning, so in console mode every symbol is ASCII and the
border styles (round, heavy, double, thick, tall) become Textual's "solid" and "ascii" kinds.
``kiosk.glyphs`` in kiosk.toml picks the set; "auto" looks at the terminal.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from textual.dom import DOMNode
from textual.scrollbar import ScrollBarRender

from kiosk.enroll.events import Prompt

GlyphMode = Literal["unicode", "console"]

CONSOLE_SAFE = frozenset(chr(c) for c in range(0x20, 0x7F)) | frozenset("─│┌┐└┘├┤┬┴┼█")
"""Every character console mode may put on screen: printable ASCII, the light box-drawing
lines (Textual's "solid" border) and the full block (big PIN digits). All are in the IBM PC
set the console's fonts are built around (ncurses draws them on TERM=linux too)."""

BORDER_KINDS = ("round", "heavy", "double", "thick", "tall")
"""Border kinds the .tcss files name through a variable: ``border: $kiosk-heavy $primary``."""


@dataclass(frozen=True)
class Glyphs:
    mode: GlyphMode
    done: str
    failed: str
    skipped: str
    current: str
    not_needed: str
    to_come: str
    pending: str
    active: str
    locked: str
    dot: str
    """Separator between parts of one line ("FIDO2 ENROLLMENT · operator")."""
    ellipsis: str
    mask: str
    """One typed character of a hidden PIN."""
    up_down: str
    march_right: str
    march_left: str
    prompts: Mapping[Prompt, str]
    borders: Mapping[str, str] = field(default_factory=dict)

    @property
    def step_width(self) -> int:
        """Width of the step markers, so the step labels line up."""
        marks = (self.done, self.failed, self.skipped, self.current, self.not_needed)
        return max(len(m) for m in (*marks, self.to_come))

    def text(self, words: str) -> str:
        """``words`` with every Unicode symbol of the full set replaced by this set's one."""
        return words if self.mode == "unicode" else words.translate(_TO_CONSOLE)

    def css_variables(self) -> dict[str, str]:
        return {f"kiosk-{kind}": self.borders.get(kind, kind) for kind in BORDER_KINDS}


UNICODE = Glyphs(
    mode="unicode",
    done="✔",
    failed="✘",
    skipped="↷",
    current="▶",
    not_needed="⊘",
    to_come="·",
    pending="○",
    active="◐",
    locked="🔒",
    dot="·",
    ellipsis="…",
    mask="•",
    up_down="↑ ↓",
    march_right="▶",
    march_left="◀",
    prompts={
        Prompt.IDLE: "…",
        Prompt.INSERT_KEY: "⇩",
        Prompt.TOUCH_KEY: "☝",
        Prompt.REINSERT_KEY: "⟳",
        Prompt.WORKING: "⧗",
        Prompt.REMOVE_KEY: "⇧",
        Prompt.ONE_KEY_ONLY: "!",
        Prompt.CONFIRM_RESET: "?",
        Prompt.CONFIRM_REPLACE: "?",
        Prompt.CONFIRM_GUEST: "?",
        Prompt.TYPE_PIN: "⌨",
    },
)

CONSOLE = Glyphs(
    mode="console",
    done="OK",
    failed="X",
    skipped=">>",
    current=">",
    not_needed="-",
    to_come=".",
    pending="o",
    active="*",
    locked="[LOCKED]",
    dot="-",
    ellipsis="...",
    mask="*",
    up_down="Up Down",
    march_right=">",
    march_left="<",
    prompts={
        Prompt.IDLE: "...",
        Prompt.INSERT_KEY: "->",
        Prompt.TOUCH_KEY: "!!",
        Prompt.REINSERT_KEY: "<->",
        Prompt.WORKING: "...",
        Prompt.REMOVE_KEY: "<-",
        Prompt.ONE_KEY_ONLY: "!",
        Prompt.CONFIRM_RESET: "?",
        Prompt.CONFIRM_REPLACE: "?",
        Prompt.CONFIRM_GUEST: "?",
        Prompt.TYPE_PIN: ">",
    },
    borders={
        "round": "solid",
        "tall": "solid",
        "heavy": "ascii",
        "double": "ascii",
        "thick": "ascii",
    },
)

def _console_table() -> dict[int, str]:
    names = [f for f in Glyphs.__dataclass_fields__ if f not in ("mode", "prompts", "borders")]
    pairs = [(getattr(UNICODE, n), getattr(CONSOLE, n)) for n in names]
    pairs += [(UNICODE.prompts[p], CONSOLE.prompts[p]) for p in UNICODE.prompts]
    table = {ord(u): c for u, c in pairs if len(u) == 1}
    table.update({ord("↑"): "Up", ord("↓"): "Down", ord("⇧"): "<-", ord("⇩"): "->"})
    table[ord("·")] = CONSOLE.dot  # the separator; a step to come is drawn from its field
    return table


_TO_CONSOLE = _console_table()

SETS: Mapping[GlyphMode, Glyphs] = {"unicode": UNICODE, "console": CONSOLE}

_VIRTUAL_CONSOLE = re.compile(r"^/dev/tty[0-9]+$")


def detect(term: str | None, tty: str | None) -> GlyphMode:
    """Console on the Linux console: TERM=linux, or no TERM at all on a /dev/ttyN."""
    if term == "linux":
        return "console"
    if not term and tty is not None and _VIRTUAL_CONSOLE.match(tty):
        return "console"
    return "unicode"


def _tty_name() -> str | None:
    for stream in (sys.__stdout__, sys.__stdin__):
        try:
            if stream is not None and stream.isatty():
                return os.ttyname(stream.fileno())
        except (OSError, ValueError):
            continue
    return None


def choose(setting: str, environ: Mapping[str, str] | None = None) -> Glyphs:
    """The glyph set for ``kiosk.glyphs`` ("auto", "unicode" or "console")."""
    if setting == "unicode":
        return UNICODE
    if setting == "console":
        return CONSOLE
    env = os.environ if environ is None else environ
    return SETS[detect(env.get("TERM"), _tty_name())]


def glyphs_of(node: DOMNode) -> Glyphs:
    """The set of the app ``node`` runs in (Unicode outside the kiosk app)."""
    try:
        found = getattr(node.app, "glyphs", UNICODE)
    except RuntimeError:  # no active app: a widget rendered on its own (Textual raises a
        # RuntimeError subclass that it does not export)
        return UNICODE
    return found if isinstance(found, Glyphs) else UNICODE


class ConsoleScrollBarRender(ScrollBarRender):
    """Scroll bars drawn in colour only: Textual's draw thumb ends in eighth blocks (▁ ▌)."""

    VERTICAL_BARS = [" "] * 8
    HORIZONTAL_BARS = [" "] * 8


BIG_FONT: Mapping[str, tuple[str, str, str, str, str]] = {
    "0": ("███", "█ █", "█ █", "█ █", "███"),
    "1": (" █ ", "██ ", " █ ", " █ ", "███"),
    "2": ("███", "  █", "███", "█  ", "███"),
    "3": ("███", "  █", "███", "  █", "███"),
    "4": ("█ █", "█ █", "███", "  █", "  █"),
    "5": ("███", "█  ", "███", "  █", "███"),
    "6": ("███", "█  ", "███", "█ █", "███"),
    "7": ("███", "  █", "  █", "  █", "  █"),
    "8": ("███", "█ █", "███", "█ █", "███"),
    "9": ("███", "█ █", "███", "  █", "███"),
    "A": ("███", "█ █", "███", "█ █", "█ █"),
    "B": ("██ ", "█ █", "██ ", "█ █", "██ "),
    "C": ("███", "█  ", "█  ", "█  ", "███"),
    "D": ("██ ", "█ █", "█ █", "█ █", "██ "),
    "E": ("███", "█  ", "███", "█  ", "███"),
    "F": ("███", "█  ", "███", "█  ", "█  "),
}
"""Large digits from full blocks only (Textual's Digits uses heavy box lines)."""


def big_text(value: str) -> str:
    """``value`` five rows tall in :data:`BIG_FONT`, two blank columns between characters."""
    rows = [[BIG_FONT[ch][row] for ch in value.upper()] for row in range(5)]
    return "\n".join("  ".join(row) for row in rows)
