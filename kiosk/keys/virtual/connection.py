"""The virtual key's USB HID interface and the handles the host opens on it.

:class:`HidInterface` is the key's side of the cable: one CTAPHID state machine
(:mod:`.ctaphid`), one worker thread at a time for the request the key is processing, and the
input reports it sends. As on Linux hidraw, every open handle receives every input report.

:class:`VirtualConnection` is the host's side: a ``fido2.hid.base.CtapHidConnection``, so
``fido2.hid.CtapHidDevice`` drives the key with real packets. When the key is pulled, a
pulled hidraw device is imitated: reports already received can still be read, then
``read_packet`` raises ``OSError(EIO)`` (a blocked read wakes up) and ``write_packet`` raises
``OSError(ENODEV)``. python-fido2 lets those errors through to its caller unchanged.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from fido2.hid.base import CtapHidConnection

from .ctaphid import CtapHidFraming, Output, Request

logger = logging.getLogger(__name__)

QUEUE_LIMIT = 1024
"""Input reports one handle buffers before new ones are dropped (hidraw drops them too)."""
POLL_INTERVAL = 0.1
"""How often a blocked read checks for a timed-out half-received message."""
WORKER_JOIN_TIMEOUT = 5.0


@dataclass(frozen=True)
class Reply:
    """The key's answer to a request: a reply payload, or a CTAPHID error code."""

    payload: bytes = b""
    error: int | None = None


Keepalive = Callable[[int], None]
Handler = Callable[[Request, Keepalive, threading.Event], Reply]
"""Processes one request on the worker thread; must return soon after the event is set."""


def _pulled_read() -> OSError:
    return OSError(errno.EIO, os.strerror(errno.EIO))


def _pulled_write() -> OSError:
    return OSError(errno.ENODEV, os.strerror(errno.ENODEV))


class HidInterface:
    """One key's FIDO HID interface, alive while the key is plugged in."""

    def __init__(self, framing: CtapHidFraming, handler: Handler) -> None:
        self._framing = framing
        self._handler = handler
        self._lock = threading.RLock()
        self._handles: list[VirtualConnection] = []
        self._present = False
        self._worker: threading.Thread | None = None
        self._cancel: dict[int, threading.Event] = {}

    @property
    def present(self) -> bool:
        return self._present

    @property
    def framing(self) -> CtapHidFraming:
        return self._framing

    def attach(self) -> None:
        """Power the interface up (plug-in): a fresh CTAPHID state."""
        self.join_worker()
        with self._lock:
            self._framing.power_cycle()
            self._present = True

    def detach(self) -> None:
        """Power it down (pull): the running request is abandoned, every handle fails."""
        with self._lock:
            self._present = False
            for event in self._cancel.values():
                event.set()
            self._cancel.clear()
            self._framing.power_cycle()
            handles, self._handles = self._handles, []
        for handle in handles:
            handle._device_gone()

    def join_worker(self, timeout: float = WORKER_JOIN_TIMEOUT) -> None:
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout)
            if worker.is_alive():
                logger.warning("virtual key worker still busy after %.1f s", timeout)

    def open(self) -> VirtualConnection:
        with self._lock:
            if not self._present:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))
            handle = VirtualConnection(self)
            self._handles.append(handle)
            return handle

    def _close(self, handle: VirtualConnection) -> None:
        with self._lock:
            if handle in self._handles:
                self._handles.remove(handle)

    # -- packets -----------------------------------------------------------------------------

    def write(self, packet: bytes) -> None:
        with self._lock:
            if not self._present:
                raise _pulled_write()
            out = self._framing.receive(packet)
            self._apply(out)

    def tick(self) -> None:
        """Time out a stalled half-received message (called while a host waits to read)."""
        with self._lock:
            if self._present and self._framing.busy:
                self._apply(self._framing.expire())

    def _apply(self, out: Output) -> None:
        self._send(out.packets)
        if out.cancel is not None:
            event = self._cancel.get(out.cancel)
            if event is not None:
                event.set()
        if out.request is not None:
            self._start(out.request)

    def _send(self, packets: list[bytes]) -> None:
        if not packets:
            return
        for handle in self._handles:
            handle._deliver(packets)

    def _start(self, request: Request) -> None:
        cancelled = threading.Event()
        self._cancel[request.txid] = cancelled
        worker = threading.Thread(
            target=self._work,
            args=(request, cancelled),
            name=f"virtual-key-tx{request.txid}",
            daemon=True,
        )
        self._worker = worker
        worker.start()

    def _work(self, request: Request, cancelled: threading.Event) -> None:
        def keepalive(status: int) -> None:
            with self._lock:
                if self._present:
                    self._send(self._framing.keepalive(request.txid, status))

        try:
            reply = self._handler(request, keepalive, cancelled)
        except Exception:  # a bug in the key must not hang the host: answer ERR_OTHER
            logger.exception("virtual key failed on command 0x%02x", request.command)
            reply = Reply(error=0x7F)
        with self._lock:
            self._cancel.pop(request.txid, None)
            if not self._present:
                return
            if reply.error is not None:
                self._send(self._framing.fail(request.txid, reply.error))
            else:
                self._send(self._framing.complete(request.txid, reply.payload))


class VirtualConnection(CtapHidConnection):
    """An open handle on a virtual key, as ``open("/dev/hidrawN")`` is on a real one."""

    def __init__(self, interface: HidInterface) -> None:
        self._interface = interface
        self._queue: deque[bytes] = deque()
        self._ready = threading.Condition()
        self._gone = False
        self._closed = False
        self.dropped = 0
        """Input reports dropped because nobody read them (the buffer was full)."""

    def write_packet(self, data: bytes) -> None:
        if self._closed:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        if self._gone:
            raise _pulled_write()
        self._interface.write(bytes(data))

    def read_packet(self) -> bytes:
        with self._ready:
            while True:
                if self._closed:
                    raise OSError(errno.EBADF, os.strerror(errno.EBADF))
                if self._queue:
                    return self._queue.popleft()
                if self._gone:
                    raise _pulled_read()
                self._ready.wait(POLL_INTERVAL)
                if not self._queue and not self._gone:
                    self._ready.release()
                    try:
                        self._interface.tick()
                    finally:
                        self._ready.acquire()

    def poll(self) -> bytes | None:
        """The next input report if one is waiting, else None (never blocks; for tests)."""
        with self._ready:
            return self._queue.popleft() if self._queue else None

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()
        self._interface._close(self)

    @property
    def pulled(self) -> bool:
        return self._gone

    # -- called by the interface -----------------------------------------------------------

    def _deliver(self, packets: list[bytes]) -> None:
        with self._ready:
            for packet in packets:
                if len(self._queue) >= QUEUE_LIMIT:
                    self.dropped += 1
                    continue
                self._queue.append(packet)
            self._ready.notify_all()

    def _device_gone(self) -> None:
        with self._ready:
            self._gone = True
            self._ready.notify_all()
