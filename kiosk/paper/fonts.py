"""The fonts pages are drawn with. Text that Windows-1252 can spell (most Latin names) uses
the printer's standard fonts (Helvetica, Courier): any PDF tool, CUPS's PostScript filters
included, keeps its words readable. Other text uses DejaVu Sans where the system has it (most
scripts), else Bitstream Vera, which ships inside reportlab; a character that font cannot
draw is printed as ``?`` rather than as an empty box."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import reportlab
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

_SYSTEM = Path("/usr/share/fonts/truetype/dejavu")
_BUNDLED = Path(reportlab.__file__).parent / "fonts"


@dataclass(frozen=True)
class Face:
    latin: str
    """A standard PDF font (Windows-1252 text)."""
    wide: str
    """An embedded TrueType font for everything else."""

    def pick(self, text: str) -> tuple[str, str]:
        """(font, text as that font can draw it)."""
        try:
            text.encode("cp1252")
        except UnicodeEncodeError:
            return self.wide, drawable(text, self.wide)
        return self.latin, text


@dataclass(frozen=True)
class Fonts:
    regular: Face
    bold: Face
    mono: Face


@functools.cache
def fonts() -> Fonts:
    """Register the page fonts once; return their names."""
    choices = (
        ("KioskSans", ("DejaVuSans.ttf",), "Vera.ttf"),
        ("KioskSansBold", ("DejaVuSans-Bold.ttf",), "VeraBd.ttf"),
        ("KioskMono", ("DejaVuSansMono-Bold.ttf", "DejaVuSansMono.ttf"), "VeraBd.ttf"),
    )
    for name, system, bundled in choices:
        found = next((_SYSTEM / f for f in system if (_SYSTEM / f).is_file()), None)
        pdfmetrics.registerFont(TTFont(name, str(found or _BUNDLED / bundled)))
    return Fonts(
        Face("Helvetica", "KioskSans"),
        Face("Helvetica-Bold", "KioskSansBold"),
        Face("Courier-Bold", "KioskMono"),
    )


def drawable(text: str, font: str) -> str:
    """``text`` with every character ``font`` has no glyph for replaced by ``?``."""
    face = pdfmetrics.getFont(font).face  # type: ignore[attr-defined]
    glyphs: dict[int, int] = face.charToGlyph
    return "".join(ch if ord(ch) in glyphs or ch == " " else "?" for ch in text)


def fit(text: str, font: str, size: float, width: float, smallest: float = 6.0) -> float:
    """The largest font size up to ``size`` (and at least ``smallest``) at which ``text``
    fits in ``width`` points."""
    needed = pdfmetrics.stringWidth(text, font, size)
    if needed <= width:
        return size
    return max(smallest, size * width / needed)


def cut(text: str, font: str, size: float, width: float) -> str:
    """``text`` cut (with an ellipsis) to fit ``width`` at ``size``."""
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "\u2026", font, size) > width:
        text = text[:-1]
    return text.rstrip() + "\u2026"
