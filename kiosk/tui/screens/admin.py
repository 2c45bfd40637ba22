"""Admin, behind the admin PIN: sync a group, import a CSV, export the manifest, verify the
audit trail, show the effective configuration (secrets masked), exit the kiosk."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Log, Static

from kiosk.config import SECTIONS, Settings
from kiosk.enroll.api import EngineControl
from kiosk.errors import KioskError
from kiosk.model.queue import ImportReport
from kiosk.tui.auth import PinThrottle, verify_pin
from kiosk.tui.glyphs import glyphs_of
from kiosk.tui.motion import calm_inputs
from kiosk.tui.widgets.secret_input import SecretInput
from kiosk.tui.words import plural

if TYPE_CHECKING:
    from kiosk.tui.app import KioskApp

SECRET_WORDS = ("secret", "hash", "passphrase", "password", "token")
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


def effective_config(settings: Settings) -> list[str]:
    """Every setting as ``section.key = value``; secrets and hashes shown only as set or not.
    A list of tables (the operators) gets one line per entry, so each fits on the screen."""
    lines = [f"# from {settings.source}"]
    for name in SECTIONS:
        section = getattr(settings, name)
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                for index, item in enumerate(value):
                    lines.append(f"{name}.{f.name}[{index}] = {_masked(f.name, [item])[1:-1]}")
            else:
                lines.append(f"{name}.{f.name} = {_masked(f.name, value)}")
    return lines


def report_lines(report: ImportReport) -> list[str]:
    lines = [
        f"{report.source}: {report.added} added, {report.already_queued} already queued, "
        f"{plural(len(report.problems), 'problem')}"
    ]
    for problem in report.problems:
        where = f"line {problem.line}: " if problem.line is not None else ""
        lines.append(f"  {where}{problem.value!r}: {problem.reason}")
    return lines


class AdminPinScreen(ModalScreen[bool]):
    CSS_PATH = "modal.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, settings: Settings, throttle: PinThrottle | None = None) -> None:
        super().__init__(classes="-confirm")
        self._hash = settings.kiosk.admin_pin_hash
        self._throttle = throttle if throttle is not None else PinThrottle()

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("Admin PIN", id="title")
            yield SecretInput(placeholder="admin PIN, then Enter", password=True, id="pin")
            yield Static("", id="next", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        if not self._hash:
            self.query_one("#next", Static).update(
                "No admin PIN is configured (kiosk.admin_pin_hash). "
                "Make one with `kiosk operator add NAME --admin`."
            )
        calm_inputs(self)
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        pin, event.input.value = event.value, ""
        note = self.query_one("#next", Static)
        wait = self._throttle.wait_seconds()
        if wait:
            note.update(f"Too many wrong admin PINs. Wait {wait} seconds.")
            return
        try:
            ok = bool(self._hash) and verify_pin(pin, self._hash)
        except KioskError as exc:
            note.update(f"{exc.title}: {exc.next_step}")
            return
        if ok:
            self._throttle.succeeded()
            self.dismiss(True)
        elif self._throttle.failed():
            pause = int(self._throttle.pause)
            tries = self._throttle.tries
            note.update(
                f"{glyphs_of(self).failed} Wrong admin PIN {tries} times: refused for {pause} s."
            )
        else:
            note.update(f"{glyphs_of(self).failed} Wrong admin PIN.")

    def action_cancel(self) -> None:
        self.dismiss(False)


class AdminScreen(Screen[None]):
    CSS_PATH = "admin.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("g", "ask('group')", "Sync group"),
        Binding("i", "ask('csv')", "Import CSV"),
        Binding("e", "export", "Export"),
        Binding("v", "verify", "Verify audit"),
        Binding("c", "config", "Config"),
        Binding("x", "exit_kiosk", "Exit kiosk"),
    ]

    def __init__(self, engine: EngineControl, settings: Settings) -> None:
        super().__init__()
        self.engine = engine
        self.settings = settings
        self._asking = ""

    def compose(self) -> ComposeResult:
        yield Static(" ADMIN", id="banner")
        hint = glyphs_of(self).text("G: sync a group · I: import a CSV file")
        yield Input(id="arg", disabled=True, placeholder=hint)
        yield Log(id="out", highlight=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        calm_inputs(self)
        self.say("Admin mode. Press a key from the footer; Esc goes back to the kiosk.")

    def say(self, *lines: str) -> None:
        log = self.query_one(Log)
        for line in lines:
            log.write_line(glyphs_of(self).text(line))

    def action_back(self) -> None:
        if self._asking:
            self._asking = ""
            self.query_one("#arg", Input).disabled = True
            return
        self.dismiss(None)

    def action_ask(self, what: str) -> None:
        arg = self.query_one("#arg", Input)
        arg.disabled = False
        arg.value = ""
        arg.placeholder = "group name or id, Enter" if what == "group" else "CSV file path, Enter"
        self._asking = what
        arg.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        what, value = self._asking, event.value.strip()
        self._asking = ""
        event.input.disabled = True
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
            report = self.engine.import_csv(Path(value), keys_per_user=keys)
        self.app.call_from_thread(self.say, *report_lines(report))

    def action_export(self) -> None:
        self.say("Exporting the shipping manifest…")
        self._export()

    @work(thread=True, exclusive=True, exit_on_error=False, group="task")
    def _export(self) -> None:
        paths = self.engine.export_manifest(Path(self.settings.store.manifest_directory))
        self.app.call_from_thread(self.say, *[f"written: {p}" for p in paths])

    def action_verify(self) -> None:
        self.say("Verifying the audit trail…")
        self._verify()

    @work(thread=True, exclusive=True, exit_on_error=False, group="task")
    def _verify(self) -> None:
        report = self.engine.verify_audit()
        verdict = "✔ audit trail intact" if report.ok else "✘ AUDIT TRAIL BROKEN"
        lines = [f"{verdict}: {plural(report.records, 'record')}", *report.problems]
        self.app.call_from_thread(self.say, *lines)

    def action_config(self) -> None:
        self.say(*effective_config(self.settings))

    def action_exit_kiosk(self) -> None:
        app: KioskApp = self.app  # type: ignore[assignment]
        app.exit_kiosk()

    def show_state(self, *_: Any) -> None:
        """The admin screen does not follow the batch."""
