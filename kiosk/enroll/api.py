"""What a front end (the TUI, the headless runner) may ask of the engine.

The engine implements :class:`EngineControl`. All methods are thread-safe: operator commands
are queued to the engine's own loop, which ``run`` drives (in a Textual thread worker, or the
main thread of the headless runner). Events flow back through the listeners given to
``subscribe``; a listener is called on the engine's thread and must only hand the event on
(``App.call_from_thread`` / ``post_message``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from kiosk.enroll.events import Event
from kiosk.enroll.lifecycle import Deleted, LostReport
from kiosk.enroll.return_desk import ReturnDesk
from kiosk.enroll.shift_report import ShiftReport
from kiosk.entra.models import Fido2Method
from kiosk.model.audit import AuditReport
from kiosk.model.queue import ImportProgress, ImportReport, QueueRow, SortKey, Status
from kiosk.operators.sign_in import SignInRecord
from kiosk.store.fleet import FleetStatus
from kiosk.store.inventory import InventoryEntry
from kiosk.store.station_counts import StationCounts


@dataclass(frozen=True)
class LabelWaiting:
    """A shipping label in the reprint list (:mod:`kiosk.paper.desk`)."""

    label_id: int
    entry_id: int
    upn: str
    serial: str | None
    state: str
    """waiting (not sent yet, or the kiosk stopped while it printed) or failed."""
    reason: str
    sent: int


class LabelDesk(Protocol):
    """What the engine asks of the print desk for the operator (the reprint list)."""

    def waiting(self) -> list[LabelWaiting]: ...
    def reprint(self, label_id: int) -> bool: ...
    def labels_of(self, entry_id: int) -> list[int]: ...
    def print_report(self, report: ShiftReport) -> bool:
        """Send a shift report to the report queue; False when there is none."""
        ...


class EngineControl(Protocol):
    def subscribe(self, listener: Callable[[Event], None]) -> None: ...

    def run(self, stop: threading.Event) -> None:
        """Work through the queue until ``stop`` is set. Blocking; one caller at a time."""
        ...

    # Operator commands (queued; take effect on the engine's loop).
    def cancel(self) -> None: ...
    def retry(self) -> None: ...
    def skip(self, reason: str = "skipped by operator") -> None: ...
    def confirm_reset(self, ok: bool) -> None: ...
    def confirm_replace(self, ok: bool) -> None: ...
    def confirm_guest(self, ok: bool) -> None: ...
    def provide_pin(self, pin: str) -> None:
        """The operator typed the PIN (policy pin_source = operator)."""
        ...

    def set_operator(self, name: str | None) -> ShiftReport | None:
        """Who is signed in (None while locked); recorded with every enrollment. Returns the
        report of the shift that ended, written to the outbox and audited (None: no shift
        ended, or its report could not be written)."""
        ...

    def record_sign_in(self, record: SignInRecord) -> None:
        """Audit a failed sign-in, a pause, an admin unlock or the admin's exit."""
        ...

    def select(self, entry_id: int) -> str | None:
        """Make this queue entry the next one to enroll; unless another station holds it
        (started it, or claimed it), whose name is returned (nothing changes then)."""
        ...

    # Queue (blocking: call from a worker thread, except queue_page/counts which are fast).
    def import_csv(
        self, path: Path, *, keys_per_user: int = 1, replace: bool = False,
        progress: Callable[[ImportProgress], bool] | None = None,
    ) -> ImportReport: ...
    def add_user(
        self, upn: str, *, keys_per_user: int = 1, replace: bool = False
    ) -> ImportReport: ...
    def sync_group(self, name_or_id: str, *, keys_per_user: int = 1) -> ImportReport: ...
    def requeue(self, entry_id: int) -> bool:
        """A skipped or failed user back in the queue (audited); False if it was neither."""
        ...
    def queue_page(
        self,
        offset: int,
        limit: int,
        *,
        search: str = "",
        status: Status | None = None,
        sort: SortKey = "position",
    ) -> list[QueueRow]: ...
    def queue_size(self, *, search: str = "", status: Status | None = None) -> int: ...
    def counts(self) -> dict[str, int]: ...
    def open_return_desk(self) -> ReturnDesk:
        """Pause enrollment for the return desk (``ReturnDesk.close`` resumes it); the desk's
        methods block: call them from a worker thread."""
        ...
    def inventory_counts(self) -> dict[str, dict[str, int]]:
        """The stock: keys by state, then by model."""
        ...
    def inventory_search(self, text: str = "") -> list[InventoryEntry]:
        """Keys whose serial or UPN contains ``text`` (the first few hundred)."""
        ...
    def user_methods(self, serial: str) -> list[Fido2Method]:
        """The FIDO2 methods Entra lists for the owner of key ``serial`` (blocking: Graph)."""
        ...
    def delete_picked_method(self, serial: str, method_id: str, reason: str) -> Deleted:
        """Delete one method an admin picked from that list; never another (blocking)."""
        ...
    def key_lost(self, serial: str, reason: str, *, replace: bool) -> LostReport:
        """Delete the key's method in Entra at once, mark it lost, queue a replacement for
        its owner when ``replace`` (blocking: Graph)."""
        ...
    def returns_today(self) -> dict[str, int]:
        """Keys reset and taken back today (UTC): ``in_stock`` and ``retired``."""
        ...
    def keys_needing_reset(self) -> list[InventoryEntry]:
        """Keys left holding the kiosk's PIN or an unregistered credential (inventory)."""
        ...
    def shifts(self) -> list[ShiftReport]:
        """Each operator's last shift, from the audit trail (counts, keys needing a reset)."""
        ...
    def stations(self) -> list[StationCounts]:
        """Each fleet station's keys (done, failed, needing a reset); [] off a fleet."""
        ...
    def report_shift(
        self, directory: Path | None = None, *, operator: str | None = None
    ) -> tuple[ShiftReport, list[Path]] | None:
        """The last shift's report (of ``operator`` when named) written as CSV and JSON to
        ``directory`` (default: the outbox) and audited, with the files (blocking)."""
        ...
    def print_shift_report(self, report: ShiftReport) -> bool:
        """Send a shift report to the printer (audited when it printed or failed); False when
        no queue takes reports (paper.report_queue, else paper.mailer_queue)."""
        ...
    def export_manifest(self, directory: Path) -> list[Path]: ...
    def verify_audit(self) -> AuditReport: ...
    def fleet_status(self) -> FleetStatus | None:
        """The fleet's stations, users left and time to finish; None when this kiosk is not
        part of a fleet (blocking: reads the shared database)."""
        ...
    def passkey_policy(self) -> list[str]:
        """The tenant's passkey policy judged for this batch, as lines (blocking)."""
        ...
    def labels_to_print(self) -> list[LabelWaiting]:
        """The reprint list: shipping labels not known to have printed (none without paper)."""
        ...
    def reprint_labels(self, entry_id: int | None = None, label_id: int | None = None) -> int:
        """Print labels again, audited: one label, every label of a queue entry, or (neither
        given) the whole reprint list. Returns how many were sent to the printer."""
        ...
