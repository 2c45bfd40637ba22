"""Print a PDF from memory to a named CUPS queue and follow the job until it is done.

Faults come back as :class:`PrintFault` with a title and a next step the operator can act
on: CUPS not running, the queue missing, the printer stopped or not accepting jobs, the job
held, aborted or taking too long. A job the kiosk gives up on is cancelled, so it cannot come
out later next to its reprint.
"""

from __future__ import annotations

import contextlib
import getpass
import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.errors import KioskError
from kiosk.paper.ipp import (
    CANCEL_JOB,
    CUPS_GET_PRINTERS,
    GET_JOB_ATTRIBUTES,
    GET_PRINTER_ATTRIBUTES,
    INTEGER,
    KEYWORD,
    MIME,
    NAME,
    PRINT_JOB,
    PRINTER,
    STATUS_NOT_ACCEPTING,
    STATUS_NOT_FOUND,
    URI,
    IppClient,
    IppError,
    Response,
)

JOB_PENDING, JOB_HELD, JOB_PROCESSING, JOB_STOPPED = 3, 4, 5, 6
JOB_CANCELED, JOB_ABORTED, JOB_COMPLETED = 7, 8, 9
PRINTER_STOPPED = 5


class PrintFault(KioskError):
    """A label or mailer did not print; the enrollment itself is not affected."""

    title = "Printer problem"
    next_step = "Fix the printer, then reprint the label from the summary (R)."

    def __init__(self, detail: str, *, kind: str, job_id: int | None = None,
                 title: str | None = None, next_step: str | None = None) -> None:
        super().__init__(detail, title=title, next_step=next_step)
        self.kind = kind
        """cups-down, no-queue, stopped, not-accepting, held, failed, timeout."""
        self.job_id = job_id


@dataclass(frozen=True)
class PrintedJob:
    queue: str
    job_id: int
    job_name: str
    state: str
    """"completed", or "finished" when CUPS keeps no job history to say how."""


class Cups:
    """One CUPS server; ``timeout`` bounds how long a job may take to finish."""

    def __init__(
        self, server: str, *, timeout: float = 60.0, poll: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.ipp = IppClient(server)
        self.timeout = timeout
        self.poll = poll
        self._sleep = sleep
        try:
            self.user = getpass.getuser()
        except (KeyError, OSError):
            self.user = "fido-kiosk"

    def _call(self, op: int, queue: str, extra: list[tuple[int, str, str | int | bool]],
              document: bytes = b"") -> Response:
        attrs: list[tuple[int, str, str | int | bool]] = [
            (URI, "printer-uri", self.ipp.uri(queue)),
            (NAME, "requesting-user-name", self.user),
            *extra,
        ]
        try:
            resp = self.ipp.call(op, f"/printers/{queue}", attrs, document)
        except IppError as exc:
            raise PrintFault(
                exc.detail, kind="cups-down", title="CUPS is not running",
                next_step="Start CUPS (systemctl start cups), then reprint from the summary (R).",
            ) from None
        if resp.status == STATUS_NOT_FOUND and op != GET_JOB_ATTRIBUTES:
            raise PrintFault(
                f"CUPS has no printer queue named {queue!r}.", kind="no-queue",
                title="Printer queue missing",
                next_step=f"Add the queue {queue!r} in CUPS (or fix paper.*_queue in "
                "kiosk.toml), then reprint from the summary (R).",
            )
        return resp

    def check_queue(self, queue: str) -> None:
        """Raise :class:`PrintFault` unless ``queue`` exists, runs and accepts jobs."""
        resp = self._call(GET_PRINTER_ATTRIBUTES, queue, [
            (KEYWORD, "requested-attributes", "printer-state"),
            (KEYWORD, "", "printer-is-accepting-jobs"),
            (KEYWORD, "", "printer-state-message"),
        ])
        message = str(resp.first("printer-state-message", "") or "")[:120]
        if resp.first("printer-state") == PRINTER_STOPPED:
            raise PrintFault(
                f"Printer {queue!r} is stopped{': ' + message if message else ''}.",
                kind="stopped", title="Printer stopped",
                next_step=f"Check the printer (paper, ribbon, lid), resume it (cupsenable "
                f"{queue}), then reprint from the summary (R).",
            )
        if resp.first("printer-is-accepting-jobs") is False:
            raise PrintFault(
                f"Printer {queue!r} is not accepting jobs.", kind="not-accepting",
                title="Printer not accepting jobs",
                next_step=f"Let it accept jobs (cupsaccept {queue}), then reprint (R).",
            )

    def print_pdf(self, queue: str, pdf: bytes, job_name: str) -> PrintedJob:
        """Send ``pdf`` (from memory) as job ``job_name`` and wait until it has printed."""
        self.check_queue(queue)
        resp = self._call(PRINT_JOB, queue, [
            (NAME, "job-name", job_name),
            (MIME, "document-format", "application/pdf"),
        ], pdf)
        if resp.status == STATUS_NOT_ACCEPTING:
            raise PrintFault(f"Printer {queue!r} refused the job.", kind="not-accepting")
        job_id = resp.first("job-id")
        if not resp.ok or not isinstance(job_id, int):
            raise PrintFault(
                f"CUPS refused the job (IPP status 0x{resp.status:04x}).", kind="failed"
            )
        return self._follow(queue, job_id, job_name)

    def _follow(self, queue: str, job_id: int, job_name: str) -> PrintedJob:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                resp = self._call(GET_JOB_ATTRIBUTES, queue, [
                    (INTEGER, "job-id", job_id),
                    (KEYWORD, "requested-attributes", "job-state"),
                    (KEYWORD, "", "job-state-reasons"),
                ])
            except PrintFault as gone:
                gone.job_id = job_id
                gone.detail = (
                    f"CUPS stopped while job {job_id} was printing on {queue!r}: it may still "
                    "come out when CUPS starts again; look before reprinting."
                )
                gone.args = (gone.detail,)
                raise
            if resp.status == STATUS_NOT_FOUND:
                return PrintedJob(queue, job_id, job_name, "finished")
            state = resp.first("job-state")
            if state == JOB_COMPLETED:
                return PrintedJob(queue, job_id, job_name, "completed")
            if state in (JOB_CANCELED, JOB_ABORTED):
                reasons = ", ".join(str(r) for r in resp.values("job-state-reasons"))[:120]
                how = "cancelled" if state == JOB_CANCELED else "aborted"
                raise PrintFault(
                    f"Job {job_id} on {queue!r} was {how} ({reasons or 'no reason given'}).",
                    kind="failed", job_id=job_id,
                )
            stuck = self._stuck(queue, job_id, state, deadline)
            if stuck is not None:
                self.cancel(queue, job_id)
                raise stuck
            self._sleep(self.poll)

    def _stuck(self, queue: str, job_id: int, state: object, deadline: float) -> PrintFault | None:
        if state == JOB_HELD:
            return PrintFault(f"Job {job_id} on {queue!r} is held.", kind="held", job_id=job_id,
                              title="Print job held")
        if state in (JOB_PENDING, JOB_STOPPED):
            try:
                self.check_queue(queue)
            except PrintFault as fault:
                fault.job_id = job_id
                return fault
        if time.monotonic() > deadline:
            return PrintFault(
                f"Job {job_id} on {queue!r} did not finish within {self.timeout:g} s.",
                kind="timeout", job_id=job_id, title="Printer too slow",
            )
        return None

    def pdf_queue(self) -> str | None:
        """The name of a CUPS-PDF queue on this server (the demo prints there), or None."""
        try:
            resp = self.ipp.call(CUPS_GET_PRINTERS, "/", [
                (NAME, "requesting-user-name", self.user),
                (KEYWORD, "requested-attributes", "printer-name"),
                (KEYWORD, "", "device-uri"),
            ])
        except IppError:
            return None
        for tag, attrs in resp.groups:
            uri = str((attrs.get("device-uri") or [""])[0])
            name = (attrs.get("printer-name") or [None])[0]
            if tag == PRINTER and uri.startswith("cups-pdf:") and isinstance(name, str):
                return name
        return None

    def cancel(self, queue: str, job_id: int) -> None:
        """Cancel a job the kiosk gave up on (best effort: CUPS may be gone)."""
        with contextlib.suppress(PrintFault):
            self._call(CANCEL_JOB, queue, [(INTEGER, "job-id", job_id)])
