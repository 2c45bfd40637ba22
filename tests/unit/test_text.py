"""Strings from outside: cleaned where they enter, and drawn as plain text."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from kiosk.keys.identity import key_serial
from kiosk.model.keys import KeyInfo
from kiosk.model.text import clean, digest, escaped, has_controls, key_string
from kiosk.tui.widgets.key_panel import key_table


def test_clean_removes_escape_sequences_bidi_and_c1() -> None:
    assert clean("\x1b]0;owned\x07Eve\u202e \x1b[41mRed\x9b2J") == "]0;ownedEve [41mRed2J"
    assert clean("a\nb\tc") == "a b c"
    assert clean("x" * 300, 10) == "x" * 9 + "…"
    assert clean(42) == "42" and clean(None) == ""


@given(st.text())
def test_nothing_clean_returns_holds_a_control(text: str) -> None:
    out = clean(text, 50)
    assert not has_controls(out) and len(out) <= 50


def test_a_key_string_is_kept_only_when_printable_and_short() -> None:
    assert key_string(" 31400001 ") == "31400001"
    assert key_string("[/bold]x") == "[/bold]x"  # printable: markup is the widget's problem
    assert key_string("PIN\n1") == digest("PIN\n1")
    assert key_string("9" * 65) == digest("9" * 65)
    assert key_string("\ud800") == digest("\ud800")
    assert key_string("") is None and key_string(None) is None


def test_an_unreadable_serial_is_logged_escaped() -> None:
    assert key_serial("a\x1b[2Jb", "virtual:1") == digest("a\x1b[2Jb")
    assert escaped("a\x1b[2Jb") == "a\\x1b[2Jb"


def test_the_key_panel_draws_a_markup_serial_as_text() -> None:
    info = KeyInfo(path="p", aaguid="0" * 8, model="[red]Evil", firmware="[/]",
                   serial="[/bold]x", versions=("FIDO_2_1",))
    out = io.StringIO()
    Console(file=out, width=100, color_system=None).print(key_table(info))
    shown = out.getvalue()
    assert "[/bold]x" in shown and "[red]Evil" in shown  # before: MarkupError, a crash
