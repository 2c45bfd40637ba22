"""The summary's pictures, beside its table of counts, keys per hour and time left at the
current pace: the batch bar, keys per quarter hour, failures by reason, keys needing a reset,
each operator's keys and, on a fleet, each station's (:mod:`kiosk.tui.pace` draws the bar and
the sparkline). Every text from outside (a reason, an operator's name, a station's name, a
serial) is plain ``Text``, cut to the width."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget

from kiosk.enroll.shift_report import ShiftReport
from kiosk.model.steps import Step
from kiosk.model.text import clean
from kiosk.store.station_counts import StationCounts
from kiosk.tui.glyphs import glyphs_of
from kiosk.tui.pace import batch_bar, per_quarter, sparkline
from kiosk.tui.state import BatchState

MAX_REASONS = 3


class BatchPicture(Widget):
    DEFAULT_CSS = "BatchPicture { height: auto; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state: BatchState | None = None
        self.counts: dict[str, int] = {}
        self.shifts: Sequence[ShiftReport] = ()
        self.stations: Sequence[StationCounts] = ()

    def show(
        self, state: BatchState, counts: dict[str, int], shifts: Sequence[ShiftReport],
        stations: Sequence[StationCounts] = (),
    ) -> None:
        self.state, self.counts, self.shifts = state, dict(counts), list(shifts)
        self.stations = list(stations)
        self.refresh(layout=True)

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return len(self.render().plain.splitlines())

    def render(self) -> Text:
        width = max(10, self.size.width or 40)
        glyphs = glyphs_of(self)
        text = Text()
        finished = sum(self.counts.get(s, 0) for s in ("done", "failed", "skipped"))
        total = finished + self.counts.get("pending", 0) + self.counts.get("active", 0)
        text.append("Batch ", style="bold")
        text.append(f"{finished} of {total} finished\n")
        text.append_text(batch_bar(self.counts, width, glyphs))
        if self.state is None:
            return text
        state = self.state
        done = [r.at for r in state.results if r.status is Step.DONE]
        quarters = per_quarter(done, state.started_at, state.clock())
        line = sparkline(quarters, width - 2, glyphs)
        text.append("\n\nKeys per 15 min ", style="bold")
        text.append(f"(last {len(quarters)})\n" if quarters else "(none yet)\n")
        text.append(f"[{line}]" if line else "")
        self._failures(text, width)
        self._shifts(text, width)
        return text

    def _failures(self, text: Text, width: int) -> None:
        state = self.state
        assert state is not None  # noqa: S101
        reasons = Counter(
            clean(r.reason).split(". ")[0] for r in state.results if r.status is Step.FAILED
        )
        text.append("\n\nFailures by reason", style="bold")
        if not reasons:
            text.append(": none")
        for reason, n in reasons.most_common(MAX_REASONS):
            text.append("\n" + f"{n:>3} {reason}"[:width])

    def _shifts(self, text: Text, width: int) -> None:
        needing = [s for shift in self.shifts for s in shift.keys_needing_reset]
        text.append("\nKeys needing a reset: ", style="bold")
        text.append(str(len(needing)))
        if needing:
            text.append("\n" + ("  " + ", ".join(s or "no serial" for s in needing))[:width])
        if self.shifts:
            text.append("\nBy operator", style="bold")
            for shift in self.shifts:
                name = clean(shift.operator)
                line = f"  {name}: {shift.enrolled} done, {shift.failed} failed"
                text.append("\n" + line[:width])
        if self.stations:  # a fleet: each station's keys from the shared journal
            text.append("\nBy station", style="bold")
            for st in self.stations:
                line = f"  {clean(st.name)}: {st.done} done, {st.failed} failed"
                if st.needing_reset:
                    line += f", {st.needing_reset} need{'s' if st.needing_reset == 1 else ''}"
                    line += " a reset"
                text.append("\n" + line[:width])
