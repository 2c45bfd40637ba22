"""The reprint list: shipping labels that did not print (printer stopped, queue missing, CUPS
down), one line per key; Enter reprints the chosen label, A reprints them all. Every reprint
is audited by the print desk."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from kiosk.enroll.api import EngineControl, LabelWaiting
from kiosk.tui.words import plural


def label_line(row: LabelWaiting) -> Text:
    """One waiting label: key serial, recipient and why it waits (plain text, no markup)."""
    why = row.reason or ("never sent" if row.sent == 0 else "sent; not known to have printed")
    return Text.assemble(
        (f"{row.serial or '(no serial)'}", "bold"), f"  {row.upn}  ", (why[:120], "italic")
    )


class ReprintScreen(ModalScreen[int]):
    CSS_PATH = "modal.tcss"
    DEFAULT_CSS = "ReprintScreen #labels { height: auto; max-height: 14; }"
    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("a", "all", "Reprint all"),
    ]

    def __init__(self, engine: EngineControl) -> None:
        super().__init__(classes="-confirm")
        self.engine = engine
        self.sent = 0

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("Labels to reprint", id="title")
            yield OptionList(id="labels")
            yield Static("Enter reprints the chosen label; A reprints them all.", id="next")
        yield Footer()

    def on_mount(self) -> None:
        self.reload()

    def reload(self) -> None:
        rows = self.engine.labels_to_print()
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(Option(label_line(r), id=str(r.label_id)) for r in rows)
        self.query_one("#title", Static).update(
            f"Labels to reprint: {plural(len(rows), 'key')}" if rows else "Every label printed."
        )
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.sent += self.engine.reprint_labels(label_id=int(event.option.id))
            self.notify("Sent to the label printer again.")
            self.reload()

    def action_all(self) -> None:
        sent = self.engine.reprint_labels()
        self.sent += sent
        self.notify(f"{plural(sent, 'label')} sent to the label printer again.")
        self.reload()

    def action_close(self) -> None:
        self.dismiss(self.sent)
