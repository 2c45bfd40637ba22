"""The big prompt: what the operator must do now.

"Touch the key now" must be impossible to miss: it fills the box in reverse video, says it in
words, carries a symbol, and moves (arrows march towards the text and the box blinks), so it
reads on a monochrome console and for colour-blind operators alike.
"""

from __future__ import annotations

from rich.align import Align
from rich.console import Group
from rich.text import Text
from textual.timer import Timer
from textual.widgets import Static

from kiosk.enroll.events import Prompt
from kiosk.tui.glyphs import UNICODE, Glyphs, glyphs_of

HEADLINES: dict[Prompt, str] = {
    Prompt.IDLE: "WAITING FOR THE QUEUE",
    Prompt.INSERT_KEY: "INSERT A KEY",
    Prompt.TOUCH_KEY: "TOUCH THE KEY NOW",
    Prompt.REINSERT_KEY: "PULL THE KEY AND INSERT IT AGAIN",
    Prompt.WORKING: "WORKING, DO NOT PULL THE KEY",
    Prompt.REMOVE_KEY: "REMOVE THE KEY",
    Prompt.ONE_KEY_ONLY: "ONLY ONE KEY AT A TIME",
    Prompt.CONFIRM_RESET: "CONFIRM THE RESET",
    Prompt.CONFIRM_REPLACE: "CONFIRM REPLACING THE KEYS",
    Prompt.CONFIRM_GUEST: "CONFIRM A GUEST ACCOUNT",
    Prompt.TYPE_PIN: "TYPE THE PIN FOR THIS KEY",
}
"""The words of each prompt; its symbol comes from the glyph set (``Glyphs.prompts``)."""

CSS_CLASS: dict[Prompt, str] = {
    Prompt.IDLE: "-idle",
    Prompt.INSERT_KEY: "-insert",
    Prompt.TOUCH_KEY: "-touch",
    Prompt.REINSERT_KEY: "-insert",
    Prompt.WORKING: "-working",
    Prompt.REMOVE_KEY: "-remove",
    Prompt.ONE_KEY_ONLY: "-warn",
    Prompt.CONFIRM_RESET: "-warn",
    Prompt.CONFIRM_REPLACE: "-warn",
    Prompt.CONFIRM_GUEST: "-warn",
    Prompt.TYPE_PIN: "-warn",
}

MARCH = ("x    ", " x   ", "  x  ", "   x ", "    x")
"""Frames of the arrows marching towards the touch prompt (x: the set's arrow)."""


def render_prompt(
    prompt: Prompt, detail: str, frame: int = 0, glyphs: Glyphs = UNICODE
) -> Group:
    headline = HEADLINES.get(prompt, str(prompt).upper())
    symbol = glyphs.prompts.get(prompt, glyphs.to_come)
    if prompt is Prompt.TOUCH_KEY:
        step = MARCH[frame % len(MARCH)]
        left = step.replace("x", glyphs.march_right)
        right = step[::-1].replace("x", glyphs.march_left)
        title = Text(f"{left} {symbol} {headline} {symbol} {right}", style="bold")
    else:
        title = Text(f"{symbol}  {headline}", style="bold")
    lines: list[Align | Text] = [Align.center(title)]
    if detail:
        lines.append(Align.center(Text(detail)))
    return Group(*lines)


class BigPrompt(Static):
    """The prompt box. ``motion=False`` freezes it (snapshots, reduced motion)."""

    DEFAULT_CSS = """
    BigPrompt {
        height: auto;
        min-height: 5;
        content-align: center middle;
        padding: 1 1;
    }
    """

    def __init__(self, *, motion: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self._motion = motion
        self._prompt = Prompt.IDLE
        self._detail = ""
        self._frame = 0
        self._timer: Timer | None = None

    @property
    def prompt(self) -> Prompt:
        return self._prompt

    def on_mount(self) -> None:
        self.show(self._prompt, self._detail)

    def show(self, prompt: Prompt, detail: str = "") -> None:
        changed = prompt is not self._prompt
        self._prompt = prompt
        self._detail = detail
        for cls in set(CSS_CLASS.values()):
            self.remove_class(cls)
        self.add_class(CSS_CLASS.get(prompt, "-working"))
        if changed:
            self._frame = 0
            self.remove_class("-blink")
        touching = prompt is Prompt.TOUCH_KEY
        if touching and self._motion and self._timer is None:
            self._timer = self.set_interval(0.25, self._tick)
        elif not touching and self._timer is not None:
            self._timer.stop()
            self._timer = None
        self.update(render_prompt(prompt, detail, self._frame, glyphs_of(self)))

    def _tick(self) -> None:
        self._frame += 1
        self.set_class(self._frame % 4 >= 2, "-blink")
        self.update(render_prompt(self._prompt, self._detail, self._frame, glyphs_of(self)))
