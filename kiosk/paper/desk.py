"""The print desk: as each key finishes, its shipping label goes to the label queue and, when
the escrow mode shows the PIN and the PIN is still in memory, its PIN mailer to the mailer
queue, apart. It listens to the engine's events and prints on its own thread, so a printer
never blocks or undoes an enrollment; what it has to say comes back as :class:`PaperNotice`.

A label is stored (:class:`kiosk.store.paper.Labels`) before it is sent and stays in the
reprint list until the printer says it printed; it is sent once, and again only when the
operator asks (audited). A mailer is never stored: its PIN lives in this object from the
:class:`PinHandover` until the job has been sent (or the attempt ends), then it is dropped.
The hand-over comes last, after the key's :class:`KeyEnrolled`: that record waits here (no
secret in it) for the hand-over of the same attempt (entry, UPN and serial), which sends the
mailer at once; a hand-over that comes first waits for its record instead.
Every job is audited by queue, job id and job name (``kiosk-label-000042``, no personal data),
never with the PIN. A shift report (no PIN on it) prints on the report queue when someone asks.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Protocol

from kiosk.config import Settings
from kiosk.enroll.api import LabelWaiting
from kiosk.enroll.events import (
    EnrollmentResult,
    Event,
    KeyEnrolled,
    PaperNotice,
    PinHandover,
    StepChanged,
)
from kiosk.enroll.recorder import Recorder
from kiosk.enroll.shift_report import ShiftReport
from kiosk.model.steps import ENDINGS
from kiosk.paper.address import Address, AddressMode
from kiosk.paper.cups import PrintedJob, PrintFault
from kiosk.paper.label import LabelData, render_label
from kiosk.paper.mailer import MailerData, render_mailer
from kiosk.paper.shift_sheet import render_shift_sheet
from kiosk.paper.stocks import STOCKS
from kiosk.store import Store

log = logging.getLogger("kiosk.paper.desk")


class Printer(Protocol):
    def print_pdf(self, queue: str, pdf: bytes, job_name: str) -> PrintedJob: ...


@dataclass
class _Mailer:
    event: KeyEnrolled
    pin: str = field(repr=False)


_STOP = object()


class PrintDesk:
    """Prints labels and mailers for one kiosk; :meth:`on_event` is its engine listener."""

    def __init__(  # noqa: PLR0917 - the collaborators
        self,
        settings: Settings,
        store: Store,
        recorder: Recorder,
        printer: Printer,
        emit: Callable[[Event], None],
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.paper = settings.paper
        self.store = store
        self.recorder = recorder
        self.printer = printer
        self.emit = emit
        self.clock = clock
        self.printed = {"label": 0, "mailer": 0}
        """Jobs the printer finished this session, per kind."""
        self._pins: dict[int, str] = {}
        self._unpaired: dict[int, tuple[KeyEnrolled, int | None]] = {}
        """Keys enrolled whose PIN hand-over is still to come, by queue entry, with the label
        job that follows the mailer."""
        self._jobs: queue.Queue[object] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="print-desk", daemon=True)
        self._thread.start()

    @property
    def report_queue(self) -> str:
        """Where shift reports print: paper.report_queue, else the (A4) mailer queue."""
        return self.paper.report_queue or self.paper.mailer_queue

    @property
    def mailers_on(self) -> bool:
        return bool(self.paper.mailer_queue) and self.settings.escrow.shows

    # ---- the engine's events (engine thread) --------------------------------------------

    def on_event(self, event: Event) -> None:
        if isinstance(event, PinHandover):
            self._handed_over(event)
        elif isinstance(event, KeyEnrolled):
            self._enrolled(event)
        elif isinstance(event, EnrollmentResult) or (
            isinstance(event, StepChanged) and event.step in ENDINGS
        ):
            self._pins.pop(event.entry_id, None)  # the attempt is over: forget its PIN
            unpaired = self._unpaired.pop(event.entry_id, None)
            if unpaired is not None and unpaired[1] is not None:
                self._put(unpaired[1])  # no hand-over came: the label all the same

    def _handed_over(self, event: PinHandover) -> None:
        if not self.mailers_on:
            return
        enrolled, label = self._unpaired.pop(event.entry_id, (None, None))
        if enrolled is None or enrolled.upn != event.upn or (
            event.serial and (enrolled.serial or "") != event.serial
        ):
            self._pins[event.entry_id] = event.pin  # its key is not recorded yet: wait
            if enrolled is not None and label is not None:
                self._put(label)
            return
        self._put(_Mailer(enrolled, event.pin))  # first: the PIN leaves memory soonest
        if label is not None:
            self._put(label)

    def _enrolled(self, event: KeyEnrolled) -> None:
        pin = self._pins.pop(event.entry_id, None)
        paired = pin is not None
        if pin is not None and not event.recovered:
            self._put(_Mailer(event, pin))  # first: the PIN leaves memory soonest
        del pin
        label = self._label(event)
        if not paired and self.mailers_on and not event.recovered:
            # Its PIN hand-over comes last: the label is sent after the mailer, as ever.
            _, older = self._unpaired.pop(event.entry_id, (None, None))
            if older is not None:
                self._put(older)
            self._unpaired[event.entry_id] = (event, label)
        elif label is not None:
            self._put(label)

    def _label(self, event: KeyEnrolled) -> int | None:
        """Store the key's label; its id when it is still to be sent."""
        if not self.paper.label_queue:
            return None
        row = self.store.labels.add(
            enrollment_id=event.enrollment_id, entry_id=event.entry_id, upn=event.upn,
            serial=event.serial, reference=event.reference,
            content=json.dumps(asdict(self._label_data(event)), ensure_ascii=False),
        )
        return row.label_id if row.sent == 0 and row.state != "printed" else None

    def _address(self, user_id: str) -> tuple[AddressMode, Address]:
        found = self.store.addresses.get(user_id)
        if found is None:
            return self.paper.address, Address()
        mode, fields = found
        chosen: AddressMode = mode if mode in ("home", "office", "none") else "none"  # type: ignore[assignment]
        return chosen, Address.from_json(fields)

    def _label_data(self, event: KeyEnrolled) -> LabelData:
        mode, address = self._address(event.user_id)
        now = self.clock()
        return LabelData(
            name=event.name, upn=event.upn, address=tuple(address.lines(mode)),
            model=event.model, serial=event.serial, reference=event.reference,
            batch=self.paper.batch_id or f"{now:%Y%m%d}", date=f"{now:%Y-%m-%d}",
        )

    # ---- the operator's requests (any thread) -------------------------------------------

    def waiting(self) -> list[LabelWaiting]:
        """The reprint list: labels not known to have printed."""
        return [
            LabelWaiting(r.label_id, r.entry_id, r.upn, r.serial, r.state, r.reason, r.sent)
            for r in self.store.labels.to_print()
        ]

    def labels_of(self, entry_id: int) -> list[int]:
        """Every label of a queue entry (printed or not)."""
        return [r.label_id for r in self.store.labels.for_entry(entry_id)]

    def reprint(self, label_id: int) -> bool:
        """Send a label again (the operator asked); False if there is no such label."""
        row = self.store.labels.get(label_id)
        if row is None or not self.paper.label_queue:
            return False
        self.recorder.print_job(
            "label reprint asked", upn=row.upn, entry_id=row.entry_id, serial=row.serial,
            job=self._print_fields("label", row.reference),
        )
        self._put(row.label_id)
        return True

    def print_report(self, report: ShiftReport) -> bool:
        """Print a shift report (someone asked); False when no queue takes reports."""
        if not self.report_queue:
            return False
        self._put(report)
        return True

    def drain(self, timeout: float = 120.0) -> bool:
        """Wait until every job asked for so far has been tried; False on timeout."""
        deadline = time.monotonic() + timeout
        while self._jobs.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def close(self) -> None:
        """Stop the desk; mailers not yet sent are dropped with their PINs."""
        self._pins.clear()
        self._unpaired.clear()
        self._jobs.put(_STOP)
        self._thread.join(timeout=5.0)

    # ---- the printing thread ------------------------------------------------------------

    def _put(self, job: object) -> None:
        self._jobs.put(job)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is _STOP:
                    return
                if isinstance(job, _Mailer):
                    self._print_mailer(job)
                elif isinstance(job, int):
                    self._print_label(job)
                elif isinstance(job, ShiftReport):
                    self._print_report(job)
            except Exception as exc:  # a bug, a full disk: say so, never end the kiosk
                log.exception("the print desk failed on a job")
                kind = "mailer" if isinstance(job, _Mailer) else "label"
                kind = "report" if isinstance(job, ShiftReport) else kind
                what = {"mailer": "PIN mailer", "label": "Label", "report": "Shift report"}
                self.emit(PaperNotice(
                    False, f"{what[kind]} not printed: the print desk failed "
                    f"({type(exc).__name__}).",
                    ("Print it again from the report (P)" if kind == "report" else
                     "Reprint from the summary (R)") + "; if it fails again, call the kiosk admin.",
                    len(self.waiting()), kind=kind,
                ))
            finally:
                del job
                self._jobs.task_done()

    def _print_fields(self, kind: str, reference: str, job: PrintedJob | None = None,
                      sent: int | None = None) -> dict[str, object]:
        queue_name = self.paper.label_queue if kind == "label" else self.paper.mailer_queue
        out: dict[str, object] = {"kind": kind, "queue": queue_name, "reference": reference}
        if job is not None:
            out.update(job_id=job.job_id, job_name=job.job_name, state=job.state)
        if sent is not None:
            out["sent"] = sent
        return out

    def _print_label(self, label_id: int) -> None:
        row = self.store.labels.get(label_id)
        if row is None:
            return
        content = json.loads(row.content)
        content["address"] = tuple(content.get("address", ()))
        data = LabelData(**content)
        pdf = render_label(data, STOCKS[self.paper.label_stock])
        self.store.labels.sending(label_id)
        name = f"kiosk-label-{row.enrollment_id:06d}"
        try:
            job = self.printer.print_pdf(self.paper.label_queue, pdf, name)
        except PrintFault as fault:
            self.store.labels.mark(label_id, "failed", f"{fault.title}: {fault.detail}")
            self._fault(fault, kind="label", upn=row.upn, entry_id=row.entry_id,
                        serial=row.serial, reference=row.reference, job_name=name,
                        sent=row.sent + 1)
            return
        self.store.labels.mark(label_id, "printed")
        self.printed["label"] += 1
        self.recorder.print_job(
            "label printed", upn=row.upn, entry_id=row.entry_id, serial=row.serial,
            job=self._print_fields("label", row.reference, job, row.sent + 1),
        )
        self.emit(PaperNotice(
            True, f"Label for key {row.serial or '(no serial)'} printed on {job.queue}.",
            waiting=len(self.waiting()), entry_id=row.entry_id, kind="label",
        ))

    def _print_mailer(self, job: _Mailer) -> None:
        event = job.event
        mode, address = self._address(event.user_id)
        pdf = render_mailer(MailerData(
            name=event.name, upn=event.upn, address=tuple(address.lines(mode)), pin=job.pin,
            force_pin_change="PIN change forced" in event.pin_policy,
            helpdesk=self.paper.helpdesk, date=f"{self.clock():%Y-%m-%d}",
        ))
        job.pin = ""
        name = f"kiosk-mailer-{event.enrollment_id:06d}"
        try:
            printed = self.printer.print_pdf(self.paper.mailer_queue, pdf, name)
        except PrintFault as fault:
            self._fault(fault, kind="mailer", upn=event.upn, entry_id=event.entry_id,
                        serial=event.serial, reference=event.reference, job_name=name, sent=1)
            return
        finally:
            del pdf
        self.printed["mailer"] += 1
        self.recorder.print_job(
            "PIN mailer printed", upn=event.upn, entry_id=event.entry_id, serial=event.serial,
            job=self._print_fields("mailer", event.reference, printed),
        )
        self.emit(PaperNotice(
            True, f"PIN mailer for {event.upn} printed on {printed.queue}.",
            waiting=len(self.waiting()), entry_id=event.entry_id, kind="mailer",
        ))

    def _print_report(self, report: ShiftReport) -> None:
        pdf = render_shift_sheet(report, f"{self.clock():%Y-%m-%d %H:%M}")
        name = f"kiosk-shift-{report.first_seq:06d}"
        fields: dict[str, object] = {"kind": "report", "queue": self.report_queue}
        try:
            job = self.printer.print_pdf(self.report_queue, pdf, name)
        except PrintFault as fault:
            fields.update(job_name=name, state=fault.kind)
            reason = f"{fault.title}: {fault.detail}"
            self.recorder.shift_reported(report, job=fields, reason=reason)
            self.emit(PaperNotice(False, f"Shift report not printed: {fault.detail}",
                                  fault.next_step, len(self.waiting()), kind="report"))
            return
        fields.update(job_id=job.job_id, job_name=job.job_name, state=job.state)
        self.recorder.shift_reported(report, job=fields)
        self.emit(PaperNotice(True, f"Shift report printed on {job.queue}.",
                              waiting=len(self.waiting()), kind="report"))

    def _fault(self, fault: PrintFault, *, kind: str, upn: str, entry_id: int,
               serial: str | None, reference: str, job_name: str, sent: int) -> None:
        fields = self._print_fields(kind, reference, sent=sent)
        fields.update(job_name=job_name, state=fault.kind)
        if fault.job_id is not None:
            fields["job_id"] = fault.job_id
        what = "label" if kind == "label" else "PIN mailer"
        self.recorder.print_job(
            f"{what} not printed", outcome="failed", upn=upn, entry_id=entry_id, serial=serial,
            reason=f"{fault.title}: {fault.detail}", job=fields,
        )
        if kind == "label":
            text = f"Label for key {serial or '(no serial)'} not printed: {fault.detail}"
            step = fault.next_step
        else:
            text = f"PIN mailer for {upn} not printed: {fault.detail}"
            step = "Write the PIN shown on screen on a PIN mailer by hand. " + fault.next_step
        self.emit(PaperNotice(False, text, step, len(self.waiting()), entry_id, kind))
