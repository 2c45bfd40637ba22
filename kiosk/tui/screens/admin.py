"""Admin, behind the admin PIN: sync a group, import a CSV, export the manifest, the last
shift's report (R: written, audited, shown, printable), verify the audit trail, show the
effective configuration (secrets masked), exit the kiosk."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Log, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from kiosk.config import SECRET_WORDS, SECTIONS, Settings
from kiosk.enroll.api import EngineControl
from kiosk.model.queue import ImportProgress
from kiosk.model.text import clean
from kiosk.operators.sign_in import SignInGate
from kiosk.tui.glyphs import glyphs_of
from kiosk.tui.motion import calm_inputs
from kiosk.tui.screens.admin_lines import SAY_MAX, report_lines, task_error_lines
from kiosk.tui.screens.error import ConfirmScreen
from kiosk.tui.screens.shift import ShiftReportScreen
from kiosk.tui.widgets.fleet_panel import FleetPanel
from kiosk.tui.widgets.secret_input import SecretInput
from kiosk.tui.words import plural

MASK = "•••••• (set)"
LONG_WORDS = ("credential",)
"""Not secret, but too long to read on a kiosk screen: shown as set or not."""


def _masked(key: str, value: Any) -> str:
    if any(word in key for word in SECRET_WORDS):
        return MASK if value else '"" (not set)'
    if any(word in key for word in LONG_WORDS) and isinstance(value, str):
        return "(set)" if value else '"" (not set)'
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return "[" + ", ".join(
            "{" + ", ".join(f"{k} = {_masked(k, v)}" for k, v in item.items()) + "}"
            for item in value
        ) + "]"
    return repr(value)


def _table(item: Any) -> dict[str, Any]:
    return {f.name: getattr(item, f.name) for f in dataclasses.fields(item)}


def effective_config(settings: Settings) -> list[str]:
    """Every setting as ``section.key = value``; secrets and hashes shown only as set or not.
    A list of tables (the operators) gets one line per entry, so each fits on the screen."""
    lines = [f"# from {settings.source}"]
    for name in SECTIONS:
        section = getattr(settings, name)
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if isinstance(value, list):  # tables (the operators) as plain key = value maps
                value = [_table(v) if dataclasses.is_dataclass(v) else v for v in value]
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                for index, item in enumerate(value):
                    lines.append(f"{name}.{f.name}[{index}] = {_masked(f.name, [item])[1:-1]}")
            else:
                lines.append(f"{name}.{f.name} = {_masked(f.name, value)}")
    return lines


class AdminPinScreen(ModalScreen[str]):
    """An admin (an operator with role admin) picks their name and types their own PIN;
    dismissed with the admin's name, or None. Checked through the kiosk's one throttle."""

    CSS_PATH = "modal.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, gate: SignInGate, signed_in: str | None = None) -> None:
        super().__init__(classes="-confirm")
        self._gate = gate
        self._admins = list(gate.admins)
        self._signed_in = signed_in

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("Admin PIN", id="title")
            yield OptionList(
                *[Option(Text(a.name), id=str(i)) for i, a in enumerate(self._admins)],
                id="admins",
            )
            yield SecretInput(placeholder="admin's own PIN, then Enter", password=True, id="pin")
            yield Static("", id="next", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        calm_inputs(self)
        names = [a.name for a in self._admins]
        if not names:
            self.query_one("#next", Static).update(
                'No admin is configured ([[kiosk.operators]] with role = "admin"). '
                "Add one with `kiosk operator add NAME --admin`."
            )
        admins = self.query_one("#admins", OptionList)
        admins.highlighted = names.index(self._signed_in) if self._signed_in in names else 0
        if len(names) > 1:
            admins.focus()
        else:
            self.query_one("#pin", Input).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.query_one("#pin", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        pin, event.input.value = event.value, ""
        index = self.query_one("#admins", OptionList).highlighted
        if index is None or not self._admins:
            return
        admin = self._admins[index]
        verdict = self._gate.check_pin(admin, pin, "admin")
        if verdict.ok:
            self.dismiss(admin.name)
        else:
            self.query_one("#next", Static).update(f"{glyphs_of(self).failed} {verdict.message}")

    def action_cancel(self) -> None:
        self.dismiss(None)


class AdminScreen(Screen[None]):
    CSS_PATH = "admin.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("g", "ask('group')", "Sync group"),
        Binding("i", "ask('csv')", "Import CSV"),
        Binding("e", "export", "Export"),
        Binding("v", "verify", "Verify audit"),
        Binding("f", "fleet", "Fleet", show=False),  # the 80-column footer is full
        Binding("p", "passkey_policy", "Passkey policy", show=False),
        Binding("n", "inventory", "Inventory", show=False),
        Binding("r", "shift_report", "Shift report", show=False),
        Binding("o", "files", "Files", show=False),
        Binding("c", "config", "Config"),
        Binding("x", "exit_kiosk", "Exit kiosk"),
    ]

    asking: reactive[str] = reactive("", init=False, always_update=True)
    """What the argument line asks for ("group", "csv"), or "" while it is closed."""

    def __init__(
        self,
        engine: EngineControl,
        settings: Settings,
        admin: str = "",
        exit_kiosk: Callable[[str], None] = lambda _admin: None,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.settings = settings
        self.admin = admin
        """The admin who opened this screen (named in the audit record of an exit)."""
        self._exit_kiosk = exit_kiosk
        self._importing = threading.Event()
        self._cancel = threading.Event()

    def compose(self) -> ComposeResult:
        by = glyphs_of(self).text(" · ") + self.admin if self.admin else ""
        yield Static(Text(" ADMIN" + by), id="banner")
        hint = glyphs_of(self).text("G: sync a group · I: import a CSV file")
        yield Input(id="arg", disabled=True, placeholder=hint)
        yield FleetPanel(self.engine.fleet_status, id="fleet")
        yield Log(id="out", highlight=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        calm_inputs(self)
        self.say(
            "Admin mode. Press a key from the footer; Esc goes back to the kiosk.",
            "F: the fleet, live. P: what the tenant's passkey (FIDO2) policy means here.",
            "O: files in and out (CSV files, manifests: inbox, outbox, USB stick).",
            "N: the inventory of keys (search, lost keys).",
            "R: the shift report (the running shift, written to the outbox; P prints it).",
        )

    def action_files(self) -> None:
        from kiosk.tui.screens.files import FilesScreen, UsbStick

        self.app.push_screen(FilesScreen(self.engine, self.settings, UsbStick.of(self.settings)))

    def say(self, *lines: str) -> None:
        log = self.query_one(Log)
        for line in lines:
            # Lines can quote a file or the trail: plain text without control characters.
            log.write_line(glyphs_of(self).text(clean(line, SAY_MAX)))

    def watch_asking(self, what: str) -> None:
        arg = self.query_one("#arg", Input)
        arg.disabled = not what
        if what:
            arg.value = ""
            arg.placeholder = (
                "group name or id, Enter" if what == "group" else "CSV file path, Enter"
            )
            arg.focus()

    def action_back(self) -> None:
        if self.asking:
            self.asking = ""
            return
        if self._importing.is_set():
            self._cancel.set()  # the import stops at its next thousand rows or users
            self.say("Cancelling the import…")
            return
        self.dismiss(None)

    def _csv_progress(self, done: ImportProgress) -> bool:
        """Told every thousand rows of a CSV being read, then every thousand users looked up
        (worker thread); False cancels."""
        if done.looked_up is None:
            line = f"… {done.rows_read:,} rows read (Esc cancels)"
        else:
            line = f"… {done.looked_up:,} of {done.to_look_up:,} users looked up (Esc cancels)"
        self.app.call_from_thread(self.say, line)
        return not self._cancel.is_set()

    def action_ask(self, what: str) -> None:
        self.asking = what

    def on_input_submitted(self, event: Input.Submitted) -> None:
        what, value = self.asking, event.value.strip()
        self.asking = ""
        if not value:
            return
        if what == "group":
            self.say(f"Syncing group {value}…")
        else:
            self.say(f"Importing {value}…")
        self._import(what, value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="task")
    def _import(self, what: str, value: str) -> None:
        keys = self.settings.policy.keys_per_user
        if what == "group":
            report = self.engine.sync_group(value, keys_per_user=keys)
        else:
            self._cancel.clear()
            self._importing.set()
            try:
                report = self.engine.import_csv(
                    Path(value), keys_per_user=keys, progress=self._csv_progress
                )
            finally:
                self._importing.clear()
        self.app.call_from_thread(self.say, *report_lines(report))

    def action_export(self) -> None:
        self.say("Exporting the shipping manifest…")
        self._export()

    @work(thread=True, exclusive=True, exit_on_error=False, group="task")
    def _export(self) -> None:
        paths = self.engine.export_manifest(Path(self.settings.store.manifest_directory))
        self.app.call_from_thread(self.say, *[f"written: {p}" for p in paths])

    def action_shift_report(self) -> None:
        self.say("Writing the last shift's report…")
        self._shift_report()

    @work(thread=True, exclusive=True, exit_on_error=False, group="task")
    def _shift_report(self) -> None:
        written = self.engine.report_shift()
        if written is None:
            self.app.call_from_thread(self.say, "No shift yet: nobody has signed in.")
            return
        report, paths = written
        self.app.call_from_thread(self.say, *[f"written: {p}" for p in paths])
        self.app.call_from_thread(
            self.app.push_screen, ShiftReportScreen(self.engine, report, paths)
        )

    def action_verify(self) -> None:
        self.say("Verifying the audit trail…")
        self._verify()

    @work(thread=True, exclusive=True, exit_on_error=False, group="task")
    def _verify(self) -> None:
        report = self.engine.verify_audit()
        verdict = "✔ audit trail intact" if report.ok else "✘ AUDIT TRAIL BROKEN"
        lines = [f"{verdict}: {plural(report.records, 'record')}", *report.problems]
        self.app.call_from_thread(self.say, *lines)

    def action_passkey_policy(self) -> None:
        self.say("Reading the tenant's passkey (FIDO2) policy…")
        self._passkey_policy()

    @work(thread=True, exclusive=True, exit_on_error=False, group="task")
    def _passkey_policy(self) -> None:
        self.app.call_from_thread(self.say, *self.engine.passkey_policy())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A task that failed says so here: its worker's state change reaches this screen, not
        the app (Worker.StateChanged does not bubble), and "Importing…" must not stay alone."""
        if event.worker.group == "task" and event.state is WorkerState.ERROR:
            self.say(*task_error_lines(event.worker.error))

    def action_fleet(self) -> None:
        """Show the fleet panel (read again every few seconds), or hide it."""
        shown = not self.has_class("-fleet")
        self.set_class(shown, "-fleet")
        self.query_one(FleetPanel).follow(shown)

    def action_inventory(self) -> None:
        from kiosk.tui.screens.inventory import InventoryScreen

        self.app.push_screen(InventoryScreen(self.engine))

    def action_config(self) -> None:
        self.say(*effective_config(self.settings))

    def action_exit_kiosk(self) -> None:
        question = ConfirmScreen(
            "Exit the kiosk?",
            "Enrollment stops and the kiosk stays down until someone starts it again "
            "(the service does not restart it after an admin's exit).",
            "Y exits the kiosk. N or Esc goes back to the admin screen.",
        )
        question.from_engine = False  # an engine event must not close this question

        def answered(yes: bool | None) -> None:
            if yes:
                self._exit_kiosk(self.admin)

        self.app.push_screen(question, answered)

    def show_state(self, *_: Any) -> None:
        """The admin screen does not follow the batch."""
