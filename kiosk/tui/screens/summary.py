"""Batch summary: done / failed / skipped, keys per hour, time left, manifest export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Static

from kiosk.config import Settings
from kiosk.enroll.api import EngineControl
from kiosk.enroll.shift_report import ShiftReport
from kiosk.model.steps import Step
from kiosk.store.station_counts import StationCounts
from kiosk.tui.glyphs import UNICODE, Glyphs, glyphs_of
from kiosk.tui.messages import TaskDone
from kiosk.tui.screens.reprint import ReprintScreen
from kiosk.tui.state import BatchState, format_duration
from kiosk.tui.widgets.batch_picture import BatchPicture
from kiosk.tui.widgets.counts import STATUSES, status_symbol


def summary_table(
    state: BatchState, counts: dict[str, int], glyphs: Glyphs = UNICODE
) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_row("", "whole queue", "this session")
    session = {
        "done": state.session_count(Step.DONE),
        "failed": state.session_count(Step.FAILED),
        "skipped": state.session_count(Step.SKIPPED),
    }
    for status in STATUSES:
        table.add_row(
            f"{status_symbol(status, glyphs)} {status}",
            str(counts.get(status, 0)),
            str(session.get(status, "")),
        )
    rate = state.keys_per_hour()
    table.add_row("", "", "")
    table.add_row("Keys per hour", "", f"{rate:.0f}" if rate is not None else "not known yet")
    table.add_row("Time left", "", format_duration(state.seconds_left()))
    return table


class SummaryScreen(Screen[None]):
    CSS_PATH = "summary.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("e", "export", "Export manifest"),
        Binding("r", "reprint", "Reprint labels"),
    ]

    def __init__(self, engine: EngineControl, state: BatchState, settings: Settings) -> None:
        super().__init__()
        self.engine = engine
        self.state = state
        self.settings = settings
        self._shifts: list[ShiftReport] = []
        self._stations: list[StationCounts] = []
        self._shifts_at = -1

    def compose(self) -> ComposeResult:
        yield Static(" BATCH SUMMARY", id="banner")
        with Horizontal(id="body"):
            yield Static(id="table")
            yield BatchPicture(id="pictures")
        yield Static(id="export", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.show_state()  # reads the shifts and stations: _shifts_at is -1

    def show_state(self, *_: Any) -> None:
        counts = self.engine.counts()
        self.state.counts = dict(counts)
        table = summary_table(self.state, counts, glyphs_of(self))
        waiting = len(self.engine.labels_to_print()) if self.settings.paper.label_queue else 0
        back = self.engine.returns_today()
        if back.get("in_stock"):
            table.add_row("Keys reset into stock today", "", str(back["in_stock"]))
        if back.get("retired"):
            table.add_row("Keys retired today", "", str(back["retired"]))
        if needing := len(self.engine.keys_needing_reset()):
            table.add_row("Keys to reset", str(needing), "", style="bold red")
        if waiting:
            table.add_row("Labels to reprint", "", f"{waiting} (R)", style="bold red")
        self.query_one("#table", Static).update(table)
        if len(self.state.results) != self._shifts_at:  # the trail is read once per result
            self._shifts, self._shifts_at = self.engine.shifts(), len(self.state.results)
            self._stations = self.engine.stations()
        self.query_one(BatchPicture).show(self.state, counts, self._shifts, self._stations)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "reprint":
            return bool(self.settings.paper.label_queue)  # no labels: no key for them
        return True

    def action_reprint(self) -> None:
        self.app.push_screen(ReprintScreen(self.engine), lambda _: self.show_state())

    def action_back(self) -> None:
        self.dismiss(None)

    def action_export(self) -> None:
        saying = glyphs_of(self).text("Exporting the shipping manifest…")
        self.query_one("#export", Static).update(saying)
        self._export()

    @work(thread=True, exclusive=True, exit_on_error=False, group="task")
    def _export(self) -> None:
        paths = self.engine.export_manifest(Path(self.settings.store.manifest_directory))
        text = "Manifest written: " + ", ".join(str(p) for p in paths)
        self.app.call_from_thread(self._exported, text)

    def _exported(self, text: str) -> None:
        self.query_one("#export", Static).update(text)
        self.app.post_message(TaskDone("Manifest exported", text))
