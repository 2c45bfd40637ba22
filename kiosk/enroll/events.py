"""Events the engine publishes. The TUI and the headless runner both consume these; the engine
never knows which one is listening. Plain frozen dataclasses, safe to hand across threads.

The only event that carries a secret is :class:`PinHandover`, and only when the escrow policy
shows PINs on screen; its ``pin`` is never logged (see ``__repr__``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from kiosk.model.keys import KeyInfo
from kiosk.model.steps import Step


class Prompt(enum.StrEnum):
    """The big prompt the operator sees."""

    IDLE = "idle"
    INSERT_KEY = "insert a key"
    TOUCH_KEY = "touch the key now"
    REINSERT_KEY = "pull the key and insert it again"
    WORKING = "working"
    REMOVE_KEY = "remove the key"
    ONE_KEY_ONLY = "only one key at a time"
    CONFIRM_RESET = "confirm reset"
    CONFIRM_REPLACE = "confirm replace"
    CONFIRM_GUEST = "confirm guest"
    TYPE_PIN = "type the PIN for this key"
    """policy.pin_source = operator: the engine waits for ``provide_pin``."""


@dataclass(frozen=True)
class StepChanged:
    entry_id: int
    upn: str
    step: Step
    detail: str = ""
    display_name: str = ""
    """The user's name as Entra gave it when queued (front ends show it beside the UPN)."""


@dataclass(frozen=True)
class PromptChanged:
    prompt: Prompt
    detail: str = ""


@dataclass(frozen=True)
class TouchNeeded:
    """The key is waiting for a touch: for a reset or for the credential."""

    reason: str


@dataclass(frozen=True)
class KeyIdentified:
    info: KeyInfo


@dataclass(frozen=True)
class KeyGone:
    pass


@dataclass(frozen=True)
class PortChanged:
    """The keys in the port now: one serial per key (None where it is not known), whatever
    the engine is doing with them; empty when the port is empty."""

    serials: tuple[str | None, ...]


@dataclass(frozen=True)
class PinHandover:
    """Show this PIN once, large, for the PIN mailer; then forget it. Sent last, once the
    key is registered and its PIN policy applied, naming the person and the key."""

    entry_id: int
    upn: str
    pin: str = field(repr=False)
    display_name: str = ""
    serial: str = ""


@dataclass(frozen=True)
class EnrollmentResult:
    entry_id: int
    upn: str
    status: Step
    """DONE, FAILED or SKIPPED."""
    reason: str = ""
    next_step: str = ""
    serial: str | None = None
    method_id: str | None = None


@dataclass(frozen=True)
class ErrorRaised:
    """An error the operator must see: a title, what happened and what to do next."""

    title: str
    detail: str
    next_step: str
    retryable: bool = True
    past_attempt: bool = False
    """A report on an attempt a restart interrupted (crash recovery), not on the user at
    hand: nothing the operator could do here (retry, skip) acts on the user it names."""


@dataclass(frozen=True)
class KeyEnrolled:
    """One key is registered and recorded: what its shipping label needs (never a PIN).
    Published after the journal says done, for a key finished after a restart too."""

    enrollment_id: int
    entry_id: int
    upn: str
    user_id: str
    name: str
    serial: str | None
    model: str
    reference: str
    """As on the label's QR code and in the manifest."""
    pin_policy: str
    recovered: bool = False


@dataclass(frozen=True)
class PaperNotice:
    """Printing news for the operator: a label or mailer printed, or a printer fault."""

    ok: bool
    text: str
    next_step: str = ""
    waiting: int = 0
    """Labels in the reprint list."""
    entry_id: int | None = None
    kind: str = "label"
    """label, mailer or report (a shift report)."""


@dataclass(frozen=True)
class QueueChanged:
    """Counts per status changed (import, sync, a result)."""

    counts: dict[str, int]


Event = (
    StepChanged
    | PromptChanged
    | TouchNeeded
    | KeyIdentified
    | KeyGone
    | PortChanged
    | PinHandover
    | EnrollmentResult
    | ErrorRaised
    | QueueChanged
    | KeyEnrolled
    | PaperNotice
)
