"""`kiosk check` for a fleet (store.url set): the database answers over verified TLS, its
schema is the one this kiosk knows, the station's role has the grants it needs and no more,
and the station's clock agrees with the database's (leases are timed by the stations)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kiosk.check_context import CheckContext, CheckResult
from kiosk.errors import KioskError

MAX_SKEW_SECONDS = 5.0
NAMES = ("fleet database", "fleet schema", "fleet grants", "fleet clock")


def check_fleet(ctx: CheckContext) -> list[CheckResult]:
    """No result without store.url (the embedded SQLite store is checked elsewhere)."""
    settings = ctx.settings
    if settings is None or not settings.store.url:
        return []
    import psycopg

    from kiosk.store.pg_connect import connect_info

    s = settings.store
    try:
        info = connect_info(
            s.url, password_file=s.password_file,
            credentials_directory=settings.tenant.credentials_directory
            or ctx.env.get("CREDENTIALS_DIRECTORY", ""),
        )
    except KioskError as exc:
        return _all_skipped(CheckResult(NAMES[0], "fail", exc.detail, exc.next_step))
    kwargs: dict[str, Any] = dict(info.params)
    if info.password is not None:
        kwargs["password"] = info.password
    try:
        conn = psycopg.connect("", **kwargs)
    except psycopg.OperationalError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        return _all_skipped(CheckResult(
            NAMES[0], "fail", f"{info.describe()}: {first}",
            "Check store.url (host, user, sslrootcert), the password file or client "
            "certificate, the network, and the server's pg_hba.conf.",
        ))
    with conn:
        return [
            _connection(conn, info.describe(), info.local),
            _schema(conn), _grants(conn), _clock(conn, ctx.now()),
        ]


def _all_skipped(first: CheckResult) -> list[CheckResult]:
    return [first] + [CheckResult(n, "skip", "not checked: no connection.") for n in NAMES[1:]]


def _connection(conn: Any, where: str, local: bool) -> CheckResult:
    row = conn.execute(
        "SELECT ssl, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
    ).fetchone()
    if row and row[0]:
        return CheckResult(
            NAMES[0], "ok", f"{where}: TLS {row[1]} ({row[2]}), server certificate verified."
        )
    if local:
        return CheckResult(NAMES[0], "ok", f"{where}: local socket (no network, no TLS).")
    return CheckResult(
        NAMES[0], "fail", f"{where}: connected without TLS.",
        "Use sslmode=verify-full with sslrootcert in store.url and hostssl in pg_hba.conf.",
    )


def _schema(conn: Any) -> CheckResult:
    from kiosk.store.migrations import LATEST
    from kiosk.store.migrations_pg import schema_version_pg

    try:
        version = schema_version_pg(conn)
    except Exception as exc:  # permission denied, ...
        return CheckResult(NAMES[1], "fail", f"cannot read kiosk_schema ({type(exc).__name__}).",
                           "Grant the station SELECT on kiosk_schema (kiosk fleet grants).")
    if version == LATEST:
        return CheckResult(NAMES[1], "ok", f"schema version {version}, as this kiosk expects.")
    if version > LATEST:
        return CheckResult(NAMES[1], "fail", f"schema version {version}; this kiosk knows "
                           f"up to {LATEST}.", "Update this station's kiosk software.")
    return CheckResult(
        NAMES[1], "fail", f"schema version {version}; this kiosk needs {LATEST}.",
        "Run `kiosk fleet migrate` with the owner's URL, then `kiosk fleet grants` again.",
    )


def _grants(conn: Any) -> CheckResult:
    from kiosk.store.grants import FORBIDDEN, STATION

    missing, extra = [], []
    for table, privileges in STATION.items():
        for p in privileges:
            if not _has(conn, table, p):
                missing.append(f"{p} on {table}")
    for table, privileges in FORBIDDEN.items():
        extra += [f"{p} on {table}" for p in privileges if _has(conn, table, p)]
    if missing:
        return CheckResult(NAMES[2], "fail", "the station's role lacks " + ", ".join(missing),
                           "Run the SQL of `kiosk fleet grants --role <station role>` as owner.")
    if extra:
        return CheckResult(
            NAMES[2], "warn",
            "the station's role may also " + ", ".join(extra)
            + ": a station could change the audit copy or read sealed PINs.",
            "Sign stations in with a role that has only `kiosk fleet grants` (not the owner).",
        )
    return CheckResult(NAMES[2], "ok", "the station's role has what it needs and no more.")


def _has(conn: Any, table: str, privilege: str) -> bool:
    row = conn.execute(
        "SELECT CASE WHEN to_regclass(%s) IS NULL THEN false"
        " ELSE has_table_privilege(%s, %s) END",
        (table, table, privilege),
    ).fetchone()
    return bool(row[0])


def _clock(conn: Any, now: datetime) -> CheckResult:
    server = conn.execute("SELECT now()").fetchone()[0]
    skew = abs((server - now).total_seconds())
    if skew <= MAX_SKEW_SECONDS:
        return CheckResult(NAMES[3], "ok", f"within {skew:.1f} s of the database's clock.")
    return CheckResult(
        NAMES[3], "fail", f"{skew:.0f} s away from the database's clock; claims would expire "
        "early or late.", "Run time synchronisation (systemd-timesyncd or chrony).",
    )
