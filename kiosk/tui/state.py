"""What the screens show, folded from engine events. Plain Python: no Textual here.

The engine owns the truth; this is the TUI's copy, updated on the app's loop one event at a
time, so that every screen draws from the same picture.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kiosk.enroll.events import (
    EnrollmentResult,
    ErrorRaised,
    Event,
    KeyGone,
    KeyIdentified,
    PaperNotice,
    PinHandover,
    PortChanged,
    Prompt,
    PromptChanged,
    QueueChanged,
    StepChanged,
    TouchNeeded,
)
from kiosk.model.keys import KeyInfo
from kiosk.model.steps import Step

FINAL = (Step.DONE, Step.FAILED, Step.SKIPPED)
ORDER: tuple[Step, ...] = tuple(Step)
IN_ATTEMPT = ORDER[ORDER.index(Step.KEY_INSERTED) : ORDER.index(Step.REGISTERED) + 1]
"""The steps of an attempt with a key: a second key there stops it in the middle."""
WAITING_FOR_KEYS = (Prompt.IDLE, Prompt.INSERT_KEY, Prompt.REMOVE_KEY)


@dataclass(frozen=True)
class ResultLine:
    upn: str
    status: Step
    reason: str
    next_step: str
    serial: str | None
    at: float


@dataclass
class BatchState:
    """The current enrollment, the key in the port, counts and the results of this session."""

    clock: Callable[[], float] = time.monotonic
    entry_id: int | None = None
    upn: str = ""
    step: Step | None = None
    step_detail: str = ""
    passed: list[Step] = field(default_factory=list)
    prompt: Prompt = Prompt.IDLE
    prompt_detail: str = ""
    touch_reason: str = ""
    key: KeyInfo | None = None
    counts: dict[str, int] = field(default_factory=dict)
    results: list[ResultLine] = field(default_factory=list)
    started_at: float | None = None
    display_name: str = ""
    halted: str = ""
    """The title of the error that stopped the current attempt (its step shows ✘), if any."""
    pin_policy: str = ""
    """What the engine applied to the key in the port ("min length 6, PIN change forced")."""
    reinsert_serial: str = ""
    """The key asked back ("pull it and insert it again") is out: its serial, until it is in."""
    paper: PaperNotice | None = None
    """The printer's last news (a label or mailer printed, or a fault)."""
    port: tuple[str | None, ...] | None = None
    """The keys in the port as the engine last saw them (a serial each; None: not told)."""

    def apply(self, event: Event) -> None:
        """Fold one event in. PinHandover and ErrorRaised are shown by screens, not kept."""
        if isinstance(event, StepChanged):
            self._step(event)
        elif isinstance(event, PromptChanged):
            self.prompt = event.prompt
            self.prompt_detail = event.detail
            self.reinsert_serial = ""
            if event.prompt is not Prompt.TOUCH_KEY:
                self.touch_reason = ""
        elif isinstance(event, TouchNeeded):
            self.prompt = Prompt.TOUCH_KEY
            self.touch_reason = event.reason
            self.halted = ""
        elif isinstance(event, KeyIdentified):
            if self.key is None or self.key.serial != event.info.serial:
                self.pin_policy = ""
            self.key = event.info
            self.reinsert_serial = ""
        elif isinstance(event, KeyGone):
            if self.prompt is Prompt.REINSERT_KEY and self.key is not None:
                self.reinsert_serial = self.key.serial_or_none
            self.key = None
            self.pin_policy = ""
            # A pulled key cannot be touched; but while the engine asks for keys to be
            # removed, another one may still be in: the prompt stays until the engine says.
            if self.prompt is Prompt.TOUCH_KEY:
                self.prompt = Prompt.INSERT_KEY
                self.prompt_detail = ""
                self.touch_reason = ""
        elif isinstance(event, EnrollmentResult):
            serial = event.serial
            mine = event.entry_id == self.entry_id
            if serial is None and event.status is Step.DONE and mine and self.key is not None:
                serial = self.key.serial  # the key just enrolled is still in the port
            self.results.append(
                ResultLine(
                    event.upn,
                    event.status,
                    event.reason,
                    event.next_step,
                    serial,
                    self.clock(),
                )
            )
            if event.entry_id == self.entry_id:
                self.step = event.status
                self.step_detail = event.reason
        elif isinstance(event, QueueChanged):
            self.counts = dict(event.counts)
        elif isinstance(event, ErrorRaised):
            self.halted = event.title
        elif isinstance(event, PortChanged):
            self.port = event.serials
        elif isinstance(event, PaperNotice):
            self.paper = event
        elif isinstance(event, PinHandover):
            pass

    def _step(self, event: StepChanged) -> None:
        if event.entry_id != self.entry_id:
            self.entry_id = event.entry_id
            self.passed = []
            self.step = None
        self.upn = event.upn
        self.display_name = event.display_name
        self.halted = ""
        if self.step is not None and self.step not in FINAL and self.step not in self.passed:
            self.passed.append(self.step)
        if event.step is Step.KEY_INSERTED:
            # A new attempt (another key, or a retry): what the last one reached is undone.
            first = ORDER.index(Step.KEY_INSERTED)
            self.passed = [s for s in self.passed if ORDER.index(s) < first]
        self.step = event.step
        self.step_detail = event.detail
        if event.step is Step.PIN_SET and self.key is not None:
            self.key = dataclasses.replace(self.key, pin_set=True, pin_retries=None)
        if event.step is Step.PIN_POLICY_APPLIED:
            self.pin_policy = event.detail or "applied"
        if self.started_at is None and event.step is Step.KEY_INSERTED:
            self.started_at = self.clock()

    @property
    def step_under_way(self) -> bool:
        """A step of an attempt is under way: Cancel can stop it, and the return desk waits.
        Not while the kiosk only waits for keys to come or go; ONLY ONE KEY AT A TIME is
        under way in the middle of an attempt (a touch, a question, a re-insert), not at
        insert, at removal or after an error."""
        if self.prompt is Prompt.ONE_KEY_ONLY:
            return self.step in IN_ATTEMPT and not self.halted
        return self.prompt not in WAITING_FOR_KEYS

    @property
    def last_result(self) -> ResultLine | None:
        return self.results[-1] if self.results else None

    def session_count(self, status: Step) -> int:
        return sum(1 for r in self.results if r.status is status)

    def keys_per_hour(self) -> float | None:
        """Keys enrolled per hour in this session, from the first key inserted until now."""
        done = self.session_count(Step.DONE)
        if self.started_at is None or done == 0:
            return None
        elapsed = self.clock() - self.started_at
        if elapsed <= 0:
            return None
        return done * 3600.0 / elapsed

    def seconds_left(self) -> float | None:
        """Estimate for the pending users at this session's pace."""
        rate = self.keys_per_hour()
        pending = self.counts.get("pending", 0) + self.counts.get("active", 0)
        if rate is None or rate <= 0:
            return None
        return pending * 3600.0 / rate


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "not known yet"
    minutes = round(seconds / 60.0)
    if minutes < 1:
        return "under a minute"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
