"""Where queue entries come from: an Entra group, a CSV file of UPNs, or one typed UPN.

Users are resolved against Graph before they enter the queue (so the queue holds object ids);
a user Graph does not know is reported as an :class:`ImportProblem`, never silently dropped.
A CSV's users are looked up together (:meth:`~kiosk.entra.graph.GraphClient.get_users`: 20
per Graph ``$batch`` round trip); each problem still names its line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from kiosk.enroll.csv_source import MAX_ROWS, parse_upn_csv
from kiosk.enroll.ports import ENTRA_ERRORS, Graph
from kiosk.entra.errors import GraphNotFoundError
from kiosk.entra.models import User
from kiosk.errors import KioskError
from kiosk.model.queue import ImportProblem, ImportReport
from kiosk.store.queue import NewUser, Queue


class PostalBook(Protocol):
    """Keeps queued users' addresses for the shipping labels (:mod:`kiosk.paper.book`)."""

    def keep(
        self, users: Sequence[User], source: str, given: Mapping[str, Mapping[str, str]]
    ) -> list[tuple[User, str]]:
        """Store each user's address (``given``: a CSV's values by user id, over Graph's);
        return the users whose address the batch's labels cannot use, and why."""
        ...


def _warnings(
    postal: PostalBook | None, users: Sequence[User], source: str,
    given: Mapping[str, Mapping[str, str]] | None = None, lines: Mapping[str, int] | None = None,
) -> tuple[ImportProblem, ...]:
    if postal is None:
        return ()
    found = postal.keep(users, source, given or {})
    return tuple(
        ImportProblem((lines or {}).get(u.id), u.user_principal_name, why) for u, why in found
    )


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
    graph: Graph, queue: Queue, upn: str, *, keys_per_user: int, replace: bool,
    postal: PostalBook | None = None,
) -> ImportReport:
    text = upn.strip()
    found = _resolve(graph, text) if text else "empty user name"
    if isinstance(found, str):
        return ImportReport(f"UPN {text}", 0, 0, (ImportProblem(None, text, found),))
    added, already = _queue(queue, [found], keys=keys_per_user, replace=replace, source="upn")
    return ImportReport(f"UPN {text}", added, already, (), _warnings(postal, [found], "upn"))


def import_csv(
    graph: Graph, queue: Queue, path: Path, *, keys_per_user: int, replace: bool,
    postal: PostalBook | None = None, max_rows: int = MAX_ROWS,
    progress: Callable[[int], bool] | None = None,
) -> ImportReport:
    rows, parse_problems = parse_upn_csv(path, max_rows=max_rows, progress=progress)
    problems: list[ImportProblem] = list(parse_problems)
    resolved = graph.get_users([r.upn for r in rows]) if rows else {}
    by_keys: dict[int, list[User]] = {}
    given: dict[str, dict[str, str]] = {}
    lines: dict[str, int] = {}
    for row in rows:
        found = resolved[row.upn]
        if not isinstance(found, User):
            problems.append(ImportProblem(row.line, row.upn, _problem(found)))
            continue
        by_keys.setdefault(row.keys or keys_per_user, []).append(found)
        given[found.id], lines[found.id] = dict(row.postal), row.line
    added = already = 0
    for keys, users in by_keys.items():
        a, b = _queue(queue, users, keys=keys, replace=replace, source=f"csv:{path.name}")
        added += a
        already += b
    problems.sort(key=lambda p: (p.line or 0, p.value))
    queued = [u for users in by_keys.values() for u in users]
    warned = _warnings(postal, queued, f"csv:{path.name}", given, lines)
    return ImportReport(
        f"CSV {path.name}", added, already, tuple(problems),
        tuple(sorted(warned, key=lambda p: p.line or 0)),
    )


def sync_group(
    graph: Graph, queue: Queue, name_or_id: str, *, keys_per_user: int,
    postal: PostalBook | None = None,
) -> ImportReport:
    try:
        group = graph.find_group(name_or_id)
        users = list(graph.iter_group_users(group.id))
    except ENTRA_ERRORS as exc:
        reason = f"{exc.title}: {exc.detail}"
        return ImportReport(f"group {name_or_id}", 0, 0, (ImportProblem(None, name_or_id, reason),))
    added, already = _queue(
        queue, users, keys=keys_per_user, replace=False, source=f"group:{group.id}"
    )
    warned = _warnings(postal, users, f"group:{group.id}")
    return ImportReport(f"group {group.display_name}", added, already, (), warned)
