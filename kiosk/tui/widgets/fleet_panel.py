"""The fleet panel on the admin screen: each station (online, operator, current user, keys in
the last hour), the users left and the time to finish at the current rate, read again every
few seconds while the panel is shown.

The shared database is read in a thread worker (the store's query blocks, and retries while
the database is away); the worker posts :class:`FleetPanel.Read` back to the panel, which
draws it. At most one read runs at a time: a read still waiting for the database when the
next is due is let be, and the panel says since when it has not been read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Static

from kiosk.model.text import clean
from kiosk.store.fleet import FleetStatus
from kiosk.tui.glyphs import glyphs_of

REFRESH_SECONDS = 5.0
MAX_STATIONS = 8
"""Station rows shown; the rest are counted (``kiosk fleet status`` lists every station)."""
NAME_MAX = 64
"""Longest station, operator or user name kept from the database (outside strings)."""


def finish_words(st: FleetStatus) -> str:
    if st.finish_in is None:
        return "time to finish unknown (no key in the last hour)"
    minutes = round(st.finish_in / timedelta(minutes=1))
    hours, minutes = divmod(minutes, 60)
    span = f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
    return f"done in about {span} at {st.keys_last_hour} keys/h"


def fleet_table(st: FleetStatus) -> Table:
    """The stations as rows that fit 80 columns; every name from the database as plain text."""
    table = Table(box=None, expand=True, pad_edge=False, header_style="bold")
    table.add_column("Station", ratio=3, no_wrap=True, overflow="ellipsis")
    table.add_column("State", width=7, no_wrap=True)
    table.add_column("Operator", ratio=3, no_wrap=True, overflow="ellipsis")
    table.add_column("Enrolling now", ratio=5, no_wrap=True, overflow="ellipsis")
    table.add_column("Keys/h", width=6, justify="right", no_wrap=True)
    for s in st.stations[:MAX_STATIONS]:
        table.add_row(
            Text(clean(s.name, NAME_MAX)),
            Text("online") if s.online else Text("OFFLINE", style="bold"),
            Text(clean(s.operator or "-", NAME_MAX)),
            Text(clean(s.current_upn or "-", NAME_MAX)),
            Text(str(s.keys_last_hour)),
        )
    return table


class FleetPanel(Static):
    """Shown and hidden by the admin screen (:meth:`follow`); reads ``read`` (blocking: the
    fleet's status, or None when this kiosk is not part of a fleet) in a thread worker."""

    @dataclass
    class Read(Message):
        """One reading of the shared database (posted from the worker's thread)."""

        status: FleetStatus | None
        problem: str = ""
        """Why nothing could be read ("" when ``status`` was read)."""

    every: float = REFRESH_SECONDS

    def __init__(self, read: Callable[[], FleetStatus | None], **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self._read = read
        self._timer: Timer | None = None
        self._busy = False
        self._read_at: float | None = None
        self.last: FleetStatus | None = None
        """The last status shown (None before the first reading)."""

    def follow(self, on: bool) -> None:
        """Read now and every few seconds (``on``), or stop reading."""
        if not on:
            if self._timer is not None:
                self._timer.pause()
            return
        if self._timer is None:
            self._timer = self.set_interval(self.every, self.read_now)
        else:
            self._timer.resume()
        if self.last is None:
            self.update(Text("Reading the fleet's status from the shared database…"))
        self.read_now()

    def read_now(self) -> None:
        if self._busy:  # the last read still waits for the database: say how old the view is
            self._show_age()
            return
        self._busy = True
        self._reading()

    @work(thread=True, exclusive=False, exit_on_error=False, group="fleet")
    def _reading(self) -> None:
        try:
            status, problem = self._read(), ""
        except Exception as exc:  # the panel says it and the admin screen stays
            status, problem = None, getattr(exc, "title", "") or type(exc).__name__
        self.post_message(self.Read(status, problem))

    def on_fleet_panel_read(self, message: FleetPanel.Read) -> None:
        message.stop()
        self._busy = False
        if message.problem:
            self._show_age(f"Could not read the fleet's status: {message.problem}.")
            return
        if message.status is None:
            self.update(Text("This kiosk is not part of a fleet (store.url is empty)."))
            self.follow(False)
            return
        self.last, self._read_at = message.status, time.monotonic()
        self._draw(message.status, "")

    def _show_age(self, problem: str = "") -> None:
        if self.last is None:
            self.update(Text(problem or "Waiting for the shared database…"))
            return
        age = time.monotonic() - (self._read_at or time.monotonic())
        self._draw(self.last, problem or f"Waiting for the database; read {age:.0f} s ago.")

    def _draw(self, st: FleetStatus, note: str) -> None:
        g = glyphs_of(self)
        more = len(st.stations) - MAX_STATIONS
        lines = [f"Users left: {st.left} · {finish_words(st)}"]
        if more > 0:
            lines.append(f"and {more} more stations (kiosk fleet status lists every one)")
        if not st.stations:
            lines.append("No station has registered yet.")
        if note:
            lines.append(note)
        words = Text("\n".join(g.text(clean(x, 400)) for x in lines))
        self.update(Group(fleet_table(st), words))
