"""Where queue entries come from: an Entra group, a CSV file of UPNs, or one typed UPN.

Users are resolved against Graph before they enter the queue (so the queue holds object ids);
a user Graph does not know is reported as an :class:`ImportProblem`, never silently dropped.
A CSV's users are looked up together (:meth:`~kiosk.entra.graph.GraphClient.get_users`: 20
per Graph ``$batch`` round trip); each problem still names its line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from kiosk.enroll.csv_source import MAX_ROWS, PROGRESS_EVERY, ImportCancelled, parse_upn_csv
from kiosk.enroll.ports import ENTRA_ERRORS, Graph
from kiosk.enroll.settle import Settled, settle
from kiosk.entra.errors import GraphNotFoundError
from kiosk.entra.models import User
from kiosk.errors import KioskError
from kiosk.model.queue import ImportProblem, ImportProgress, ImportReport
from kiosk.store.queue import Queue

ImportProgressFn = Callable[[ImportProgress], bool]
"""Told how far a CSV import has come; returning False stops it at its next safe point."""


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


def _report(name: str, done: Settled, problems: Sequence[ImportProblem] = (),
            warnings: Sequence[ImportProblem] = ()) -> ImportReport:
    return ImportReport(name, done.added, done.already, tuple(problems), tuple(warnings),
                        tuple(done.rows), len(done.requeued))


def add_user(
    graph: Graph, queue: Queue, upn: str, *, keys_per_user: int, replace: bool,
    postal: PostalBook | None = None, requeue: bool = False,
) -> tuple[ImportReport, Settled]:
    text = upn.strip()
    found = _resolve(graph, text) if text else "empty user name"
    if isinstance(found, str):
        return _report(f"UPN {text}", Settled(), (ImportProblem(None, text, found),)), Settled()
    done = settle(queue, [found], keys=keys_per_user, replace=replace, source="upn",
                  requeue=requeue)
    return _report(f"UPN {text}", done, (), _warnings(postal, [found], "upn")), done


class _LookUps:
    """Tells an import's ``progress`` every thousand users looked up; remembers a stop."""

    def __init__(self, progress: ImportProgressFn, rows_read: int, total: int) -> None:
        self.progress, self.rows_read, self.total = progress, rows_read, total
        self.told = -1
        self.going = True

    def __call__(self, done: int, *, last: bool = False) -> bool:
        same = done // PROGRESS_EVERY == self.told // PROGRESS_EVERY
        if not self.going or done == self.told or (same and not last):
            return self.going
        self.told = done
        self.going = self.progress(ImportProgress(self.rows_read, done, self.total))
        return self.going

    def stopped(self) -> ImportCancelled:
        return ImportCancelled(
            f"stopped after {self.told:,} of {self.total:,} users were looked up in "
            "Entra ID; nothing was queued."
        )


def _look_up(
    graph: Graph, upns: list[str], rows_read: int, progress: ImportProgressFn | None
) -> Mapping[str, User | KioskError]:
    """Each UPN's user, or why not. ``progress`` is told before the first lookup, every
    thousand, and once all are answered, before anything is queued: a stop at any of these
    raises :class:`ImportCancelled`."""
    if progress is None:
        return graph.get_users(upns)
    told = _LookUps(progress, rows_read, len(upns))
    if not told(0):
        raise told.stopped()
    found = graph.get_users(upns, progress=told)
    if not told(len(found), last=True) or len(found) < len(upns):
        raise told.stopped()
    return found


def import_csv(
    graph: Graph, queue: Queue, path: Path, *, keys_per_user: int, replace: bool,
    postal: PostalBook | None = None, max_rows: int = MAX_ROWS,
    progress: ImportProgressFn | None = None, requeue: bool = False,
) -> tuple[ImportReport, Settled]:
    def reading(rows_read: int) -> bool:
        return progress is None or progress(ImportProgress(rows_read))

    rows, parse_problems = parse_upn_csv(path, max_rows=max_rows, progress=reading)
    problems: list[ImportProblem] = list(parse_problems)
    upns = [r.upn for r in rows]
    resolved = _look_up(graph, upns, len(rows) + len(problems), progress) if rows else {}
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
    done = Settled()
    for keys, users in by_keys.items():
        settle(queue, users, keys=keys, replace=replace, source=f"csv:{path.name}",
               requeue=requeue, into=done)
    problems.sort(key=lambda p: (p.line or 0, p.value))
    queued = [u for users in by_keys.values() for u in users]
    warned = _warnings(postal, queued, f"csv:{path.name}", given, lines)
    warned = tuple(sorted(warned, key=lambda p: p.line or 0))
    return _report(f"CSV {path.name}", done, problems, warned), done


def sync_group(
    graph: Graph, queue: Queue, name_or_id: str, *, keys_per_user: int,
    postal: PostalBook | None = None, requeue: bool = False,
) -> tuple[ImportReport, Settled]:
    try:
        group = graph.find_group(name_or_id)
        users = list(graph.iter_group_users(group.id))
    except ENTRA_ERRORS as exc:
        reason = f"{exc.title}: {exc.detail}"
        problem = ImportProblem(None, name_or_id, reason)
        return _report(f"group {name_or_id}", Settled(), (problem,)), Settled()
    done = settle(queue, users, keys=keys_per_user, replace=False, source=f"group:{group.id}",
                  requeue=requeue)
    warned = _warnings(postal, users, f"group:{group.id}")
    return _report(f"group {group.display_name}", done, (), warned), done
