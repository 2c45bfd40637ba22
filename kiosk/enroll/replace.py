"""Replace mode: the user's existing FIDO2 methods are deleted, after the operator confirms, and
only once the new key is registered. Each deletion is journaled before it is sent, claimed in
the store so that one station sends it, once, and audited with its Graph calls."""

from __future__ import annotations

from kiosk.enroll.control import EntryOver
from kiosk.enroll.dialog import Dialog
from kiosk.enroll.events import Prompt
from kiosk.enroll.ports import ENTRA_ERRORS, Graph
from kiosk.enroll.recorder import Recorder
from kiosk.entra.calls import GraphCalls
from kiosk.entra.errors import GraphNotFoundError
from kiosk.model.codec import same_method_id
from kiosk.model.steps import Step
from kiosk.store.inventory import DeletionState
from kiosk.store.queue import Queue, QueueEntry

REPLACING = "replace mode"
"""The reason journaled with replace mode's deletions."""


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
    """Replace mode: delete the old methods. Each DELETE is journaled first and claimed in
    the store, so neither another station finishing the same replacement nor a retry or a
    resume sends it twice; replace mode ends here only when no deletion is left to another
    station. Graph trouble: the operator retries through the ``dialog``; without one
    (recovery, nobody to ask), the error is raised."""
    left_elsewhere = False
    for method_id in method_ids:
        deletion_id, claim = recorder.store.inventory.claim_deletion(
            user_id=entry.user_id, upn=entry.upn, method_id=method_id,
            reason=REPLACING, operator=recorder.operator,
        )
        if claim in ("elsewhere", "done"):
            left_elsewhere = left_elsewhere or claim == "elsewhere"
            continue
        with GraphCalls() as calls:
            state = _delete_once(dialog, graph, entry, method_id, check=claim == "resume")
        recorder.store.inventory.deletion_done(deletion_id, state)
        recorder.method_deleted(entry, method_id, calls.calls)
    if not left_elsewhere:
        queue.clear_replace(entry.entry_id)


def _delete_once(
    dialog: Dialog | None, graph: Graph, entry: QueueEntry, method_id: str, *, check: bool
) -> DeletionState:
    """One DELETE of ``method_id``; ``check``: it may have been sent already (an earlier try
    whose answer was lost), so Graph's list decides first whether it is still there."""
    while True:
        try:
            if check and not any(
                same_method_id(m.id, method_id) for m in graph.list_fido2_methods(entry.user_id)
            ):
                return "deleted"  # the earlier DELETE was carried out
            graph.delete_fido2_method(entry.user_id, method_id)
            return "deleted"
        except GraphNotFoundError:
            return "gone"  # already gone (or the user is)
        except ENTRA_ERRORS as exc:
            if dialog is None:
                raise
            dialog.graph_trouble(exc)
            check = True  # the DELETE may have reached Entra before the trouble
