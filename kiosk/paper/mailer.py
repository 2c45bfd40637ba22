"""The PIN mailer: one A4 page for a window envelope, sent apart from the key.

It holds the person's name (and address block, for the envelope's window), the PIN, what to
do on first use and the helpdesk contact. The PDF exists only in memory, for as long as the
print job is being sent; the kiosk never writes it to disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm

from kiosk.paper.draw import Pen, finish, new_canvas
from kiosk.paper.fonts import fonts
from kiosk.paper.text import clean


@dataclass(frozen=True)
class MailerData:
    name: str
    upn: str
    address: tuple[str, ...]
    pin: str = field(repr=False)
    force_pin_change: bool
    helpdesk: str
    date: str


def first_use(force_change: bool) -> list[str]:
    """The first-use instructions, as printed."""
    steps = [
        "1. Your security key comes in a separate envelope. Keep this letter apart from it.",
        "2. Plug the key in (or hold it to the reader) when Windows or the browser asks for it,",
        "    enter this PIN, then touch the key.",
    ]
    if force_change:
        steps += [
            "3. The key asks you for a new PIN the first time you use it: choose one you can",
            "    remember and do not write it down. This PIN stops working then.",
        ]
    else:
        steps.append("3. Keep this PIN secret; you can change it later in your account settings.")
    steps.append("Destroy this letter once you have used the key.")
    return steps


def render_mailer(data: MailerData) -> bytes:
    """The mailer as PDF bytes (in memory only)."""
    f = fonts()
    c, buf = new_canvas(A4, "Security key letter")
    width, height = A4
    window = Pen(c, 25 * mm, height - 50 * mm, 85 * mm)  # DIN 5008 window, type B
    window.line(clean(data.name) or clean(data.upn), f.bold, 11)
    for line in data.address[:5]:
        window.line(clean(line), f.regular, 10, gap=0.3)
    body = Pen(c, 25 * mm, height - 105 * mm, width - 45 * mm)
    body.line("Personal and confidential: the PIN of your security key", f.bold, 14)
    body.skip(6)
    body.line(f"For {clean(data.name) or clean(data.upn)} ({clean(data.upn, 120)})", f.regular, 10)
    body.line(f"Date: {clean(data.date, 40)}", f.regular, 10)
    body.skip(18)
    body.line("Your PIN", f.regular, 11)
    body.skip(4)
    body.line(clean(data.pin, 63), f.mono, 30, gap=0.6, shrink=True)
    body.skip(10)
    body.line("What to do", f.bold, 12)
    for line in first_use(data.force_pin_change):
        body.line(line, f.regular, 10, gap=0.45)
    body.skip(14)
    helpdesk = clean(data.helpdesk, 160) or "your IT helpdesk"
    body.line("Questions, a lost key or a forgotten PIN:", f.bold, 10)
    body.line(helpdesk, f.regular, 10)
    return finish(c, buf)
