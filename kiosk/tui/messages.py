"""Messages the TUI passes around: small dataclasses, safe to post from any thread.

Each kind of engine event comes to the app as its own message (``on_engine_step_changed``,
``on_engine_prompt_changed``, ...): the message class ``X(EngineMessage[events.X])`` carries
event ``X``, and :data:`MESSAGES` is read from those classes; an event of
:data:`kiosk.enroll.events.Event` without one stops this module from importing. A newer
prompt, key or count makes an older one that is still waiting in the queue moot: those say so
with ``can_replace``.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

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


class PortChanged(EngineMessage[events.PortChanged], namespace="engine"):
    """The keys in the port; a newer picture still queued makes this one moot."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, PortChanged)


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


def _event_of(cls: type[EngineMessage[Any]]) -> type:
    """The event class a message class carries: ``X`` of ``EngineMessage[X]``."""
    (base,) = getattr(cls, "__orig_bases__", (None,))
    (event,) = typing.get_args(base)
    return typing.cast(type, event)


MESSAGES: dict[type, type[EngineMessage[Any]]] = {
    _event_of(cls): cls for cls in EngineMessage.__subclasses__()
}
"""Event class -> the message class that carries it, read from the classes above."""

_missing = set(typing.get_args(events.Event)) - set(MESSAGES)
if _missing:  # a new kind of engine event needs its message class above
    raise TypeError(f"engine events without a message: {sorted(e.__name__ for e in _missing)}")


def message_for(event: events.Event) -> EngineMessage[Any]:
    """The message that carries ``event`` to the app's loop."""
    return MESSAGES[type(event)](event)


@dataclass
class TaskDone(Message):
    """A blocking admin or queue task finished in a worker; ``text`` says what happened."""

    title: str
    text: str
    ok: bool = True
