"""How a setting is declared: its default, a one-line description and an optional check.
Shared by :mod:`kiosk.config` and the sections kept in their own files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from typing import Any

Check = Callable[[Any], str | None]
"""Returns an error text (what is allowed) or None when the value is fine."""


def setting(default: Any, doc: str, check: Check | None = None, *, secret: bool = False) -> Any:
    """Declare one setting: its default, a one-line description, an optional extra check.

    A ``secret`` setting is left out of its section's ``repr`` (so of tracebacks and logs).
    """
    meta = {"doc": doc, "check": check}
    if isinstance(default, list | dict):
        factory = lambda d=default: type(d)(d)  # noqa: E731
        return field(default_factory=factory, metadata=meta, repr=not secret)
    return field(default=default, metadata=meta, repr=not secret)


def span(lo: float, hi: float) -> Check:
    """A number from ``lo`` to ``hi`` (NaN and infinity are outside every span)."""
    return lambda v: None if lo <= v <= hi else f"a number from {lo:g} to {hi:g}"


def between(lo: int, hi: int) -> Check:
    return lambda v: None if lo <= v <= hi else f"a whole number from {lo} to {hi}"
