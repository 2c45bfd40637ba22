"""The YubiKey management vendor command: yubikit reads the virtual key as a real YubiKey."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fido2.ctap import CtapError
from fido2.hid import CtapHidDevice
from yubikit.core import NotSupportedError, Version
from yubikit.management import CAPABILITY, FORM_FACTOR, DeviceInfo, ManagementSession

from kiosk.keys.virtual import management
from kiosk.keys.virtual.device import VirtualKey
from kiosk.keys.virtual.port import VirtualPort
from kiosk.keys.virtual.profiles import CTAP20_KEY, USED_KEY, YUBIKEY_5

KeyFactory = Callable[..., VirtualKey]


def test_yubikit_reads_serial_firmware_and_form_factor(yubikey: CtapHidDevice) -> None:
    session = ManagementSession(yubikey)
    assert session.version == Version(5, 7, 1)
    info = session.read_device_info()
    assert info.serial == 31400001
    assert info.version == Version(5, 7, 1)
    assert info.form_factor == FORM_FACTOR.USB_A_KEYCHAIN
    assert CAPABILITY.FIDO2 in info.supported_capabilities[next(iter(info.supported_capabilities))]
    assert not info.is_locked


def test_each_yubikey_profile_reports_its_own_serial(
    virtual_port: VirtualPort, virtual_key_factory: KeyFactory
) -> None:
    key = virtual_key_factory(USED_KEY)
    device = virtual_port.open(virtual_port.plug(key))
    assert ManagementSession(device).read_device_info().serial == 31400002


def test_a_key_without_the_management_application_refuses_the_vendor_command(
    virtual_port: VirtualPort, virtual_key_factory: KeyFactory
) -> None:
    key = virtual_key_factory(CTAP20_KEY)
    device = virtual_port.open(virtual_port.plug(key))
    with pytest.raises(CtapError) as err:
        device.call(management.READ_CONFIG, b"\x00")
    assert err.value.code == CtapError.ERR.INVALID_COMMAND
    # yubikit sees firmware 1.0.0 in the INIT reply and does not even try.
    with pytest.raises(NotSupportedError):
        ManagementSession(device).read_device_info()


def test_writing_the_configuration_is_refused_and_later_pages_are_empty(
    yubikey: CtapHidDevice,
) -> None:
    with pytest.raises(CtapError) as err:
        yubikey.call(0x43, b"\x00")
    assert err.value.code == CtapError.ERR.INVALID_COMMAND
    assert yubikey.call(management.READ_CONFIG, b"\x01") == b"\x00"
    with pytest.raises(CtapError) as err:
        yubikey.call(management.READ_CONFIG, b"\x00\x00")
    assert err.value.code == CtapError.ERR.INVALID_LENGTH


def test_device_info_bytes_parse_with_yubikits_own_parser() -> None:
    encoded = management.device_info(YUBIKEY_5.with_serial(7))
    info = DeviceInfo.parse(encoded, Version(0, 0, 1))
    assert (info.serial, info.version) == (7, Version(5, 7, 1))
    no_serial = DeviceInfo.parse(
        management.device_info(YUBIKEY_5.with_serial(None)), Version(0, 0, 1)
    )
    assert no_serial.serial is None
