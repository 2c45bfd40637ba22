"""Replace mode: the user's existing FIDO2 methods are deleted, after the operator confirms, and
only once the new key is registered. Each deletion is audited with its Graph calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kiosk.enroll import steps
from kiosk.enroll.control import EntryOver
from kiosk.enroll.events import Prompt, Step
from kiosk.enroll.ports import ENTRA_ERRORS
from kiosk.entra.calls import GraphCalls
from kiosk.entra.errors import GraphNotFoundError
from kiosk.store.queue import QueueEntry

if TYPE_CHECKING:
    from kiosk.enroll.engine import Engine


def confirm_replace(eng: Engine, entry: QueueEntry) -> list[str]:
    """Replace mode: the ids of the methods to delete once the new key is registered."""
    while True:
        try:
            methods = list(eng.graph.list_fido2_methods(entry.user_id))
            break
        except ENTRA_ERRORS as exc:
            steps.graph_trouble(eng, exc)
    if not methods:
        eng.store.queue.clear_replace(entry.entry_id)
        return []
    names = ", ".join(m.display_name or m.id for m in methods[:3])
    eng.prompt(
        Prompt.CONFIRM_REPLACE,
        f"{entry.upn} has {len(methods)} security key(s) ({names}). Delete them once the new "
        "key is registered?",
    )
    answer = steps.wait_command(eng, {"confirm_replace"}, key_path=None)
    if not answer.value:
        raise EntryOver(
            Step.SKIPPED,
            "replacing the existing security keys was not confirmed",
            "Queue the user again without replace mode, or confirm the replacement.",
        )
    return [m.id for m in methods]


def delete_methods(
    eng: Engine, entry: QueueEntry, method_ids: list[str], *, interactive: bool = True
) -> None:
    """Replace mode: delete the old methods (Graph trouble: the operator retries, or, when
    not ``interactive``, the error is raised)."""
    for method_id in method_ids:
        with GraphCalls() as calls:
            while True:
                try:
                    eng.graph.delete_fido2_method(entry.user_id, method_id)
                    break
                except GraphNotFoundError:
                    break  # already gone
                except ENTRA_ERRORS as exc:
                    if not interactive:
                        raise
                    steps.graph_trouble(eng, exc)
        eng.recorder.method_deleted(entry, method_id, calls.calls)
    eng.store.queue.clear_replace(entry.entry_id)
