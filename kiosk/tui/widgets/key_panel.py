"""What the kiosk knows about the key in the port: model, serial, AAGUID, firmware, PIN state;
and what is really in the port (the engine's :class:`~kiosk.enroll.events.PortChanged`): other
keys beside it by serial, keys the kiosk does not work with, or none."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from kiosk.model.keys import KeyInfo
from kiosk.model.text import clean
from kiosk.tui.glyphs import UNICODE, Glyphs, glyphs_of


def describe_pin(info: KeyInfo) -> str:
    if info.pin_set:
        tries = f", {info.pin_retries} tries left" if info.pin_retries is not None else ""
        return f"set{tries}"
    return "not set"


def describe_policy(info: KeyInfo, applied: str = "", glyphs: Glyphs = UNICODE) -> str:
    """The key's PIN policy; once the engine applied one (``applied``), that one."""
    if not info.supports_pin_policy:
        return "not supported (CTAP 2.0)" + (", none applied" if applied else "")
    if applied:
        return f"{glyphs.done} {applied}"
    force = ", change forced" if info.force_pin_change else ""
    return f"min length {info.min_pin_length}{force}"


NO_KEY = "No key in the port."
NOT_READ = "not read"


def serials_text(serials: Sequence[str | None]) -> str:
    return ", ".join(clean(s, 64) if s else NOT_READ for s in serials)


def others_in(port: tuple[str | None, ...], info: KeyInfo) -> list[str | None]:
    """The keys in the port besides the one described (``info``)."""
    others = list(port)
    if info.serial in others:
        others.remove(info.serial)
    elif others:
        others.pop(0)
    return others


def key_table(
    info: KeyInfo | None,
    applied: str = "",
    glyphs: Glyphs = UNICODE,
    port: tuple[str | None, ...] | None = None,
) -> Table:
    """The key's facts; every cell is plain ``Text`` (a serial is whatever the key says).

    ``port`` is what the engine last saw in the port (a serial per key; None: not told yet):
    keys there that are not the one described are listed, and an empty port is shown empty."""
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    if port is not None and (info is None or not port):
        if not port:
            table.add_row(Text(NO_KEY), Text(""))
        else:
            count = "1 key" if len(port) == 1 else f"{len(port)} keys"
            table.add_row(Text("In the port"), Text(count))
            table.add_row(Text("Serial" if len(port) == 1 else "Serials"),
                          Text(serials_text(port)))
        return table
    if info is None:
        table.add_row(Text(NO_KEY), Text(""))
        return table
    rows = [
        ("Model", info.model),
        ("Serial", info.serial_or_none),
        ("AAGUID", info.aaguid),
        ("Firmware", info.firmware or "unknown"),
        ("PIN", describe_pin(info)),
        ("PIN policy", describe_policy(info, applied, glyphs)),
    ]
    if info.has_credentials is not None:
        rows.append(("Credentials", "some on the key" if info.has_credentials else "none"))
    if port is not None and len(port) > 1:
        others = others_in(port, info)
        rows.append(("Also in", f"{len(others)} more: {serials_text(others)}"))
    for label, value in rows:
        table.add_row(Text(label), Text(clean(value)))
    return table


class KeyPanel(Static):
    """The key panel of the enrollment screen."""

    DEFAULT_CSS = """
    KeyPanel { height: auto; padding: 0 1; }
    """

    def on_mount(self) -> None:
        self.border_title = "Key"
        self.show(None)

    def show(
        self, info: KeyInfo | None, applied: str = "", port: tuple[str | None, ...] | None = None
    ) -> None:
        self.set_class(info is not None or bool(port), "-present")
        self.update(key_table(info, applied, glyphs_of(self), port))
