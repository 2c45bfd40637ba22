"""The return desk: a returned key is inserted, shown with its owner and Entra method, and on
the operator's word taken back (method deleted in Entra, key reset and checked clean, into
stock or retired). Enrollment waits while this screen is open (the engine's desk pause).

Every key and Graph call runs in a thread worker (:class:`ReturnDesk` blocks); what the desk
says comes back as messages. A key the inventory does not know is shown as such: only an
admin (their own PIN) resets it into stock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from kiosk.enroll.api import EngineControl
from kiosk.enroll.return_desk import DeskCase, ReturnDesk
from kiosk.errors import KioskError
from kiosk.model.text import clean
from kiosk.operators.sign_in import SignInGate
from kiosk.tui.glyphs import glyphs_of
from kiosk.tui.screens.enroll import reinsert_detail, touch_detail

RETURN_REASON = "returned to the mailroom"
BROKEN_REASON = "broken"


def case_lines(case: DeskCase) -> Text:
    """What the desk knows about the key: model and serial, owner, UPN and Entra method.
    Every string from the key, the store or Graph goes in as plain text."""
    info, entry = case.info, case.case.entry
    serial = f"serial {info.serial}" if info.serial else "no serial"
    if not info.serial and entry is not None:
        serial += " (known by the credential this kiosk made on it)"
    lines = [Text.assemble(("Key: ", "bold"), clean(f"{info.model} · {serial}"))]
    if entry is None:
        lines.append(Text("Not in the inventory: this kiosk never enrolled this key.",
                          style="bold"))
        return Text("\n").join(lines)
    lines.append(Text.assemble(("State: ", "bold"), clean(entry.state.replace("_", " "))))
    if entry.upn:
        owner = clean(case.display_name) or "(no name)"
        lines.append(Text.assemble(("Owner: ", "bold"), owner, f"  <{clean(entry.upn)}>"))
    if case.method is not None:
        lines.append(Text.assemble(
            ("Entra method: ", "bold"), clean(case.method.display_name) or "(no name)",
            f"  (id {clean(case.method.id)[:24]})",
        ))
    elif case.method_note:
        lines.append(Text.assemble(("Entra method: ", "bold"), case.method_note))
    return Text("\n").join(lines)


def ask_for(case: DeskCase) -> str:
    """The question the desk puts to the operator once the key is shown."""
    if not case.case.known:
        return "Unknown key. U: an admin resets it into stock. Esc: leave the desk."
    if case.case.entry is not None and case.case.entry.state in ("in_stock", "retired"):
        state = case.case.entry.state.replace("_", " ")
        return f"This key is {state} already: pull it out."
    return "Y: take it back into stock. B: broken, retire it. Esc: leave the desk."


class ReturnScreen(Screen[None]):
    CSS_PATH = "returns.tcss"
    BINDINGS = [
        Binding("escape", "leave", "Leave desk"),
        Binding("y", "take_back('')", "Take back"),
        Binding("b", f"take_back('{BROKEN_REASON}')", "Broken: retire"),
        Binding("u", "stock_unknown", "Admin: unknown into stock"),
    ]

    @dataclass
    class Said(Message):
        """The desk's prompt changed (waiting, insert, touch, re-insert, working)."""

        text: str

    @dataclass
    class Crowded(Message):
        """ONLY ONE KEY AT A TIME with the serials in the port; None: one key or none left."""

        text: str | None

    @dataclass
    class Shown(Message):
        case: DeskCase

    @dataclass
    class Ended(Message):
        """The key was taken back (ok) or the desk says what went wrong."""

        ok: bool
        text: str

    def __init__(self, engine: EngineControl, gate: SignInGate, operator: str | None) -> None:
        super().__init__()
        self._engine = engine
        self._gate = gate
        self._operator = operator
        self._desk: ReturnDesk | None = None
        self.case: DeskCase | None = None
        self.busy = False
        self.crowd: str | None = None
        self._prompt = ""

    def compose(self) -> ComposeResult:
        yield Static(" RETURN DESK · enrollment waits", id="banner", markup=False)
        yield Static(id="prompt", markup=False)
        yield Static(id="case", markup=False)
        yield Static(id="result", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._desk = self._engine.open_return_desk()
        self._say("Waiting for the enrollment under way to pause (pull its key if one is in).")
        self.watch_port()
        self.next_key()

    def on_unmount(self) -> None:
        self.workers.cancel_group(self, "desk")
        self.workers.cancel_group(self, "desk-port")
        if self._desk is not None:
            self._desk.close()

    # ---- what the desk says ------------------------------------------------------------

    def _say(self, text: str) -> None:
        """The desk's prompt; while more than one key is in, the ONLY ONE KEY AT A TIME line
        stands in its place, and the prompt comes back once the others are out."""
        self._prompt = text
        self.query_one("#prompt", Static).update(Text(self.crowd or text, style="bold"))

    @on(Crowded)
    def _on_crowded(self, message: Crowded) -> None:
        self.crowd = message.text
        self._say(self._prompt)

    @on(Said)
    def _on_said(self, message: Said) -> None:
        self._say(message.text)

    @on(Shown)
    def _on_shown(self, message: Shown) -> None:
        self.case = message.case
        self.query_one("#case", Static).update(case_lines(message.case))
        self._say(ask_for(message.case))

    @on(Ended)
    def _on_ended(self, message: Ended) -> None:
        glyphs = glyphs_of(self)
        mark = glyphs.done if message.ok else glyphs.failed
        style = "bold" if message.ok else "bold red"
        self.query_one("#result", Static).update(Text(f"{mark} {message.text}", style=style))
        self.busy = False
        self.case = None
        self.next_key(pull_first=True)

    # ---- the workers (blocking calls) --------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="desk-port")
    def watch_port(self) -> None:
        desk = self._desk
        assert desk is not None  # noqa: S101

        def said(text: str | None) -> None:
            self.post_message(self.Crowded(text))

        desk.watch_port(get_current_worker().cancelled_event, said)

    @work(thread=True, exclusive=True, exit_on_error=False, group="desk")
    def next_key(self, pull_first: bool = False) -> None:
        desk, cancel = self._desk, get_current_worker().cancelled_event
        assert desk is not None  # noqa: S101
        if not desk.wait_paused(cancel):
            return
        if pull_first:
            self.post_message(self.Said("Pull the key out."))
            if not desk.wait_pulled(cancel):
                return
        self.post_message(self.Said("Insert the returned key."))
        try:
            case = desk.wait_key(cancel)
        except KioskError as exc:
            self.post_message(self.Ended(False, f"{exc.title}: {exc.detail} {exc.next_step}"))
            return
        if case is not None:
            self.post_message(self.Shown(case))

    @work(thread=True, exclusive=True, exit_on_error=False, group="desk")
    def run_desk(self, job: Callable[[ReturnDesk, DeskCase], str], case: DeskCase) -> None:
        desk = self._desk
        assert desk is not None  # noqa: S101
        try:
            text = job(desk, case)
        except KioskError as exc:
            self.post_message(self.Ended(False, f"{exc.title}: {exc.detail} {exc.next_step}"))
            return
        self.post_message(self.Ended(True, text))

    def _touched(self) -> None:
        self.post_message(self.Said(touch_detail("reset")))

    def _reinsert_asked(self, serial: str) -> None:
        self.post_message(self.Said("Pull the key and insert it again. " + reinsert_detail(serial)))

    # ---- the operator's keys -----------------------------------------------------------

    def _crowded(self) -> bool:
        """True (and said) while more than one key is in: the desk asks nothing of a key then."""
        if self.crowd is not None:
            self.notify(self.crowd, markup=False)
        return self.crowd is not None

    def action_take_back(self, retire: str) -> None:
        case = self.case
        if case is None or self.busy or self._crowded():
            return
        if not case.case.known or case.case.entry is None or case.case.entry.state in (
            "in_stock", "retired"
        ):
            self.notify(ask_for(case), markup=False)
            return
        self.busy = True
        self._say("Deleting the key's method in Entra, then resetting the key...")

        def job(desk: ReturnDesk, case: DeskCase) -> str:
            final = desk.take_back(
                case, reason=RETURN_REASON, retire=retire, on_touch=self._touched,
                on_reinsert=self._reinsert_asked, cancel=get_current_worker().cancelled_event,
            )
            return taken_back(case, final)

        self.run_desk(job, case)

    def action_stock_unknown(self) -> None:
        case = self.case
        if case is None or self.busy or case.case.known or self._crowded():
            return
        from kiosk.tui.screens.admin import AdminPinScreen

        def unlocked(admin: str | None) -> None:
            if not admin or self.case is not case:
                return
            self.busy = True
            self._say("Resetting the unknown key...")

            def job(desk: ReturnDesk, case: DeskCase) -> str:
                info = desk.stock_unknown(
                    case, reason=f"unknown key reset into stock by admin {admin}",
                    on_touch=self._touched, on_reinsert=self._reinsert_asked,
                    cancel=get_current_worker().cancelled_event,
                )
                return f"Key {info.serial_or_none} reset: in stock."

            self.run_desk(job, case)

        self.app.push_screen(AdminPinScreen(self._gate, self._operator), unlocked)

    def action_leave(self) -> None:
        if self.busy:
            self.notify("The key is being taken back: wait for it to finish.")
            return
        self.dismiss(None)


def taken_back(case: DeskCase, final: str) -> str:
    entry = case.case.entry
    serial = case.info.serial or (entry.serial if entry is not None else "without a serial")
    note = case.method_note
    where = "in stock" if final == "in_stock" else "retired"
    said = f"Key {serial} reset and checked clean: {where}."
    return f"{said} Note: {note}." if note else said
