"""`kiosk demo --headless --mishaps`: a shift where the robot operator makes the ordinary
mistakes of a real one, one per user in turn, and the kiosk must still end with nobody stuck.

The mishaps (:data:`PLAN`, by the user's turn): two keys plugged at once at "insert a key",
the operator's own sign-in key plugged for a user, a key pulled during the touch and plugged
back, a key whose credential store is full, a used key (PIN and credentials: reset,
re-insert), a user skipped with a reason (put back in the queue at the end of the round), the
kiosk stopped while a key waits for its touch and started again over the same state (the key
left in), a second key plugged while the first blinks for its touch (touched only once the
kiosk said ONLY ONE KEY AT A TIME and the second key is out), the guest account (asked, and
confirmed), and, after the round, a backup key for a user who is done.
The robot acts only through the virtual USB port and the engine's public commands, as a person
at the kiosk would.
"""

from __future__ import annotations

import logging
import threading

from kiosk.demo.robot import KeyFactory, Robot
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

logger = logging.getLogger(__name__)

TWO_KEYS = "second key at insert"
KEY_AT_TOUCH = "second key while the key blinks for its touch"
OPERATOR_KEY = "operator key"
PULLED_MID_TOUCH = "key pulled mid-touch and re-inserted"
FULL_KEY = "full key"
USED_KEY = "used key"
SKIP = "skip with a reason, then requeue"
BACKUP = "backup key for a user who is done"
GUEST = "a guest account, asked and confirmed"
RESTART = "kiosk stopped during the touch, started again over the same state"

PLAN: tuple[str, ...] = (
    TWO_KEYS, OPERATOR_KEY, PULLED_MID_TOUCH, FULL_KEY, USED_KEY, SKIP, RESTART, KEY_AT_TOUCH,
)
"""The mishap of each user's turn, from the second user on (the first goes smoothly)."""
SKIP_REASON = "skipped by operator: user not here today"


class MishapRobot(Robot):
    """A :class:`Robot` that makes one mishap per turn (``plan``; turn = users finished so
    far, a finished attempt counting once) and then carries on as a careful operator."""

    def __init__(
        self,
        engine: EngineControl,
        port: VirtualPort,
        keys: KeyFactory,
        *,
        operator_key: VirtualKey | None,
        special: dict[str, KeyFactory],
        plan: tuple[str, ...] = PLAN,
    ) -> None:
        super().__init__(engine, port, keys)
        self.operator_key = operator_key
        self.special = special
        self.plan = {i + 1: m for i, m in enumerate(plan)}
        self.turn = 0
        self.made: list[str] = []
        """The mishaps made, in order."""
        self.refused: set[int] = set()
        """ids of keys plugged on purpose that the kiosk must refuse (pulled, not enrolled)."""
        self.extra: list[VirtualKey] = []
        self.pull_at_touch = False
        self.stop_at_touch = False
        self.restart = threading.Event()
        """Set at the touch of the RESTART turn: the runner stops the kiosk and starts it again
        (the key stays in the port, untouched, as after a power cut)."""
        self.put_back: VirtualKey | None = None
        self.plug_at_touch = False
        self.hold_touch = False
        """A second key went in at the touch: no touch until the kiosk says ONLY ONE KEY AT A
        TIME (a touch before it could still make the credential) and the key is pulled."""
        self._insert_turns: set[int] = set()

    def _act(self, event: Event) -> None:
        prompt = event.prompt if isinstance(event, PromptChanged) else None
        if self.restart.is_set():
            return  # the kiosk is going down: hands off, the key stays in
        if isinstance(event, ErrorRaised):
            self.hold_touch = False  # the kiosk gave up waiting: carry on as usual
        if prompt is Prompt.INSERT_KEY:
            self._at_insert()
        elif prompt is Prompt.ONE_KEY_ONLY:
            self.hold_touch = False
            self._pull_extra()
        elif self.plug_at_touch and (isinstance(event, TouchNeeded) or prompt is Prompt.TOUCH_KEY):
            self._plug_at_touch()
        elif self.hold_touch and (isinstance(event, TouchNeeded) or prompt is Prompt.TOUCH_KEY):
            return  # the kiosk must first see the second key
        elif self.pull_at_touch and (isinstance(event, TouchNeeded) or prompt is Prompt.TOUCH_KEY):
            self._pull_mid_touch()
        elif self.stop_at_touch and (isinstance(event, TouchNeeded) or prompt is Prompt.TOUCH_KEY):
            self.stop_at_touch = False
            self.restart.set()
        elif isinstance(event, ErrorRaised) and id(self.current) in self.refused:
            self.log.errors.append(event)  # refused as it should be: take it out, go on
            self._pull_extra()
            self._pull()
            self.engine.retry()
        elif prompt is Prompt.CONFIRM_GUEST:
            self.made.append(GUEST)
            super()._act(event)
        elif prompt is Prompt.REINSERT_KEY and self.put_back is not None and not self.port.keys:
            key, self.put_back = self.put_back, None
            self._plug(key)
        else:
            if prompt is Prompt.REMOVE_KEY:
                self._pull_extra()
            super()._act(event)
            if isinstance(event, EnrollmentResult):
                self.turn += 1

    def _at_insert(self) -> None:
        if self.port.keys:
            return
        if self.put_back is not None:
            back, self.put_back = self.put_back, None
            self._plug(back)
            return
        mishap = self.plan.get(self.turn) if self.turn not in self._insert_turns else None
        self._insert_turns.add(self.turn)
        if mishap is None:
            self._plug_new()
            return
        self.made.append(mishap)
        logger.info("mishap at turn %d: %s", self.turn, mishap)
        if mishap == SKIP:
            self.engine.skip(SKIP_REASON)
        elif mishap == TWO_KEYS:
            self._plug_new()
            second = self.keys(self.log.keys_plugged)
            if second is not None:
                self.extra.append(second)
                self.port.plug(second)
        elif mishap == OPERATOR_KEY and self.operator_key is not None:
            self._plug(self.operator_key, refused=True)
        elif mishap in (FULL_KEY, USED_KEY):
            key = self.special[mishap](self.log.keys_plugged)
            if key is not None:
                self._plug(key, refused=mishap == FULL_KEY)
        else:
            self.pull_at_touch = mishap == PULLED_MID_TOUCH
            self.stop_at_touch = mishap == RESTART
            self.plug_at_touch = mishap == KEY_AT_TOUCH
            self._plug_new()

    def _plug(self, key: VirtualKey, *, refused: bool = False) -> None:
        with self._lock:
            self.log.plugged.append(key)
            self.current = key
        if refused:
            self.refused.add(id(key))
        self.port.plug(key)

    def _pull_extra(self) -> None:
        while self.extra:
            key = self.extra.pop()
            if key.plugged:
                self.port.unplug(key)

    def _plug_at_touch(self) -> None:
        self.plug_at_touch = False
        second = self.keys(self.log.keys_plugged)
        if second is None:
            return
        self.hold_touch = True
        self.extra.append(second)
        self.port.plug(second)

    def _pull_mid_touch(self) -> None:
        key = self.current
        self.pull_at_touch = False
        if key is None:
            return
        for _ in range(200):  # the key blinks a moment after the prompt
            if key.waiting_for_touch:
                break
            threading.Event().wait(0.005)
        self.put_back = key
        self._pull()
