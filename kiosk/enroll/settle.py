"""What an import does with each user it found, by what the queue already holds of them.

A new user is queued. A user already in the queue is named, not just counted: pending or
being enrolled ("already queued"); skipped or failed (put back with ``requeue``, else said
so); done ("already done", or, when the import asks for more keys than the user has, a
backup key queued: the entry is pending again for one more key).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kiosk.entra.models import User
from kiosk.store.queue import NewUser, Queue, QueueEntry


@dataclass
class Settled:
    added: int = 0
    already: int = 0
    rows: list[tuple[str, str]] = field(default_factory=list)
    requeued: list[tuple[QueueEntry, str]] = field(default_factory=list)
    """Entries put back in the queue and how (for the trail)."""


def settle(
    queue: Queue, users: Sequence[User], *, keys: int, replace: bool, source: str,
    requeue: bool = False, into: Settled | None = None,
) -> Settled:
    done = into if into is not None else Settled()
    fresh: list[User] = []
    for user in users:
        entry = queue.find(user.user_principal_name)
        if entry is None:
            fresh.append(user)
            continue
        outcome = _known(queue, entry, keys=keys, replace=replace, requeue=requeue)
        done.rows.append((entry.upn, outcome))
        if outcome in ("requeued", "backup key queued"):
            done.requeued.append((entry, outcome))
        else:
            done.already += 1
    added, raced = queue.add(
        (NewUser(u.user_principal_name, u.id, u.display_name) for u in fresh),
        keys_wanted=keys, replace=replace, source=source,
    )
    done.added += added
    done.already += raced  # queued by another station in between
    done.rows += [(u.user_principal_name, "queued") for u in fresh]
    return done


def _known(queue: Queue, entry: QueueEntry, *, keys: int, replace: bool, requeue: bool) -> str:
    if entry.status in ("skipped", "failed"):
        if requeue and queue.requeue(entry.entry_id):
            return "requeued"
        return f"{entry.status}, not requeued"
    if entry.status == "done":
        if keys > entry.keys_done and queue.replacement(entry.upn, entry.user_id,
                                                        replace=replace):
            return "backup key queued"
        return "already done"
    return "already queued"
