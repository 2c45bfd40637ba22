"""Why a user is skipped: a short list of usual reasons plus free text, asked before the
engine is told to skip. The reason goes with the skip to the journal and the audit trail
(through the engine's Recorder), so whoever requeues the user later knows why."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from kiosk.model.text import clean
from kiosk.tui.early_keys import TypedInto, enter_moves_to, take_keys

REASONS = (
    "user not here today",
    "user has a key already",
    "account not ready",
    "no key to give",
    "other (type it below)",
)
NOTE_MAX = 120


def skip_reason(choice: str, note: str) -> str:
    """The recorded reason: 'skipped by operator: <choice>[: <note>]', plain and bounded."""
    note = clean(note, NOTE_MAX).strip()
    if choice == REASONS[-1]:
        return f"skipped by operator: {note}" if note else "skipped by operator"
    return f"skipped by operator: {choice}" + (f": {note}" if note else "")


class SkipReasonScreen(TypedInto, ModalScreen[str | None]):
    """Dismissed with the reason to record, or None (Escape: the user is not skipped).
    Typed into at once: keys wait for its list to have the focus, and the reason's Enter
    moves to the note before the next key."""

    CSS_PATH = "modal.tcss"
    BINDINGS = [
        TypedInto.ENTER_MOVES_ON,
        Binding("escape", "dismiss(None)", "Do not skip"),
    ]

    def __init__(self, upn: str) -> None:
        super().__init__(classes="-confirm")
        self._upn = upn

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            who = clean(self._upn) or "this user"
            yield Static(f"?  Skip {who}: why?", id="title", markup=False)
            yield OptionList(*[Option(Text(r), id=str(i)) for i, r in enumerate(REASONS)],
                             id="reasons")
            yield Static("A note (optional), then Enter:", id="detail", markup=False)
            yield Input(placeholder="note", id="note", max_length=NOTE_MAX)
        yield Footer()

    def on_mount(self) -> None:
        for reasons in self.query("#reasons").results(OptionList):
            reasons.highlighted = 0
            take_keys(self, reasons)

    def action_enter_moves_on(self) -> None:
        enter_moves_to(self, self.query_one("#reasons"), self.query_one("#note"))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.set_focus(self.query_one("#note", Input))  # a reason clicked

    def on_input_submitted(self, event: Input.Submitted) -> None:
        index = self.query_one("#reasons", OptionList).highlighted
        choice = REASONS[index if index is not None else len(REASONS) - 1]
        self.dismiss(skip_reason(choice, event.value))
