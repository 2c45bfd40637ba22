"""Schema versions of the kiosk database, applied in order inside one transaction each.

One list of steps (:data:`STEPS`) for both backends, written once with a few words that each
:class:`Dialect` spells its own way: the row id, 64-bit integers, binary data and UPNs
compared without case (SQLite's ``NOCASE``; PostgreSQL indexes ``lower(upn)``). SQLite's
rendering is :data:`MIGRATIONS` here, PostgreSQL's is in :mod:`kiosk.store.migrations_pg`
with the way it is applied there (a test compares the two schemas column by column). The
applied version lives in SQLite's ``user_version``. A step is never edited once shipped: add a
new one at the end.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from kiosk.errors import KioskError


@dataclass(frozen=True)
class Dialect:
    """How one backend spells the words the steps leave open (``{id}`` and so on)."""

    id: str
    """The row id column: an integer primary key the database numbers."""
    bigint: str
    """An integer that may hold a row id."""
    blob: str
    """Binary data."""
    upn_unique: str
    """Appended to the queue's ``upn`` column: unique without regard to case, if the column
    itself can say so."""
    queue_upn_indexes: str
    """Statements right after the queue table (each led by a ``;``) for the dialects whose
    column cannot."""
    ci_upn: str
    """What an index on ``upn`` indexes so that a search without case uses it."""

    def render(self, step: str) -> str:
        return step.format(
            id=self.id, bigint=self.bigint, blob=self.blob, upn_unique=self.upn_unique,
            queue_upn_indexes=self.queue_upn_indexes, ci_upn=self.ci_upn,
        )


SQLITE = Dialect(
    id="INTEGER PRIMARY KEY", bigint="INTEGER", blob="BLOB",
    upn_unique=" COLLATE NOCASE UNIQUE", queue_upn_indexes="", ci_upn="upn COLLATE NOCASE",
)

STEPS: tuple[str, ...] = (
    # 1: queue, enrollments (the journal), key inventory, events.
    """
    CREATE TABLE queue (
        id           {id},
        position     INTEGER NOT NULL,
        upn          TEXT NOT NULL{upn_unique},
        user_id      TEXT NOT NULL,
        display_name TEXT NOT NULL DEFAULT '',
        keys_wanted  INTEGER NOT NULL DEFAULT 1,
        keys_done    INTEGER NOT NULL DEFAULT 0,
        replace      INTEGER NOT NULL DEFAULT 0,
        status       TEXT NOT NULL DEFAULT 'pending',
        reason       TEXT NOT NULL DEFAULT '',
        source       TEXT NOT NULL DEFAULT '',
        updated      TEXT NOT NULL
    );{queue_upn_indexes}
    CREATE INDEX queue_position ON queue (position);
    CREATE INDEX queue_status_position ON queue (status, position);
    CREATE INDEX queue_updated ON queue (updated);
    CREATE INDEX queue_status_updated ON queue (status, updated);
    CREATE INDEX queue_user ON queue (user_id);

    CREATE TABLE enrollments (
        id                 {id},
        entry_id           {bigint} NOT NULL REFERENCES queue (id),
        user_id            TEXT NOT NULL,
        upn                TEXT NOT NULL,
        step               TEXT NOT NULL,
        state              TEXT NOT NULL DEFAULT 'open',
        serial             TEXT,
        aaguid             TEXT,
        model              TEXT,
        firmware           TEXT,
        credential_id      TEXT,
        client_data_json   TEXT,
        attestation_object TEXT,
        attestation_format TEXT,
        challenge_expires  TEXT,
        display_name       TEXT,
        method_id          TEXT,
        escrow_file        TEXT,
        pin_policy         TEXT,
        operator           TEXT,
        reason             TEXT NOT NULL DEFAULT '',
        started            TEXT NOT NULL,
        updated            TEXT NOT NULL
    );
    CREATE INDEX enrollments_entry ON enrollments (entry_id);
    CREATE INDEX enrollments_state ON enrollments (state);
    CREATE INDEX enrollments_serial ON enrollments (serial);

    CREATE TABLE keys (
        id         {id},
        serial     TEXT NOT NULL UNIQUE,
        aaguid     TEXT NOT NULL,
        model      TEXT NOT NULL,
        firmware   TEXT,
        user_id    TEXT NOT NULL,
        upn        TEXT NOT NULL,
        method_id  TEXT,
        enrolled   TEXT NOT NULL
    );

    CREATE TABLE events (
        id       {id},
        time     TEXT NOT NULL,
        entry_id {bigint},
        kind     TEXT NOT NULL,
        detail   TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX events_entry ON events (entry_id);
    """,
    # 2: the Graph calls made for an attempt up to its credential (the options fetch above
    # all), so an enrollment finished after a restart is audited with every call it needed.
    """
    ALTER TABLE enrollments ADD COLUMN graph_calls TEXT;
    """,
    # 3: the events table goes. Nothing read it: what happened is in the audit trail, written
    # by kiosk.enroll.recorder (with the journal for attempts and the queue for entries).
    """
    DROP INDEX IF EXISTS events_entry;
    DROP TABLE IF EXISTS events;
    """,
    # 4: paper: each user's postal details and the batch's address choice, and the shipping
    # label of each enrolled key until it has printed (the reprint list). Never a PIN.
    """
    CREATE TABLE addresses (
        user_id  TEXT PRIMARY KEY,
        mode     TEXT NOT NULL,
        fields   TEXT NOT NULL DEFAULT '{{}}',
        source   TEXT NOT NULL DEFAULT '',
        updated  TEXT NOT NULL
    );
    CREATE TABLE labels (
        id            {id},
        enrollment_id {bigint} NOT NULL UNIQUE,
        entry_id      {bigint} NOT NULL,
        upn           TEXT NOT NULL,
        serial        TEXT,
        reference     TEXT NOT NULL,
        content       TEXT NOT NULL,
        state         TEXT NOT NULL DEFAULT 'waiting',
        sent          INTEGER NOT NULL DEFAULT 0,
        reason        TEXT NOT NULL DEFAULT '',
        updated       TEXT NOT NULL
    );
    CREATE INDEX labels_state ON labels (state);
    """,
    # 5: the fleet. A queue entry is claimed by a station until its lease runs out; an
    # attempt names its station; stations heartbeat; sealed PINs and audit records are kept
    # in the database too (a key that needs a reset is known to every station from the
    # shared journal: Journal.serial_busy).
    """
    ALTER TABLE queue ADD COLUMN station TEXT;
    ALTER TABLE queue ADD COLUMN lease_until TEXT;
    CREATE INDEX queue_claim ON queue (status, station, position);
    ALTER TABLE enrollments ADD COLUMN station TEXT;
    CREATE TABLE stations (
        name        TEXT PRIMARY KEY,
        started     TEXT NOT NULL,
        seen        TEXT NOT NULL,
        operator    TEXT,
        current_upn TEXT,
        state       TEXT NOT NULL DEFAULT 'online'
    );
    CREATE TABLE escrow (
        id            {id},
        entry_id      {bigint},
        upn           TEXT NOT NULL,
        serial        TEXT,
        station       TEXT NOT NULL,
        sha256        TEXT NOT NULL,
        envelope      {blob} NOT NULL,
        sealed        TEXT NOT NULL
    );
    CREATE INDEX escrow_upn ON escrow ({ci_upn});
    CREATE INDEX escrow_serial ON escrow (serial);
    CREATE TABLE audit_records (
        station TEXT NOT NULL,
        seq     {bigint} NOT NULL,
        line    TEXT NOT NULL,
        PRIMARY KEY (station, seq)
    );
    """,
    # 6: the key's whole life. Each key in the inventory has a state (in_stock, enrolled,
    # needs_reset, returned, lost, retired), the reason and station of its last change; each
    # deletion of a FIDO2 method the kiosk asks of Entra is journaled before it is sent.
    """
    ALTER TABLE keys ADD COLUMN state TEXT NOT NULL DEFAULT 'enrolled';
    ALTER TABLE keys ADD COLUMN reason TEXT NOT NULL DEFAULT '';
    ALTER TABLE keys ADD COLUMN station TEXT;
    ALTER TABLE keys ADD COLUMN changed TEXT;
    CREATE INDEX keys_state ON keys (state);
    CREATE INDEX keys_upn ON keys ({ci_upn});
    CREATE TABLE deletions (
        id        {id},
        serial    TEXT,
        user_id   TEXT NOT NULL,
        upn       TEXT NOT NULL,
        method_id TEXT NOT NULL,
        state     TEXT NOT NULL DEFAULT 'sending',
        reason    TEXT NOT NULL DEFAULT '',
        operator  TEXT,
        station   TEXT,
        started   TEXT NOT NULL,
        updated   TEXT NOT NULL
    );
    CREATE INDEX deletions_state ON deletions (state);
    """,
    # 7: the claim's own index: only the entries still waiting, in queue order. The claim
    # walked the whole queue by position (every finished entry before the first waiting one)
    # and sorted by id; with this it reads the first waiting entries in order and stops.
    """
    CREATE INDEX queue_pending ON queue (position, id) WHERE status = 'pending';
    """,
)


MIGRATIONS: tuple[str, ...] = tuple(SQLITE.render(step) for step in STEPS)
"""The steps in SQLite's words."""

LATEST = len(STEPS)


def schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def too_new(found: int, where: str) -> KioskError:
    return KioskError(
        f"The kiosk database has schema version {found}; this kiosk knows up to {LATEST}.",
        title="Database is newer than the kiosk",
        next_step=f"Update the kiosk software, or point {where} at another database.",
    )


def migrate_sqlite(conn: sqlite3.Connection) -> int:
    """Bring the schema up to :data:`LATEST`; return the version found before.

    Each migration runs in its own transaction together with its ``user_version`` bump, so a
    crash leaves the database at one version or the next, never in between.
    """
    found = schema_version(conn)
    if found > LATEST:
        raise too_new(found, "store.path")
    for version in range(found + 1, LATEST + 1):
        script = MIGRATIONS[version - 1]
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version:d}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return found


def statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
