"""One virtual security key: the authenticator, its touch sensor, its USB interface, its faults.

A :class:`VirtualKey` is the object the demo and the tests hold in their hand: plug it into a
:class:`~kiosk.keys.virtual.port.VirtualPort`, touch it (``key.touch()``), arm faults
(``key.faults``), pull it. Its state (PIN, credentials) lives in the authenticator and
survives unplugging, as on a real key; each plug-in powers it on again (new reset window,
new channels).

Requests are processed on the HID interface's worker thread. The profile's
:class:`~kiosk.keys.virtual.profiles.Latency` is spent after the authenticator answers, with
PROCESSING keepalives, and is cut short when the key is pulled.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable

from fido2.hid import CTAPHID

from . import management
from .authenticator import Authenticator
from .connection import HidInterface, Keepalive, Reply, VirtualConnection
from .ctaphid import CtapHidFraming, FramingConfig, HidError, Request
from .faults import MALFORMED_CBOR, Fault, FaultKind, FaultPlan
from .presence import UserPresence
from .profiles import KeyProfile
from .transactions import TransactionLog, name_request

logger = logging.getLogger(__name__)

STATUS_PROCESSING = 1
KEEPALIVE_INTERVAL = 0.1
CTAP_OK = 0x00
CTAP_ERR_OTHER = 0x7F

CTAP_MAKE_CREDENTIAL = 0x01
CTAP_GET_ASSERTION = 0x02
CTAP_GET_INFO = 0x04
CTAP_CLIENT_PIN = 0x06
CTAP_RESET = 0x07
CTAP_CONFIG = 0x0D

_SUCCESS_ONLY = frozenset({CTAP_MAKE_CREDENTIAL, CTAP_GET_ASSERTION})
"""Commands whose cost (key generation, signature) is only paid when they succeed."""


class VirtualKey:
    """A software CTAP 2.1 security key that a :class:`VirtualPort` can plug in."""

    def __init__(
        self,
        profile: KeyProfile,
        *,
        auto_touch: float | None = None,
        touch_timeout: float = 30.0,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.profile = profile
        self.presence = UserPresence(auto_touch=auto_touch, timeout=touch_timeout)
        self.authenticator = Authenticator(profile, self.presence, clock=clock, seed=seed)
        self.faults = FaultPlan(seed=seed)
        vendor = management.MANAGEMENT_COMMANDS if profile.yubikey_management else frozenset()
        framing = CtapHidFraming(
            FramingConfig(device_version=profile.firmware, u2f=False, vendor_commands=vendor),
            clock=clock,
        )
        self._interface = HidInterface(framing, self._handle)
        self._pulled = threading.Event()
        self._pulled.set()  # not plugged in yet
        self._pull_hook: Callable[[VirtualKey], None] | None = None
        self.internal_errors = 0
        """Exceptions the authenticator raised (answered as CTAP1_ERR_OTHER); 0 in a good key."""
        self.transactions = TransactionLog()
        """Every request this key answered (CBOR and vendor commands), named, in order."""
        self.keeper: Callable[[VirtualKey, bool], None] | None = None
        """Called (key, its state changed) after every CTAP command, before the answer goes
        out, and (key, False) when it is plugged in or pulled: the demo keeps keys on disk."""

    def __repr__(self) -> str:
        state = "plugged" if self.plugged else "unplugged"
        return f"VirtualKey({self.profile.name!r}, {state})"

    # -- what a person does with a key ------------------------------------------------------

    def touch(self) -> None:
        """Touch the key's contact (counts only while it blinks for a touch)."""
        self.presence.touch()

    @property
    def waiting_for_touch(self) -> bool:
        return self.presence.waiting

    @property
    def plugged(self) -> bool:
        return self._interface.present

    @property
    def wink_count(self) -> int:
        """How many times the host made the key blink (CTAPHID WINK)."""
        return self._interface.framing.winks

    def pull(self) -> None:
        """Pull the key out of its port (what a fault or an impatient person does)."""
        hook = self._pull_hook
        if hook is not None:
            hook(self)
        else:
            self.power_off()

    # -- what the port does -----------------------------------------------------------------

    def power_on(self) -> None:
        """Plug-in: fresh USB interface state, and the authenticator's power-on."""
        self._interface.attach()
        self.authenticator.power_on()
        self._pulled.clear()
        self._keep(changed=False)

    def power_off(self) -> None:
        """Pull: every open connection fails; a running command is abandoned."""
        self._pulled.set()
        self._interface.detach()
        self._keep(changed=False)

    def _keep(self, *, changed: bool) -> None:
        keeper = self.keeper
        if keeper is not None:
            keeper(self, changed)

    def connect(self) -> VirtualConnection:
        """Open a connection (a HID handle); raises FileNotFoundError if not plugged."""
        return self._interface.open()

    def attach_to(self, hook: Callable[[VirtualKey], None] | None) -> None:
        """Called by the port: how :meth:`pull` reaches it."""
        self._pull_hook = hook

    # -- the request handler (worker thread) ------------------------------------------------

    def _handle(self, request: Request, keepalive: Keepalive, cancelled: threading.Event) -> Reply:
        started = time.perf_counter()
        reply = self._answer(request, keepalive, cancelled)
        seconds = time.perf_counter() - started
        if reply.error is not None:
            status = -reply.error
        else:
            status = reply.payload[0] if request.command == CTAPHID.CBOR and reply.payload else 0
        named = name_request(request.command, request.payload)
        self.transactions.add(dataclasses.replace(named, status=status, seconds=seconds))
        if request.command == CTAPHID.CBOR:
            self._keep(changed=True)  # as a real key's flash: stored before it answers
        return reply

    def _answer(self, request: Request, keepalive: Keepalive, cancelled: threading.Event) -> Reply:
        faults = {f.kind: f for f in self.faults.take(request.command, request.payload)}
        pull = faults.get(FaultKind.PULL)
        if pull is not None:
            if pull.delay <= 0:
                self.pull()
                return Reply()  # Nobody hears it: the key is gone.
            self._schedule_pull(pull)
        error = faults.get(FaultKind.ERROR)
        if error is not None:
            if request.command == CTAPHID.CBOR:
                return Reply(bytes([error.code]))
            return Reply(error=error.code)
        if request.command == CTAPHID.CBOR:
            reply = Reply(self._process_cbor(request.payload, keepalive, cancelled))
            if FaultKind.MALFORMED in faults:
                reply = Reply(MALFORMED_CBOR)
        else:
            result = management.handle(self.profile, request.command, request.payload)
            reply = Reply(error=result) if isinstance(result, int) else Reply(result)
        stall = faults.get(FaultKind.STALL)
        if stall is not None:
            self._sleep(stall.delay, keepalive if stall.keepalive else None)
        return reply

    def _process_cbor(
        self, payload: bytes, keepalive: Keepalive, cancelled: threading.Event
    ) -> bytes:
        if not payload:
            return bytes([HidError.INVALID_LEN])  # CTAP1_ERR_INVALID_LENGTH
        try:
            response = self.authenticator.process(payload, keepalive, cancelled)
        except Exception:
            self.internal_errors += 1
            logger.exception("virtual authenticator failed on CTAP command 0x%02x", payload[0])
            return bytes([CTAP_ERR_OTHER])
        command = payload[0]
        ok = response[:1] == bytes([CTAP_OK])
        if ok or command not in _SUCCESS_ONLY:
            self._sleep(self._latency_ms(command) / 1000.0, keepalive)
        return response

    def _latency_ms(self, command: int) -> float:
        latency = self.profile.latency
        return {
            CTAP_MAKE_CREDENTIAL: latency.make_credential_ms,
            CTAP_GET_ASSERTION: latency.get_assertion_ms,
            CTAP_GET_INFO: latency.get_info_ms,
            CTAP_CLIENT_PIN: latency.pin_ms,
            CTAP_RESET: latency.reset_ms,
            CTAP_CONFIG: latency.config_ms,
        }.get(command, 0.0)

    def _sleep(self, seconds: float, keepalive: Keepalive | None) -> None:
        """Take time as the hardware would; stops at once when the key is pulled."""
        deadline = time.monotonic() + seconds
        while not self._pulled.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if keepalive is not None:
                keepalive(STATUS_PROCESSING)
            self._pulled.wait(min(left, KEEPALIVE_INTERVAL))

    def _schedule_pull(self, fault: Fault) -> None:
        timer = threading.Timer(fault.delay, self.pull)
        timer.daemon = True
        timer.start()
