"""Replace mode: the user's existing FIDO2 methods are deleted, after the operator confirms, and
only once the new key is registered. Each deletion is audited with its Graph calls."""

from __future__ import annotations

from kiosk.enroll.control import EntryOver
from kiosk.enroll.dialog import Dialog
from kiosk.enroll.events import Prompt
from kiosk.enroll.ports import ENTRA_ERRORS, Graph
from kiosk.enroll.recorder import Recorder
from kiosk.entra.calls import GraphCalls
from kiosk.entra.errors import GraphNotFoundError
from kiosk.model.steps import Step
from kiosk.store.queue import Queue, QueueEntry


def confirm_replace(dialog: Dialog, graph: Graph, queue: Queue, entry: QueueEntry) -> list[str]:
    """Replace mode: the ids of the methods to delete once the new key is registered."""
    while True:
        try:
            methods = list(graph.list_fido2_methods(entry.user_id))
            break
        except ENTRA_ERRORS as exc:
            dialog.graph_trouble(exc)
    if not methods:
        queue.clear_replace(entry.entry_id)
        return []
    names = ", ".join(m.display_name or m.id for m in methods[:3])
    dialog.prompt(
        Prompt.CONFIRM_REPLACE,
        f"{entry.upn} has {len(methods)} security key(s) ({names}). Delete them once the new "
        "key is registered?",
    )
    answer = dialog.wait_command({"confirm_replace"}, key_path=None)
    if not answer.value:
        raise EntryOver(
            Step.SKIPPED,
            "replacing the existing security keys was not confirmed",
            "Queue the user again without replace mode, or confirm the replacement.",
        )
    return [m.id for m in methods]


def delete_methods(
    dialog: Dialog | None,
    graph: Graph,
    recorder: Recorder,
    queue: Queue,
    entry: QueueEntry,
    *,
    method_ids: list[str],
) -> None:
    """Replace mode: delete the old methods. Graph trouble: the operator retries through the
    ``dialog``; without one (recovery, nobody to ask), the error is raised."""
    for method_id in method_ids:
        with GraphCalls() as calls:
            while True:
                try:
                    graph.delete_fido2_method(entry.user_id, method_id)
                    break
                except GraphNotFoundError:
                    break  # already gone
                except ENTRA_ERRORS as exc:
                    if dialog is None:
                        raise
                    dialog.graph_trouble(exc)
        recorder.method_deleted(entry, method_id, calls.calls)
    queue.clear_replace(entry.entry_id)
