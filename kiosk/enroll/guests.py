"""B2B guests (``#EXT#`` accounts): enrolled, asked about or refused by ``policy.guests``.

A guest's UPN is ``alice_contoso.com#EXT#@fabrikam.onmicrosoft.com``: the part before
``#EXT#``, with its last ``_`` read as ``@``, is the address at home; its domain names the
home tenant. The question and the refusal name the person and that home tenant.
"""

from __future__ import annotations

from kiosk.enroll.control import EntryOver
from kiosk.enroll.dialog import Dialog
from kiosk.enroll.events import Prompt
from kiosk.model.steps import Step
from kiosk.model.text import clean
from kiosk.store.queue import QueueEntry

MARK = "#ext#"


def home_tenant(upn: str) -> str | None:
    """The guest's home domain (None: not a guest; "another tenant" when unreadable)."""
    at = upn.lower().find(MARK)
    if at < 0:
        return None
    local = upn[:at]
    home = local.rsplit("_", 1)[1] if "_" in local else ""
    return clean(home) or "another tenant"


def check_guest(dialog: Dialog, policy: str, entry: QueueEntry) -> None:
    """Allow, ask (the operator answers Y/N) or refuse a guest; nothing for a member."""
    home = home_tenant(entry.upn)
    if home is None or policy == "allow":
        return
    who = f"{clean(entry.display_name) or clean(entry.upn)}, a guest from {home}"
    if policy == "refuse":
        raise EntryOver(
            Step.SKIPPED, f"{who}: guest accounts are refused here (policy.guests = refuse)",
            "Have the person enrolled by their home organisation, or set policy.guests to ask.",
        )
    dialog.prompt(
        Prompt.CONFIRM_GUEST,
        f"{who} (B2B guest account). A key enrolled here signs in to this tenant only.",
    )
    answer = dialog.wait_command({"confirm_guest"}, key_path=None)
    if not answer.value:
        raise EntryOver(
            Step.SKIPPED, f"{who}: enrolling a guest was not confirmed",
            "Requeue the user from the queue screen (U) to be asked again.",
        )
