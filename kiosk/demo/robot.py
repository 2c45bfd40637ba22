"""A simulated operator: answers the engine's prompts with virtual keys.

It listens to engine events exactly as the TUI does and acts as a person at the kiosk would:
on "insert a key" it plugs a fresh virtual key, on "touch the key now" it touches it, on
"remove the key" it pulls it, on "pull the key and insert it again" it re-inserts the same
key. It never calls into the engine's internals; operator decisions (confirm a reset or a
replace) go through the public EngineControl commands.

The flow tests drive the engine with the same robot: on the engine's own thread
(``start(threaded=False)``, so each prompt is answered before the engine goes on), with keys
that touch themselves (``touch_keys=False``) and errors left to the test (``answer_errors=False``).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kiosk.enroll.api import EngineControl
from kiosk.enroll.events import (
    EnrollmentResult,
    ErrorRaised,
    Event,
    Prompt,
    PromptChanged,
    TouchNeeded,
)
from kiosk.keys.virtual.device import VirtualKey
from kiosk.keys.virtual.port import VirtualPort
from kiosk.keys.virtual.profiles import PROFILES, KeyProfile
from kiosk.model.steps import Step

logger = logging.getLogger(__name__)

KeyFactory = Callable[[int], VirtualKey | None]
"""Makes the n-th key the robot plugs in (n counts from 0); None when there are no more."""


def keys_from(source: Iterable[VirtualKey]) -> KeyFactory:
    """A factory handing out ``source``'s keys in order (the same key may come again)."""
    it = iter(source)
    return lambda _n: next(it, None)


def fresh_keys(profile: KeyProfile | str = "yubikey5", first_serial: int = 40000001) -> KeyFactory:
    """A factory of new, unused keys of one profile with consecutive serials."""
    base = PROFILES[profile] if isinstance(profile, str) else profile

    def make(n: int) -> VirtualKey:
        serial = first_serial + n if base.serial is not None else None
        return VirtualKey(base.with_serial(serial))

    return make


@dataclass
class RobotLog:
    results: list[EnrollmentResult] = field(default_factory=list)
    errors: list[ErrorRaised] = field(default_factory=list)
    plugged: list[VirtualKey] = field(default_factory=list)
    touches: int = 0
    exhausted: bool = False
    """True once the key factory had no key to give."""

    @property
    def keys_plugged(self) -> int:
        return len(self.plugged)

    @property
    def done(self) -> int:
        return sum(1 for r in self.results if r.status is Step.DONE)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if r.status is Step.FAILED)


class Robot:
    """Drives the kiosk's physical side from engine events, on its own thread."""

    def __init__(
        self,
        engine: EngineControl,
        port: VirtualPort,
        keys: KeyFactory | None = None,
        *,
        touch_delay: float = 0.0,
        confirm_resets: bool = True,
        confirm_replaces: bool = True,
        touch_keys: bool = True,
        answer_errors: bool = True,
    ) -> None:
        self.engine = engine
        self.port = port
        self.keys = keys or fresh_keys()
        self.touch_delay = touch_delay
        self.confirm_resets = confirm_resets
        self.confirm_replaces = confirm_replaces
        self.confirm_guests = True
        """The answer to a guest question (policy.guests = ask): the demo's guest is expected."""
        self.touch_keys = touch_keys
        self.answer_errors = answer_errors
        self.log = RobotLog()
        self.current: VirtualKey | None = None
        self._inbox: queue.Queue[Event | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._left_in: set[int] = set()

    # Engine listener: called on the engine's thread; only hands the event on.
    def __call__(self, event: Event) -> None:
        self._inbox.put(event)

    def start(self, *, threaded: bool = True) -> None:
        """Listen to the engine: on the robot's own thread, or (``threaded=False``) on the
        engine's, acting on each event before the engine goes on."""
        if not threaded:
            self.engine.subscribe(self._act)
            return
        self.engine.subscribe(self)
        self._thread = threading.Thread(target=self._loop, name="demo-robot", daemon=True)
        self._thread.start()

    def adopt(self, keys: list[VirtualKey]) -> None:
        """Keys found in the port as the kiosk starts (left in when it stopped, as after a
        power cut): the last one is the robot's current key; one the kiosk then refuses (a key
        enrolled before the stop) is set aside and the user gets a fresh key."""
        if keys and self.current is None:
            self.current = keys[-1]
            self._left_in.update(id(k) for k in keys)

    def stop(self) -> None:
        self._inbox.put(None)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            event = self._inbox.get()
            if event is None:
                return
            try:
                self._act(event)
            except Exception:  # a robot hiccup must not kill the run; the engine reports
                logger.exception("demo robot failed to act on %s", type(event).__name__)

    def _act(self, event: Event) -> None:
        if isinstance(event, EnrollmentResult):
            self.log.results.append(event)
        elif isinstance(event, ErrorRaised):
            self.log.errors.append(event)
            if not self.answer_errors:
                return
            if self.current is not None and id(self.current) in self._left_in:
                self._left_in.discard(id(self.current))
                self._pull()
                self.engine.retry()
            elif event.retryable:
                self.engine.retry()
            else:
                self.engine.skip(event.title)
        elif isinstance(event, TouchNeeded) and self.touch_keys:
            self._touch()
        elif isinstance(event, PromptChanged):
            self._on_prompt(event.prompt)

    def _on_prompt(self, prompt: Prompt) -> None:
        if prompt is Prompt.INSERT_KEY:
            self._plug_new()
        elif prompt is Prompt.TOUCH_KEY and self.touch_keys:
            self._touch()
        elif prompt is Prompt.REMOVE_KEY or prompt is Prompt.ONE_KEY_ONLY:
            self._pull()
        elif prompt is Prompt.REINSERT_KEY:
            key = self.current
            self._pull()
            if key is not None:
                self.current = key
                self.port.plug(key)
        elif prompt is Prompt.CONFIRM_RESET:
            self.engine.confirm_reset(self.confirm_resets)
        elif prompt is Prompt.CONFIRM_REPLACE:
            self.engine.confirm_replace(self.confirm_replaces)
        elif prompt is Prompt.CONFIRM_GUEST:
            self.engine.confirm_guest(self.confirm_guests)

    def _plug_new(self) -> None:
        with self._lock:
            if self.port.keys:  # a person plugs no second key while one is in
                return
            key = self.keys(self.log.keys_plugged)
            if key is None:
                self.log.exhausted = True
                return
            self.log.plugged.append(key)
            self.current = key
        self.port.plug(key)

    def _touch(self) -> None:
        key = self.current
        if key is None:
            return
        if self.touch_delay:
            threading.Event().wait(self.touch_delay)
        # The engine announces the touch just before the key starts waiting for it.
        for _ in range(200):
            if key.waiting_for_touch:
                break
            threading.Event().wait(0.005)
        key.touch()
        self.log.touches += 1

    def _pull(self) -> None:
        with self._lock:
            key = self.current
            self.current = None
        if key is not None and key.plugged:
            self.port.unplug(key)
