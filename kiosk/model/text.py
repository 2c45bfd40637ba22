"""Strings from outside the kiosk, made safe where they enter.

A USB device chooses its own serial; another tenant chooses a guest's display name; Graph's
bodies and an admin's files are read as they come. Such a string is checked once, at the
point it enters, and from then on is plain text:

- :func:`clean` (names, UPNs, Graph strings): C0 and C1 control characters, DEL, line and
  paragraph separators and the bidi controls are removed (a tab or newline becomes a space),
  and the length is bounded. What is left cannot move the cursor, retitle or recolour the
  terminal, or reorder what is shown around it.
- :func:`key_string` (serial, product, manufacturer): a string the key supplies is kept only
  when it is already printable and short; otherwise the kiosk records it by its SHA-256
  (``sha256:...``) and :func:`escaped` is what a log line shows of it.

Widgets still render every external string as ``rich.text.Text`` (never markup): a clean
string may hold ``[/bold]``, which is only a problem for markup.
"""

from __future__ import annotations

import hashlib
import unicodedata

BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
"""Arabic letter mark, LRM/RLM, the embeddings and overrides, and the isolates."""
SEPARATORS = frozenset("\u2028\u2029\u0085")
WHITESPACE_CONTROLS = frozenset("\t\n\r\v\f")
KEY_STRING_MAX = 64
"""Longest serial, product or manufacturer string kept as the key gave it."""
NAME_MAX = 256
"""Longest display name or UPN kept (Entra allows 256 for displayName, 113 for a UPN)."""
STATION_NAME_MAX = 64
"""Longest station name kept from the fleet's database (a host name is at most 64)."""
ELLIPSIS = "…"


def is_control(ch: str) -> bool:
    """C0/C1 controls, DEL, line separators, bidi controls."""
    return (
        unicodedata.category(ch) == "Cc"
        or ch in BIDI_CONTROLS
        or ch in SEPARATORS
        or unicodedata.category(ch) == "Cs"  # a lone surrogate (undecodable bytes)
    )


def has_controls(text: str) -> bool:
    return any(is_control(ch) for ch in text)


def clean(text: object, limit: int = NAME_MAX) -> str:
    """``text`` without control, separator or bidi characters, at most ``limit`` characters
    (cut with an ellipsis). A non-string becomes its ``str``: a body's field may be anything."""
    if text is None:
        return ""
    raw = text if isinstance(text, str) else str(text)
    out = "".join(" " if ch in WHITESPACE_CONTROLS else ch for ch in raw if not (
        is_control(ch) and ch not in WHITESPACE_CONTROLS
    ))
    if len(out) > limit:
        out = out[: max(0, limit - 1)] + ELLIPSIS
    return out


def digest(text: str) -> str:
    """``sha256:`` and the hex SHA-256 of ``text``'s UTF-8 bytes (lone surrogates kept)."""
    data = text.encode("utf-8", "surrogatepass")
    return "sha256:" + hashlib.sha256(data).hexdigest()


def escaped(text: str, limit: int = 80) -> str:
    """A visible, one-line spelling of ``text`` for a log line: controls as ``\\x1b`` etc."""
    shown = text.encode("unicode_escape", "backslashreplace").decode("ascii")
    return shown if len(shown) <= limit else shown[: limit - 1] + ELLIPSIS


def key_string(raw: object, limit: int = KEY_STRING_MAX) -> str | None:
    """A string a key supplied: itself when printable and at most ``limit`` characters, its
    :func:`digest` otherwise; None when there is none."""
    if raw is None:
        return None
    text = raw if isinstance(raw, str) else str(raw)
    text = text.strip()
    if not text:
        return None
    if len(text) <= limit and text.isprintable() and not has_controls(text):
        return text
    return digest(text)
