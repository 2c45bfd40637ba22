"""The fake tenant kept on disk (``FakeTenant(keep=True)``, ``kiosk demo --state-dir``), so a
demo killed with ``kill -9`` and started again finds the tenant as Entra would: the same
tenant and app ids, users and their ids, groups, other objects, registered FIDO2 methods,
issued challenges (a credential made before the kill is still registered after it), app
registrations and the attestation roots it trusts. The CA, TLS and app certificates stay in
their PEM files beside it (:func:`kiosk.entra.fake.pki.load_or_create_pki`).

One JSON file, ``tenant.json``, written all or nothing (:func:`kiosk.durable.atomic_write`,
mode 0600) before the answer that changed it leaves the server. Bearer tokens are not kept:
they are opaque and the kiosk that held them died with the tenant.

A file that cannot be read back (edited, truncated, hostile) raises :class:`SnapshotError`
naming the file and what to do; nothing of it is trusted further.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from kiosk.durable import atomic_write
from kiosk.entra.fake.state import (
    AppRegistration,
    Challenge,
    DirectoryGroup,
    DirectoryObject,
    DirectoryUser,
    MethodRecord,
    TenantState,
)

SNAPSHOT_NAME = "tenant.json"
FORMAT = 1
MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024
T = TypeVar("T")


class SnapshotError(ValueError):
    """A file the demo kept cannot be used; the message names it and what to do."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object) -> bytes:
    if not isinstance(text, str):
        raise TypeError("not base64 text")
    return base64.b64decode(text, validate=True)


def dump(
    state: TenantState, *, client_id: str, client_secret: str, trust_roots: list[bytes]
) -> bytes:
    """The whole tenant as JSON bytes (taken under the state's lock)."""
    with state.lock:
        doc: dict[str, Any] = {
            "format": FORMAT,
            "tenant_id": state.tenant_id,
            "domain": state.domain,
            "client_id": client_id,
            "client_secret": client_secret,
            "id_spelling": state.id_spelling,
            "user_spellings": dict(state.user_spellings),
            "users": [_user(u) for u in state.users.values()],
            "groups": [
                {"id": g.id, "display_name": g.display_name, "members": list(g.members),
                 "description": g.description}
                for g in state.groups.values()
            ],
            "objects": [
                {"id": o.id, "odata_type": o.odata_type, "display_name": o.display_name}
                for o in state.objects.values()
            ],
            "methods": [_method(m) for ms in state.methods.values() for m in ms],
            "challenges": [
                {"value": _b64(c.value), "user_id": c.user_id,
                 "issued_at": c.issued_at.isoformat(), "expires_at": c.expires_at.isoformat(),
                 "used": c.used}
                for c in state.challenges.values()
            ],
            "apps": [_app(a) for a in state.apps.values()],
            "trust_roots": [_b64(r) for r in trust_roots],
        }
    return json.dumps(doc, sort_keys=True).encode("utf-8")


def _user(u: DirectoryUser) -> dict[str, Any]:
    return {
        "id": u.id, "upn": u.user_principal_name, "display_name": u.display_name,
        "mail": u.mail, "given_name": u.given_name, "surname": u.surname,
        "job_title": u.job_title, "user_type": u.user_type,
        "account_enabled": u.account_enabled, "postal": dict(u.postal),
    }


def _method(m: MethodRecord) -> dict[str, Any]:
    return {
        "id": m.id, "user_id": m.user_id, "credential_id": _b64(m.credential_id),
        "display_name": m.display_name, "aaguid": m.aaguid, "model": m.model,
        "attestation_level": m.attestation_level, "attestation_format": m.attestation_format,
        "attestation_certificates": list(m.attestation_certificates),
        "created": m.created.isoformat(), "public_key": _b64(m.public_key),
    }


def _app(a: AppRegistration) -> dict[str, Any]:
    return {
        "client_id": a.client_id, "display_name": a.display_name,
        "secrets": [[value, expiry.isoformat()] for value, expiry in a.secrets],
        "certificates": [_b64(c) for c in a.certificates],
        "admin_consent": a.admin_consent, "roles": list(a.roles),
    }


class Restored:
    """What :func:`load` read back: the tenant's directory and its credentials."""

    def __init__(
        self, state: TenantState, client_id: str, client_secret: str, trust_roots: list[bytes]
    ) -> None:
        self.state = state
        self.client_id = client_id
        self.client_secret = client_secret
        self.trust_roots = trust_roots


def load(path: Path) -> Restored | None:
    """The tenant kept in ``path`` (None if there is none yet); :class:`SnapshotError` if the
    file is not one this fake wrote."""
    try:
        if path.is_symlink() or (path.exists() and not path.is_file()):
            raise SnapshotError(_bad(path, "it is not a plain file"))
        if not path.exists():
            return None
        if path.stat().st_size > MAX_SNAPSHOT_BYTES:
            raise SnapshotError(_bad(path, "it is far too large"))
        doc = json.loads(path.read_bytes().decode("utf-8"))
        return _restore(doc)
    except SnapshotError:
        raise
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError, IndexError,
            AttributeError, RecursionError, binascii.Error) as exc:
        raise SnapshotError(_bad(path, _why(exc))) from None


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return f"it cannot be read ({exc.strerror or type(exc).__name__})"
    if isinstance(exc, json.JSONDecodeError):
        return f"it is not valid JSON (line {exc.lineno})"
    return "its contents are not what the demo wrote"


def _bad(path: Path, why: str) -> str:
    return (
        f"The demo's kept file {path} cannot be used: {why}. Delete the state directory "
        f"{path.parent.parent} (or give another --state-dir) to start a fresh demo."
    )


def _field(doc: Mapping[str, Any], key: str, kind: type[T]) -> T:
    value = doc[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(key)
    return value


def _opt(doc: Mapping[str, Any], key: str) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise TypeError(key)
    return value


def _items(doc: Mapping[str, Any], key: str, make: Callable[[Mapping[str, Any]], T]) -> list[T]:
    return [make(_field({"x": item}, "x", dict)) for item in _field(doc, key, list)]


def _when(text: object) -> datetime:
    if not isinstance(text, str):
        raise TypeError("time")
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("time without zone")
    return value


def _restore(doc: object) -> Restored:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise TypeError("format")
    state = TenantState(_field(doc, "tenant_id", str), _field(doc, "domain", str))
    state.id_spelling = _field(doc, "id_spelling", str)
    spellings = _field(doc, "user_spellings", dict)
    state.user_spellings = {str(k): _field(spellings, k, str) for k in spellings}
    for u in _items(doc, "users", lambda d: d):
        postal = _field(u, "postal", dict)
        user = state.add_user(
            _field(u, "upn", str), _field(u, "display_name", str), user_id=_field(u, "id", str),
            mail=_opt(u, "mail"), user_type=_field(u, "user_type", str),
            postal={str(k): _opt(postal, k) for k in postal},
        )
        state.users[user.id] = DirectoryUser(
            id=user.id, user_principal_name=user.user_principal_name,
            display_name=user.display_name, mail=_opt(u, "mail"),
            given_name=_opt(u, "given_name"), surname=_opt(u, "surname"),
            job_title=_opt(u, "job_title"), user_type=user.user_type,
            account_enabled=_field(u, "account_enabled", bool), postal=user.postal,
        )
    for o in _items(doc, "objects", lambda d: d):
        obj = DirectoryObject(_field(o, "id", str), _field(o, "odata_type", str),
                              _field(o, "display_name", str))
        state.objects[obj.id] = obj
    groups = _items(doc, "groups", lambda d: d)
    for g in groups:
        state.groups[_field(g, "id", str)] = DirectoryGroup(
            _field(g, "id", str), _field(g, "display_name", str),
            description=_opt(g, "description"),
        )
    for g in groups:
        state.add_members(_field(g, "id", str), [str(m) for m in _field(g, "members", list)])
    for m in _items(doc, "methods", _method_of):
        if m.user_id not in state.users:
            raise KeyError("method of an unknown user")
        state.add_method(m)
    for c in _items(doc, "challenges", _challenge_of):
        state.challenges[c.value] = c
    for a in _items(doc, "apps", _app_of):
        state.add_app(a)
    roots = [_unb64(r) for r in _field(doc, "trust_roots", list)]
    client_id = _field(doc, "client_id", str)
    if client_id not in state.apps:
        raise KeyError("the kiosk's app registration is missing")
    return Restored(state, client_id, _field(doc, "client_secret", str), roots)


def _method_of(d: Mapping[str, Any]) -> MethodRecord:
    return MethodRecord(
        id=_field(d, "id", str), user_id=_field(d, "user_id", str),
        credential_id=_unb64(d["credential_id"]), display_name=_field(d, "display_name", str),
        aaguid=_field(d, "aaguid", str), model=_opt(d, "model"),
        attestation_level=_field(d, "attestation_level", str),
        attestation_format=_field(d, "attestation_format", str),
        attestation_certificates=tuple(
            str(c) for c in _field(d, "attestation_certificates", list)
        ),
        created=_when(d["created"]), public_key=_unb64(d["public_key"]),
    )


def _challenge_of(d: Mapping[str, Any]) -> Challenge:
    return Challenge(
        _unb64(d["value"]), _field(d, "user_id", str), _when(d["issued_at"]),
        _when(d["expires_at"]), _field(d, "used", bool),
    )


def _app_of(d: Mapping[str, Any]) -> AppRegistration:
    secrets = tuple(
        (str(_field({"s": s}, "s", list)[0]), _when(s[1])) for s in _field(d, "secrets", list)
    )
    return AppRegistration(
        client_id=_field(d, "client_id", str), display_name=_field(d, "display_name", str),
        secrets=secrets, certificates=tuple(_unb64(c) for c in _field(d, "certificates", list)),
        admin_consent=_field(d, "admin_consent", bool),
        roles=tuple(str(r) for r in _field(d, "roles", list)),
    )


def bad_file(path: Path, exc: BaseException) -> SnapshotError:
    """The error for a kept file beside the snapshot (a certificate or key) that is bad."""
    return SnapshotError(_bad(path, _why(exc)))


class Keeper:
    """Writes the tenant to ``path`` whenever it changed since the last write (one writer at
    a time: the server's connection threads all call :meth:`save`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._last = b""
        self._lock = threading.Lock()

    def save(self, data: Callable[[], bytes]) -> None:
        with self._lock:
            now = data()
            if now != self._last:
                atomic_write(self.path, now, 0o600)
                self._last = now
