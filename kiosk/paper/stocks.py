"""Label stocks the kiosk prints on (``paper.label_stock`` in kiosk.toml)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import inch, mm

StockName = Literal["4x6", "62mm", "a4"]


@dataclass(frozen=True)
class Stock:
    name: StockName
    page: tuple[float, float]
    """Page width and height, points."""
    box: tuple[float, float, float, float]
    """Where the label is drawn on the page: x, y, width, height (points)."""
    description: str


STOCKS: dict[StockName, Stock] = {
    "4x6": Stock("4x6", (4 * inch, 6 * inch), (0, 0, 4 * inch, 6 * inch),
                 "4 x 6 in shipping label (thermal label printers)"),
    "62mm": Stock("62mm", (62 * mm, 100 * mm), (0, 0, 62 * mm, 100 * mm),
                  "62 mm continuous roll, cut at 100 mm (Brother QL and alike)"),
    "a4": Stock("a4", A4, (0, A4[1] - 148 * mm, 105 * mm, 148 * mm),
                "A4 sheet: the label fills its top-left A6 quarter (105 x 148 mm)"),
}
