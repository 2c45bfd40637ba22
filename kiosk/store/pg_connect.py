"""How a station connects to the fleet's PostgreSQL: the URL checked, the password found.

Rules (the admin guide's fleet section says the same):

- ``store.url`` never holds a password. It comes from ``store.password_file`` (mode 0600, owned
  by the kiosk user), or from the systemd credential ``kiosk-db-password``
  (``LoadCredential=``), or not at all when the station signs in with a client certificate
  (``sslcert`` / ``sslkey`` in the URL) or over the local socket.
- Over the network, TLS with certificate and host name verification: ``sslmode=verify-full``
  (the default the kiosk sets when the URL names none). Any weaker ``sslmode`` is refused.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.errors import ConfigError, SecretFileError

PASSWORD_CREDENTIAL = "kiosk-db-password"  # noqa: S105 - a file name
"""The systemd credential holding the database password."""
STRONG_SSLMODE = "verify-full"


@dataclass(frozen=True)
class ConnectInfo:
    """The libpq parameters of one station, and its password (never shown)."""

    params: dict[str, str]
    password: str | None = field(default=None, repr=False)

    @property
    def local(self) -> bool:
        host = self.params.get("host", "")
        return not host or host.startswith("/")

    def describe(self) -> str:
        """host:port/dbname as user, for messages."""
        p = self.params
        where = "local socket" if self.local else f"{p.get('host')}:{p.get('port', '5432')}"
        return f"postgresql {where}/{p.get('dbname', '')} as {p.get('user', '')}".strip()


def _parse(url: str) -> dict[str, str]:
    from psycopg.conninfo import conninfo_to_dict

    try:
        raw: dict[str, Any] = conninfo_to_dict(url)
    except Exception as exc:
        # The message may quote the URL; say only what kind of problem it is.
        raise ConfigError(
            f"store.url is not a valid PostgreSQL URL ({type(exc).__name__})."
        ) from None
    return {k: str(v) for k, v in raw.items() if v is not None}


def _read_private(path: Path) -> bytes:
    """The password file's bytes; refused when group or others may read it, or someone other
    than the kiosk user (or root) owns it."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise SecretFileError(f"The database password file {path} is not a regular file.")
        if stat.S_IMODE(st.st_mode) & 0o077 or st.st_uid not in (os.geteuid(), 0):
            raise SecretFileError(
                f"The database password file {path} can be read by others or belongs to "
                f"someone else (mode {stat.S_IMODE(st.st_mode):04o}).",
                next_step=f"Run: chown <kiosk user> {path} && chmod 600 {path}",
            )
        return path.read_bytes()
    except OSError as exc:
        raise SecretFileError(
            f"The database password file {path} cannot be read "
            f"({exc.strerror or type(exc).__name__}).",
            next_step=f"Put it at {path} (owned by the kiosk user, mode 0600) or fix "
            "store.password_file.",
        ) from None


def _password(password_file: str, credentials_directory: str) -> str | None:
    directory = credentials_directory or os.environ.get("CREDENTIALS_DIRECTORY", "")
    if password_file:
        path = Path(password_file)
        if not path.is_absolute() and directory:
            path = Path(directory) / path
    elif directory and (Path(directory) / PASSWORD_CREDENTIAL).exists():
        path = Path(directory) / PASSWORD_CREDENTIAL
    else:
        return None
    text = _read_private(path).decode("utf-8", "replace")
    return text.strip("\r\n") or None


def connect_info(
    url: str, *, password_file: str = "", credentials_directory: str = "", station: str = ""
) -> ConnectInfo:
    """Check ``store.url`` and gather what libpq needs to connect."""
    params = _parse(url)
    if "password" in params:
        raise ConfigError(
            "store.url holds a password. Remove it from the URL and put it in the file named "
            f"by store.password_file (mode 0600) or in the systemd credential "
            f"{PASSWORD_CREDENTIAL}."
        )
    if "passfile" in params:
        raise ConfigError("store.url names a passfile; use store.password_file instead.")
    info = ConnectInfo(params)
    if not info.local:
        mode = params.setdefault("sslmode", STRONG_SSLMODE)
        if mode != STRONG_SSLMODE:
            raise ConfigError(
                f"store.url asks for sslmode={mode}: the kiosk talks to a database over the "
                f"network only with TLS and a verified certificate (sslmode={STRONG_SSLMODE}, "
                "with sslrootcert naming the CA of the server's certificate)."
            )
    params.setdefault("connect_timeout", "5")
    params.setdefault("application_name", f"fido-kiosk {station}".strip()[:63])
    params.setdefault("keepalives_idle", "15")
    return ConnectInfo(params, _password(password_file, credentials_directory))
