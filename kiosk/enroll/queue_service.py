"""The queue as a service: users in (an Entra group, a CSV file, one UPN), pages and counts out.

Built from the Graph port, the store's queue and the :class:`~kiosk.enroll.recorder.Recorder`
only, so `kiosk import` queues users without building an engine (no HID watcher, no
prefetcher, no escrow certificates). The engine holds one too and answers the admin screen's
imports with it; ``on_change`` is how the engine hears that the queue changed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kiosk.enroll import sources
from kiosk.enroll.csv_source import MAX_ROWS
from kiosk.enroll.ports import Graph
from kiosk.enroll.recorder import Recorder
from kiosk.enroll.settle import Settled
from kiosk.errors import KioskError
from kiosk.model.queue import ImportProgress, ImportReport, QueueRow, SortKey, Status
from kiosk.store.queue import Queue


class QueueService:
    def __init__(
        self,
        graph: Graph,
        queue: Queue,
        recorder: Recorder,
        *,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.graph = graph
        self.queue = queue
        self.recorder = recorder
        self.on_change = on_change
        self.postal: sources.PostalBook | None = None
        """Where imports keep the users' addresses for the labels (set by the wiring)."""
        self.csv_max_rows = MAX_ROWS
        """Most rows one CSV may hold (policy.csv_max_rows, set by the wiring)."""

    # ---- users in (each import is audited) ---------------------------------------------

    def import_csv(
        self, path: Path, *, keys_per_user: int = 1, replace: bool = False,
        progress: Callable[[ImportProgress], bool] | None = None,
        requeue: bool = False,
    ) -> ImportReport:
        source = f"csv:{path.name}"
        try:
            report, done = sources.import_csv(
                self.graph, self.queue, path, keys_per_user=keys_per_user, replace=replace,
                postal=self.postal, max_rows=self.csv_max_rows, progress=progress,
                requeue=requeue,
            )
        except KioskError as exc:
            self.recorder.queue_import_failed(exc, source=source)
            raise
        return self._imported(report, done, source, keys_per_user, replace)

    def add_user(
        self, upn: str, *, keys_per_user: int = 1, replace: bool = False, requeue: bool = False
    ) -> ImportReport:
        report, done = sources.add_user(
            self.graph, self.queue, upn, keys_per_user=keys_per_user, replace=replace,
            postal=self.postal, requeue=requeue,
        )
        return self._imported(report, done, "upn", keys_per_user, replace)

    def sync_group(
        self, name_or_id: str, *, keys_per_user: int = 1, requeue: bool = False
    ) -> ImportReport:
        report, done = sources.sync_group(
            self.graph, self.queue, name_or_id, keys_per_user=keys_per_user,
            postal=self.postal, requeue=requeue,
        )
        return self._imported(report, done, f"group:{name_or_id.strip()}", keys_per_user, False)

    def _imported(
        self, report: ImportReport, done: Settled, source: str, keys_per_user: int,
        replace: bool,
    ) -> ImportReport:
        if self.on_change is not None:
            self.on_change()
        self.recorder.queue_imported(
            report, source=source, keys_per_user=keys_per_user, replace=replace
        )
        for entry, how in done.requeued:
            self.recorder.entry_requeued(entry, how)
        return report

    def requeue(self, entry_id: int) -> bool:
        """A skipped or failed user back in the queue (the queue screen's U), audited.
        False when the entry was neither."""
        entry = self.queue.get(entry_id)
        if entry is None or not self.queue.requeue(entry_id):
            return False
        self.recorder.entry_requeued(entry, "requeued")
        if self.on_change is not None:
            self.on_change()
        return True

    # ---- what is queued (fast queries) -------------------------------------------------

    def page(
        self,
        offset: int,
        limit: int,
        *,
        search: str = "",
        status: Status | None = None,
        sort: SortKey = "position",
    ) -> list[QueueRow]:
        return self.queue.page(offset, limit, search=search, status=status, sort=sort)

    def size(self, *, search: str = "", status: Status | None = None) -> int:
        return self.queue.size(search=search, status=status)

    def counts(self) -> dict[str, int]:
        return self.queue.counts()
