"""Strings from outside (Graph names and addresses, CSV cells, key strings) made safe to print.

First the kiosk's own cleaning of outside strings (:func:`kiosk.model.text.clean`: controls,
separators, bidi controls, lone surrogates); then, since paper has no use for what cannot be
seen, every other format, private-use or unassigned character goes too, whitespace folds to
single spaces, and the field is bounded to what fits on a label line."""

from __future__ import annotations

import unicodedata

from kiosk.model.text import clean as clean_outside

MAX_FIELD = 80
"""Longest field printed on a label line (names, street, city...)."""


def clean(value: object, limit: int = MAX_FIELD) -> str:
    """``value`` as one printable line of at most ``limit`` characters ("" for None)."""
    text = unicodedata.normalize("NFC", clean_outside(value, limit * 4))
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or not unicodedata.category(ch).startswith(("C", "Z"))
    )
    folded = " ".join(kept.split())
    if len(folded) > limit:
        folded = folded[: limit - 1].rstrip() + "\u2026"
    return folded
