"""The shipping label of one enrolled key, rendered as a one-page PDF in memory.

It carries the recipient's name and address block (home, office or none, as the batch
chose), the UPN, the key's model and serial, a Code128 barcode of the serial, a QR code of the
reference the shipping manifest also carries, and the batch id and date. Sizes scale with
the stock (:mod:`kiosk.paper.stocks`).
"""

from __future__ import annotations

from dataclasses import dataclass

from reportlab.lib.units import inch

from kiosk.paper.draw import Pen, barcode, finish, new_canvas, qr_code
from kiosk.paper.fonts import fonts
from kiosk.paper.stocks import Stock
from kiosk.paper.text import clean

MAX_ADDRESS_LINES = 5


@dataclass(frozen=True)
class LabelData:
    """What one label shows; every string is cleaned again when the label is drawn."""

    name: str
    upn: str
    address: tuple[str, ...]
    model: str
    serial: str | None
    reference: str
    batch: str
    date: str


def render_label(data: LabelData, stock: Stock) -> bytes:
    """The label as PDF bytes (never written to disk by the kiosk)."""
    f = fonts()
    c, buf = new_canvas(stock.page, "Security key shipping label")
    x0, y0, w, h = stock.box
    s = w / (4 * inch)  # sizes below are for a 4 in wide label
    pad = 14 * s
    pen = Pen(c, x0 + pad, y0 + h - pad, w - 2 * pad)
    pen.line("SHIP TO", f.bold, 8 * s)
    pen.line(clean(data.name) or clean(data.upn), f.bold, 17 * s)
    for line in data.address[:MAX_ADDRESS_LINES]:
        pen.line(clean(line), f.regular, 11 * s, gap=0.3)
    pen.skip(6 * s)
    pen.line(f"UPN: {clean(data.upn, 120)}", f.regular, 9 * s)
    pen.skip(2 * s)
    pen.rule(0.75 * s)
    pen.skip(4 * s)
    pen.line(f"Security key: {clean(data.model)}", f.regular, 9 * s)
    serial = clean(data.serial, 40) if data.serial else ""
    pen.line(f"Serial: {serial or 'none reported by the key'}", f.bold, 11 * s)
    if serial and serial.isascii():
        pen.skip(2 * s)
        pen.y = barcode(pen, serial, 46 * s, 1.6 * s)
    elif serial:  # Code128 carries ASCII only: a barcode of part of it would mislead
        pen.line("(no barcode: the serial is not plain ASCII)", f.regular, 8 * s)
    pen.skip(10 * s)
    size = min(110 * s, pen.y - (y0 + pad))
    qr_code(c, clean(data.reference, 64), pen.x, pen.y - size, size)
    side = Pen(c, pen.x + size + 8 * s, pen.y - 10 * s, pen.width - size - 8 * s)
    side.line("Reference", f.regular, 7 * s)
    side.line(clean(data.reference, 64), f.bold, 10 * s)
    side.skip(6 * s)
    side.line(f"Batch {clean(data.batch, 40)}", f.regular, 9 * s)
    side.line(clean(data.date, 40), f.regular, 9 * s)
    return finish(c, buf)
