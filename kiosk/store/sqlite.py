"""The embedded backend: one SQLite file in WAL mode, shared by the engine and the front end.

One connection guarded by a lock (every method is safe from any thread). Writes run in short
``BEGIN IMMEDIATE`` transactions; ``synchronous=FULL`` makes each commit durable before it
returns.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

from kiosk.store.db import Clock, Conn, Database, Params, Row, StoreError, utc_now
from kiosk.store.migrations import migrate_sqlite


def create_private(path: Path) -> None:
    """Make sure the database file exists and only its owner can read it, whatever the umask.

    SQLite gives the -wal and -shm files the database file's permissions, so they follow. A
    database the kiosk owns that others could read is made private; a missing directory is
    made 0700.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        st = os.fstat(fd)
        if stat.S_IMODE(st.st_mode) & 0o077 and st.st_uid == os.geteuid():
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


class SqliteDatabase(Database):
    """The connection, its lock and the clock used for timestamps."""

    backend = "sqlite"

    def __init__(self, path: str | Path, *, clock: Clock = utc_now) -> None:
        super().__init__(clock)
        self.path = Path(path)
        self.lock = threading.RLock()
        try:
            if str(path) != ":memory:":
                create_private(self.path)
            self.conn = sqlite3.connect(
                str(path), isolation_level=None, check_same_thread=False, timeout=10.0
            )
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.schema_found = migrate_sqlite(self.conn)
            # A damaged page is found now, not in the middle of a batch.
            verdict = str(self.conn.execute("PRAGMA quick_check").fetchone()[0])
        except sqlite3.Error as exc:
            raise StoreError(
                f"The database {self.path} cannot be opened ({exc.__class__.__name__}: {exc})."
            ) from None
        except OSError as exc:
            raise StoreError(
                f"The database {self.path} cannot be created "
                f"({exc.strerror or type(exc).__name__})."
            ) from None
        if verdict != "ok":
            self.conn.close()
            raise StoreError(
                f"The database {self.path} is damaged (integrity check: {verdict[:200]})."
            )

    @contextmanager
    def tx(self) -> Iterator[Conn]:
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield cast(Conn, self.conn)
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def query(self, sql: str, params: Params = ()) -> list[Row]:
        with self.lock:
            return list(self.conn.execute(sql, tuple(params)).fetchall())

    def ci_eq(self, column: str) -> str:
        return f"{column} = ? COLLATE NOCASE"

    def ci_key(self, column: str) -> str:
        return column  # the column is COLLATE NOCASE

    def ci_like(self, column: str) -> str:
        return f"{column} LIKE ? ESCAPE '\\'"

    def ci_order(self, column: str) -> str:
        return f"{column} COLLATE NOCASE"

    def journal_mode(self) -> str:
        return str(self.query("PRAGMA journal_mode")[0][0])

    def describe(self) -> str:
        return str(self.path)

    def close(self) -> None:
        with self.lock:
            self.conn.close()
