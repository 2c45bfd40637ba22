"""The app's side of :mod:`kiosk.operators`: the kiosk's one PIN back-off and sign-in gate,
and the sign-in records kept until the engine (which writes the audit trail) is built."""

from __future__ import annotations

from collections.abc import Callable

from kiosk.config import Settings
from kiosk.enroll.api import EngineControl
from kiosk.operators.sign_in import SignInGate, SignInRecord
from kiosk.operators.throttle import PinThrottle, state_path


class SignInDesk:
    def __init__(
        self, settings: Callable[[], Settings], clock: Callable[[], float], store_path: str
    ) -> None:
        self.throttle = PinThrottle(clock, path=state_path(store_path))
        self.gate = SignInGate(settings, self.throttle, self._record)
        self._engine: EngineControl | None = None
        self._waiting: list[SignInRecord] = []

    def attach(self, engine: EngineControl) -> None:
        """The engine is built: audit what happened before (the first sign-in's failures)."""
        self._engine = engine
        for record in self._waiting:
            engine.record_sign_in(record)
        self._waiting.clear()

    def _record(self, record: SignInRecord) -> None:
        if self._engine is not None:
            self._engine.record_sign_in(record)
        else:
            self._waiting.append(record)
