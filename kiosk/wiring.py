"""Build the kiosk's engine from Settings, the same way for `kiosk run`, `kiosk demo` and tests.

Only the HID backend differs between them: real hidraw devices, or the virtual USB port.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kiosk.audit import AuditTrail
from kiosk.config import Settings
from kiosk.enroll.engine import Engine
from kiosk.enroll.escrow import EscrowStore
from kiosk.enroll.events import Prompt
from kiosk.enroll.queue_service import QueueService
from kiosk.enroll.recorder import Recorder
from kiosk.entra.auth import TokenProvider
from kiosk.entra.graph import GraphClient
from kiosk.entra.http import make_session
from kiosk.entra.secrets import load_credential
from kiosk.errors import KioskError
from kiosk.keys.mds import MdsCatalog, MdsError
from kiosk.keys.types import HidBackend
from kiosk.paper.address import AddressMode
from kiosk.paper.book import AddressBook
from kiosk.paper.cups import Cups
from kiosk.paper.desk import PrintDesk, Printer
from kiosk.store import Store
from kiosk.trail_check import check_store_and_trail

log = logging.getLogger("kiosk.wiring")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Kiosk:
    """The engine and the collaborators it was built from (tests and tools inspect them)."""

    settings: Settings
    engine: Engine
    store: Store
    audit: AuditTrail
    graph: GraphClient
    paper: PrintDesk | None = None
    """Labels and PIN mailers, when [paper] names a queue."""

    def close(self) -> None:
        if self.paper is not None:
            self.paper.close()
        self.store.close()
        self.audit.close()


def load_mds(settings: Settings) -> MdsCatalog | None:
    """The admin's MDS3 blob when present and valid; the built-in model table otherwise."""
    if not Path(settings.store.mds_blob).exists():
        return None
    try:
        return MdsCatalog.load(settings.store.mds_blob)
    except MdsError as exc:
        log.warning("MDS blob not used: %s", exc.detail)
        return None


def open_store(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = _utc_now,
    env: Mapping[str, str] | None = None,
) -> Store:
    """The kiosk's store: the fleet database when store.url is set, else the SQLite file."""
    s = settings.store
    credentials = settings.tenant.credentials_directory or (
        os.environ if env is None else env
    ).get("CREDENTIALS_DIRECTORY", "")
    return Store(
        s.url or s.path,
        clock=clock,
        station=s.station,
        lease_seconds=s.lease_seconds,
        password_file=s.password_file,
        credentials_directory=credentials,
    )


@dataclass
class Records:
    """What every front end that changes the kiosk's state needs: Graph, store and trail,
    and the Recorder over the last two."""

    graph: GraphClient
    store: Store
    audit: AuditTrail
    recorder: Recorder

    def close(self) -> None:
        self.store.close()
        self.audit.close()


def open_records(
    settings: Settings,
    *,
    operator: str | None = None,
    clock: Callable[[], datetime] = _utc_now,
    env: Mapping[str, str] | None = None,
) -> Records:
    """Graph (MSAL + one HTTP session), the store and the audit trail.

    ``env`` is where systemd credentials are looked up ($CREDENTIALS_DIRECTORY); None means
    the process environment.
    """
    for directory in (settings.store.path, settings.store.audit_path):
        # The state directory holds the journal and the audit trail: the kiosk user's only.
        Path(directory).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    session = make_session(settings.tenant, settings.graph)
    credential = load_credential(settings.tenant, env=env)
    tokens = TokenProvider(settings, credential, session)
    graph = GraphClient(settings, tokens, session)
    store = open_store(settings, clock=clock, env=env)
    audit = AuditTrail(settings.store.audit_path)
    try:
        check_store_and_trail(store, audit)  # each vouches for the other (kiosk.trail_check)
    except KioskError:
        store.close()
        audit.close()
        raise
    # Every record mirrored in the database (with this station's id in a fleet).
    if store.trail.last_seq() != audit.seq:
        store.trail.catch_up(Path(settings.store.audit_path).read_bytes())
    audit.mirror = store.trail.put
    return Records(graph, store, audit, Recorder(store, audit, operator=operator))


def queue_service(
    records: Records, settings: Settings, address: AddressMode | None = None
) -> QueueService:
    """The queue alone (`kiosk import`): no engine, no HID watcher, no escrow certificates.
    ``address`` is the batch's choice for its labels (default: paper.address)."""
    service = QueueService(records.graph, records.store.queue, records.recorder)
    service.postal = address_book(settings, records.store, address)
    service.csv_max_rows = settings.policy.csv_max_rows
    return service


def address_book(
    settings: Settings, store: Store, address: AddressMode | None = None
) -> AddressBook:
    """Imports keep addresses; they name users without one when labels or mailers print."""
    paper = settings.paper
    return AddressBook(
        store.addresses, address or paper.address,
        check=bool(paper.label_queue or paper.mailer_queue),
    )


def build_kiosk(
    settings: Settings,
    backend: HidBackend,
    *,
    operator: str | None = None,
    clock: Callable[[], datetime] = _utc_now,
    env: Mapping[str, str] | None = None,
    printer: Printer | None = None,
) -> Kiosk:
    """Wire Graph, store, audit trail (:func:`open_records`) and escrow into an Engine;
    with [paper] queues, the print desk too (``printer``: CUPS unless given)."""
    records = open_records(settings, clock=clock, env=env)
    escrow = EscrowStore(settings.escrow.directory, central=records.store.sealed.put)
    engine = Engine(
        settings, records.store, records.graph, backend, records.audit, escrow, clock,
        operator=operator, mds=load_mds(settings),
    )
    engine.queue.postal = address_book(settings, records.store)
    engine.queue.csv_max_rows = settings.policy.csv_max_rows
    if records.store.fleet:  # the operator sees why nothing moves while the database is away
        records.store.db.on_unavailable = lambda why: engine.dialog.prompt(Prompt.WORKING, why)
    return Kiosk(
        settings, engine, records.store, records.audit, records.graph,
        build_paper(engine, clock, printer),
    )


def build_paper(
    engine: Engine, clock: Callable[[], datetime], printer: Printer | None = None
) -> PrintDesk | None:
    """The print desk listening to ``engine``, when [paper] names a label, mailer or report
    queue; ``printer`` defaults to CUPS at paper.cups_server."""
    paper = engine.settings.paper
    if not (paper.label_queue or paper.mailer_queue or paper.report_queue):
        return None
    desk = PrintDesk(
        engine.settings, engine.store, engine.recorder,
        printer or Cups(paper.cups_server, timeout=paper.job_timeout_seconds),
        engine.dialog.emit, clock,
    )
    engine.subscribe(desk.on_event)
    engine.paper = desk
    return desk
