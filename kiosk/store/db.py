"""The kiosk database, whichever backend holds it: what the queue, journal and inventory see.

Two backends share one schema and one set of SQL statements (``?`` placeholders):

- :class:`kiosk.store.sqlite.SqliteDatabase`, one SQLite file in WAL mode (the embedded default
  for a single kiosk);
- :class:`kiosk.store.postgres.PgDatabase`, a PostgreSQL database shared by the stations of a
  fleet (imported only when a ``postgresql://`` URL is configured).

Where the two dialects differ (case-insensitive text, row locks), the statement asks the
database for the fragment (:meth:`Database.ci_eq`, :attr:`Database.skip_locked`, ...). Every
write runs in a short transaction that is durable when :meth:`Database.tx` returns, which the
journal relies on ("journaled before its side effect is treated as done").
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from kiosk.errors import KioskError

Clock = Callable[[], datetime]
Params = Sequence[object]
T = TypeVar("T")
P = ParamSpec("P")


def utc_now() -> datetime:
    return datetime.now(UTC)


class StoreError(KioskError):
    title = "Kiosk database problem"
    next_step = (
        "Check the disk and the store settings (store.path or store.url), then start the "
        "kiosk again."
    )


def known_value(value: object, allowed: Collection[str], table: str, row_id: object) -> str:
    """``value`` from a row, when it is one the kiosk knows; else an error naming the row."""
    text = str(value)
    if text not in allowed:
        raise StoreError(
            f"Row {row_id} of the {table} table holds {text[:40]!r}, which this kiosk does not "
            f"know (expected one of: {', '.join(sorted(allowed))}).",
            next_step="Was the database written by a newer kiosk, or edited by hand? Update the "
            "kiosk, or correct that row, then start it again.",
        )
    return text


class StoreUnavailable(StoreError):
    """The fleet database cannot be reached (network, server restarting). Nothing was written."""

    title = "Database unreachable"
    next_step = "The kiosk retries by itself; check the network and the PostgreSQL server."


class Row(Protocol):
    """A result row: by column name or by position."""

    def __getitem__(self, key: int | str) -> Any: ...


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Conn(Protocol):
    """The connection inside one transaction."""

    def execute(self, sql: str, params: Params = ..., /) -> Cursor: ...


class Database:
    """What the queue, journal and inventory need of a backend. Safe from any thread."""

    backend: str = ""
    """``sqlite`` or ``postgresql``."""
    for_update: str = ""
    """Appended to a SELECT that is about to update the rows it reads."""
    skip_locked: str = ""
    """Appended to a SELECT that claims rows no other station is claiming right now."""
    schema_found: int = 0
    """The schema version found when the database was opened (before migrating)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.on_unavailable: Callable[[str], None] | None = None
        """Told "Database unreachable, retrying (why)" each time a retry waits (fleet)."""

    def now(self) -> str:
        return self.now_of(self.clock())

    @staticmethod
    def now_of(when: datetime) -> str:
        """A timestamp as stored: UTC, ISO 8601, milliseconds (sorts as text)."""
        return when.astimezone(UTC).isoformat(timespec="milliseconds")

    def tx(self) -> AbstractContextManager[Conn]:
        """One write transaction; committed (durably) when the block ends."""
        raise NotImplementedError

    def query(self, sql: str, params: Params = ()) -> list[Row]:
        raise NotImplementedError

    def write_one(self, sql: str, params: Params = ()) -> int:
        """One statement in its own transaction (one round trip where the backend allows it);
        returns the rows it changed. Only for a statement that may safely run twice."""
        with self.tx() as conn:
            return conn.execute(sql, params).rowcount

    def retrying(
        self, operation: Callable[[], T], *, patience: float | None = None,
        idempotent: bool = False,
    ) -> T:
        """Run ``operation`` (one or more transactions that did not commit if it raised
        :class:`StoreUnavailable`) until the database answers; ``idempotent``: it may also run
        again after a commit whose outcome is not known. SQLite is always there."""
        return operation()

    def serialize(self, conn: Conn, name: str) -> None:
        """Inside a transaction: wait until no other transaction holds ``name`` (released at
        commit). SQLite transactions are serial already."""

    def ci_eq(self, column: str) -> str:
        """``column`` equals a parameter, ignoring ASCII case."""
        raise NotImplementedError

    def ci_key(self, column: str) -> str:
        """``column`` as a value that compares equal to a lower-cased parameter (ASCII)."""
        raise NotImplementedError

    def ci_like(self, column: str) -> str:
        """``column`` contains a LIKE pattern (``\\`` escapes), ignoring case."""
        raise NotImplementedError

    def ci_order(self, column: str) -> str:
        """``column`` as a sort key that ignores case."""
        raise NotImplementedError

    def describe(self) -> str:
        """Where the database is, for messages (never a password)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class HasDb(Protocol):
    @property
    def db(self) -> Database: ...


H = TypeVar("H", bound=HasDb)


def retried(method: Callable[Concatenate[H, P], T]) -> Callable[Concatenate[H, P], T]:
    """A store method that is run again while the database is unreachable (it must not have
    committed anything when :class:`StoreUnavailable` is raised: one transaction)."""

    @functools.wraps(method)
    def run(self: H, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self.db.retrying(lambda: method(self, *args, **kwargs))

    return run


def is_url(target: str | Path) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))
