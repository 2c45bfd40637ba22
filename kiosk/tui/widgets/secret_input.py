"""A PIN field whose hidden characters come from the glyph set ("*" on the Linux console)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Input

from kiosk.tui.glyphs import glyphs_of


class SecretInput(Input):
    """``Input(password=True)`` draws each character as "•", which the console font lacks."""

    @property
    def _value(self) -> Text:
        if not self.password:
            return super()._value
        mask = glyphs_of(self).mask
        return Text(mask * len(self.value), no_wrap=True, overflow="ignore", end="")
