"""Register a journaled credential with Graph exactly once, even across lost answers and crashes.

``GraphClient.register_fido2_method`` already reconciles an answer lost in flight (it lists the
user's methods before sending again). This adds what only the engine knows: after a crash the
register call may have been sent by the previous run, so recovery looks first; and when Graph
stays unavailable beyond the client's own retries, the engine tries a few rounds more, always
looking before sending again.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from kiosk.enroll.ports import Graph
from kiosk.entra.errors import (
    GraphError,
    GraphThrottledError,
    NetworkError,
    PasskeyPolicyRefusedError,
)
from kiosk.entra.graph import find_registered
from kiosk.entra.models import Fido2Method
from kiosk.entra.passkey_policy import explain_refusal
from kiosk.errors import KioskError
from kiosk.model.keys import CreatedCredential

log = logging.getLogger("kiosk.enroll.registration")

ROUNDS = 3


def _worth_another_round(exc: GraphError) -> bool:
    return isinstance(exc, NetworkError | GraphThrottledError) or exc.status >= 500


def policy_refusal(
    graph: Graph, cred: CreatedCredential, exc: GraphError
) -> PasskeyPolicyRefusedError | None:
    """The tenant's passkey policy as the reason Graph refused ``cred``, when it explains it.

    Microsoft does not document the error text of a policy refusal, so the policy itself is
    read (best effort: it needs Policy.Read.AuthenticationMethod) and judged for this key.
    """
    if exc.status not in (400, 403) or "challenge" in f"{exc.code} {exc.message}".lower():
        return None
    try:
        policy = graph.fido2_policy()
    except KioskError as unreadable:
        log.info("the passkey policy could not be read to explain a refusal: %s", unreadable)
        return None
    why = explain_refusal(policy, cred.aaguid, in_metadata=True)
    if why is None and policy.attestation_anywhere:
        why = (
            "The tenant's passkey (FIDO2) policy enforces attestation; Entra may not have "
            "verified this key's attestation against the FIDO metadata."
        )
    if why is None:
        return None
    return exc.retyped(PasskeyPolicyRefusedError, f"{why} (Graph: HTTP {exc.status} {exc.code}.)")


def lookup(
    graph: Graph, user_id: str, display_name: str, cred: CreatedCredential, sent_at: datetime
) -> Fido2Method | None:
    return find_registered(list(graph.list_fido2_methods(user_id)), cred, display_name, sent_at)


def register_once(
    graph: Graph,
    user_id: str,
    display_name: str,
    cred: CreatedCredential,
    *,
    sent_at: datetime,
    maybe_sent: bool = False,
    backoff: float = 0.5,
    rounds: int = ROUNDS,
) -> Fido2Method:
    """Register ``cred`` for the user, never twice; raise the last GraphError if Graph won't.

    ``sent_at``: when the attempt began (matching a found method needs it). ``maybe_sent``: an
    earlier run may already have sent it (crash recovery), so look before sending.
    """
    look_first = maybe_sent
    for n in range(rounds):
        try:
            if look_first:
                found = lookup(graph, user_id, display_name, cred, sent_at)
                if found is not None:
                    log.info("registration found on Graph; not sending it again")
                    return found
            return graph.register_fido2_method(user_id, display_name, cred)
        except GraphError as exc:
            if n == rounds - 1 or not _worth_another_round(exc):
                refused = policy_refusal(graph, cred, exc)
                if refused is not None:
                    raise refused from exc
                raise
            log.warning("registration round %d failed (%s); trying again", n + 1, exc.title)
            look_first = True
            time.sleep(backoff * 2**n)
    raise AssertionError("unreachable")  # pragma: no cover
