"""Drawing helpers shared by the label and the mailer: a canvas in memory, text lines that
fit, a Code128 barcode and a QR code (both drawn by reportlab itself)."""

from __future__ import annotations

import io
from dataclasses import dataclass

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode import code128
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.pdfgen import canvas

from kiosk.paper.fonts import Face, cut, fit

QUIET_MODULES = 10
"""Quiet zone each side of a Code128, in bar widths (the standard's minimum)."""


def new_canvas(page: tuple[float, float], title: str) -> tuple[canvas.Canvas, io.BytesIO]:
    """A canvas drawing into memory; the PDF's metadata names no person."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=page, pageCompression=1, invariant=1)
    c.setTitle(title)
    c.setAuthor("fido-kiosk")
    c.setCreator("fido-kiosk")
    c.setSubject("")
    return c, buf


def finish(c: canvas.Canvas, buf: io.BytesIO) -> bytes:
    c.showPage()
    c.save()
    return buf.getvalue()


@dataclass
class Pen:
    """Writes lines downwards from ``y`` inside [x, x + width]."""

    c: canvas.Canvas
    x: float
    y: float
    width: float

    def line(self, text: str, face: Face, size: float, *, gap: float = 0.25,
             shrink: bool = True) -> None:
        """One line: shrunk to fit (down to 6 pt), then cut with an ellipsis if still long."""
        font, shown = face.pick(text)
        if shrink:
            size = fit(shown, font, size, self.width)
        shown = cut(shown, font, size, self.width)
        self.y -= size
        self.c.setFont(font, size)
        self.c.drawString(self.x, self.y, shown)
        self.y -= size * gap

    def skip(self, points: float) -> None:
        self.y -= points

    def rule(self, thickness: float = 0.75) -> None:
        self.c.setLineWidth(thickness)
        self.c.line(self.x, self.y, self.x + self.width, self.y)


def barcode(pen: Pen, value: str, height: float, max_bar: float) -> float:
    """A Code128 of ``value`` as wide as fits the pen's width (bars at most ``max_bar`` points
    wide, quiet zones included), its top at the pen; returns its bottom."""
    c, x, top, width = pen.c, pen.x, pen.y, pen.width
    probe = code128.Code128(value, barWidth=1.0, barHeight=height, quiet=1,
                            lquiet=QUIET_MODULES, rquiet=QUIET_MODULES)
    bar = min(max_bar, width / probe.width)
    sym = code128.Code128(value, barWidth=bar, barHeight=height, quiet=1,
                          lquiet=QUIET_MODULES * bar, rquiet=QUIET_MODULES * bar,
                          humanReadable=False)
    sym.drawOn(c, x, top - height)
    return top - height


def qr_code(c: canvas.Canvas, value: str, x: float, y: float, size: float) -> None:
    """A QR code (error correction M) of ``value``, ``size`` points square, lower left at
    (x, y); its own quiet zone is inside the square."""
    widget = QrCodeWidget(value, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, c, x, y)
