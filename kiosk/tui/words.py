"""Small helpers for the words the screens show."""

from __future__ import annotations


def plural(count: int, word: str) -> str:
    """``1 problem``, ``2 problems``, ``0 problems``."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"
