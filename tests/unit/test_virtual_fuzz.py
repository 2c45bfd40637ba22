"""Property tests: random and truncated CTAPHID packets get CTAPHID errors, random CBOR at the
CBOR command gets CTAP status codes; the virtual key never crashes, hangs or stops answering."""

from __future__ import annotations

import logging
import struct
import threading
import time
from collections.abc import Iterator

import pytest
from fido2 import cbor
from fido2.ctap import CtapError
from fido2.hid import CTAPHID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.keys.virtual.ctaphid import (
    BROADCAST_CHANNEL,
    CtapHidFraming,
    FramingConfig,
    HidError,
    decode_messages,
    encode_message,
)
from kiosk.keys.virtual.device import VirtualKey
from kiosk.keys.virtual.port import VirtualPort
from kiosk.keys.virtual.profiles import NO_LATENCY, YUBIKEY_5
from tests.fixtures.clock import FakeClock

FAST = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
LIVE = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))

HID_ERRORS = {
    HidError.INVALID_CMD,
    HidError.INVALID_PAR,
    HidError.INVALID_LEN,
    HidError.INVALID_SEQ,
    HidError.MSG_TIMEOUT,
    HidError.CHANNEL_BUSY,
    HidError.INVALID_CHANNEL,
}
ANSWERED_BY_FRAMING = {CTAPHID.INIT, CTAPHID.PING, CTAPHID.WINK, CTAPHID.LOCK, CTAPHID.ERROR}
KNOWN_CTAP = {e.value for e in CtapError.ERR}

channels = st.sampled_from([0, 1, 2, 3, BROADCAST_CHANNEL]) | st.integers(0, 0xFFFFFFFF)
hid_commands = st.sampled_from([int(c) for c in CTAPHID] + [0x42, 0x43, 0x7F]) | st.integers(
    0, 0x7F
)


@st.composite
def raw_packet(draw: st.DrawFn) -> bytes:
    """A packet with random header fields: plausible, truncated, oversized or pure noise."""
    channel = draw(channels)
    kind = draw(st.sampled_from(["init", "cont", "noise"]))
    if kind == "init":
        command = draw(hid_commands)
        length = draw(st.sampled_from([0, 1, 8, 57, 58, 200, 7609, 7610]) | st.integers(0, 0xFFFF))
        head = struct.pack(">IBH", channel, 0x80 | command, length)
    elif kind == "cont":
        head = struct.pack(">IB", channel, draw(st.integers(0, 0x7F)))
    else:
        return draw(st.binary(max_size=80))
    packet = head + draw(st.binary(max_size=64))
    return packet[: draw(st.integers(0, len(packet)))] if draw(st.booleans()) else packet


@st.composite
def message(draw: st.DrawFn) -> list[bytes]:
    """A whole message on a live channel, sent intact or mangled (cut short, out of order)."""
    channel = draw(st.sampled_from([1, 2, 3]) | channels)
    command = draw(hid_commands)
    payload = draw(st.binary(max_size=200))
    sent = encode_message(channel, command, payload, 64)
    mangle = draw(st.sampled_from(["intact", "intact", "cut", "reorder", "repeat"]))
    if mangle == "cut" and len(sent) > 1:
        sent = sent[: draw(st.integers(1, len(sent) - 1))]
    elif mangle == "reorder" and len(sent) > 2:
        sent = [sent[0], *reversed(sent[1:])]
    elif mangle == "repeat":
        sent = [*sent, sent[-1]]
    return sent


def packets() -> st.SearchStrategy[list[bytes]]:
    return st.one_of(
        st.just([ALLOCATE]),
        message(),
        message(),
        raw_packet().map(lambda packet: [packet]),
    )


ALLOCATE = encode_message(BROADCAST_CHANNEL, CTAPHID.INIT, b"noncenon", 64)[0]
"""A well-formed INIT on the broadcast channel: channels 1, 2, ... exist after these."""


@FAST
@given(
    steps=st.lists(st.tuples(packets(), st.sampled_from([0.0, 0.0, 0.3, 2.0, 11.0])), max_size=30)
)
def test_random_packets_only_ever_get_ctaphid_answers(
    steps: list[tuple[list[bytes], float]],
) -> None:
    clock = FakeClock(0.0)
    framing = CtapHidFraming(FramingConfig(device_version=(5, 7, 1)), clock=clock)
    sequence = [(p, wait if i == 0 else 0.0) for group, wait in steps for i, p in enumerate(group)]
    for packet, wait in [(ALLOCATE, 0.0), (ALLOCATE, 0.0), *sequence]:
        clock.now += wait
        out = framing.receive(packet)
        assert all(len(p) == 64 for p in out.packets)
        for _, command, payload in decode_messages(out.packets):
            assert command in ANSWERED_BY_FRAMING
            if command == CTAPHID.ERROR:
                assert len(payload) == 1 and payload[0] in HID_ERRORS
        if out.request is not None:
            assert out.request.command == CTAPHID.CBOR
            [answer] = decode_messages(framing.complete(out.request.txid, b"\x00"))
            assert answer == (out.request.channel, CTAPHID.CBOR, b"\x00")
            assert framing.running is None


# -- the whole key, over a real connection ------------------------------------------------------


class ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[VirtualPort, VirtualKey, ErrorLog]]:
    port = VirtualPort()
    key = VirtualKey(YUBIKEY_5.with_latency(NO_LATENCY), auto_touch=0.0, touch_timeout=0.5, seed=7)
    port.plug(key)
    errors = ErrorLog()
    logging.getLogger("kiosk.keys.virtual").addHandler(errors)
    yield port, key, errors
    logging.getLogger("kiosk.keys.virtual").removeHandler(errors)
    port.unplug()


def resync(key: VirtualKey, count: int) -> None:
    """Abandon whatever the random packets left half-done on channels 1..count (INIT on each
    channel, then release any lock), as a host would after a crash."""
    connection = key.connect()
    nonce = b"resync!!"
    for channel in range(1, count + 2):
        connection.write_packet(encode_message(channel, CTAPHID.INIT, nonce, 64)[0])
        connection.write_packet(encode_message(channel, CTAPHID.LOCK, b"\x00", 64)[0])
    connection.close()


def alive(port: VirtualPort) -> None:
    [descriptor] = port.list_descriptors()
    device = port.open(descriptor)
    try:
        assert device.ping(b"still here") == b"still here"
    finally:
        device.close()


@LIVE
@given(groups=st.lists(packets(), max_size=12))
def test_random_packets_never_break_the_live_key(
    live: tuple[VirtualPort, VirtualKey, ErrorLog], groups: list[list[bytes]]
) -> None:
    sequence = [packet for group in groups for packet in group]
    port, key, errors = live
    port.unplug(key)
    port.plug(key)  # channels are numbered from 1 again, so random packets can hit them
    connection = key.connect()
    for packet in [ALLOCATE, ALLOCATE, *sequence]:
        connection.write_packet(packet)  # never raises while the key is plugged
    received = []
    while (packet := connection.poll()) is not None:
        received.append(packet)
    connection.close()
    assert all(len(p) == 64 for p in received)
    resync(key, len(sequence) + 2)
    deadline = time.monotonic() + 5.0
    while key.waiting_for_touch and time.monotonic() < deadline:
        time.sleep(0.01)
    alive(port)
    assert errors.records == []


cbor_leaves = (
    st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.binary(max_size=70)
    | st.text(max_size=16)
    | st.booleans()
)
cbor_values = st.recursive(
    cbor_leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.integers(-2, 12) | st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=14,
)
ctap_commands = st.sampled_from([0x01, 0x02, 0x04, 0x06, 0x08, 0x0A, 0x0B, 0x0D, 0x41, 0x99])


@LIVE
@given(
    command=ctap_commands,
    body=st.dictionaries(st.integers(0, 12), cbor_values, max_size=8).map(cbor.encode)
    | st.binary(max_size=200),
)
def test_random_cbor_at_the_cbor_command_gets_ctap_status_codes(
    live: tuple[VirtualPort, VirtualKey, ErrorLog], command: int, body: bytes
) -> None:
    port, _, errors = live
    [descriptor] = port.list_descriptors()
    device = port.open(descriptor)
    try:
        response = device.call(CTAPHID.CBOR, bytes([command]) + body, threading.Event())
    finally:
        device.close()
    assert response
    status = response[0]
    assert status in KNOWN_CTAP and status != CtapError.ERR.OTHER, hex(status)
    if status == 0 and len(response) > 1:
        assert cbor.encode(cbor.decode(response[1:])) == response[1:]
    assert errors.records == []


def test_a_truncated_message_then_silence_gets_msg_timeout_from_the_live_key(
    live: tuple[VirtualPort, VirtualKey, ErrorLog],
) -> None:
    _, key, _ = live
    connection = key.connect()
    try:
        connection.write_packet(encode_message(BROADCAST_CHANNEL, CTAPHID.INIT, b"12345678", 64)[0])
        [(_, _, reply)] = decode_messages([connection.read_packet()])
        channel = struct.unpack_from(">I", reply, 8)[0]
        connection.write_packet(encode_message(channel, CTAPHID.CBOR, bytes(300), 64)[0])
        started = time.monotonic()
        [(got, command, payload)] = decode_messages([connection.read_packet()])
        assert (got, command, payload) == (channel, CTAPHID.ERROR, bytes([HidError.MSG_TIMEOUT]))
        assert 0.5 <= time.monotonic() - started < 3.0
    finally:
        connection.close()
