"""The stock, from the admin screen: keys counted by state and model, searched by serial or
UPN, and a lost key stopped (its Entra method deleted at once, marked lost, a replacement
offered for its owner). The search and the lost key run in thread workers."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from kiosk.enroll.api import EngineControl
from kiosk.enroll.lifecycle import LostReport
from kiosk.entra.models import Fido2Method
from kiosk.model.text import clean
from kiosk.store.inventory import KEY_STATES, InventoryEntry
from kiosk.tui.screens.admin_lines import task_error_lines
from kiosk.tui.screens.error import ConfirmScreen
from kiosk.tui.screens.methods import MethodPickScreen

LOST_REASON = "reported lost at the kiosk"
PICKED_REASON = "picked from the owner's list on the inventory screen"


def counts_text(counts: dict[str, dict[str, int]]) -> Text:
    """One line per state (in the order a key lives them): the total, then by model."""
    lines = []
    for state in KEY_STATES:
        models = counts.get(state, {})
        total = sum(models.values())
        by_model = ", ".join(f"{clean(m)} {n}" for m, n in sorted(models.items()))
        line = Text.assemble((f"{state.replace('_', ' '):<12}", "bold"), f"{total:>5}")
        if by_model:
            line.append(f"  ({by_model})")
        lines.append(line)
    return Text("\n").join(lines)


def entry_row(entry: InventoryEntry) -> Text:
    """One key, one line (cut at its end): serial, state, model, owner."""
    state = entry.state.replace("_", " ")
    return Text(
        f"{clean(entry.serial, 14):<14} {state:<11} {clean(entry.model, 14):<14} "
        f"{clean(entry.upn)}",
        no_wrap=True, overflow="ellipsis",
    )


def lost_lines(report: LostReport) -> str:
    how = {
        "deleted": "its method was deleted in Entra",
        "gone": "its method was already gone from Entra",
        "user gone": "its user no longer exists in Entra",
        "none": "no Entra method was recorded for it",
    }[report.deleted.how]
    said = f"Key {report.serial} is lost: {how}."
    if report.requeued:
        said += f" A replacement key is queued for {report.upn}."
    return said


class InventoryScreen(Screen[None]):
    CSS_PATH = "inventory.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("slash", "search", "Search"),
        Binding("l", "lost", "Lost key"),
        Binding("m", "methods", "Owner's methods"),
    ]

    def __init__(self, engine: EngineControl) -> None:
        super().__init__()
        self.engine = engine
        self.entries: list[InventoryEntry] = []

    def compose(self) -> ComposeResult:
        yield Static(" INVENTORY · keys by state and model", id="banner", markup=False)
        yield Static(id="counts", markup=False)
        yield Input(placeholder="serial or UPN, Enter (empty: every key)", id="search")
        yield OptionList(id="keys")
        yield Static(id="said", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.refresh_stock("")
        self.query_one("#search", Input).focus()

    @work(thread=True, exclusive=True, exit_on_error=False, group="stock")
    def refresh_stock(self, text: str) -> None:
        counts = self.engine.inventory_counts()
        found = self.engine.inventory_search(text)
        self.app.call_from_thread(self._show, counts, found)

    def _show(self, counts: dict[str, dict[str, int]], found: list[InventoryEntry]) -> None:
        self.query_one("#counts", Static).update(counts_text(counts))
        self.entries = found
        keys = self.query_one("#keys", OptionList)
        keys.clear_options()
        keys.add_options([Option(entry_row(e), id=str(i)) for i, e in enumerate(found)])
        if found:
            keys.highlighted = 0

    @on(Input.Submitted, "#search")
    def _searched(self, event: Input.Submitted) -> None:
        self.refresh_stock(event.value)
        self.query_one("#keys", OptionList).focus()

    def say(self, text: str) -> None:
        self.query_one("#said", Static).update(Text(clean(text)))

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_back(self) -> None:
        self.dismiss(None)

    def _picked(self) -> InventoryEntry | None:
        index = self.query_one("#keys", OptionList).highlighted
        if index is None or index >= len(self.entries):
            self.say("Search for the key first (/), then pick it and press its letter.")
            return None
        return self.entries[index]

    def action_lost(self) -> None:
        entry = self._picked()
        if entry is None:
            return
        if entry.state not in ("enrolled", "lost"):
            self.say(f"Key {entry.serial} is {entry.state.replace('_', ' ')}: only an "
                     "enrolled key can be reported lost.")
            return
        owner = clean(entry.upn) or "its owner"
        lost = ConfirmScreen(
            f"Key {clean(entry.serial)} lost?",
            f"Its Entra method is deleted at once: the key stops working for {owner}.",
            "Y: it is lost. N or Esc: keep it as it is.",
        )
        lost.from_engine = False

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._ask_replacement(entry)

        self.app.push_screen(lost, confirmed)

    def _ask_replacement(self, entry: InventoryEntry) -> None:
        again = ConfirmScreen(
            "Queue a replacement?",
            f"{clean(entry.upn)} gets a new key in the queue.",
            "Y: queue a replacement. N: no replacement.",
        )
        again.from_engine = False
        search = self.query_one("#search", Input).value

        def answered(yes: bool | None) -> None:
            self.say(f"Deleting key {entry.serial}'s method in Entra…")
            self._stop_key(entry.serial, bool(yes), search)

        self.app.push_screen(again, answered)

    @work(thread=True, exclusive=True, exit_on_error=False, group="task")
    def _stop_key(self, serial: str, replace: bool, search: str) -> None:
        report = self.engine.key_lost(serial, LOST_REASON, replace=replace)
        self.app.call_from_thread(self.say, lost_lines(report))
        self.app.call_from_thread(self.refresh_stock, search)

    def action_methods(self) -> None:
        entry = self._picked()
        if entry is None:
            return
        if not entry.user_id:
            self.say(f"Key {entry.serial} has no owner in Entra.")
            return
        self.say(f"Reading {entry.upn}'s methods in Entra…")
        self._list_methods(entry)

    @work(thread=True, exclusive=True, exit_on_error=False, group="task")
    def _list_methods(self, entry: InventoryEntry) -> None:
        methods = self.engine.user_methods(entry.serial)
        self.app.call_from_thread(self._pick_method, entry, methods)

    def _pick_method(self, entry: InventoryEntry, methods: list[Fido2Method]) -> None:
        if not methods:
            self.say(f"Entra lists no FIDO2 method for {entry.upn}.")
            return
        self.say("")

        def picked(method_id: str | None) -> None:
            if method_id:
                self._confirm_delete(entry, method_id)

        self.app.push_screen(MethodPickScreen(entry.upn, methods, entry.method_id), picked)

    def _confirm_delete(self, entry: InventoryEntry, method_id: str) -> None:
        sure = ConfirmScreen(
            "Delete this method?",
            f"The method {clean(method_id, 40)} of {clean(entry.upn)} is deleted in Entra; "
            "the key that holds it stops working for them.",
            "Y: delete it. N or Esc: keep it.",
        )
        sure.from_engine = False

        def answered(yes: bool | None) -> None:
            if yes:
                self._delete_picked(entry.serial, method_id)

        self.app.push_screen(sure, answered)

    @work(thread=True, exclusive=True, exit_on_error=False, group="task")
    def _delete_picked(self, serial: str, method_id: str) -> None:
        deleted = self.engine.delete_picked_method(serial, method_id, PICKED_REASON)
        said = f"Method {method_id[:20]} deleted in Entra."
        if deleted.how != "deleted":
            said = f"Method {method_id[:20]}: {deleted.note}."
        self.app.call_from_thread(self.say, said)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group in ("task", "stock") and event.state is WorkerState.ERROR:
            self.say(" ".join(task_error_lines(event.worker.error)))
