"""A virtual window over the queue: only the rows on screen are ever fetched.

The engine pages the queue (``queue_page``); this widget keeps a cursor and a top offset and
asks for exactly one screenful, so 50,000 users cost no more than fifty.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.events import Resize
from textual.message import Message
from textual.widget import Widget

from kiosk.enroll.api import EngineControl
from kiosk.model.queue import QueueRow, SortKey, Status
from kiosk.model.text import clean
from kiosk.tui.glyphs import UNICODE, Glyphs, glyphs_of
from kiosk.tui.widgets.counts import status_symbol

SCAN_CHUNK = 1000


def _cell(value: str, width: int, more: str = "…") -> str:
    if width <= 0:
        return ""
    value = clean(value)  # a row from an older store may predate the check at ingestion
    if len(value) > width:
        # The cut is marked with the set's ellipsis; "..." takes three cells, not one.
        return (value[: max(0, width - len(more))] + more)[:width]
    return value.ljust(width)


def render_row(row: QueueRow, width: int, glyphs: Glyphs = UNICODE) -> str:
    status = f"{status_symbol(row.status, glyphs)} {row.status}"
    more = glyphs.ellipsis
    keys = f"{row.keys_done}/{row.keys_wanted}"
    fixed = 7 + 10 + 6
    rest = max(10, width - fixed)
    upn_w = min(40, max(10, rest * 45 // 100))
    name_w = min(30, max(0, (rest - upn_w) // 2))
    reason_w = max(0, rest - upn_w - name_w - 2)
    return (
        f"{row.entry_id:>6} {_cell(status, 10, more)}{_cell(row.upn, upn_w, more)} "
        f"{_cell(row.display_name, name_w, more)} {keys:>5} {_cell(row.reason, reason_w, more)}"
    )


def render_header(width: int) -> str:
    fixed = 7 + 10 + 6
    rest = max(10, width - fixed)
    upn_w = min(40, max(10, rest * 45 // 100))
    name_w = min(30, max(0, (rest - upn_w) // 2))
    return (
        f"{'#':>6} {_cell('Status', 10)}{_cell('UPN', upn_w)} {_cell('Name', name_w)} "
        f"{'Keys':>5} Reason"
    )


class QueueView(Widget, can_focus=True):
    DEFAULT_CSS = """
    QueueView { height: 1fr; }
    """
    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(-1)", "First", show=False),
        Binding("end", "edge(1)", "Last", show=False),
        Binding("enter", "choose", "Pick"),
    ]

    class Chosen(Message):
        def __init__(self, row: QueueRow) -> None:
            super().__init__()
            self.row = row

    def __init__(self, engine: EngineControl, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.engine = engine
        self.search = ""
        self.status: Status | None = None
        self.sort: SortKey = "position"
        self.total = 0
        self.cursor = 0
        self.top = 0
        self.rows: list[QueueRow] = []
        self.fetches = 0

    @property
    def window(self) -> int:
        return max(1, self.size.height - 1)

    def on_mount(self) -> None:
        self.reload()

    def on_resize(self, event: Resize) -> None:
        self.refetch()

    def reload(self) -> None:
        """The filter or sort changed: count again and go back to the top."""
        self.total = self.engine.queue_size(search=self.search, status=self.status)
        self.cursor = 0
        self.top = 0
        self.refetch()

    def refetch(self) -> None:
        self.cursor = max(0, min(self.cursor, self.total - 1))
        if self.cursor < self.top:
            self.top = self.cursor
        elif self.cursor >= self.top + self.window:
            self.top = self.cursor - self.window + 1
        self.rows = self.engine.queue_page(
            self.top, self.window, search=self.search, status=self.status, sort=self.sort
        )
        self.fetches += 1
        self.refresh()

    @property
    def current(self) -> QueueRow | None:
        index = self.cursor - self.top
        return self.rows[index] if 0 <= index < len(self.rows) else None

    def render(self) -> Text:
        width = self.size.width
        glyphs = glyphs_of(self)
        more = glyphs.ellipsis
        # The header alone is bold (a style given to Text() itself would reach every row);
        # no underline: the Linux console draws it as a colour, not a line. The cursor row is
        # reverse video with the set's cursor mark, which every console shows.
        text = Text()
        text.append(_cell(render_header(width), width, more), style="bold")
        for index, row in enumerate(self.rows):
            line = _cell(render_row(row, width, glyphs), width, more)
            selected = self.top + index == self.cursor
            text.append("\n")
            mark = glyphs.current if selected else " "
            text.append(mark + line[1:], style="reverse" if selected else "")
        if not self.rows:
            text.append("\nNo users match.")
        return text

    def action_move(self, delta: int) -> None:
        self.cursor += delta
        self.refetch()

    def action_page(self, delta: int) -> None:
        self.cursor += delta * self.window
        self.top += delta * self.window
        self.top = max(0, min(self.top, max(0, self.total - self.window)))
        self.refetch()

    def action_edge(self, direction: int) -> None:
        self.cursor = 0 if direction < 0 else self.total - 1
        self.refetch()

    def action_choose(self) -> None:
        row = self.current
        if row is not None:
            self.post_message(self.Chosen(row))

    def jump_to_next_pending(self) -> bool:
        """Move the cursor to the next pending user after it (wrapping); False if none."""
        if self.status == "pending":
            self.action_move(1 if self.cursor + 1 < self.total else -self.cursor)
            return self.total > 0
        start = self.cursor + 1
        for begin in [*range(start, self.total, SCAN_CHUNK), *range(0, start, SCAN_CHUNK)]:
            rows = self.engine.queue_page(
                begin, SCAN_CHUNK, search=self.search, status=self.status, sort=self.sort
            )
            for offset, row in enumerate(rows):
                if row.status == "pending":
                    self.cursor = begin + offset
                    self.refetch()
                    return True
        return False
