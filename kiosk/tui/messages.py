"""Messages the TUI passes around: small dataclasses, safe to post from any thread."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from kiosk.enroll.events import Event


@dataclass
class EngineEvent(Message):
    """An engine event, handed from the engine's thread to the app's loop."""

    event: Event


@dataclass
class TaskDone(Message):
    """A blocking admin or queue task finished in a worker; ``text`` says what happened."""

    title: str
    text: str
    ok: bool = True
