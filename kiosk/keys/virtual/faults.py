"""Fault injection for the virtual key: what real keys and real operators do to a kiosk.

A :class:`FaultPlan` belongs to one :class:`~kiosk.keys.virtual.device.VirtualKey`
(``key.faults``). Each fault matches requests the key processes (CBOR, or a given CTAP command
byte inside CBOR, or any request) and fires once, a set number of times, or for ever, each time
with a probability drawn from the plan's seeded random generator, so a random schedule is
reproducible::

    key.faults.pull(command=CTAP_MAKE_CREDENTIAL, delay=0.05)  # pulled while blinking
    key.faults.stall(2.0)                                     # the next answer is 2 s late
    key.faults.malformed_reply(command=0x04)                  # getInfo answers broken CBOR
    key.faults.error(0x31, command=0x06, times=None)          # clientPIN: PIN_INVALID, always
"""

from __future__ import annotations

import enum
import random
import threading
from dataclasses import dataclass, field

from fido2.hid import CTAPHID


class FaultKind(enum.Enum):
    PULL = "pull"
    """The key is pulled out of the port ``delay`` seconds after the request starts (0: before
    the key processes it). A request that answered sooner is answered; the pull still comes."""
    STALL = "stall"
    """The answer is held back ``delay`` seconds (without keepalives unless asked)."""
    MALFORMED = "malformed"
    """The authenticator's reply is replaced by CBOR that does not decode."""
    ERROR = "error"
    """The request is answered with CTAP status ``code`` without being processed."""


MALFORMED_CBOR = b"\x00\xa2\x01"
"""Status OK, then a map of two pairs that ends after one key: no CBOR decoder accepts it."""


@dataclass
class Fault:
    kind: FaultKind
    command: int | None = None
    """CTAP command byte (first byte of a CBOR request); None matches every request."""
    times: int | None = 1
    """How many more times it may fire; None: for ever."""
    probability: float = 1.0
    delay: float = 0.0
    code: int = 0
    keepalive: bool = False
    """STALL only: keep sending PROCESSING keepalives while stalled (a slow key, not a hung one)."""
    fired: int = 0

    def matches(self, hid_command: int, payload: bytes) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.command is None:
            return True
        return hid_command == CTAPHID.CBOR and payload[:1] == bytes([self.command])


@dataclass
class FaultPlan:
    """The faults armed on one key; reproducible from ``seed``."""

    seed: int | None = None
    faults: list[Fault] = field(default_factory=list)
    log: list[tuple[FaultKind, int | None]] = field(default_factory=list)
    """Every fault that fired: (kind, CTAP command byte or None), in order."""

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)  # noqa: S311 - a test schedule, not a secret
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def pull(
        self,
        *,
        command: int | None = None,
        delay: float = 0.0,
        times: int | None = 1,
        probability: float = 1.0,
    ) -> Fault:
        """Pull the key ``delay`` seconds into the next matching request."""
        return self.add(Fault(FaultKind.PULL, command, times, probability, delay=delay))

    def stall(
        self,
        seconds: float,
        *,
        command: int | None = None,
        keepalive: bool = False,
        times: int | None = 1,
        probability: float = 1.0,
    ) -> Fault:
        """Hold the next matching answer back ``seconds``."""
        return self.add(
            Fault(FaultKind.STALL, command, times, probability, delay=seconds, keepalive=keepalive)
        )

    def malformed_reply(
        self, *, command: int | None = None, times: int | None = 1, probability: float = 1.0
    ) -> Fault:
        """Answer the next matching request with undecodable CBOR."""
        return self.add(Fault(FaultKind.MALFORMED, command, times, probability))

    def error(
        self,
        code: int,
        *,
        command: int | None = None,
        times: int | None = 1,
        probability: float = 1.0,
    ) -> Fault:
        """Answer the next matching request with CTAP status ``code``, unprocessed."""
        if not 0 < code <= 0xFF:
            raise ValueError(f"a CTAP error code is 1..255, not {code}")
        return self.add(Fault(FaultKind.ERROR, command, times, probability, code=code))

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def take(self, hid_command: int, payload: bytes) -> list[Fault]:
        """The faults that fire for this request (at most one of each kind), counted as fired."""
        chosen: list[Fault] = []
        kinds: set[FaultKind] = set()
        with self._lock:
            for fault in self.faults:
                if fault.kind in kinds or not fault.matches(hid_command, payload):
                    continue
                if fault.probability < 1.0 and self._random.random() >= fault.probability:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                fault.fired += 1
                kinds.add(fault.kind)
                chosen.append(fault)
                ctap = payload[0] if hid_command == CTAPHID.CBOR and payload else None
                self.log.append((fault.kind, ctap))
            self.faults = [f for f in self.faults if f.times is None or f.times > 0]
        return chosen
