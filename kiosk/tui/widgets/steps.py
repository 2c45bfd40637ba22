"""The per-user steps, the current one highlighted; each line has a symbol, not only a colour."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from kiosk.model.steps import ENDINGS, PATH, Step
from kiosk.tui.glyphs import UNICODE, Glyphs, glyphs_of

SHOWN: tuple[Step, ...] = PATH[1:]
"""Every step but QUEUED: the screen shows a user once they are being enrolled."""

LABELS: dict[Step, str] = {
    Step.OPTIONS_READY: "Options from Entra",
    Step.KEY_INSERTED: "Key inserted",
    Step.KEY_CHECKED: "Key checked",
    Step.RESET: "Reset if needed",
    Step.PIN_SET: "PIN set",
    Step.CREDENTIAL_CREATED: "Credential made",
    Step.PIN_POLICY_APPLIED: "PIN policy applied",
    Step.REGISTERED: "Registered (Entra)",
    Step.DONE: "Done",
}


def render_steps(
    current: Step | None,
    passed: list[Step],
    detail: str = "",
    halted: str = "",
    glyphs: Glyphs = UNICODE,
) -> Text:
    """One line per step: ✔ reached, ▶ under way, ⊘ not needed, ✘/↷ where it ended, · to come.

    ``current`` is the last step the engine reported reaching; the one after it is under way,
    unless ``halted`` names the error that stopped it there (then it is marked ✘).
    """
    reached = set(passed)
    ended = current in ENDINGS
    if current is not None and not ended:
        reached.add(current)
    last = max((SHOWN.index(s) for s in reached if s in SHOWN), default=-1)
    active = last + 1 if current is not Step.DONE else -1
    width = glyphs.step_width

    def mark(symbol: str) -> str:
        return symbol.ljust(width)

    text = Text()
    for index, step in enumerate(SHOWN):
        label = LABELS[step]
        if step in reached:
            style = "bold reverse" if step is Step.DONE else ""
            line = Text(f" {mark(glyphs.done)} {label} ", style=style)
        elif index == active and ended:
            # The word goes under the list: "PIN policy applied: skipped" would not fit.
            symbol = glyphs.failed if current is Step.FAILED else glyphs.skipped
            line = Text(f" {mark(symbol)} {label} ", style="bold reverse")
        elif index == active and halted and current is not None:
            line = Text(f" {mark(glyphs.failed)} {label} ", style="bold reverse")
        elif index == active and current is not None:
            line = Text(f" {mark(glyphs.current)} {label} ", style="bold reverse")
        elif index < last:
            line = Text(f" {mark(glyphs.not_needed)} {label}", style="dim")
        else:
            line = Text(f" {mark(glyphs.to_come)} {label}", style="dim")
        text.append_text(line)
        text.append("\n")
    if halted and not ended:
        text.append(f" {halted}", style="italic")
    elif ended:
        word = "Failed" if current is Step.FAILED else "Skipped"
        said = detail if detail.lower().startswith(word.lower()) else f"{word}: {detail}"
        text.append(f" {said.rstrip(': ')}", style="bold italic")
    elif detail:
        text.append(f" {detail}", style="italic")
    return text


class StepsList(Static):
    """The list of steps of the user being enrolled."""

    DEFAULT_CSS = """
    StepsList { width: 26; height: auto; padding: 0 0; }
    """

    def show(
        self, current: Step | None, passed: list[Step], detail: str = "", halted: str = ""
    ) -> None:
        self.update(render_steps(current, passed, detail, halted, glyphs_of(self)))
