"""Who is this key? AAGUID, model, firmware, serial, and what it can do.

Everything comes from the key itself, over the FIDO interface: getInfo (AAGUID, versions,
options, PIN state, minimum PIN length, remaining credential slots), clientPIN getPINRetries,
and, for YubiKeys, yubikit's ManagementSession (serial and firmware through the management
vendor command). The model name comes from the admin's MDS3 blob, else the built-in table
(``models.json``), else "FIDO2 key" and the start of its AAGUID. A key that answers oddly
still gets a KeyInfo, or a :class:`KioskError` saying what is wrong; never a crash.
Strings the key chooses (the HID serial) are checked here
(:func:`kiosk.model.text.key_string`): printable and short, else recorded by their SHA-256; the
model name loses control characters and is bounded.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import uuid
import weakref
from collections.abc import Callable, Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

from fido2.ctap2.base import Ctap2, Info
from fido2.ctap2.pin import ClientPin
from fido2.hid import CAPABILITY, CtapHidDevice
from fido2.hid.base import HidDescriptor

from kiosk.errors import KioskError
from kiosk.keys.errors import KeyProblem, NotSupportedError, Op, is_pulled, key_error, translated
from kiosk.keys.mds import MdsCatalog
from kiosk.model.keys import KeyInfo
from kiosk.model.text import clean, escaped, key_string

logger = logging.getLogger(__name__)

YUBICO_VID = 0x1050
UNKNOWN_MODEL = "FIDO2 key"
"""A key no table names (followed by the start of its AAGUID when it has one)."""
MODEL_MAX = 80
"""Longest model name shown (the MDS blob's description is free text)."""
NO_AAGUID = str(uuid.UUID(int=0))


class KeyInfoError(KeyProblem):
    """The key's getInfo answer does not make sense."""

    title = "Key description unreadable"

    def __init__(self, what: str) -> None:
        super().__init__(
            f"The key described itself in a way the kiosk cannot read: {what}.",
            next_step="Pull the key and insert it again. If it happens again, set it aside.",
        )


@lru_cache(maxsize=1)
def builtin_models() -> Mapping[str, str]:
    """The built-in AAGUID -> model table shipped in ``models.json``."""
    text = resources.files("kiosk.keys").joinpath("models.json").read_text(encoding="utf-8")
    table = json.loads(text)["models"]
    return {str(k).lower(): str(v) for k, v in table.items()}


def model_name(aaguid: str, mds: MdsCatalog | None = None) -> str:
    """The key's model: from the MDS blob, else the built-in table, else a name that still
    says what the key is ("FIDO2 key 0076631b": the start of its AAGUID)."""
    if aaguid == NO_AAGUID:
        return UNKNOWN_MODEL
    if mds is not None:
        name = mds.model(aaguid)
        if name:
            return name
    return builtin_models().get(aaguid.lower(), f"{UNKNOWN_MODEL} {aaguid[:8].lower()}")


def format_firmware(value: int, vid: int) -> str | None:
    """getInfo's firmwareVersion as text. YubiKeys pack major.minor.patch into three bytes."""
    if value <= 0:
        return None
    if vid == YUBICO_VID or value > 0xFFFF:
        return f"{(value >> 16) & 0xFF}.{(value >> 8) & 0xFF}.{value & 0xFF}"
    return str(value)


def parse_info(data: Mapping[Any, Any]) -> Info:
    """getInfo's CBOR map as python-fido2's Info; a :class:`KeyInfoError` when it is nonsense."""
    try:
        return Info.from_dict(dict(data))
    except Exception as exc:  # from_dict raises whatever the field types provoke
        raise KeyInfoError("the getInfo map has fields of the wrong kind") from exc


def _str_list(value: object, what: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise KeyInfoError(f"{what} is not a list of names")
    return tuple(value)


def _int_or(value: object, default: int | None) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return value


def describe(
    info: Info,
    *,
    path: str,
    vid: int = 0,
    mds: MdsCatalog | None = None,
    firmware: str | None = None,
    serial: str | None = None,
    pin_retries: int | None = None,
) -> KeyInfo:
    """A :class:`KeyInfo` from a parsed getInfo answer and what else was learnt about the key."""
    versions = _str_list(info.versions, "versions")
    if not versions:
        raise KeyInfoError("it names no protocol versions")
    raw_aaguid = bytes(info.aaguid) if isinstance(info.aaguid, bytes) else b""
    if len(raw_aaguid) != 16:
        raise KeyInfoError("its AAGUID is not 16 bytes")
    aaguid = str(uuid.UUID(bytes=raw_aaguid))
    options_in = info.options if isinstance(info.options, Mapping) else {}
    options = {str(k): v for k, v in options_in.items() if isinstance(v, bool)}
    if firmware is None:
        raw_fw = _int_or(info.firmware_version, 0) or 0
        firmware = format_firmware(raw_fw, vid)
    min_pin = _int_or(info.min_pin_length, 4) or 4
    remaining = _int_or(info.remaining_disc_creds, None)
    return KeyInfo(
        path=path,
        aaguid=aaguid,
        model=clean(model_name(aaguid, mds), MODEL_MAX) or UNKNOWN_MODEL,
        firmware=firmware,
        serial=serial,
        versions=versions,
        options=options,
        pin_set=options.get("clientPin") is True,
        pin_retries=pin_retries,
        min_pin_length=max(4, min_pin),
        force_pin_change=info.force_pin_change is True,
        remaining_credentials=remaining if remaining is None or remaining >= 0 else None,
    )


def describe_raw(data: Mapping[Any, Any], *, path: str = "", vid: int = 0) -> KeyInfo:
    """getInfo's raw CBOR map straight to a KeyInfo (what the fuzz tests drive)."""
    return describe(parse_info(data), path=path, vid=vid)


def key_serial(raw: object, path: str) -> str | None:
    """The serial string a key's HID descriptor gives, checked: printable and short, else
    recorded by its SHA-256 (the journal shows it escaped)."""
    serial = key_string(raw)
    if serial is not None and serial != str(raw).strip():
        logger.warning(
            "Key %s gives a serial that is not plain text (%s); it is recorded as %s.",
            path, escaped(str(raw)), serial,
        )
    return serial


def yubikey_details(device: CtapHidDevice) -> tuple[str | None, str | None]:
    """(serial, firmware) through yubikit's ManagementSession over the FIDO interface.

    (None, None) when the key does not answer the management command; a pulled key raises
    :class:`KeyPulledError`.
    """
    from yubikit.management import ManagementSession

    try:
        device_info = ManagementSession(device).read_device_info()
    except Exception as exc:  # yubikit raises many kinds; only a pulled key matters
        if is_pulled(exc):
            raise key_error(exc, Op.IDENTIFY) from exc
        logger.debug("No YubiKey management answer: %s", type(exc).__name__)
        return None, None
    serial = str(device_info.serial) if device_info.serial else None
    version = device_info.version_qualifier.version
    firmware = f"{version.major}.{version.minor}.{version.patch}" if version.major else None
    return serial, firmware


def hid_serial(descriptor: HidDescriptor) -> str | None:
    """The serial the HID descriptor gives (checked), read without opening the device."""
    if not descriptor.serial_number:
        return None
    return key_serial(descriptor.serial_number, str(descriptor.path))


def _serial_and_firmware(device: CtapHidDevice) -> tuple[str | None, str | None]:
    """A YubiKey's serial and firmware (management command), else the descriptor's serial."""
    serial: str | None = None
    firmware: str | None = None
    if device.descriptor.vid == YUBICO_VID:
        serial, firmware = yubikey_details(device)
    return serial or hid_serial(device.descriptor), firmware


def port_serial(
    descriptor: HidDescriptor, open_device: Callable[[HidDescriptor], CtapHidDevice]
) -> str | None:
    """The serial of a key the kiosk does not work with (another key in the port), read as
    :func:`identify` reads it: a YubiKey is opened for its management read and closed again
    (nothing else is sent), any other key gives its descriptor's serial. None: it has none, or
    it was pulled or would not say."""
    if descriptor.vid != YUBICO_VID:
        return hid_serial(descriptor)
    try:
        device = open_device(descriptor)
    except Exception:  # pulled meanwhile, or not ours to open: it has no serial to show
        return hid_serial(descriptor)
    try:
        return _serial_and_firmware(device)[0]
    except KioskError:
        return hid_serial(descriptor)
    finally:
        with contextlib.suppress(Exception):
            device.close()


def _hid_version(device: CtapHidDevice) -> str | None:
    version = device.device_version
    if any(version):
        return ".".join(str(v) for v in version)
    return None


def pin_retries(ctap2: Ctap2) -> int | None:
    """The key's PIN retry counter; None when it has no PIN, no clientPIN, or will not say.

    Only a key that came in with a PIN is asked: getInfo's ``clientPin`` option is false while
    no PIN is set (CTAP 2.1 section 6.4), and such a key has no counter worth a transaction.
    """
    if ctap2.info.options.get("clientPin") is not True or not ctap2.info.pin_uv_protocols:
        return None
    try:
        return ClientPin(ctap2).get_pin_retries()[0]
    except Exception as exc:
        if is_pulled(exc):
            raise key_error(exc, Op.IDENTIFY) from exc
        return None


_OPEN: weakref.WeakValueDictionary[int, Ctap2] = weakref.WeakValueDictionary()
"""One Ctap2 per open device, alive as long as someone (the key session) holds it."""
_OPEN_LOCK = threading.Lock()


def open_ctap2(device: CtapHidDevice) -> Ctap2:
    """python-fido2's Ctap2 on ``device``, one per open device: its getInfo is read once per
    insertion, whoever asks (the key session, the operator-key check). Its ``info`` is the
    insertion's: read only what cannot change on the key (versions, options offered, limits);
    the session re-reads getInfo for what its own operations change."""
    if not device.capabilities & CAPABILITY.CBOR:
        raise NotSupportedError("FIDO2 (CTAP 2): it is a U2F-only key")
    with _OPEN_LOCK:
        known = _OPEN.get(id(device))
        if known is not None and known.device is device:
            return known
        with translated(Op.IDENTIFY, path=str(device.descriptor.path)):
            ctap2 = Ctap2(device)
        _OPEN[id(device)] = ctap2
        return ctap2


def identify(
    device: CtapHidDevice, *, mds: MdsCatalog | None = None, ctap2: Ctap2 | None = None
) -> KeyInfo:
    """Read everything the kiosk shows and decides on about one key: getInfo (``ctap2``'s,
    when given), the PIN retries of a key that has a PIN, and a YubiKey's serial."""
    descriptor = device.descriptor
    path = str(descriptor.path)
    if ctap2 is None:
        ctap2 = open_ctap2(device)
    with translated(Op.IDENTIFY, path=path):
        info = ctap2.info
        retries = pin_retries(ctap2)
    serial, firmware = _serial_and_firmware(device)
    raw_fw = _int_or(info.firmware_version, 0) or 0
    if raw_fw:
        firmware = format_firmware(raw_fw, descriptor.vid)
    elif firmware is None:
        firmware = _hid_version(device)
    return describe(
        info,
        path=path,
        vid=descriptor.vid,
        mds=mds,
        firmware=firmware,
        serial=serial,
        pin_retries=retries,
    )
