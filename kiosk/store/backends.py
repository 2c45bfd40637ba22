"""Which backend opens a store target: a ``postgresql://`` URL or a SQLite path."""

from __future__ import annotations

from pathlib import Path

from kiosk.store.db import Clock, Database, is_url, utc_now


def open_database(
    target: str | Path,
    *,
    clock: Clock = utc_now,
    password_file: str = "",
    credentials_directory: str = "",
    station: str = "",
    connect_patience: float = 15.0,
) -> Database:
    """The database at ``target``: a SQLite path, or a ``postgresql://`` URL."""
    if is_url(target):
        from kiosk.store.postgres import PgDatabase  # psycopg only for a fleet

        return PgDatabase(
            str(target),
            clock=clock,
            password_file=password_file,
            credentials_directory=credentials_directory,
            station=station,
            connect_patience=connect_patience,
        )
    from kiosk.store.sqlite import SqliteDatabase

    return SqliteDatabase(target, clock=clock)

