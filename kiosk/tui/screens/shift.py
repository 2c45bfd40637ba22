"""The shift report on screen: shown when an operator signs out (the Lock key) after a shift
in which something happened, and when an admin asks (R on the admin screen). It is already
written to the outbox as CSV and JSON and audited; P sends it to the report printer (the
print desk audits the job). Counts, reasons, key serials and times: never a PIN."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from kiosk.enroll.api import EngineControl
from kiosk.enroll.shift_report import ShiftReport
from kiosk.model.text import clean
from kiosk.tui.glyphs import glyphs_of
from kiosk.tui.state import format_duration

SHOWN_LINES = 14
"""Report lines shown at most (80x24); the files hold every line."""
CLOSE_AFTER_SECONDS = 120.0
"""The report closes by itself after this long: the lock screen shows nothing of the batch
to whoever walks up once the operator has gone."""


class ShiftReportScreen(ModalScreen[None]):
    CSS_PATH = "modal.tcss"
    DEFAULT_CSS = "ShiftReportScreen #report { height: auto; }"
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("enter", "close", "Close", show=False),
        Binding("p", "print", "Print"),
    ]

    def __init__(
        self, engine: EngineControl, report: ShiftReport, paths: list[Path],
        close_after: float = CLOSE_AFTER_SECONDS,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.report = report
        self.paths = paths
        self.close_after = close_after

    def compose(self) -> ComposeResult:
        glyphs = glyphs_of(self)
        lines = [glyphs.text(clean(line, 200)) for line in self.report.lines()[1:]]
        if len(lines) > SHOWN_LINES:
            more = len(lines) - SHOWN_LINES + 1
            lines = [*lines[: SHOWN_LINES - 1], f"  ... {more} more lines in the files"]
        with Vertical(id="dialog"):
            title = f"Shift report: {clean(self.report.operator, 60)}"
            yield Static(title, id="title", markup=False)
            yield Static("\n".join(lines), id="report", markup=False)
            written = " and ".join(p.name for p in self.paths)
            yield Static(  # the folder is the admin's (store.manifest_directory)
                glyphs.text(f"Written to the outbox: {written}") if self.paths else
                "Not written to the outbox (see the kiosk's log).",
                id="detail", markup=False,
            )
            after = format_duration(self.close_after)
            yield Static(f"P prints. Enter or Esc closes; it closes itself in {after}.",
                         id="next", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.set_timer(self.close_after, self.action_close)

    def action_print(self) -> None:
        if self.engine.print_shift_report(self.report):
            self.news(True, "Sent to the printer...")
        else:
            self.news(False, "No printer takes shift reports: the admin sets "
                             "paper.report_queue (or paper.mailer_queue) in kiosk.toml.")

    def news(self, ok: bool, text: str) -> None:
        """What the printer said (the print desk's PaperNotice of kind report)."""
        mark = glyphs_of(self).done if ok else glyphs_of(self).failed
        self.query_one("#next", Static).update(glyphs_of(self).text(f"{mark} {clean(text, 200)}"))

    def action_close(self) -> None:
        if self.is_current:  # once: a key and the timer may both close it
            self.dismiss(None)
