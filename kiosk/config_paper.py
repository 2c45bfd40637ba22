"""The [paper] section of kiosk.toml: shipping labels and PIN mailers printed through CUPS."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from kiosk.config_fields import Check, setting

_QUEUE = re.compile(r"^[A-Za-z0-9_.@+-]{1,127}$")


def _queue(v: str) -> str | None:
    ok = v == "" or _QUEUE.match(v)
    return None if ok else "a CUPS queue name (letters, digits, _ . @ + -; no spaces or /)"


def local_server_problem(v: str) -> str | None:
    """Why ``v`` is not a CUPS server the kiosk may use (a PIN must not cross a network)."""
    if v.startswith("/"):
        return None
    host, _, port = v.rpartition(":")
    ok = host in ("localhost", "127.0.0.1", "[::1]") and port.isdigit()
    return None if ok else "a local socket path (/run/cups/cups.sock) or localhost:PORT"


def _timeout(v: float) -> str | None:
    return None if 5 <= v <= 600 else "a number of seconds from 5 to 600"


def _short(limit: int) -> Check:
    return lambda v: None if len(v) <= limit and v.isprintable() else (
        f"printable text of at most {limit} characters"
    )


@dataclass(frozen=True)
class PaperSettings:
    """Shipping labels and PIN mailers, printed through CUPS as each key finishes."""

    cups_server: str = setting(
        "/run/cups/cups.sock",
        "CUPS server: its local socket, or localhost:PORT.",
        local_server_problem,
    )
    label_queue: str = setting("", "CUPS queue for shipping labels (empty: no labels).", _queue)
    mailer_queue: str = setting(
        "", "CUPS queue for PIN mailers, apart from labels (empty: no mailers).", _queue
    )
    report_queue: str = setting(
        "", "CUPS queue for shift reports, A4 (empty: the mailer queue; no PIN on them).", _queue
    )
    label_stock: Literal["4x6", "62mm", "a4"] = setting(
        "4x6", "Label stock: 4x6 (in), 62mm (continuous roll, 100 mm cut), a4 (A6 quarter)."
    )
    address: Literal["home", "office", "none"] = setting(
        "home",
        "Address on labels unless the import says otherwise: home (street address in Entra "
        "or the CSV), office (internal mail by office location), none.",
    )
    helpdesk: str = setting(
        "", "Helpdesk contact printed on PIN mailers (phone, mail).", _short(160)
    )
    batch_id: str = setting(
        "", "Batch id printed on labels (empty: the date, YYYYMMDD).", _short(40)
    )
    job_timeout_seconds: float = setting(
        60.0, "How long a print job may take before the kiosk gives up on it.", _timeout
    )
