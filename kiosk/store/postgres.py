"""The fleet backend: a PostgreSQL database shared by the stations, through a small pool.

Statements are the same as SQLite's (``?`` placeholders become psycopg's ``%s`` here). Each
transaction runs on one pooled connection: ``BEGIN`` ... ``COMMIT``; PostgreSQL's commit is
durable (``synchronous_commit`` on) before it returns.

When the server cannot be reached, or goes away inside a transaction, nothing was committed:
:class:`~kiosk.store.db.StoreUnavailable` is raised and :meth:`PgDatabase.retrying` runs the
whole operation again once the server answers ("database unreachable, retrying"). A connection
lost during ``COMMIT`` itself is different (the server may have committed): that is raised as
it is, never retried blindly.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, LiteralString, TypeVar, cast

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from kiosk.store.db import (
    Clock,
    Conn,
    Database,
    Params,
    Row,
    StoreError,
    StoreUnavailable,
    utc_now,
)
from kiosk.store.migrations_pg import migrate_pg
from kiosk.store.pg_connect import ConnectInfo, connect_info

log = logging.getLogger("kiosk.store")

T = TypeVar("T")
_PLACEHOLDER = re.compile(r"\?")


@functools.lru_cache(maxsize=512)
def pg_sql(sql: str) -> LiteralString:
    """A statement written for SQLite (``?``) in psycopg's placeholders (``%s``)."""
    return _PLACEHOLDER.sub("%s", sql.replace("%", "%%"))


class PgRow:
    """A row by column name or position, like ``sqlite3.Row``."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values = values
        self._index = index

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, int):
            return self._values[key]
        return self._values[self._index[key]]

    def __len__(self) -> int:
        return len(self._values)


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], PgRow]:
    names = [c.name for c in (cursor.description or ())]
    index = {name: i for i, name in enumerate(names)}
    return lambda values: PgRow(values, index)


class _Tx:
    """The connection inside one transaction, taking SQLite-style statements."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Params = (), /) -> Any:
        return self._conn.execute(pg_sql(sql), tuple(params))


class CommitUncertain(StoreUnavailable):
    """The connection broke while committing: the write may or may not be in the database."""

    title = "Database connection lost while saving"
    next_step = (
        "Restart the kiosk once the database answers; it resumes its own work from the journal."
    )


class PgDatabase(Database):
    backend = "postgresql"
    for_update = " FOR UPDATE"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(
        self,
        url: str,
        *,
        clock: Clock = utc_now,
        password_file: str = "",
        credentials_directory: str = "",
        station: str = "",
        pool_size: int = 4,
        wait_seconds: float = 5.0,
        connect_patience: float = 15.0,
    ) -> None:
        super().__init__(clock)
        self.info: ConnectInfo = connect_info(
            url,
            password_file=password_file,
            credentials_directory=credentials_directory,
            station=station,
        )
        self.wait_seconds = wait_seconds
        self.unavailable = threading.Event()
        """Set while the database cannot be reached."""
        kwargs: dict[str, Any] = {**self.info.params, "autocommit": True}
        if self.info.password is not None:
            kwargs["password"] = self.info.password
        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            "",
            kwargs=kwargs,
            min_size=1,
            max_size=max(1, pool_size),
            open=False,
            timeout=wait_seconds,
            name="kiosk",
        )
        self.retrying(lambda: self._first_connection(kwargs), patience=connect_patience)
        self.pool.open(wait=False)
        try:
            self.schema_found = self.retrying(self._migrate, patience=connect_patience)
        except BaseException:
            self.pool.close()
            raise

    def _first_connection(self, kwargs: dict[str, Any]) -> None:
        """Connect once before the pool does, so a refused sign-in or certificate is told at
        once (the pool would only time out); a server that does not answer is retried."""
        try:
            psycopg.connect("", **kwargs).close()
        except psycopg.OperationalError as exc:
            why = _why(exc)
            if (exc.sqlstate or "").startswith("28") or _refused(why):
                raise StoreError(
                    f"The database ({self.describe()}) refused this station: {why}",
                    next_step="Check store.url (user, sslrootcert), the password file or "
                    "client certificate, and the server's pg_hba.conf; see `kiosk check`.",
                ) from None
            raise StoreUnavailable(
                f"The database ({self.describe()}) does not answer ({why})."
            ) from None

    def _migrate(self) -> int:
        with self._connection() as conn:
            return migrate_pg(conn)

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self.pool.connection() as conn:
                conn.row_factory = _row_factory
                yield conn
        except PoolTimeout as exc:
            raise StoreUnavailable(
                f"The database ({self.describe()}) does not answer ({_why(exc)})."
            ) from None

    @contextmanager
    def tx(self) -> Iterator[Conn]:
        with self._connection() as conn:
            try:
                conn.execute("BEGIN")
                yield cast(Conn, _Tx(conn))
            except psycopg.OperationalError as exc:
                raise StoreUnavailable(
                    f"The database ({self.describe()}) went away ({_why(exc)})."
                ) from None
            except BaseException:
                if not conn.closed:
                    conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except psycopg.OperationalError as exc:
                raise CommitUncertain(
                    f"The connection to {self.describe()} broke while committing "
                    f"({_why(exc)})."
                ) from None

    def query(self, sql: str, params: Params = ()) -> list[Row]:
        def run() -> list[Row]:
            with self._connection() as conn:
                try:
                    return list(conn.execute(pg_sql(sql), tuple(params)).fetchall())
                except psycopg.OperationalError as exc:
                    raise StoreUnavailable(
                        f"The database ({self.describe()}) went away ({_why(exc)})."
                    ) from None

        return self.retrying(run)

    def write_one(self, sql: str, params: Params = ()) -> int:
        """One statement in its own transaction: a single round trip (PostgreSQL runs a lone
        statement atomically). Raised as unavailable when the server went away before
        answering (the statement may have run: only for statements safe to run again)."""
        with self._connection() as conn:
            try:
                return int(conn.execute(pg_sql(sql), tuple(params)).rowcount)
            except psycopg.OperationalError as exc:
                raise StoreUnavailable(
                    f"The database ({self.describe()}) went away ({_why(exc)})."
                ) from None

    def retrying(
        self, operation: Callable[[], T], *, patience: float | None = None,
        idempotent: bool = False,
    ) -> T:
        """Run ``operation`` until the database answers; ``patience``: give up after that many
        seconds (None: never). Only a write that surely did not commit is run again, or, when
        ``idempotent``, one whose second run changes nothing the first did not."""
        started = time.monotonic()
        delay = 0.2
        while True:
            try:
                result = operation()
            except StoreUnavailable as exc:
                if isinstance(exc, CommitUncertain) and not idempotent:
                    raise
                if patience is not None and time.monotonic() - started > patience:
                    raise
                self._waiting(exc)
                time.sleep(delay)
                delay = min(2.0, delay * 2)
                continue
            if self.unavailable.is_set():
                self.unavailable.clear()
                log.warning("database reachable again: %s", self.describe())
            return result

    def _waiting(self, exc: StoreUnavailable) -> None:
        first = not self.unavailable.is_set()
        self.unavailable.set()
        if first:
            log.warning("database unreachable, retrying: %s", exc)
        if self.on_unavailable is not None:
            self.on_unavailable(f"Database unreachable, retrying ({exc})")

    def serialize(self, conn: Conn, name: str) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (name,))

    def ci_eq(self, column: str) -> str:
        return f"lower({column}) = lower(?)"

    def ci_key(self, column: str) -> str:
        return f"lower({column})"

    def ci_like(self, column: str) -> str:
        return f"{column} ILIKE ? ESCAPE '\\'"

    def ci_order(self, column: str) -> str:
        return f'lower({column}) COLLATE "C"'

    def describe(self) -> str:
        return self.info.describe()

    def close(self) -> None:
        self.pool.close()


def _refused(why: str) -> bool:
    """A libpq message about sign-in or TLS (fix the settings) rather than reachability."""
    words = ("password", "certificate", "SSL", "authentication", "pg_hba", "does not exist")
    return any(w.lower() in why.lower() for w in words)


def _why(exc: BaseException) -> str:
    """The first line of a driver error (libpq messages name host and port, never secrets)."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
