"""Strings from outside (Graph names and addresses, CSV cells, key strings) made safe to print:
control, format (bidi) and other invisible characters removed, whitespace folded, bounded."""

from __future__ import annotations

import unicodedata

MAX_FIELD = 80
"""Longest field printed on a label line (names, street, city...)."""


def clean(value: object, limit: int = MAX_FIELD) -> str:
    """``value`` as one printable line of at most ``limit`` characters ("" for None)."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value)[: limit * 4])
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or not unicodedata.category(ch).startswith(("C", "Z"))
    )
    folded = " ".join(kept.split())
    if len(folded) > limit:
        folded = folded[: limit - 1].rstrip() + "\u2026"
    return folded
