"""The name a FIDO2 method gets in Entra ID: from a template, 30 characters at most.

Graph refuses a ``displayName`` longer than 30 characters. The serial is what the helpdesk
reads off the key, so it is the one thing never cut: the other fields shrink first (the UPN,
then the model, then the date), then the template's own text; only a serial longer than 30
characters on its own is cut (keeping its end, where serials differ).
"""

from __future__ import annotations

import string
from datetime import date as Date
from typing import Any

from kiosk.errors import ConfigError

MAX_LENGTH = 30
FIELDS = ("model", "serial", "upn", "date")
_SHRINK_ORDER = ("upn", "model", "date")


def check_template(template: str) -> None:
    """Raise :class:`ConfigError` if the template uses unknown fields or is malformed."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(
            f"policy.display_name_template = {template!r} is not a valid template ({exc})."
        ) from None
    for _lit, name, _spec, _conv in parsed:
        if name is None:
            continue
        if name not in FIELDS:
            raise ConfigError(
                f"policy.display_name_template uses {{{name}}}; expected only "
                + ", ".join("{" + f + "}" for f in FIELDS)
                + "."
            )


def _clean(text: str) -> str:
    printable = "".join(c if c.isprintable() else " " for c in text)
    return " ".join(printable.split())


def _render(template: str, values: dict[str, Any]) -> str:
    return _clean(template.format(**values))


def make_display_name(
    template: str,
    *,
    model: str,
    serial: str | None,
    upn: str = "",
    date: Date | None = None,
) -> str:
    """Fill the template and cut it to 30 characters without losing the serial."""
    check_template(template)
    template, date_text = _plain(template, date)
    serial_text = _clean(serial or "")
    values: dict[str, Any] = {
        "model": _clean(model),
        "serial": serial_text,
        "upn": _clean(upn),
        "date": date if date is not None else "",
    }
    if date is not None:
        # The date is rendered now (honouring a format spec) so it can shrink like text.
        values["date"] = _clean(date_text)
    text = _render(template, values)
    if len(text) <= MAX_LENGTH:
        return text
    for name in _SHRINK_ORDER:
        while len(text) > MAX_LENGTH and values[name]:
            values[name] = values[name][:-1].rstrip()
            text = _render(template, values)
        if len(text) <= MAX_LENGTH:
            return text
    # Still too long: the template's own words are too long. Keep the serial, cut the rest.
    if not serial_text or serial_text not in text:
        return text[:MAX_LENGTH].rstrip()
    if len(serial_text) >= MAX_LENGTH:
        return serial_text[-MAX_LENGTH:]
    head, _, tail = text.partition(serial_text)
    room = MAX_LENGTH - len(serial_text)
    keep_head = min(len(head), room)
    keep_tail = room - keep_head
    out = head[:keep_head] + serial_text + tail[:keep_tail]
    if len(out) > MAX_LENGTH:  # pragma: no cover - arithmetic above keeps it in bounds
        out = out[:MAX_LENGTH]
    return out.strip()


def _plain(template: str, date: Date | None) -> tuple[str, str]:
    """The template with every field written plainly as ``{name}``, and the date's text."""
    out: list[str] = []
    date_text = str(date) if date is not None else ""
    for lit, name, spec, conv in string.Formatter().parse(template):
        out.append(lit.replace("{", "{{").replace("}", "}}"))
        if name is None:
            continue
        if name == "date" and date is not None:
            fmt = "{0" + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") + "}"
            date_text = fmt.format(date)
        out.append("{" + name + "}")
    return "".join(out), date_text
