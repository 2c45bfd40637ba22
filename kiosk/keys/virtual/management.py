"""The YubiKey management application over CTAPHID vendor commands.

A real YubiKey answers vendor command 0x42 (read config) on its FIDO HID interface with its
device information: one length byte, then tag-length-value items (serial, firmware version,
form factor, supported and enabled applications over USB; the profiles say nothing about NFC,
so no NFC tags are sent). ``yubikit.management.ManagementSession``
opened on a FIDO connection sends exactly that, and takes the firmware version from the
CTAPHID INIT reply's device version. Only profiles with ``yubikey_management`` answer; the
framing gives every other key ERR_INVALID_CMD for these commands.

Writing the configuration (0x40 set mode, 0x43 write config) is not offered: the kiosk never
reconfigures a key, so those answer ERR_INVALID_CMD.
"""

from __future__ import annotations

from .ctaphid import HidError
from .profiles import KeyProfile

CTAP_VENDOR_FIRST = 0x40
READ_CONFIG = CTAP_VENDOR_FIRST + 2
"""Vendor command 0x42: read one page of device information; payload is the page number."""

MANAGEMENT_COMMANDS = frozenset({READ_CONFIG})

TAG_USB_SUPPORTED = 0x01
TAG_SERIAL = 0x02
TAG_USB_ENABLED = 0x03
TAG_FORM_FACTOR = 0x04
TAG_VERSION = 0x05
TAG_DEVICE_FLAGS = 0x08
TAG_CONFIG_LOCK = 0x0A

# Application bits in the supported/enabled masks.
APP_OTP = 0x01
APP_U2F = 0x02
APP_OPENPGP = 0x08
APP_PIV = 0x10
APP_OATH = 0x20
APP_HSMAUTH = 0x100
APP_FIDO2 = 0x200
YUBIKEY_5_APPS = APP_OTP | APP_U2F | APP_OPENPGP | APP_PIV | APP_OATH | APP_HSMAUTH | APP_FIDO2


def _tlv(tag: int, value: bytes) -> bytes:
    if not 0 <= tag <= 0xFF or len(value) >= 0x80:
        raise ValueError("management TLVs here have one-byte tags and short values")
    return bytes([tag, len(value)]) + value


def device_info(profile: KeyProfile) -> bytes:
    """Page 0 of the device information, as the read-config command returns it."""
    apps = YUBIKEY_5_APPS.to_bytes(2, "big")
    items = [
        _tlv(TAG_USB_SUPPORTED, apps),
        _tlv(TAG_USB_ENABLED, apps),
        _tlv(TAG_FORM_FACTOR, bytes([profile.form_factor & 0xFF])),
        _tlv(TAG_VERSION, bytes(profile.firmware)),
        _tlv(TAG_DEVICE_FLAGS, b"\x00"),
        _tlv(TAG_CONFIG_LOCK, b"\x00"),
    ]
    if profile.serial is not None:
        items.insert(1, _tlv(TAG_SERIAL, profile.serial.to_bytes(4, "big")))
    body = b"".join(items)
    return bytes([len(body)]) + body


def handle(profile: KeyProfile, command: int, payload: bytes) -> bytes | int:
    """Answer one management vendor command: the reply payload, or a CTAPHID error code."""
    if not profile.yubikey_management or command not in MANAGEMENT_COMMANDS:
        return HidError.INVALID_CMD
    page = int.from_bytes(payload, "big") if payload else 0
    if len(payload) > 1:
        return HidError.INVALID_LEN
    if page != 0:
        return b"\x00"  # No further pages: an empty TLV list.
    return device_info(profile)
