"""Where queue entries come from: an Entra group, a CSV file of UPNs, or one typed UPN.

Users are resolved against Graph before they enter the queue (so the queue holds object ids);
a user Graph does not know is reported as an :class:`ImportProblem`, never silently dropped.
A CSV's users are looked up together (:meth:`~kiosk.entra.graph.GraphClient.get_users`: 20
per Graph ``$batch`` round trip); each problem still names its line.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from kiosk.enroll.csv_source import parse_upn_csv
from kiosk.enroll.ports import ENTRA_ERRORS, Graph
from kiosk.entra.errors import GraphNotFoundError
from kiosk.entra.models import User
from kiosk.errors import KioskError
from kiosk.model.queue import ImportProblem, ImportReport
from kiosk.store.queue import NewUser, Queue


def _problem(found: KioskError) -> str:
    """Why a user could not be queued, in the import report's words."""
    if isinstance(found, GraphNotFoundError):
        return "no such user in Entra ID"
    return f"could not be looked up ({found.title}: {found.detail})"


def _resolve(graph: Graph, upn: str) -> User | str:
    """The user, or why not (a problem text)."""
    try:
        return graph.get_user(upn)
    except ENTRA_ERRORS as exc:
        return _problem(exc)


def _queue(
    queue: Queue,
    users: Iterable[User],
    *,
    keys: int,
    replace: bool,
    source: str,
) -> tuple[int, int]:
    return queue.add(
        (NewUser(u.user_principal_name, u.id, u.display_name) for u in users),
        keys_wanted=keys,
        replace=replace,
        source=source,
    )


def add_user(
    graph: Graph, queue: Queue, upn: str, *, keys_per_user: int, replace: bool
) -> ImportReport:
    text = upn.strip()
    found = _resolve(graph, text) if text else "empty user name"
    if isinstance(found, str):
        return ImportReport(f"UPN {text}", 0, 0, (ImportProblem(None, text, found),))
    added, already = _queue(queue, [found], keys=keys_per_user, replace=replace, source="upn")
    return ImportReport(f"UPN {text}", added, already)


def import_csv(
    graph: Graph, queue: Queue, path: Path, *, keys_per_user: int, replace: bool
) -> ImportReport:
    rows, parse_problems = parse_upn_csv(path)
    problems: list[ImportProblem] = list(parse_problems)
    resolved = graph.get_users([r.upn for r in rows]) if rows else {}
    by_keys: dict[int, list[User]] = {}
    for row in rows:
        found = resolved[row.upn]
        if not isinstance(found, User):
            problems.append(ImportProblem(row.line, row.upn, _problem(found)))
            continue
        by_keys.setdefault(row.keys or keys_per_user, []).append(found)
    added = already = 0
    for keys, users in by_keys.items():
        a, b = _queue(queue, users, keys=keys, replace=replace, source=f"csv:{path.name}")
        added += a
        already += b
    problems.sort(key=lambda p: (p.line or 0, p.value))
    return ImportReport(f"CSV {path.name}", added, already, tuple(problems))


def sync_group(graph: Graph, queue: Queue, name_or_id: str, *, keys_per_user: int) -> ImportReport:
    try:
        group = graph.find_group(name_or_id)
        users = list(graph.iter_group_users(group.id))
    except ENTRA_ERRORS as exc:
        reason = f"{exc.title}: {exc.detail}"
        return ImportReport(f"group {name_or_id}", 0, 0, (ImportProblem(None, name_or_id, reason),))
    added, already = _queue(
        queue, users, keys=keys_per_user, replace=False, source=f"group:{group.id}"
    )
    return ImportReport(f"group {group.display_name}", added, already)
