"""Where the kiosk's log goes: the journal under systemd, never over the TUI.

:func:`configure_logging` is called once by a command (``kiosk run``, ``kiosk demo``) before
anything logs. It picks one destination:

- **journald**: when systemd connected stderr to the journal (``$JOURNAL_STREAM`` names the
  device and inode of stderr). Each line is prefixed ``<N>`` with the syslog priority of the
  record, which journald reads as the entry's priority, and carries no timestamp (the journal
  adds its own). This is how ``kiosk.audit`` records reach the system log on the kiosk.
- **stderr**: when stderr is a file or a pipe (not a terminal), with timestamps.
- **a file in $LOGS_DIRECTORY** (or nothing): when stderr is the terminal the TUI draws on, so
  log lines never scribble over the screen.

Secrets never reach a log line in the first place (see :mod:`kiosk.audit` and
:mod:`kiosk.errors`); this module only decides where lines go.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

SYSLOG_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}
MARKER = "_kiosk_handler"


class JournalFormatter(logging.Formatter):
    """``<priority>logger: message`` with the syslog priority journald understands."""

    def format(self, record: logging.LogRecord) -> str:
        priority = 7
        for level, value in sorted(SYSLOG_PRIORITY.items()):
            if record.levelno >= level:
                priority = value
        text = super().format(record).replace("\n", " ")
        return f"<{priority}>{record.name}: {text}"


def stream_is_journal(stream: TextIO, env: Mapping[str, str]) -> bool:
    """True when ``stream`` is the journal stream systemd gave this process."""
    value = env.get("JOURNAL_STREAM", "")
    dev, _, ino = value.partition(":")
    if not dev.isdigit() or not ino.isdigit():
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (int(dev), int(ino))


def configure_logging(
    level: int = logging.INFO,
    *,
    stream: TextIO | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Send the ``kiosk`` loggers to the right place; return where ("journal", ...)."""
    environ = os.environ if env is None else env
    out = stream if stream is not None else sys.__stderr__
    root = logging.getLogger("kiosk")
    for old in [h for h in root.handlers if getattr(h, MARKER, False)]:
        root.removeHandler(old)
    handler: logging.Handler
    if out is not None and stream_is_journal(out, environ):
        handler = logging.StreamHandler(out)
        handler.setFormatter(JournalFormatter("%(message)s"))
        where = "journal"
    elif out is not None and not out.isatty():
        handler = logging.StreamHandler(out)
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        where = "stderr"
    elif environ.get("LOGS_DIRECTORY"):
        directory = Path(environ["LOGS_DIRECTORY"].split(":")[0])
        handler = logging.FileHandler(directory / "kiosk.log", encoding="utf-8")
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        where = f"file {directory / 'kiosk.log'}"
    else:
        handler = logging.NullHandler()
        where = "nowhere (stderr is the terminal the kiosk draws on)"
    setattr(handler, MARKER, True)
    root.addHandler(handler)
    root.setLevel(level)
    return where
