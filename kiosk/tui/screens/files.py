"""Admin: files in and out. The CSV files of the USB stick and of the inbox, to import with
Enter; the shipping manifest written to the stick (W); the stick unmounted safely (U).

What the places are and how they get there: :mod:`kiosk.enroll.files`, the admin guide.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Log, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from kiosk.config import Settings
from kiosk.enroll.api import EngineControl
from kiosk.enroll.files import USB_LABEL, CsvFile, offered, request_eject, stick_mounted
from kiosk.model.text import clean
from kiosk.tui.glyphs import glyphs_of
from kiosk.tui.screens.admin_lines import SAY_MAX, report_lines, task_error_lines

NAME_MAX = 60
"""Longest file name shown (outside input: cleaned and cut)."""


class UsbStick:
    """The kiosk's USB stick as the operating system shows it: mounted at ``mount`` by udev
    and systemd, unmounted by the root path unit once the kiosk writes ``request``."""

    def __init__(self, mount: Path | None, request: Path) -> None:
        self.mount = mount
        self.request = request

    def mounted(self) -> bool:
        return self.mount is not None and stick_mounted(self.mount)

    def eject(self, timeout: float = 15.0, poll: float = 0.2) -> bool:
        """Flush, ask for the unmount, wait for it: True once the stick may be pulled, False
        if it is still mounted after ``timeout`` seconds."""
        if not self.mounted():
            return True
        request_eject(self.request)
        deadline = time.monotonic() + timeout
        while self.mounted():
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll)
        return True

    @classmethod
    def of(cls, settings: Settings) -> UsbStick:
        mount = settings.store.usb_mount
        return cls(Path(mount) if mount else None, Path(settings.store.eject_request))


def file_line(item: CsvFile) -> str:
    when = datetime.fromtimestamp(item.modified).strftime("%Y-%m-%d %H:%M")
    return f"{clean(item.path.name, NAME_MAX)}  ({item.place}, {item.size:,} bytes, {when})"


class FilesScreen(Screen[None]):
    CSS_PATH = "admin.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("w", "write_manifest", "Manifest to stick"),
        Binding("u", "unmount", "Unmount stick"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self, engine: EngineControl, settings: Settings, stick: UsbStick) -> None:
        super().__init__()
        self.engine = engine
        self.settings = settings
        self.stick = stick
        self.files: list[CsvFile] = []

    def compose(self) -> ComposeResult:
        yield Static(Text(" ADMIN · FILES IN AND OUT"), id="banner")
        yield OptionList(id="files")
        yield Log(id="out", highlight=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.action_refresh()
        self.query_one(OptionList).focus()

    def say(self, *lines: str) -> None:
        log = self.query_one(Log)
        for line in lines:
            log.write_line(glyphs_of(self).text(clean(line, SAY_MAX)))

    def action_refresh(self) -> None:
        store = self.settings.store
        mounted = self.stick.mounted()
        self.files = offered(Path(store.inbox), self.stick.mount if mounted else None)
        listing = self.query_one(OptionList)
        listing.clear_options()
        listing.add_options([Option(Text(file_line(f))) for f in self.files])
        listing.highlighted = 0 if self.files else None
        stick = (f"USB stick at {self.stick.mount}: mounted" if mounted
                 else f"no USB stick (plug one labelled {USB_LABEL})")
        self.say(
            stick,
            f"Inbox: {store.inbox}",
            f"Manifests (E on the admin screen): {store.manifest_directory}",
            f"{len(self.files)} CSV file(s): Enter imports the one highlighted."
            if self.files else "No CSV file in the inbox or on a stick.",
        )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        chosen = self.files[event.option_index]
        self.say(f"Importing {chosen.path.name} from the {chosen.place}…")
        self._import(chosen.path)

    @work(thread=True, exclusive=True, exit_on_error=False, group="task")
    def _import(self, path: Path) -> None:
        keys = self.settings.policy.keys_per_user
        report = self.engine.import_csv(path, keys_per_user=keys)
        self.app.call_from_thread(self.say, *report_lines(report))

    def action_write_manifest(self) -> None:
        if not self.stick.mounted() or self.stick.mount is None:
            self.say(f"No USB stick: plug one labelled {USB_LABEL}, then W again.")
            return
        self.say("Writing the shipping manifest to the stick…")
        self._write(self.stick.mount)

    @work(thread=True, exclusive=True, exit_on_error=False, group="task")
    def _write(self, directory: Path) -> None:
        paths = self.engine.export_manifest(directory)
        self.app.call_from_thread(self.say, *[f"written: {p}" for p in paths])

    def action_unmount(self) -> None:
        if not self.stick.mounted():
            self.say("No USB stick is mounted: nothing to unmount.")
            return
        self.say("Unmounting the USB stick (do not pull it yet)…")
        self._unmount()

    @work(thread=True, exclusive=True, exit_on_error=False, group="task")
    def _unmount(self) -> None:
        done = self.stick.eject()
        line = ("✔ The USB stick is unmounted: you can pull it now." if done else
                "✘ The USB stick is still mounted: do not pull it. Is fido-kiosk-eject.path "
                "installed and enabled? (see the admin guide)")
        self.app.call_from_thread(self.say, line)
        self.app.call_from_thread(self.action_refresh)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "task" and event.state is WorkerState.ERROR:
            self.say(*task_error_lines(event.worker.error))

    def action_back(self) -> None:
        self.dismiss(None)
