"""The enrollment screen: who is being enrolled, the steps, the big prompt and the key."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Static

from kiosk.enroll.events import Prompt
from kiosk.model.steps import Step
from kiosk.model.text import clean
from kiosk.tui.glyphs import UNICODE, Glyphs, glyphs_of
from kiosk.tui.state import FINAL, BatchState
from kiosk.tui.widgets.counts import CountsBar
from kiosk.tui.widgets.key_panel import KeyPanel
from kiosk.tui.widgets.prompt import BigPrompt
from kiosk.tui.widgets.steps import StepsList

RESULT_WORDS: dict[Step, str] = {
    Step.DONE: "enrolled",
    Step.FAILED: "FAILED",
    Step.SKIPPED: "skipped",
}


TOUCH_FOR: dict[str, str] = {
    "reset": "to confirm the reset",
    "credential": "to create the credential",
}


def touch_detail(reason: str) -> str:
    """What the touch is for, in words ("reset" -> "to confirm the reset")."""
    why = TOUCH_FOR.get(reason, f"({reason})")
    return f"Touch its contact {why}."


def reinsert_detail(serial: str) -> str:
    """What to do once a key pulled for its reset is out (enrollment and return desk)."""
    return f"Key {serial} is out: insert it again now and touch it when it blinks."


def remove_detail(state: BatchState) -> str:
    """What to do with the key when the engine asks for it back without saying more."""
    if state.step is Step.DONE:
        who = state.display_name or state.upn
        return f"Enrolled for {who}: pull the key and put it in their envelope."
    return "Pull the key out to go on."


NOTHING_LEFT = "Press S for the batch summary; the admin (A) adds users."


def queue_left(counts: dict[str, int]) -> int:
    return counts.get("pending", 0) + counts.get("active", 0)


def render_result(state: BatchState, glyphs: Glyphs = UNICODE) -> Text:
    last = state.last_result
    if last is None:
        return Text("No key enrolled yet in this session.", style="dim")
    word = RESULT_WORDS.get(last.status, str(last.status))
    symbols = {Step.DONE: glyphs.done, Step.FAILED: glyphs.failed, Step.SKIPPED: glyphs.skipped}
    symbol = symbols.get(last.status, glyphs.to_come)
    reason = glyphs.text(last.reason)
    if reason.lower().startswith(word.lower()):
        word, reason = reason, ""  # "skipped by operator", not "skipped: skipped by operator"
    text = Text(f"Last: {symbol} {last.upn} {word}", style="bold")
    if last.serial:
        text.append(f" (key {last.serial})")
    if reason:
        text.append(f": {reason}")
    if last.next_step and last.status is not Step.DONE:
        text.append(f" Next: {glyphs.text(last.next_step)}", style="italic")
    return text


def render_paper(state: BatchState, glyphs: Glyphs = UNICODE) -> Text | None:
    """The printer's last news, one line: a fault in red with what to do, and the labels
    still waiting for a reprint."""
    note = state.paper
    if note is None:
        return None
    symbol = glyphs.done if note.ok else glyphs.failed
    text = Text(f"Printer: {symbol} ", style="" if note.ok else "bold red")
    if note.waiting:  # first: a long fault text is cut at the end of the line
        many = "s" if note.waiting > 1 else ""
        text.append(f"{note.waiting} label{many} to reprint (S). ", style="bold")
    text.append(glyphs.text(note.text))
    if not note.ok and note.next_step:
        text.append(f" {glyphs.text(note.next_step)}", style="italic")
    return text


class EnrollScreen(Screen[None]):
    CSS_PATH = "enroll.tcss"
    BINDINGS = [
        Binding("q", "app.show_queue", "Queue"),
        Binding("s", "app.show_summary", "Batch"),
        Binding("c", "app.engine_cancel", "Cancel"),
        Binding("r", "app.engine_retry", "Retry"),
        Binding("k", "app.engine_skip", "Skip"),
        Binding("l", "app.lock(True)", "Lock"),  # the operator is there: the shift's report
        Binding("a", "app.show_admin", "Admin"),
        Binding("t", "app.show_returns", "Return"),
    ]

    failed: reactive[bool] = reactive(False)
    """The current user's enrollment failed (the screen turns to its failure colours)."""

    def watch_failed(self, failed: bool) -> None:
        self.set_class(failed, "-failed")

    def __init__(self, *, motion: bool = True, banner: str = "") -> None:
        super().__init__()
        self._motion = motion
        self._banner = banner

    def compose(self) -> ComposeResult:
        yield Static(id="banner", markup=False)
        yield Static(id="user", markup=False)
        with Horizontal(id="main"):
            yield StepsList(id="steps")
            with Vertical(id="right"):
                yield BigPrompt(motion=self._motion, id="prompt")
                yield KeyPanel(id="key")
        yield Static(id="result")
        yield CountsBar(id="counts")
        yield Footer(compact=True)

    def show_state(self, state: BatchState, operator: str | None) -> None:
        if not self.is_mounted or not self.children:
            # Not composed yet, or taken down already: the app is exiting while the engine,
            # stopping on its thread, still tells what it does.
            return
        try:
            self._draw(state, operator)
        except NoMatches:
            # Composing or being taken down in between (children come and go one by one):
            # the next state change draws again; a half-built screen never ends the kiosk.
            return

    def _draw(self, state: BatchState, operator: str | None) -> None:
        glyphs = glyphs_of(self)
        who = operator if operator else "locked"
        banner = f" FIDO2 ENROLLMENT {glyphs.dot} {who}"
        if self._banner:
            banner += f" {glyphs.dot} {glyphs.text(self._banner)}"
        self.query_one("#banner", Static).update(banner)
        user = self.query_one("#user", Static)
        if state.entry_id is None:
            user.update("Next user: whoever is first in the queue")
        else:
            name = state.display_name or state.upn
            # Once the engine waits with nobody left, the last user is finished, not enrolling.
            idle = state.prompt is Prompt.IDLE and state.step in FINAL
            lead = "Finished: " if idle else "Enrolling: "
            # One line (enroll.tcss): a long UPN is cut at its end, never pushed out of sight.
            user.update(
                Text.assemble((lead, ""), (clean(name), "bold"), f"  <{clean(state.upn)}>")
            )
        self.query_one(StepsList).show(
            state.step, state.passed, state.step_detail, state.halted
        )
        detail = state.prompt_detail
        if state.touch_reason:
            detail = touch_detail(state.touch_reason)
        elif state.prompt is Prompt.REMOVE_KEY and not detail:
            detail = remove_detail(state)
        elif state.prompt is Prompt.REINSERT_KEY and state.reinsert_serial:
            detail = reinsert_detail(state.reinsert_serial)
        elif state.prompt is Prompt.IDLE and state.counts and not queue_left(state.counts):
            detail = f"{detail} {NOTHING_LEFT}".strip()
        self.query_one(BigPrompt).show(state.prompt, glyphs.text(detail))
        self.query_one(KeyPanel).show(state.key, state.pin_policy, state.port)
        result = render_result(state, glyphs)
        paper = render_paper(state, glyphs)
        if paper is not None:
            result = Text("\n").join([result, paper])
        self.query_one("#result", Static).update(result)
        self.failed = state.step is Step.FAILED
        self.query_one(CountsBar).show(state.counts)
