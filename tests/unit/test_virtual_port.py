"""The virtual USB port and the virtual key behind it, driven by python-fido2 over packets:
plug and pull, keepalives and cancellation, latency, and every injected fault."""

from __future__ import annotations

import errno
import hashlib
import itertools
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from fido2 import cbor
from fido2.ctap import STATUS, CtapError
from fido2.ctap2 import ClientPin, Ctap2
from fido2.hid import CAPABILITY, CTAPHID, CtapHidDevice

from kiosk.keys.errors import KeyPulledError
from kiosk.keys.virtual.ctaphid import BROADCAST_CHANNEL, decode_messages, encode_message
from kiosk.keys.virtual.device import VirtualKey
from kiosk.keys.virtual.faults import FaultKind
from kiosk.keys.virtual.port import VirtualPort
from kiosk.keys.virtual.profiles import HARDWARE_LATENCY, YUBIKEY_5, Latency

MAKE_CREDENTIAL = 0x01
GET_INFO = 0x04
CLIENT_PIN = 0x06
ERR = CtapError.ERR


def make_credential(ctap: Ctap2, **kwargs: Any) -> Any:
    return ctap.make_credential(
        hashlib.sha256(b"client data").digest(),
        {"id": "login.microsoft.com", "name": "Microsoft"},
        {"id": b"user-1", "name": "ada@contoso.com", "displayName": "Ada"},
        [{"type": "public-key", "alg": -7}],
        **kwargs,
    )


def opened(port: VirtualPort, key: VirtualKey) -> tuple[CtapHidDevice, Ctap2]:
    device = port.open(port.plug(key))
    return device, Ctap2(device, strict_cbor=True)


def when(condition: Callable[[], bool], action: Callable[[], None]) -> threading.Thread:
    """Run ``action`` on a thread as soon as ``condition`` holds (within 5 s)."""

    def run() -> None:
        deadline = time.monotonic() + 5.0
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.005)
        action()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


# -- plugging -----------------------------------------------------------------------------------


def test_a_plugged_key_is_listed_with_its_profiles_usb_identity(
    virtual_port: VirtualPort, virtual_key_factory: Callable[..., VirtualKey]
) -> None:
    assert virtual_port.list_descriptors() == []
    key = virtual_key_factory("yubikey5")
    descriptor = virtual_port.plug(key)
    assert virtual_port.list_descriptors() == [descriptor]
    assert str(descriptor.path).startswith("virtual:")
    assert (descriptor.vid, descriptor.pid) == (0x1050, 0x0407)
    assert descriptor.product_name == "YubiKey OTP+FIDO+CCID"
    assert (descriptor.report_size_in, descriptor.report_size_out) == (64, 64)
    assert virtual_port.keys == [key] and key.plugged
    virtual_port.unplug(key)
    assert virtual_port.list_descriptors() == [] and not key.plugged
    again = virtual_port.plug(key)
    assert again.path != descriptor.path  # a re-inserted key is a new device node
    with pytest.raises(ValueError):
        virtual_port.plug(key)


def test_fido2_drives_the_key_over_packets(yubikey: CtapHidDevice, yubikey_key: VirtualKey) -> None:
    assert yubikey.device_version == (5, 7, 1)
    assert yubikey.capabilities == CAPABILITY.WINK | CAPABILITY.CBOR | CAPABILITY.NMSG
    assert yubikey.ping(b"kiosk" * 300) == b"kiosk" * 300
    yubikey.wink()
    assert yubikey_key.wink_count == 1
    info = Ctap2(yubikey, strict_cbor=True).get_info()
    assert "FIDO_2_1" in info.versions
    assert info.aaguid == YUBIKEY_5.aaguid.bytes
    with pytest.raises(CtapError) as err:
        yubikey.call(CTAPHID.MSG, bytes.fromhex("00010300000000"))
    assert err.value.code == ERR.INVALID_COMMAND


def test_opening_a_key_that_is_gone_raises_key_pulled(
    virtual_port: VirtualPort, virtual_key_factory: Callable[..., VirtualKey]
) -> None:
    key = virtual_key_factory()
    descriptor = virtual_port.plug(key)
    virtual_port.unplug()
    with pytest.raises(KeyPulledError):
        virtual_port.open(descriptor)
    virtual_port.plug(key)
    with pytest.raises(KeyPulledError):  # the old node is gone for good
        virtual_port.open(descriptor)


def test_pin_and_credentials_survive_a_replug(
    virtual_port: VirtualPort, virtual_key_factory: Callable[..., VirtualKey]
) -> None:
    key = virtual_key_factory()
    _, ctap = opened(virtual_port, key)
    ClientPin(ctap).set_pin("482916")
    virtual_port.unplug(key)
    _, ctap = opened(virtual_port, key)
    assert ctap.get_info().options["clientPin"] is True


# -- touch, keepalive, cancel ---------------------------------------------------------------------


def test_upneeded_keepalives_reach_fido2_until_the_key_is_touched(
    virtual_port: VirtualPort, virtual_key_factory: Callable[..., VirtualKey]
) -> None:
    key = virtual_key_factory(auto_touch=None)
    _, ctap = opened(virtual_port, key)
    seen: list[int] = []
    toucher = when(lambda: key.waiting_for_touch and bool(seen), key.touch)
    response = make_credential(ctap, on_keepalive=seen.append)
    toucher.join()
    assert STATUS.UPNEEDED in seen
    assert response.fmt in ("packed", "none")


def test_fido2_event_cancels_a_command_waiting_for_touch(
    virtual_port: VirtualPort, virtual_key_factory: Callable[..., VirtualKey]
) -> None:
    key = virtual_key_factory(auto_touch=None)
    _, ctap = opened(virtual_port, key)
    event = threading.Event()
    when(lambda: key.waiting_for_touch, event.set)
    started = time.monotonic()
    with pytest.raises(CtapError) as err:
        make_credential(ctap, event=event)
    assert err.value.code == ERR.KEEPALIVE_CANCEL
    assert time.monotonic() - started < 2.0
    assert not key.waiting_for_touch
    assert ctap.get_info().versions  # the key carries on normally


# -- pulled mid-command -------------------------------------------------------------------------


def test_a_key_pulled_while_blinking_fails_the_call_as_a_dead_hidraw_does(
    virtual_port: VirtualPort, virtual_key_factory: Callable[..., VirtualKey]
) -> None:
    key = virtual_key_factory(auto_touch=None)
    device, ctap = opened(virtual_port, key)
    key.faults.pull(command=MAKE_CREDENTIAL, delay=0.2)
    started = time.monotonic()
    with pytest.raises(OSError) as err:
        make_credential(ctap)
    assert err.value.errno == errno.EIO
    assert time.monotonic() - started < 2.0
    assert virtual_port.list_descriptors() == [] and not key.plugged
    assert key.faults.log == [(FaultKind.PULL, MAKE_CREDENTIAL)]
    with pytest.raises(OSError) as err:
        device.ping()
    assert err.value.errno == errno.ENODEV
    assert key.authenticator.credential_count == 0
    _, ctap = opened(virtual_port, key)  # and it works again once re-inserted
    assert make_credential_with_touch(key, ctap).fmt


def make_credential_with_touch(key: VirtualKey, ctap: Ctap2) -> Any:
    when(lambda: key.waiting_for_touch, key.touch)
    return make_credential(ctap)


def test_pulling_by_hand_wakes_a_blocked_read(
    virtual_port: VirtualPort, virtual_key_factory: Callable[..., VirtualKey]
) -> None:
    key = virtual_key_factory(auto_touch=None)
    _, ctap = opened(virtual_port, key)
    when(lambda: key.waiting_for_touch, key.pull)
    with pytest.raises(OSError):
        make_credential(ctap)
    assert virtual_port.keys == []


def test_plugging_and_polling_from_different_threads(
    virtual_port: VirtualPort, virtual_key_factory: Callable[..., VirtualKey]
) -> None:
    keys = [virtual_key_factory() for _ in range(3)]
    stop = threading.Event()
    counts: list[int] = []

    def poll() -> None:
        while not stop.is_set():
            counts.append(len(virtual_port.list_descriptors()))

    poller = threading.Thread(target=poll)
    poller.start()
    for _ in range(20):
        for key in keys:
            virtual_port.plug(key)
        for key in keys:
            key.pull()
    virtual_port.plug(keys[0])
    stop.set()
    poller.join()
    assert set(counts) <= {0, 1, 2, 3}
    assert [k is keys[0] for k in virtual_port.keys] == [True]


# -- latency ---------------------------------------------------------------------------------------


def test_hardware_latency_slows_pin_operations_with_processing_keepalives(
    virtual_port: VirtualPort, virtual_key_factory: Callable[..., VirtualKey]
) -> None:
    key = virtual_key_factory(latency=HARDWARE_LATENCY)
    _, ctap = opened(virtual_port, key)
    seen: list[int] = []
    started = time.monotonic()
    ctap.client_pin(2, ClientPin.CMD.GET_PIN_RETRIES, on_keepalive=seen.append)
    elapsed = time.monotonic() - started
    assert elapsed >= HARDWARE_LATENCY.pin_ms / 1000
    assert seen == [STATUS.PROCESSING]


def test_a_pull_cuts_latency_short(
    virtual_port: VirtualPort, virtual_key_factory: Callable[..., VirtualKey]
) -> None:
    key = virtual_key_factory(latency=Latency(pin_ms=20_000))
    _, ctap = opened(virtual_port, key)
    key.faults.pull(command=CLIENT_PIN, delay=0.1)
    started = time.monotonic()
    with pytest.raises(OSError):
        ctap.client_pin(2, ClientPin.CMD.GET_PIN_RETRIES)
    assert time.monotonic() - started < 2.0


# -- faults --------------------------------------------------------------------------------


def test_chosen_error_code_for_one_command_once(
    yubikey_key: VirtualKey, yubikey_ctap2: Ctap2
) -> None:
    yubikey_key.faults.error(ERR.PIN_AUTH_BLOCKED, command=CLIENT_PIN)
    assert yubikey_ctap2.get_info().versions  # another command is unaffected
    with pytest.raises(CtapError) as err:
        yubikey_ctap2.client_pin(2, ClientPin.CMD.GET_PIN_RETRIES)
    assert err.value.code == ERR.PIN_AUTH_BLOCKED
    assert yubikey_ctap2.client_pin(2, ClientPin.CMD.GET_PIN_RETRIES)[3] == 8


def test_a_repeated_error_keeps_firing_until_cleared(
    yubikey_key: VirtualKey, yubikey_ctap2: Ctap2
) -> None:
    yubikey_key.faults.error(ERR.OTHER, times=None)
    for _ in range(3):
        with pytest.raises(CtapError):
            yubikey_ctap2.get_info()
    yubikey_key.faults.clear()
    assert yubikey_ctap2.get_info().versions


def test_a_malformed_reply_is_rejected_by_fido2(
    yubikey_key: VirtualKey, yubikey_ctap2: Ctap2
) -> None:
    yubikey_key.faults.malformed_reply(command=GET_INFO)
    with pytest.raises(Exception) as err:
        yubikey_ctap2.get_info()
    assert not isinstance(err.value, CtapError)  # a broken answer, not a status code
    assert yubikey_ctap2.get_info().versions


def test_a_stalled_answer_arrives_late_with_or_without_keepalives(
    yubikey_key: VirtualKey, yubikey_ctap2: Ctap2
) -> None:
    yubikey_key.faults.stall(0.3, command=GET_INFO)
    seen: list[int] = []
    started = time.monotonic()
    yubikey_ctap2.send_cbor(GET_INFO, on_keepalive=seen.append)
    assert time.monotonic() - started >= 0.3
    assert seen == []  # a hung key says nothing
    yubikey_key.faults.stall(0.3, command=GET_INFO, keepalive=True)
    yubikey_ctap2.send_cbor(GET_INFO, on_keepalive=seen.append)
    assert seen == [STATUS.PROCESSING]


def test_a_random_schedule_is_reproducible_from_its_seed(
    virtual_port: VirtualPort, virtual_key_factory: Callable[..., VirtualKey]
) -> None:
    outcomes = []
    for _ in range(2):
        key = virtual_key_factory(seed=42)
        _, ctap = opened(virtual_port, key)
        key.faults.error(ERR.OTHER, times=None, probability=0.5)
        run = []
        for _ in range(12):
            try:
                ctap.get_info()
                run.append(True)
            except CtapError:
                run.append(False)
        virtual_port.unplug(key)
        outcomes.append(run)
    assert outcomes[0] == outcomes[1]
    assert True in outcomes[0] and False in outcomes[0]


def test_keepalives_keep_coming_while_the_key_waits_for_a_touch(
    virtual_port: VirtualPort, virtual_key_factory: Callable[..., VirtualKey]
) -> None:
    # python-fido2 reports only changes of status, so read the packets ourselves.
    key = virtual_key_factory(auto_touch=None)
    virtual_port.plug(key)
    connection = key.connect()
    connection.write_packet(encode_message(BROADCAST_CHANNEL, CTAPHID.INIT, b"12345678", 64)[0])
    [(_, _, reply)] = decode_messages([connection.read_packet()])
    channel = struct.unpack_from(">I", reply, 8)[0]
    request = bytes([MAKE_CREDENTIAL]) + cbor.encode(
        {
            1: hashlib.sha256(b"client data").digest(),
            2: {"id": "login.microsoft.com"},
            3: {"id": b"user-1", "name": "ada"},
            4: [{"type": "public-key", "alg": -7}],
        }
    )
    for packet in encode_message(channel, CTAPHID.CBOR, request, 64):
        connection.write_packet(packet)
    threading.Timer(0.6, key.touch).start()
    arrivals: list[float] = []
    while True:
        packet = connection.read_packet()
        if packet[4] != 0x80 | CTAPHID.KEEPALIVE:
            break
        arrivals.append(time.monotonic())
    assert packet[4] == 0x80 | CTAPHID.CBOR and packet[7] == 0  # answered, successfully
    assert len(arrivals) >= 4
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert max(gaps) < 0.5  # CTAP asks for one every 100 ms; allow for a busy machine
    connection.close()
