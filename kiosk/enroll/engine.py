"""The enrollment engine: takes users from the queue and keys from the device layer, and turns
them into registered, PIN-protected, recorded credentials.

It implements :class:`kiosk.enroll.api.EngineControl`. ``run`` drives one loop on the caller's
thread (a Textual worker, or the headless runner's main thread); operator commands from other
threads are queued to it (:mod:`kiosk.enroll.control`); events go to the subscribed listeners.
The engine holds the roles the enrollment works with (:mod:`kiosk.enroll.station`: dialog,
key I/O, Graph port, Recorder) and hands them to the per-entry flow (:mod:`kiosk.enroll.flow`,
steps in :mod:`kiosk.enroll.steps`) and the crash recovery (:mod:`kiosk.enroll.recovery`);
the queue is a service of its own (:mod:`kiosk.enroll.queue_service`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from cryptography import x509

from kiosk.audit import AuditTrail
from kiosk.audit import verify as verify_trail
from kiosk.config import Settings
from kiosk.enroll.api import EngineControl, LabelDesk, LabelWaiting
from kiosk.enroll.control import Command, EntryOver, Signals, Stopped
from kiosk.enroll.dialog import Dialog, Listener
from kiosk.enroll.escrow import EscrowStore, load_recipients
from kiosk.enroll.events import Prompt
from kiosk.enroll.flow import work_entry
from kiosk.enroll.key_control import KeyLifeControl
from kiosk.enroll.keyio import KeyIO
from kiosk.enroll.manifest import batch_rows, write_manifest
from kiosk.enroll.one_key import show_port
from kiosk.enroll.ports import Graph
from kiosk.enroll.prefetch import Prefetcher
from kiosk.enroll.queue_service import QueueService
from kiosk.enroll.recorder import Recorder
from kiosk.enroll.recovery import pending, resume
from kiosk.enroll.shift_report import ShiftReport
from kiosk.enroll.shifts import Shifts
from kiosk.enroll.station import Escrow, Station
from kiosk.entra.passkey_policy import policy_lines
from kiosk.errors import KioskError
from kiosk.keys.mds import MdsCatalog
from kiosk.keys.types import HidBackend
from kiosk.keys.watcher import KeyWatcher
from kiosk.model.audit import AuditReport
from kiosk.model.queue import ImportProgress, ImportReport, QueueRow, SortKey, Status
from kiosk.operators.sign_in import SignInRecord
from kiosk.store import Store
from kiosk.store.db import Clock, utc_now
from kiosk.store.fleet import FleetStatus, fleet_status
from kiosk.store.inventory import InventoryEntry
from kiosk.store.station_counts import StationCounts, station_counts

log = logging.getLogger("kiosk.enroll.engine")

RECOVERY_RETRY_SECONDS = 5.0
"""How often attempts left open by a restart are tried again while Graph is unreachable."""
RUN_HANDOVER_SECONDS = 15.0
"""How long a second run waits for the previous one (an app restarted over one engine)."""


class Engine(KeyLifeControl):
    """One kiosk's enrollment engine. Build it with real, injected collaborators.

    Nothing is enrolled while no operator is signed in (``operator`` None: the kiosk is
    locked; ``set_operator`` unlocks it); every enrollment's audit record names the operator.
    ``recipients`` are the helpdesk certificates (read from ``escrow.recipients`` when not
    given); ``mds`` the FIDO metadata catalogue for model names.
    """

    def __init__(  # noqa: PLR0917 - the collaborators, in the documented order
        self,
        settings: Settings,
        store: Store,
        graph: Graph,
        backend: HidBackend,
        audit: AuditTrail,
        escrow: EscrowStore,
        clock: Clock = utc_now,
        *,
        recipients: list[x509.Certificate] | None = None,
        operator: str | None = None,
        mds: MdsCatalog | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.graph = graph
        self.audit = audit
        self.clock = clock
        self.recorder = Recorder(store, audit, operator=operator)
        if recipients is None and settings.escrow.seals:
            recipients = load_recipients(settings.escrow.recipients)
        self.keys = KeyIO(
            backend,
            poll_interval=settings.kiosk.poll_interval_ms / 1000.0,
            reset_window_seconds=settings.policy.reset_window_seconds,
            mds=mds,
        )
        self.dialog = Dialog(self.keys.signals, self.handle_global)
        self.keys.signals.on_port = self._port_changed
        self.prefetch = Prefetcher(
            graph.creation_options,
            self._upcoming,
            clock,
            depth=settings.graph.prefetch,
            refresh_margin=min(120.0, settings.graph.challenge_timeout_minutes * 60 / 5),
        )
        self.station = Station(
            settings, self.dialog, self.keys, graph, self.prefetch, self.recorder, store,
            Escrow(escrow, recipients or []), clock,
        )
        self.queue = QueueService(graph, store.queue, self.recorder, on_change=self.queue_changed)
        self.shift_reports = Shifts(settings, audit, self.recorder)
        self._selected: int | None = None
        self._last_ended: int | None = None
        self._running = threading.Lock()
        self._recovery_retry_at: float | None = None
        self.recovery_report: list[str] = []
        self.paper: LabelDesk | None = None
        """The print desk (labels, PIN mailers), when [paper] names a queue (wiring)."""
        """One line per crash-recovery finding (orphans with their key serial)."""

    @property
    def signals(self) -> Signals:
        return self.keys.signals

    @property
    def watcher(self) -> KeyWatcher:
        return self.keys.watcher

    @property
    def backend(self) -> HidBackend:
        return self.keys.backend

    def subscribe(self, listener: Listener) -> None:
        self.dialog.subscribe(listener)

    def queue_changed(self) -> None:
        self.station.queue_changed()

    def _port_changed(self) -> None:
        show_port(self.dialog, self.keys)  # the key panel shows what is really in the port

    # ---- operator commands (any thread) ----------------------------------------------

    def cancel(self) -> None:
        self.signals.put(Command("cancel"))

    def retry(self) -> None:
        self.signals.put(Command("retry"))

    def skip(self, reason: str = "skipped by operator") -> None:
        self.signals.put(Command("skip", reason))

    def confirm_reset(self, ok: bool) -> None:
        self.signals.put(Command("confirm_reset", ok))

    def confirm_replace(self, ok: bool) -> None:
        self.signals.put(Command("confirm_replace", ok))

    def confirm_guest(self, ok: bool) -> None:
        self.signals.put(Command("confirm_guest", ok))

    def provide_pin(self, pin: str) -> None:
        self.signals.put(Command("provide_pin", pin))

    def set_operator(self, name: str | None) -> ShiftReport | None:
        """Sign an operator in (unlock) or out (None: lock), audited. Locking always happens;
        a sign-in whose audit record cannot be written leaves the kiosk locked (error shown).
        Returns the report of the shift that ended (written to the outbox and audited)."""
        previous, ended = self.operator, None
        if name == previous:
            return None
        try:
            self.recorder.operator_changed(name)
            self.store.queue.claims.signed_in(self.operator)
        except KioskError as exc:
            log.error("operator change not audited: %s", exc.detail)
            self.dialog.error(exc, retryable=False)
        if previous is not None:
            try:
                ended = self.report_shift(operator=previous)
            except KioskError as exc:
                log.error("shift report not written: %s", exc.detail)
        self.signals.put(Command("wake"))
        return ended[0] if ended else None

    def report_shift(
        self, directory: Path | None = None, *, operator: str | None = None
    ) -> tuple[ShiftReport, list[Path]] | None:
        return self.shift_reports.report(directory, operator)

    def print_shift_report(self, report: ShiftReport) -> bool:
        return self.paper is not None and self.paper.print_report(report)

    def record_sign_in(self, record: SignInRecord) -> None:
        self.recorder.sign_in(record)

    def select(self, entry_id: int) -> str | None:
        held = self.store.queue.held_elsewhere(entry_id)
        if held is None:
            self.signals.put(Command("select", entry_id))
        return held

    @property
    def operator(self) -> str | None:
        """Who is signed in (None while the kiosk is locked)."""
        return self.recorder.operator

    # ---- queue -----------------------------------------------------------------------

    def import_csv(
        self, path: Path, *, keys_per_user: int = 1, replace: bool = False,
        progress: Callable[[ImportProgress], bool] | None = None,
    ) -> ImportReport:
        return self.queue.import_csv(
            path, keys_per_user=keys_per_user, replace=replace, progress=progress
        )

    def add_user(self, upn: str, *, keys_per_user: int = 1, replace: bool = False) -> ImportReport:
        return self.queue.add_user(upn, keys_per_user=keys_per_user, replace=replace)

    def sync_group(self, name_or_id: str, *, keys_per_user: int = 1) -> ImportReport:
        return self.queue.sync_group(name_or_id, keys_per_user=keys_per_user)

    def requeue(self, entry_id: int) -> bool:
        return self.queue.requeue(entry_id)

    def queue_page(
        self,
        offset: int,
        limit: int,
        *,
        search: str = "",
        status: Status | None = None,
        sort: SortKey = "position",
    ) -> list[QueueRow]:
        return self.queue.page(offset, limit, search=search, status=status, sort=sort)

    def queue_size(self, *, search: str = "", status: Status | None = None) -> int:
        return self.queue.size(search=search, status=status)

    def counts(self) -> dict[str, int]:
        return self.queue.counts()

    def export_manifest(self, directory: Path) -> list[Path]:
        users = self.store.queue.page(0, self.store.queue.size())
        rows = batch_rows(users, self.store.journal.with_state("done"))
        paths = write_manifest(rows, directory, self.clock())
        self.recorder.manifest_exported(paths, len(rows))
        return paths

    def verify_audit(self) -> AuditReport:
        """Verify the trail, then record that it was verified (and what was found)."""
        report = verify_trail(self.audit.path)
        self.recorder.audit_verified(report)
        return report

    def fleet_status(self) -> FleetStatus | None:
        if not self.store.fleet:
            return None
        return fleet_status(self.store.db, self.clock())

    def passkey_policy(self) -> list[str]:
        """The tenant's passkey (FIDO2) policy judged for the batch's group and the kiosk's key
        models (``policy.allowed_aaguids``, else the inventory's): lines for the admin screen."""
        aaguids = list(self.settings.policy.allowed_aaguids) or sorted(
            {e.aaguid for e in self.store.inventory.all()}
        )
        mds = self.keys.mds
        known = [a for a in aaguids if mds is None or mds.entry(a) is not None]
        return policy_lines(self.graph, self.settings.graph.group, aaguids, known)

    def keys_needing_reset(self) -> list[InventoryEntry]:
        return self.recorder.keys_needing_reset()

    def shifts(self) -> list[ShiftReport]:
        return self.shift_reports.each()

    def stations(self) -> list[StationCounts]:
        return station_counts(self.store.db) if self.store.fleet else []

    def labels_to_print(self) -> list[LabelWaiting]:
        return self.paper.waiting() if self.paper is not None else []

    def reprint_labels(self, entry_id: int | None = None, label_id: int | None = None) -> int:
        if self.paper is None:
            return 0
        if label_id is not None:
            ids = [label_id]
        elif entry_id is not None:
            ids = self.paper.labels_of(entry_id)
        else:
            ids = [w.label_id for w in self.paper.waiting()]
        return sum(self.paper.reprint(i) for i in ids)

    # ---- the loop --------------------------------------------------------------------

    def _upcoming(self, n: int) -> list[tuple[int, str]]:
        upcoming = self.store.queue.upcoming(n, first=self._selected, locked=not self.operator)
        return [(e.entry_id, e.user_id) for e in upcoming]

    def run(self, stop: threading.Event) -> None:
        # A front end started again over the same engine waits for the previous run to stop.
        if not self._running.acquire(timeout=RUN_HANDOVER_SECONDS):
            raise RuntimeError("Engine.run is already running")
        self.signals.running(stop)  # a touch the key waits for must not delay stopping
        try:
            with self.dialog.recovering():
                self.recovery_report = resume(self.station)
            self._schedule_recovery()
            self.queue_changed()
            self.prefetch.start(stop)
            while not stop.is_set():
                try:
                    self._loop_once()
                except Stopped:
                    break
                except EntryOver:
                    continue  # skip/cancel with nothing to end
        finally:
            self.prefetch.join()
            self.dialog.prompt(Prompt.IDLE)
            self._running.release()

    def _schedule_recovery(self) -> None:
        again = time.monotonic() + RECOVERY_RETRY_SECONDS
        self._recovery_retry_at = again if pending(self.station) else None

    def _loop_once(self) -> None:
        self._handle_idle_commands()
        if self.station.desk.hold(self.keys):
            self.dialog.prompt(Prompt.IDLE, "Return desk open: enrollment waits.")
            self.idle_wait()
            return
        if self._recovery_retry_at is not None and time.monotonic() >= self._recovery_retry_at:
            with self.dialog.recovering():
                self.recovery_report.extend(resume(self.station))
            self._schedule_recovery()
            self.queue_changed()
        if self.operator is None:
            self.dialog.prompt(Prompt.IDLE, "Sign in to start enrolling.")
            self.idle_wait()
            return
        entries = self.store.queue.upcoming(1, first=self._selected)
        if not entries:
            waiting = self._recovery_retry_at is not None
            self.dialog.prompt(
                Prompt.IDLE,
                "Finishing an interrupted enrollment: waiting for Microsoft Graph."
                if waiting
                else "The queue is empty.",
            )
            self.idle_wait()
            return
        entry = entries[0]
        if self._selected is not None:  # taken now, or another station took it meanwhile
            self._selected = None
        ended = work_entry(self.station, entry)
        if ended is not None:
            self._last_ended = ended

    def idle_wait(self) -> None:
        """Wait while there is nothing to do, handling the commands that make sense now."""
        signal = self.signals.next(timeout=0.25)
        if isinstance(signal, Command):
            self.handle_global(signal)

    def _handle_idle_commands(self) -> None:
        self.signals.clear_abort()

    def handle_global(self, command: Command) -> bool:
        """Commands that mean the same at any wait. True when handled."""
        if command.name == "select" and isinstance(command.value, int):
            self._selected = command.value
            self.prefetch.wake()
            return True
        if command.name == "retry" and self._last_ended is not None:
            # The user who just ended, again: audited like any requeue (U on the queue screen).
            if self.queue.requeue(self._last_ended):
                self._selected = self._last_ended
            self._last_ended = None
            return True
        return command.name in ("wake", "cancel", "skip")

    @property
    def selected(self) -> int | None:
        return self._selected


def _conforms(engine: Engine) -> EngineControl:
    """mypy checks here that Engine implements the EngineControl protocol the TUI uses."""
    return engine
