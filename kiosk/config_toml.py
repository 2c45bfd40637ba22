"""How kiosk.toml text is checked: value checks, types, and the line a key is on.

Helpers for :mod:`kiosk.config`, which declares the settings; nothing here knows a setting.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import re
import tomllib
import types
import typing
from typing import Any, Literal, get_args, get_origin


def loads_deep(text: str) -> dict[str, Any]:
    """tomllib.loads with the garbage collector held off: a deeply nested file makes the parser
    recurse to the interpreter's limit, and a collection there runs other objects' finalizers
    with no stack left (their errors surfaced beside this parse's). Its RecursionError is the
    caller's to report."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return tomllib.loads(text)
    finally:
        if collecting:
            gc.enable()


def located(where: str, line: int | None) -> str:
    """``file:line`` when the line is known, else the file."""
    return f"{where}:{line}" if line else where


def https(v: str) -> str | None:
    return None if v.startswith("https://") else "an https:// URL"


UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def aaguids(v: list[str]) -> str | None:
    bad = [x for x in v if not UUID_RE.match(x)]
    return f"AAGUIDs written as UUIDs (not {bad[0]!r})" if bad else None


def person_name(v: str) -> str | None:
    ok = 0 < len(v) <= 64 and v == v.strip() and all(c.isprintable() for c in v)
    return None if ok else "a name of 1 to 64 printable characters"


def required(v: str) -> str | None:
    return None if v else "a value (it may not be empty)"


def line_of(text: str, section: str, key: str | None) -> int | None:
    """Best-effort line number of ``key`` in ``[section]`` (tomllib gives none)."""
    current = ""
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        m = re.match(r"^\[+\s*([A-Za-z0-9_.\-]+)\s*\]+", line)
        if m:
            current = m.group(1)
            if key is None and current == section:
                return n
            continue
        if key is not None and current == section and re.match(rf"^{re.escape(key)}\s*=", line):
            return n
    return None


def type_ok(value: Any, hint: Any) -> str | None:
    origin = get_origin(hint)
    if origin is Literal:
        allowed = get_args(hint)
        return None if value in allowed else "one of " + ", ".join(repr(a) for a in allowed)
    if hint is bool:
        return None if isinstance(value, bool) else "true or false"
    if hint is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else "a whole number"
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok and math.isfinite(value) else "a finite number"
    if hint is str:
        return None if isinstance(value, str) else "a quoted string"
    if origin is list:
        if not isinstance(value, list):
            return 'a list, e.g. ["a", "b"]'
        (item,) = get_args(hint)
        for v in value:
            err = type_ok(v, item)
            if err:
                return f"a list of {err}s"
        return None
    if origin is dict:
        return None if isinstance(value, dict) else "a table"
    if origin in (typing.Union, types.UnionType):
        return None
    return None


def table_list(hint: Any) -> type[Any] | None:
    """The dataclass of a list-of-tables setting (``list[OperatorSettings]``), else None."""
    if get_origin(hint) is list:
        (item,) = get_args(hint)
        if dataclasses.is_dataclass(item):
            return item  # type: ignore[return-value]
    return None


def nth_table_line(text: str, table: str, index: int, key: str | None) -> int | None:
    """Line of ``key`` in the ``index``-th ``[[table]]`` (or of its header)."""
    seen = -1
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        m = re.match(r"^\[+\s*([A-Za-z0-9_.\-]+)\s*\]+", line)
        if m:
            seen += m.group(1) == table and line.startswith("[[")
            inside = m.group(1) == table and seen == index
            if inside and key is None:
                return n
            continue
        if key is not None and seen == index and re.match(rf"^{re.escape(key)}\s*=", line):
            return n
    return None


def toml_value(value: Any) -> str:
    """``value`` written as TOML (kiosk.toml.example's defaults: bools, numbers, strings, lists)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{}"
