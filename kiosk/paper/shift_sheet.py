"""A shift report on one A4 page (more pages for a long list of keys needing a reset): the
lines the report screen shows (:meth:`kiosk.enroll.shift_report.ShiftReport.lines`), each
cleaned as outside text (the operator's name and the reasons come from the trail). It holds
counts, reasons, key serials and times; never a PIN."""

from __future__ import annotations

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm

from kiosk.enroll.shift_report import ShiftReport
from kiosk.paper.draw import Pen, finish, new_canvas
from kiosk.paper.fonts import fonts
from kiosk.paper.text import clean

MARGIN = 20 * mm
LINE_MAX = 120
"""Longest line printed (a reason quoted from the trail is cut with an ellipsis)."""


def render_shift_sheet(report: ShiftReport, printed_at: str) -> bytes:
    """The report as PDF bytes."""
    f = fonts()
    c, buf = new_canvas(A4, "Shift report")
    width, height = A4

    def page() -> Pen:
        return Pen(c, MARGIN, height - MARGIN, width - 2 * MARGIN)

    pen = page()
    pen.line(f"Shift report: {clean(report.operator)}", f.bold, 16)
    pen.line(f"Printed {clean(printed_at, 40)} by the enrollment kiosk", f.regular, 9)
    pen.skip(8)
    pen.rule()
    pen.skip(10)
    for line in report.lines()[1:]:  # the operator is in the heading
        if pen.y < MARGIN:
            c.showPage()
            pen = page()
        indented = line.startswith("  ")
        face = f.regular if indented else f.bold
        shown = ("    " if indented else "") + clean(line, LINE_MAX)
        pen.line(shown, face, 11, gap=0.45)
    return finish(c, buf)
