"""The queue: every user and their status, with search, filter, sort and jump to next pending."""

from __future__ import annotations

from typing import Any, get_args

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from kiosk.enroll.api import EngineControl
from kiosk.enroll.events import Prompt
from kiosk.model.queue import SortKey, Status
from kiosk.tui.glyphs import glyphs_of
from kiosk.tui.motion import calm_inputs
from kiosk.tui.widgets.counts import CountsBar
from kiosk.tui.widgets.queue_view import QueueView
from kiosk.tui.words import plural

FILTERS: tuple[Status | None, ...] = (None, *get_args(Status))
SORTS: tuple[SortKey, ...] = get_args(SortKey)


class QueueScreen(Screen[None]):
    CSS_PATH = "queue.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("slash", "search", "Search"),
        Binding("f", "filter", "Filter"),
        Binding("o", "sort", "Sort"),
        Binding("n", "next_pending", "Next"),
        Binding("p", "reprint", "Reprint label"),
        Binding("u", "requeue", "Requeue", show=False),  # Enter on such a user says U
    ]

    def __init__(self, engine: EngineControl, *, labels: bool = False) -> None:
        super().__init__()
        self.engine = engine
        self.labels = labels
        """Shipping labels are printed: P reprints the chosen user's."""

    def compose(self) -> ComposeResult:
        yield Static(" QUEUE", id="banner")
        yield Input(placeholder="search UPN or name, Enter to apply", id="search")
        yield Static(id="status-line", markup=False)
        yield QueueView(self.engine, id="rows")
        yield CountsBar(id="counts")
        yield Footer(compact=True)

    @property
    def view(self) -> QueueView:
        return self.query_one(QueueView)

    def on_mount(self) -> None:
        calm_inputs(self)
        self.view.focus()
        self._describe()
        self._count()

    def _describe(self) -> None:
        view = self.view
        shown = view.status or "all"
        dot = glyphs_of(self).dot
        self.query_one("#status-line", Static).update(
            f" Showing: {shown} {dot} sorted by {view.sort} {dot} {plural(view.total, 'user')}"
            + (f" {dot} search: {view.search}" if view.search else "")
        )

    def _count(self) -> None:
        self.query_one(CountsBar).show(self.engine.counts())

    def action_back(self) -> None:
        if self.focused is self.query_one("#search", Input):
            self.view.focus()
            return
        self.dismiss(None)

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.view.search = event.value.strip()
        self.view.reload()
        self.view.focus()
        self._describe()

    def action_filter(self) -> None:
        view = self.view
        view.status = FILTERS[(FILTERS.index(view.status) + 1) % len(FILTERS)]
        view.reload()
        self._describe()

    def action_sort(self) -> None:
        view = self.view
        view.sort = SORTS[(SORTS.index(view.sort) + 1) % len(SORTS)]
        view.reload()
        self._describe()

    def action_next_pending(self) -> None:
        if not self.view.jump_to_next_pending():
            self.notify("No pending users here.")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "reprint":
            return self.labels
        return True

    def action_reprint(self) -> None:
        row = self.view.current
        sent = self.engine.reprint_labels(entry_id=row.entry_id) if row is not None else 0
        if row is None or not sent:
            self.notify("No label for this user yet: a label prints once a key is enrolled.")
            return
        self.notify(f"{plural(sent, 'label')} for {row.upn} sent to the label printer again.")

    def action_requeue(self) -> None:
        row = self.view.current
        if row is None or row.status not in ("skipped", "failed"):
            self.notify("Only a skipped or failed user can be put back in the queue.")
            return
        if self.engine.requeue(row.entry_id):
            self.notify(f"{row.upn} is back in the queue (pending).", markup=False)
        else:  # a station still finishing their enrollment (fleet), or changed meanwhile
            self.notify(f"{row.upn} was not put back in the queue: an interrupted enrollment "
                        "of theirs is still being finished, or the entry changed meanwhile.",
                        markup=False)
        self.show_state()

    def on_queue_view_chosen(self, event: QueueView.Chosen) -> None:
        if event.row.status != "pending":
            hint = " U puts them back in the queue." if event.row.status in (
                "skipped", "failed") else ""
            self.notify(f"{event.row.upn} is {event.row.status}, not pending.{hint}",
                        markup=False)
            return
        held = self.engine.select(event.row.entry_id)
        if held is not None:  # a fleet: another station claimed or started this user
            self.notify(f"{event.row.upn} is held by station {held}, which enrolls them; "
                        "pick another user.", markup=False)
            return
        self.notify(self._next_words(event.row.upn), markup=False)
        self.dismiss(None)

    def _next_words(self, upn: str) -> str:
        """Whether the chosen user is next now, or once the user under way is finished
        (picked during someone else's touch prompt, "insert a key" would be wrong)."""
        state = getattr(self.app, "state", None)
        busy = getattr(state, "prompt", None) not in (None, Prompt.IDLE, Prompt.INSERT_KEY)
        current = getattr(state, "upn", "") if busy else ""
        if current and current != upn:
            return f"{upn} is next once {current} is finished."
        return f"{upn} is next: insert a key."

    def show_state(self, *_: Any) -> None:
        self.view.refetch()
        self._describe()
        self._count()
