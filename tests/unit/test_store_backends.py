"""One schema on two backends: the same tables and columns, the same version rules, and a
fleet URL that never carries a password or turns TLS verification off."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from kiosk.errors import ConfigError, KioskError, SecretFileError
from kiosk.store import Store
from kiosk.store.migrations import LATEST
from kiosk.store.pg_connect import connect_info
from tests.fixtures.pgserver import ADMIN, PgServer
from tests.fixtures.postgres import Backend


def _sqlite_columns(path: Path) -> dict[str, set[str]]:
    raw = sqlite3.connect(path)
    tables = [r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    out = {t: {r[1] for r in raw.execute(f"PRAGMA table_info({t})")} for t in tables}
    raw.close()
    return out


def _pg_columns(server: PgServer, dbname: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for table, column in server.admin_sql(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = 'public'", dbname
    ):
        out.setdefault(str(table), set()).add(str(column))
    return out


@pytest.mark.slow
@pytest.mark.fleet
def test_both_backends_have_the_same_tables_and_columns(
    pg_backend: Backend, tmp_path: Path, pg_server: PgServer
) -> None:
    Store(tmp_path / "k.db").close()
    pg = pg_backend.open()
    dbname = pg_backend.dbname
    pg_tables = _pg_columns(pg_server, dbname)
    assert pg_tables.pop("kiosk_schema") == {"version"}
    assert pg_tables == _sqlite_columns(tmp_path / "k.db")
    assert pg.db.schema_found == 0
    assert pg_backend.open().db.schema_found == LATEST  # opened again: nothing to migrate


@pytest.mark.slow
@pytest.mark.fleet
def test_a_newer_fleet_schema_is_refused(pg_backend: Backend, pg_server: PgServer) -> None:
    pg_backend.open().close()
    dbname = pg_backend.dbname
    pg_server.admin_sql(f"UPDATE kiosk_schema SET version = {LATEST + 1}", dbname)  # noqa: S608
    with pytest.raises(KioskError, match="newer"):
        pg_backend.open()


@pytest.mark.slow
@pytest.mark.fleet
def test_a_failed_fleet_migration_leaves_nothing_behind(
    pg_backend: Backend, pg_server: PgServer
) -> None:
    dbname = pg_backend.dbname
    pg_server.admin_sql("CREATE TABLE stations (x INTEGER)", dbname)  # clashes with migration 5
    pg_server.admin_sql("ALTER TABLE stations OWNER TO kiosk_station", dbname)
    with pytest.raises(psycopg.errors.DuplicateTable):
        pg_backend.open()
    assert pg_server.admin_sql("SELECT version FROM kiosk_schema", dbname) == [(4,)]
    assert pg_server.admin_sql("SELECT to_regclass('escrow')", dbname) == [(None,)]


@pytest.mark.slow
@pytest.mark.fleet
def test_tls_is_verified_against_the_configured_ca(
    pg_server: PgServer, tmp_path: Path
) -> None:
    url = pg_server.new_database()
    wrong = url.replace(str(pg_server.ca_file), str(tmp_path / "missing.crt"))
    with pytest.raises(KioskError, match="certificate"):
        Store(wrong, password_file=str(pg_server.password_file))
    with pytest.raises(KioskError, match="password"):  # scram refuses a station without one
        Store(url)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("postgresql://kiosk:hunter2@db.example/kiosk", "holds a password"),
        ("postgresql://kiosk@db.example/kiosk?sslmode=require", "sslmode=require"),
        ("postgresql://kiosk@db.example/kiosk?sslmode=disable", "sslmode=disable"),
        ("postgresql://kiosk@db.example/kiosk?sslmode=verify-ca", "sslmode=verify-ca"),
    ],
)
def test_a_fleet_url_without_verified_tls_or_with_a_password_is_refused(
    url: str, words: str
) -> None:
    with pytest.raises(ConfigError, match=words) as caught:
        connect_info(url)
    assert "hunter2" not in str(caught.value)


def test_a_fleet_url_defaults_to_verify_full_and_reads_the_password_file(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "db-password"
    secret.write_text("s3cret-pw\n")
    secret.chmod(0o600)
    info = connect_info("postgresql://kiosk@db.example/kiosk", password_file=str(secret))
    assert info.params["sslmode"] == "verify-full"
    assert info.password == "s3cret-pw"
    assert "s3cret" not in repr(info)
    secret.chmod(0o644)
    with pytest.raises(SecretFileError, match="chmod 600"):
        connect_info("postgresql://kiosk@db.example/kiosk", password_file=str(secret))


def test_a_systemd_credential_holds_the_password(tmp_path: Path) -> None:
    (tmp_path / "kiosk-db-password").write_text("from-credential")
    (tmp_path / "kiosk-db-password").chmod(0o600)
    info = connect_info(
        "postgresql://kiosk@db.example/kiosk", credentials_directory=str(tmp_path)
    )
    assert info.password == "from-credential"


def test_the_local_socket_needs_no_tls() -> None:
    info = connect_info(f"postgresql://{ADMIN}@%2Frun%2Fpostgresql/kiosk")
    assert info.local and "sslmode" not in info.params


def test_a_journal_step_is_written_again_after_a_commit_in_doubt(pg_backend: Backend) -> None:
    """A connection that breaks while committing leaves the write in doubt. A journal step
    (set the step and its facts: the same again changes nothing) is written again once the
    server answers, instead of failing the attempt; a registration journaled and then failed
    had the user enrolled with a second key (seen with the server stopped mid-batch). Other
    writes in doubt still stop."""
    from kiosk.store.postgres import CommitUncertain

    db = pg_backend.open().db
    tries: list[int] = []

    def write() -> str:
        tries.append(1)
        if len(tries) == 1:
            raise CommitUncertain("The connection broke while committing.")
        return "written"

    with pytest.raises(CommitUncertain):
        db.retrying(write)
    assert len(tries) == 1  # not run again
    tries.clear()
    assert db.retrying(write, idempotent=True) == "written"
    assert len(tries) == 2  # run again after the doubt
