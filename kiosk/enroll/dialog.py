"""The operator dialog, one of the engine's roles: what the engine says (events to the
listeners: prompts, steps, errors, "touch the key") and how it waits for the operator's
answer (commands, in the one stream of signals it shares with key I/O).

Commands that mean the same at any wait (select another user, retry the last one, wake) are
handed to ``on_command``, which the engine provides.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from kiosk.enroll.control import Command, Signals
from kiosk.enroll.events import (
    ErrorRaised,
    Event,
    KeyGone,
    Prompt,
    PromptChanged,
    StepChanged,
    TouchNeeded,
)
from kiosk.enroll.ports import EntraError
from kiosk.errors import KioskError
from kiosk.keys.errors import KeyPulledError
from kiosk.keys.watcher import KeyRemoved, MultipleKeys
from kiosk.model.steps import Step
from kiosk.store.queue import QueueEntry

log = logging.getLogger("kiosk.enroll.dialog")

Listener = Callable[[Event], None]


class Dialog:
    def __init__(self, signals: Signals, on_command: Callable[[Command], bool]) -> None:
        self.signals = signals
        self.on_command = on_command
        self._listeners: list[Listener] = []
        self._last_prompt: PromptChanged | None = None
        self._said_since = False
        """Another event went out since the last prompt."""
        self._recovering = False

    # ---- what the engine says ----------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    @contextmanager
    def recovering(self) -> Iterator[None]:
        """Crash recovery runs: the errors said meanwhile report on past attempts."""
        self._recovering = True
        try:
            yield
        finally:
            self._recovering = False

    def emit(self, event: Event) -> None:
        if self._recovering and isinstance(event, ErrorRaised):
            event = replace(event, past_attempt=True)
        self._said_since = not isinstance(event, PromptChanged)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("an engine listener failed on %s", type(event).__name__)

    def prompt(self, prompt: Prompt, detail: str = "") -> None:
        """Change the big prompt. The same prompt again is not said twice: an idle prompt
        repeated while idle, or any prompt repeated with nothing said in between (front ends
        need not filter repeats)."""
        event = PromptChanged(prompt, detail)
        if event == self._last_prompt and (prompt is Prompt.IDLE or not self._said_since):
            return
        self._last_prompt = event
        self.emit(event)

    @property
    def last_prompt(self) -> PromptChanged | None:
        """The prompt up now (the last one said)."""
        return self._last_prompt

    def step(self, entry: QueueEntry, step: Step, detail: str = "") -> None:
        self.emit(StepChanged(entry.entry_id, entry.upn, step, detail, entry.display_name))

    def error(self, exc: KioskError, *, retryable: bool = True) -> None:
        self.emit(ErrorRaised(exc.title, exc.detail, exc.next_step, retryable))

    def touch_callback(self, reason: str) -> Callable[[], None]:
        """Say "touch the key" now (the key blinks as soon as the command reaches it); the
        returned callback (the key's UPNEEDED keepalive) does not say it twice."""
        said = False

        def on_touch() -> None:
            nonlocal said
            if not said:
                said = True
                self.emit(TouchNeeded(reason))
                self.prompt(Prompt.TOUCH_KEY, reason)

        on_touch()
        return on_touch

    # ---- waiting for the operator ------------------------------------------------------

    def handle(self, command: Command) -> bool:
        """A command that means the same at any wait; True when it was one."""
        return self.on_command(command)

    def wait_command(
        self, names: set[str], *, key_path: str | None,
        crowded: Callable[[], None] | None = None,
    ) -> Command:
        """Wait for one of ``names``; a pulled key (``key_path`` gone) raises KeyPulledError.
        More than one key in the port calls ``crowded`` (it returns once they are pulled)."""
        while True:
            signal = self.signals.next()
            if isinstance(signal, Command):
                if signal.name in names:
                    return signal
                self.handle(signal)
            elif isinstance(signal, MultipleKeys) and crowded is not None:
                crowded()
            elif (
                isinstance(signal, KeyRemoved) and key_path is not None and signal.path == key_path
            ):
                self.emit(KeyGone())
                raise KeyPulledError()

    def graph_trouble(self, exc: EntraError) -> None:
        """Show a Graph failure and wait for the operator's retry (skip/cancel end the entry)."""
        self.error(exc)
        self.wait_command({"retry"}, key_path=None)
