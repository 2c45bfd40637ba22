"""Messages the TUI passes around: small dataclasses, safe to post from any thread.

Each kind of engine event comes to the app as its own message (``on_engine_step_changed``,
``on_engine_prompt_changed``, ...). A newer prompt, key or count makes an older one that is
still waiting in the queue moot: those say so with ``can_replace``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from textual.message import Message

from kiosk.enroll import events

E = TypeVar("E")


class EngineMessage(Message, Generic[E]):
    """An engine event handed from the engine's thread to the app's loop."""

    def __init__(self, event: E) -> None:
        super().__init__()
        self.event = event


class StepChanged(EngineMessage[events.StepChanged], namespace="engine"):
    """The entry being enrolled reached a step (its user named as queued)."""


class PromptChanged(EngineMessage[events.PromptChanged], namespace="engine"):
    """The big prompt changed; a newer one still queued makes this one moot."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, PromptChanged)


class TouchNeeded(EngineMessage[events.TouchNeeded], namespace="engine"):
    """The key waits for a touch (reset or credential)."""


class KeyIdentified(EngineMessage[events.KeyIdentified], namespace="engine"):
    """The key in the port was identified; a newer identification wins."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, KeyIdentified)


class KeyGone(EngineMessage[events.KeyGone], namespace="engine"):
    """The key in the port was pulled."""


class PinHandover(EngineMessage[events.PinHandover], namespace="engine"):
    """A PIN to show once for the mailer (never logged; see the event)."""


class EnrollmentResult(EngineMessage[events.EnrollmentResult], namespace="engine"):
    """An entry finished: done, failed or skipped."""


class ErrorRaised(EngineMessage[events.ErrorRaised], namespace="engine"):
    """An error the operator must see, with what to do next."""


class QueueChanged(EngineMessage[events.QueueChanged], namespace="engine"):
    """Counts per status; newer counts still queued make these moot."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, QueueChanged)


class KeyEnrolled(EngineMessage[events.KeyEnrolled], namespace="engine"):
    """A key is registered and recorded (what its label needs)."""


class PaperNotice(EngineMessage[events.PaperNotice], namespace="engine"):
    """Printing news: a label or mailer printed, or a printer fault."""


AnyEngineMessage = (
    StepChanged
    | PromptChanged
    | TouchNeeded
    | KeyIdentified
    | KeyGone
    | PinHandover
    | EnrollmentResult
    | ErrorRaised
    | QueueChanged
    | KeyEnrolled
    | PaperNotice
)


def message_for(event: events.Event) -> AnyEngineMessage:
    """The message that carries ``event`` to the app's loop."""
    match event:
        case events.StepChanged():
            return StepChanged(event)
        case events.PromptChanged():
            return PromptChanged(event)
        case events.TouchNeeded():
            return TouchNeeded(event)
        case events.KeyIdentified():
            return KeyIdentified(event)
        case events.KeyGone():
            return KeyGone(event)
        case events.PinHandover():
            return PinHandover(event)
        case events.EnrollmentResult():
            return EnrollmentResult(event)
        case events.ErrorRaised():
            return ErrorRaised(event)
        case events.QueueChanged():
            return QueueChanged(event)
        case events.KeyEnrolled():
            return KeyEnrolled(event)
        case events.PaperNotice():
            return PaperNotice(event)


@dataclass
class TaskDone(Message):
    """A blocking admin or queue task finished in a worker; ``text`` says what happened."""

    title: str
    text: str
    ok: bool = True
