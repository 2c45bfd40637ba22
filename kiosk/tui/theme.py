"""Themes: Textual's dark theme by default, and a high-contrast one (settings.kiosk.theme).

Colour is never the only signal anywhere in the kiosk (every state has a word and a symbol);
the high-contrast theme is for dim rooms, old monitors and low vision: pure black and white
with saturated yellow, cyan, green and red accents.
"""

from __future__ import annotations

from textual.theme import Theme

HIGH_CONTRAST = Theme(
    name="kiosk-high-contrast",
    primary="#FFFF00",
    secondary="#00FFFF",
    accent="#FFFFFF",
    warning="#FFFF00",
    error="#FF5555",
    success="#00FF00",
    foreground="#FFFFFF",
    background="#000000",
    surface="#000000",
    panel="#1A1A1A",
    dark=True,
)
THEMES = {"default": "textual-dark", "high-contrast": HIGH_CONTRAST.name}
