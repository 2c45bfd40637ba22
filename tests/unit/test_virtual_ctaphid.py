"""CTAPHID framing of the virtual key: the pure state machine, then real packets through
python-fido2's CtapHidDevice over the key's HID interface.

The HID-interface tests use a small request handler (a stand-in for the authenticator) so the
transport is tested on its own; the full key is tested in test_virtual_port.py.
"""

from __future__ import annotations

import errno
import struct
import threading
import time
from collections.abc import Iterator

import pytest
from fido2.ctap import STATUS, CtapError
from fido2.hid import CAPABILITY, CTAPHID, CtapHidDevice
from fido2.hid.base import HidDescriptor

from kiosk.keys.virtual.connection import HidInterface, Keepalive, Reply, VirtualConnection
from kiosk.keys.virtual.ctaphid import (
    BROADCAST_CHANNEL,
    CtapHidFraming,
    FramingConfig,
    HidError,
    Request,
    decode_messages,
    encode_message,
    max_message_size,
)
from tests.fixtures.clock import FakeClock

NONCE = bytes(range(1, 9))


def make_framing(**kwargs: object) -> tuple[CtapHidFraming, FakeClock]:
    clock = FakeClock(100.0)
    config = FramingConfig(device_version=(5, 7, 1), **kwargs)  # type: ignore[arg-type]
    return CtapHidFraming(config, clock=clock), clock


def send(framing: CtapHidFraming, channel: int, command: int, payload: bytes = b"") -> list:
    """Send one message; returns every Output."""
    return [framing.receive(p) for p in encode_message(channel, command, payload, 64)]


def replies(outputs: list) -> list[tuple[int, int, bytes]]:
    return decode_messages([p for out in outputs for p in out.packets])


def open_channel(framing: CtapHidFraming) -> int:
    [(channel, command, body)] = replies(send(framing, BROADCAST_CHANNEL, CTAPHID.INIT, NONCE))
    assert channel == BROADCAST_CHANNEL and command == CTAPHID.INIT
    return int(struct.unpack_from(">I", body, 8)[0])


def error_of(outputs: list) -> tuple[int, int]:
    [(channel, command, body)] = replies(outputs)
    assert command == CTAPHID.ERROR
    return channel, body[0]


# -- INIT and channels ----------------------------------------------------------------------


def test_init_allocates_a_new_channel_each_time_and_reports_version_and_capabilities() -> None:
    framing, _ = make_framing()
    [(_, _, body)] = replies(send(framing, BROADCAST_CHANNEL, CTAPHID.INIT, NONCE))
    assert len(body) == 17
    nonce, channel, proto, major, minor, build, caps = struct.unpack(">8sIBBBBB", body)
    assert nonce == NONCE
    assert channel not in (0, BROADCAST_CHANNEL)
    assert (proto, major, minor, build) == (2, 5, 7, 1)
    assert caps == CAPABILITY.WINK | CAPABILITY.CBOR | CAPABILITY.NMSG
    assert open_channel(framing) != channel


def test_nmsg_is_not_claimed_when_u2f_is_offered() -> None:
    framing, _ = make_framing(u2f=True)
    [(_, _, body)] = replies(send(framing, BROADCAST_CHANNEL, CTAPHID.INIT, NONCE))
    assert not body[16] & CAPABILITY.NMSG


def test_init_with_a_short_nonce_is_an_invalid_length() -> None:
    framing, _ = make_framing()
    assert error_of(send(framing, BROADCAST_CHANNEL, CTAPHID.INIT, b"1234")) == (
        BROADCAST_CHANNEL,
        HidError.INVALID_LEN,
    )


@pytest.mark.parametrize("channel", [0, BROADCAST_CHANNEL, 0x12345678])
def test_commands_on_reserved_or_unallocated_channels_are_refused(channel: int) -> None:
    framing, _ = make_framing()
    open_channel(framing)
    assert error_of(send(framing, channel, CTAPHID.PING, b"hi")) == (
        channel,
        HidError.INVALID_CHANNEL,
    )


def test_init_on_an_unallocated_channel_is_refused() -> None:
    framing, _ = make_framing()
    assert error_of(send(framing, 0x0BADCAFE, CTAPHID.INIT, NONCE))[1] == HidError.INVALID_CHANNEL


# -- messages, continuation and sequence ------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 57, 58, 116, 117, 1000, max_message_size()])
def test_ping_echoes_messages_across_continuation_packets(size: int) -> None:
    framing, _ = make_framing()
    channel = open_channel(framing)
    payload = bytes(i % 251 for i in range(size))
    outputs = send(framing, channel, CTAPHID.PING, payload)
    assert all(not out.packets for out in outputs[:-1])  # nothing until the message is whole
    assert replies(outputs) == [(channel, CTAPHID.PING, payload)]
    assert all(len(p) == 64 for p in outputs[-1].packets)


def test_a_message_longer_than_the_protocol_allows_is_an_invalid_length() -> None:
    framing, _ = make_framing()
    channel = open_channel(framing)
    packet = struct.pack(">IBH", channel, 0x80 | CTAPHID.PING, max_message_size() + 1)
    assert error_of([framing.receive(packet.ljust(64, b"\0"))]) == (channel, HidError.INVALID_LEN)


def test_a_skipped_sequence_number_is_an_invalid_seq_and_the_channel_recovers() -> None:
    framing, _ = make_framing()
    channel = open_channel(framing)
    packets = encode_message(channel, CTAPHID.PING, bytes(200), 64)
    framing.receive(packets[0])
    assert error_of([framing.receive(packets[2])]) == (channel, HidError.INVALID_SEQ)
    assert not framing.busy
    assert replies(send(framing, channel, CTAPHID.PING, b"again")) == [
        (channel, CTAPHID.PING, b"again")
    ]


def test_a_new_message_before_the_last_one_is_complete_is_an_invalid_seq() -> None:
    framing, _ = make_framing()
    channel = open_channel(framing)
    framing.receive(encode_message(channel, CTAPHID.PING, bytes(200), 64)[0])
    assert error_of(send(framing, channel, CTAPHID.WINK)) == (channel, HidError.INVALID_SEQ)


def test_spurious_continuation_packets_are_ignored() -> None:
    framing, _ = make_framing()
    channel = open_channel(framing)
    out = framing.receive(struct.pack(">IB", channel, 3).ljust(64, b"\0"))
    assert out.packets == [] and out.request is None


def test_a_half_received_message_times_out() -> None:
    framing, clock = make_framing(message_timeout=0.5)
    channel = open_channel(framing)
    packets = encode_message(channel, CTAPHID.PING, bytes(200), 64)
    framing.receive(packets[0])
    clock.now += 0.4
    assert framing.expire().packets == []
    framing.receive(packets[1])  # each continuation restarts the clock
    clock.now += 0.4
    assert framing.expire().packets == []
    clock.now += 0.2
    assert error_of([framing.expire()]) == (channel, HidError.MSG_TIMEOUT)
    assert not framing.busy


# -- one transaction at a time ----------------------------------------------------------------


def test_another_channel_is_busy_while_a_message_is_being_received() -> None:
    framing, _ = make_framing()
    first, second = open_channel(framing), open_channel(framing)
    packets = encode_message(first, CTAPHID.PING, bytes(100), 64)
    framing.receive(packets[0])
    assert error_of(send(framing, second, CTAPHID.PING, b"x")) == (second, HidError.CHANNEL_BUSY)
    assert replies([framing.receive(packets[1])]) == [(first, CTAPHID.PING, bytes(100))]
    assert replies(send(framing, second, CTAPHID.PING, b"x")) == [(second, CTAPHID.PING, b"x")]


def test_a_cbor_request_is_handed_to_the_key_and_other_channels_wait() -> None:
    framing, _ = make_framing()
    first, second = open_channel(framing), open_channel(framing)
    [out] = send(framing, first, CTAPHID.CBOR, b"\x04")
    assert out.packets == []
    request = out.request
    assert request is not None and (request.channel, request.payload) == (first, b"\x04")
    assert error_of(send(framing, second, CTAPHID.PING)) == (second, HidError.CHANNEL_BUSY)
    assert error_of(send(framing, first, CTAPHID.PING)) == (first, HidError.CHANNEL_BUSY)
    [(_, _, status)] = decode_messages(framing.keepalive(request.txid, STATUS.UPNEEDED))
    assert status == bytes([STATUS.UPNEEDED])
    assert decode_messages(framing.complete(request.txid, b"\x00\xa0")) == [
        (first, CTAPHID.CBOR, b"\x00\xa0")
    ]
    assert framing.keepalive(request.txid, STATUS.PROCESSING) == []  # finished: no more
    assert replies(send(framing, second, CTAPHID.PING, b"ok")) == [(second, CTAPHID.PING, b"ok")]


def test_cancel_reaches_the_running_request_only_from_its_own_channel() -> None:
    framing, _ = make_framing()
    first, second = open_channel(framing), open_channel(framing)
    [out] = send(framing, first, CTAPHID.CBOR, b"\x01")
    assert out.request is not None
    [other] = send(framing, second, CTAPHID.CANCEL)
    assert other.cancel is None and other.packets == []
    [mine] = send(framing, first, CTAPHID.CANCEL)
    assert mine.cancel == out.request.txid and mine.packets == []


def test_init_on_a_busy_channel_abandons_its_request() -> None:
    framing, _ = make_framing()
    channel = open_channel(framing)
    [out] = send(framing, channel, CTAPHID.CBOR, b"\x01")
    assert out.request is not None
    outputs = send(framing, channel, CTAPHID.INIT, NONCE)
    assert outputs[0].cancel == out.request.txid
    [(reply_channel, _, body)] = replies(outputs)
    assert reply_channel == channel and struct.unpack_from(">I", body, 8)[0] == channel
    assert framing.complete(out.request.txid, b"\x00") == []  # the late answer is dropped


def test_msg_is_refused_when_u2f_is_not_offered_and_unknown_vendor_commands_too() -> None:
    framing, _ = make_framing()
    channel = open_channel(framing)
    assert error_of(send(framing, channel, CTAPHID.MSG, bytes(7)))[1] == HidError.INVALID_CMD
    assert error_of(send(framing, channel, 0x42, b"\x00"))[1] == HidError.INVALID_CMD
    assert error_of(send(framing, channel, 0x3B, b""))[1] == HidError.INVALID_CMD


def test_configured_vendor_commands_reach_the_key() -> None:
    framing, _ = make_framing(vendor_commands=frozenset({0x42}))
    channel = open_channel(framing)
    [out] = send(framing, channel, 0x42, b"\x00")
    assert out.request == Request(out.request.txid if out.request else 0, channel, 0x42, b"\x00")


def test_wink_answers_and_counts() -> None:
    framing, _ = make_framing()
    channel = open_channel(framing)
    assert replies(send(framing, channel, CTAPHID.WINK)) == [(channel, CTAPHID.WINK, b"")]
    assert framing.winks == 1


def test_lock_keeps_other_channels_out_until_it_expires() -> None:
    framing, clock = make_framing()
    first, second = open_channel(framing), open_channel(framing)
    assert replies(send(framing, first, CTAPHID.LOCK, b"\x05")) == [(first, CTAPHID.LOCK, b"")]
    assert error_of(send(framing, second, CTAPHID.PING))[1] == HidError.CHANNEL_BUSY
    assert replies(send(framing, first, CTAPHID.PING, b"a")) == [(first, CTAPHID.PING, b"a")]
    clock.now += 5.0
    assert replies(send(framing, second, CTAPHID.PING, b"b")) == [(second, CTAPHID.PING, b"b")]
    assert error_of(send(framing, first, CTAPHID.LOCK, b"\x0b"))[1] == HidError.INVALID_PAR


def test_short_packets_are_padded_and_answered_not_raised() -> None:
    framing, _ = make_framing()
    assert framing.receive(b"").packets == []  # a continuation on channel 0: ignored
    assert error_of([framing.receive(b"\0\0\0\0\x81")]) == (0, HidError.INVALID_CHANNEL)
    assert error_of([framing.receive(b"\xff\xff\xff\xff\x81")]) == (
        BROADCAST_CHANNEL,
        HidError.INVALID_CHANNEL,
    )


def test_power_cycle_forgets_channels() -> None:
    framing, _ = make_framing()
    channel = open_channel(framing)
    framing.power_cycle()
    assert error_of(send(framing, channel, CTAPHID.PING))[1] == HidError.INVALID_CHANNEL


# -- real packets through python-fido2 over the HID interface -----------------------------------

DESCRIPTOR = HidDescriptor("virtual:test", 0x1050, 0x0407, 64, 64, "Test key", None)


class WaitForTouch:
    """Stand-in authenticator: asks for a touch until cancelled, as makeCredential would."""

    def __init__(self) -> None:
        self.calls: list[bytes] = []

    def __call__(self, request: Request, keepalive: Keepalive, cancelled: threading.Event) -> Reply:
        self.calls.append(request.payload)
        if request.payload[:1] == b"\x04":
            return Reply(b"\x00\xa0")
        deadline = time.monotonic() + 5.0
        while not cancelled.wait(0.05):
            keepalive(STATUS.UPNEEDED)
            if time.monotonic() > deadline:
                return Reply(b"\x2f")  # USER_ACTION_TIMEOUT
        return Reply(b"\x2d")  # KEEPALIVE_CANCEL


@pytest.fixture
def interface() -> Iterator[HidInterface]:
    framing = CtapHidFraming(FramingConfig(device_version=(5, 7, 1), message_timeout=0.3))
    iface = HidInterface(framing, WaitForTouch())
    iface.attach()
    yield iface
    iface.detach()


def test_fido2_opens_pings_and_winks_over_packets(interface: HidInterface) -> None:
    device = CtapHidDevice(DESCRIPTOR, interface.open())
    assert device.device_version == (5, 7, 1)
    assert device.capabilities & CAPABILITY.CBOR
    assert device.ping(b"Hello FIDO" * 100) == b"Hello FIDO" * 100
    device.wink()
    assert interface.framing.winks == 1
    assert device.call(CTAPHID.CBOR, b"\x04") == b"\x00\xa0"


def test_keepalives_reach_fido2_and_its_event_cancels_the_wait(interface: HidInterface) -> None:
    device = CtapHidDevice(DESCRIPTOR, interface.open())
    event = threading.Event()
    seen: list[int] = []

    def on_keepalive(status: int) -> None:
        seen.append(status)
        threading.Timer(0.1, event.set).start()

    started = time.monotonic()
    assert device.call(CTAPHID.CBOR, b"\x01", event, on_keepalive) == b"\x2d"
    assert seen == [STATUS.UPNEEDED]
    assert time.monotonic() - started < 2.0
    with pytest.raises(CtapError) as err:  # CtapHidDevice raises the status of an ERROR packet
        device.call(CTAPHID.MSG, bytes(7))
    assert err.value.code == CtapError.ERR.INVALID_COMMAND


def test_a_pulled_interface_fails_a_waiting_call_like_a_dead_hidraw(
    interface: HidInterface,
) -> None:
    device = CtapHidDevice(DESCRIPTOR, interface.open())
    threading.Timer(0.2, interface.detach).start()
    with pytest.raises(OSError) as err:
        device.call(CTAPHID.CBOR, b"\x01")
    assert err.value.errno == errno.EIO
    with pytest.raises(OSError) as err:
        device.ping()
    assert err.value.errno == errno.ENODEV
    with pytest.raises(FileNotFoundError):
        interface.open()


def test_a_stalled_sender_gets_msg_timeout_while_it_waits_to_read(
    interface: HidInterface,
) -> None:
    connection = interface.open()
    connection.write_packet(encode_message(BROADCAST_CHANNEL, CTAPHID.INIT, NONCE, 64)[0])
    [(_, _, body)] = decode_messages([connection.read_packet()])
    channel = struct.unpack_from(">I", body, 8)[0]
    connection.write_packet(encode_message(channel, CTAPHID.PING, bytes(100), 64)[0])
    assert decode_messages([connection.read_packet()]) == [
        (channel, CTAPHID.ERROR, bytes([HidError.MSG_TIMEOUT]))
    ]


def next_message(handle: VirtualConnection, channel: int) -> tuple[int, bytes]:
    """The next (command, payload) on ``channel``; other clients' reports are skipped."""
    while True:
        for c, command, payload in decode_messages([handle.read_packet()]):
            if c == channel:
                return command, payload


def test_every_open_handle_sees_every_report_and_a_second_client_is_told_busy(
    interface: HidInterface,
) -> None:
    first, second = interface.open(), interface.open()

    def init(handle: VirtualConnection, nonce: bytes) -> int:
        handle.write_packet(encode_message(BROADCAST_CHANNEL, CTAPHID.INIT, nonce, 64)[0])
        while True:
            command, body = next_message(handle, BROADCAST_CHANNEL)
            if command == CTAPHID.INIT and body[:8] == nonce:
                return int(struct.unpack_from(">I", body, 8)[0])

    mine = init(first, NONCE)
    other = init(second, b"another!")  # skips first's INIT reply, which second saw too
    first.write_packet(encode_message(mine, CTAPHID.CBOR, b"\x01", 64)[0])
    assert next_message(first, mine) == (CTAPHID.KEEPALIVE, bytes([STATUS.UPNEEDED]))
    second.write_packet(encode_message(other, CTAPHID.PING, b"x", 64)[0])
    assert next_message(second, other) == (CTAPHID.ERROR, bytes([HidError.CHANNEL_BUSY]))
    first.write_packet(encode_message(mine, CTAPHID.CANCEL, b"", 64)[0])
    command, payload = next_message(first, mine)
    while command == CTAPHID.KEEPALIVE:
        command, payload = next_message(first, mine)
    assert (command, payload) == (CTAPHID.CBOR, b"\x2d")
    second.close()
    with pytest.raises(OSError):
        second.read_packet()
