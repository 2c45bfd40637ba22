"""CTAPHID framing of the virtual key, as a pure state machine (no threads, no I/O).

The key's HID interface feeds every 64-byte output report the host writes into
:meth:`CtapHidFraming.receive` and sends whatever packets come back. Commands the framing
answers itself (INIT, PING, WINK, LOCK, and every protocol error) never leave this module; a
complete CBOR, MSG or vendor message comes back as a :class:`Request` for the key to process on
a worker, whose answer goes through :meth:`CtapHidFraming.complete`. While that request runs,
:meth:`CtapHidFraming.keepalive` frames KEEPALIVE packets and a CANCEL on the same channel
comes back as :attr:`Output.cancel`.

Behaviour follows CTAP 2.1, section 11.2 (USB HID): channel allocation on the broadcast
channel, one transaction at a time (ERR_CHANNEL_BUSY to other channels), sequence numbers
checked (ERR_INVALID_SEQ), a half-received message times out (ERR_MSG_TIMEOUT), spurious
continuation packets are ignored, and a malformed packet gets a CTAPHID error, never an
exception.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from fido2.hid import CAPABILITY, CTAPHID, TYPE_INIT

BROADCAST_CHANNEL = 0xFFFFFFFF
PACKET_SIZE = 64
PROTOCOL_VERSION = 2
INIT_NONCE_SIZE = 8
DEFAULT_MESSAGE_TIMEOUT = 1.0
"""Seconds a half-received message may wait for its next continuation packet."""
MAX_LOCK_SECONDS = 10


class HidError:
    """CTAPHID error codes (the payload of an ERROR response)."""

    INVALID_CMD = 0x01
    INVALID_PAR = 0x02
    INVALID_LEN = 0x03
    INVALID_SEQ = 0x04
    MSG_TIMEOUT = 0x05
    CHANNEL_BUSY = 0x06
    LOCK_REQUIRED = 0x0A
    INVALID_CHANNEL = 0x0B
    OTHER = 0x7F


def max_message_size(packet_size: int = PACKET_SIZE) -> int:
    """The largest payload one message can carry: an init packet and 128 continuations."""
    return (packet_size - 7) + 128 * (packet_size - 5)


def encode_message(channel: int, command: int, payload: bytes, packet_size: int) -> list[bytes]:
    """Split one message into an init packet and continuation packets, zero-padded."""
    first = packet_size - 7
    rest = packet_size - 5
    packets = [
        (struct.pack(">IBH", channel, TYPE_INIT | command, len(payload)) + payload[:first]).ljust(
            packet_size, b"\0"
        )
    ]
    offset, seq = first, 0
    while offset < len(payload):
        body = payload[offset : offset + rest]
        packets.append((struct.pack(">IB", channel, seq) + body).ljust(packet_size, b"\0"))
        offset += rest
        seq += 1
    return packets


def error_packet(channel: int, code: int, packet_size: int = PACKET_SIZE) -> bytes:
    return encode_message(channel, CTAPHID.ERROR, bytes([code]), packet_size)[0]


@dataclass(frozen=True)
class Request:
    """A complete message for the key itself (CBOR, MSG or a vendor command)."""

    txid: int
    channel: int
    command: int
    payload: bytes


@dataclass
class Output:
    """What one step of the state machine produced."""

    packets: list[bytes] = field(default_factory=list)
    """Packets to send to the host, in order."""
    request: Request | None = None
    """A complete message the key must now process."""
    cancel: int | None = None
    """The txid of a running request the host cancelled (CANCEL, or INIT on its channel)."""
    winked: bool = False


@dataclass
class _Partial:
    channel: int
    command: int
    length: int
    data: bytearray
    next_seq: int
    deadline: float


@dataclass(frozen=True)
class FramingConfig:
    device_version: tuple[int, int, int]
    """Reported in the INIT reply; YubiKeys report their firmware version here."""
    u2f: bool = False
    """Whether MSG (U2F/CTAP1) is offered. When not, capabilities carry NMSG."""
    cbor: bool = True
    vendor_commands: frozenset[int] = frozenset()
    """Vendor commands (0x40-0x7F) handed to the key; others get ERR_INVALID_CMD."""
    packet_size: int = PACKET_SIZE
    message_timeout: float = DEFAULT_MESSAGE_TIMEOUT

    @property
    def capabilities(self) -> int:
        caps = CAPABILITY.WINK
        if self.cbor:
            caps |= CAPABILITY.CBOR
        if not self.u2f:
            caps |= CAPABILITY.NMSG
        return int(caps)


class CtapHidFraming:
    """The CTAPHID layer of one key, from power-on to power-off."""

    def __init__(self, config: FramingConfig, *, clock: Callable[[], float] = time.monotonic):
        self.config = config
        self._clock = clock
        self._txids = 0
        self.winks = 0
        """How many times the host asked the key to blink."""
        self.power_cycle()

    # -- lifecycle -------------------------------------------------------------------------

    def power_cycle(self) -> None:
        """Forget channels, locks and transactions, as a key does when it loses power."""
        self._channels: set[int] = set()
        self._next_channel = 1
        self._partial: _Partial | None = None
        self._running: Request | None = None
        self._lock_channel: int | None = None
        self._lock_until = 0.0

    @property
    def busy(self) -> bool:
        """True while a message is being received or processed."""
        return self._partial is not None or self._running is not None

    @property
    def running(self) -> Request | None:
        return self._running

    # -- host to key -----------------------------------------------------------------------

    def receive(self, packet: bytes) -> Output:
        """Handle one output report from the host."""
        size = self.config.packet_size
        packet = bytes(packet[:size]).ljust(size, b"\0")
        out = self.expire()
        channel, kind = struct.unpack_from(">IB", packet)
        if kind & TYPE_INIT:
            (length,) = struct.unpack_from(">H", packet, 5)
            self._init_packet(out, channel, kind & 0x7F, length, packet[7:])
        else:
            self._continuation(out, channel, kind, packet[5:])
        return out

    def expire(self) -> Output:
        """Time out a half-received message and an expired channel lock."""
        out = Output()
        now = self._clock()
        if self._lock_channel is not None and now >= self._lock_until:
            self._lock_channel = None
        partial = self._partial
        if partial is not None and now >= partial.deadline:
            self._partial = None
            out.packets.append(self._error(partial.channel, HidError.MSG_TIMEOUT))
        return out

    def _init_packet(
        self, out: Output, channel: int, command: int, length: int, data: bytes
    ) -> None:
        if channel == 0:
            out.packets.append(self._error(channel, HidError.INVALID_CHANNEL))
            return
        if command == CTAPHID.INIT:
            self._init_command(out, channel, length, data)
            return
        if channel == BROADCAST_CHANNEL or channel not in self._channels:
            out.packets.append(self._error(channel, HidError.INVALID_CHANNEL))
            return
        if command == CTAPHID.CANCEL:
            running = self._running
            if running is not None and running.channel == channel:
                out.cancel = running.txid
            return  # CANCEL is never answered by the framing
        if self._lock_channel is not None and self._lock_channel != channel:
            out.packets.append(self._error(channel, HidError.CHANNEL_BUSY))
            return
        partial = self._partial
        if partial is not None:
            if partial.channel == channel:
                # A new message while the previous one is incomplete: the sequence broke.
                self._partial = None
                out.packets.append(self._error(channel, HidError.INVALID_SEQ))
            else:
                out.packets.append(self._error(channel, HidError.CHANNEL_BUSY))
            return
        if self._running is not None:
            out.packets.append(self._error(channel, HidError.CHANNEL_BUSY))
            return
        if length > max_message_size(self.config.packet_size):
            out.packets.append(self._error(channel, HidError.INVALID_LEN))
            return
        first = data[:length]
        if len(first) == length:
            self._dispatch(out, channel, command, first)
            return
        self._partial = _Partial(
            channel=channel,
            command=command,
            length=length,
            data=bytearray(first),
            next_seq=0,
            deadline=self._clock() + self.config.message_timeout,
        )

    def _init_command(self, out: Output, channel: int, length: int, data: bytes) -> None:
        if channel != BROADCAST_CHANNEL and channel not in self._channels:
            out.packets.append(self._error(channel, HidError.INVALID_CHANNEL))
            return
        if length != INIT_NONCE_SIZE:
            out.packets.append(self._error(channel, HidError.INVALID_LEN))
            return
        if self._lock_channel is not None and self._lock_channel != channel:
            out.packets.append(self._error(channel, HidError.CHANNEL_BUSY))
            return
        nonce = data[:INIT_NONCE_SIZE]
        if channel == BROADCAST_CHANNEL:
            new_channel = self._allocate_channel()
        else:
            # Resynchronise: abandon whatever this channel was doing.
            new_channel = channel
            if self._partial is not None and self._partial.channel == channel:
                self._partial = None
            if self._running is not None and self._running.channel == channel:
                out.cancel = self._running.txid
                self._running = None
        major, minor, build = self.config.device_version
        reply = nonce + struct.pack(
            ">IBBBBB", new_channel, PROTOCOL_VERSION, major, minor, build, self.config.capabilities
        )
        out.packets.extend(self._message(channel, CTAPHID.INIT, reply))

    def _allocate_channel(self) -> int:
        channel = self._next_channel
        self._next_channel += 1
        if self._next_channel >= BROADCAST_CHANNEL:
            self._next_channel = 1
        self._channels.add(channel)
        return channel

    def _continuation(self, out: Output, channel: int, seq: int, data: bytes) -> None:
        partial = self._partial
        if partial is None or partial.channel != channel:
            return  # A spurious continuation packet is ignored.
        if seq != partial.next_seq:
            self._partial = None
            out.packets.append(self._error(channel, HidError.INVALID_SEQ))
            return
        partial.data += data[: partial.length - len(partial.data)]
        partial.next_seq += 1
        partial.deadline = self._clock() + self.config.message_timeout
        if len(partial.data) == partial.length:
            self._partial = None
            self._dispatch(out, channel, partial.command, bytes(partial.data))

    def _dispatch(self, out: Output, channel: int, command: int, payload: bytes) -> None:
        config = self.config
        if command == CTAPHID.PING:
            out.packets.extend(self._message(channel, command, payload))
        elif command == CTAPHID.WINK:
            if payload:
                out.packets.append(self._error(channel, HidError.INVALID_LEN))
                return
            self.winks += 1
            out.winked = True
            out.packets.extend(self._message(channel, command, b""))
        elif command == CTAPHID.LOCK:
            self._lock(out, channel, payload)
        elif (
            (command == CTAPHID.CBOR and config.cbor)
            or (command == CTAPHID.MSG and config.u2f)
            or command in config.vendor_commands
        ):
            self._txids += 1
            request = Request(self._txids, channel, command, payload)
            self._running = request
            out.request = request
        else:
            out.packets.append(self._error(channel, HidError.INVALID_CMD))

    def _lock(self, out: Output, channel: int, payload: bytes) -> None:
        if len(payload) != 1:
            out.packets.append(self._error(channel, HidError.INVALID_LEN))
            return
        seconds = payload[0]
        if seconds > MAX_LOCK_SECONDS:
            out.packets.append(self._error(channel, HidError.INVALID_PAR))
            return
        if seconds:
            self._lock_channel = channel
            self._lock_until = self._clock() + seconds
        else:
            self._lock_channel = None
        out.packets.extend(self._message(channel, CTAPHID.LOCK, b""))

    # -- key to host -----------------------------------------------------------------------

    def complete(self, txid: int, payload: bytes) -> list[bytes]:
        """Frame the answer to a request; nothing if the request was abandoned meanwhile."""
        running = self._running
        if running is None or running.txid != txid:
            return []
        self._running = None
        return self._message(running.channel, running.command, payload)

    def fail(self, txid: int, code: int) -> list[bytes]:
        """Answer a request with a CTAPHID error instead of a reply."""
        running = self._running
        if running is None or running.txid != txid:
            return []
        self._running = None
        return [self._error(running.channel, code)]

    def keepalive(self, txid: int, status: int) -> list[bytes]:
        """A KEEPALIVE packet for a request still running; nothing otherwise."""
        running = self._running
        if running is None or running.txid != txid:
            return []
        return self._message(running.channel, CTAPHID.KEEPALIVE, bytes([status & 0xFF]))

    def _message(self, channel: int, command: int, payload: bytes) -> list[bytes]:
        return encode_message(channel, command, payload, self.config.packet_size)

    def _error(self, channel: int, code: int) -> bytes:
        return error_packet(channel, code, self.config.packet_size)


def decode_messages(packets: Iterable[bytes]) -> list[tuple[int, int, bytes]]:
    """Reassemble packets from the key into (channel, command, payload) messages.

    For tests and diagnostics; assumes the packets are well formed, as the key sends them.
    """
    messages: list[tuple[int, int, bytes]] = []
    current: tuple[int, int, int, bytearray] | None = None
    for packet in packets:
        channel, kind = struct.unpack_from(">IB", packet)
        if kind & TYPE_INIT:
            (length,) = struct.unpack_from(">H", packet, 5)
            current = (channel, kind & 0x7F, length, bytearray(packet[7 : 7 + length]))
        elif current is not None:
            current[3].extend(packet[5 : 5 + current[2] - len(current[3])])
        if current is not None and len(current[3]) >= current[2]:
            messages.append((current[0], current[1], bytes(current[3])))
            current = None
    return messages
