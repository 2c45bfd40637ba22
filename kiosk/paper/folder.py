"""A stand-in printer for the demo where no CUPS PDF queue is at hand: each job is written as
``<job name>.pdf`` into a folder of the demo's state directory. Only the demo uses it: its PIN
mailers hold demo PINs of virtual keys, and a real kiosk prints through CUPS, never to files."""

from __future__ import annotations

import itertools
from pathlib import Path

from kiosk.durable import atomic_write
from kiosk.paper.cups import PrintedJob, PrintFault


class FolderPrinter:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._ids = itertools.count(1)

    def print_pdf(self, queue: str, pdf: bytes, job_name: str) -> PrintedJob:
        folder = self.directory / queue
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            atomic_write(folder / f"{job_name}.pdf", pdf, 0o600)
        except OSError as exc:
            raise PrintFault(f"{folder}: not written ({exc.strerror}).", kind="failed") from None
        return PrintedJob(queue, next(self._ids), job_name, "completed")
