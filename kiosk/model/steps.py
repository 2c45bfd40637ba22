"""The steps of one user's enrollment, in order (``docs/architecture.md`` tells the same)."""

from __future__ import annotations

import enum


class Step(enum.StrEnum):
    """The per-user state machine, in order. FAILED and SKIPPED end it early."""

    QUEUED = "queued"
    OPTIONS_READY = "options ready"
    KEY_INSERTED = "key inserted"
    KEY_CHECKED = "key checked"
    RESET = "reset"
    PIN_SET = "PIN set"
    CREDENTIAL_CREATED = "credential created"
    PIN_POLICY_APPLIED = "PIN policy applied"
    """Before registration on purpose: the policy needs the PIN, which only lives in memory
    until it is sealed; once the credential is journaled, registration needs neither key nor
    PIN, so a crash between the two steps can always be finished from the journal."""
    REGISTERED = "registered"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


ENDINGS: tuple[Step, ...] = (Step.FAILED, Step.SKIPPED)
"""The steps that end an enrollment early."""
PATH: tuple[Step, ...] = tuple(s for s in Step if s not in ENDINGS)
"""The steps of an enrollment that goes all the way, in order (QUEUED ... DONE)."""
