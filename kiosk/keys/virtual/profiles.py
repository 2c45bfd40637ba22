"""Profiles of virtual keys: which real key each one imitates, and how fast it is."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Latency:
    """Time a real key takes per operation, in milliseconds. Zero for unit tests."""

    get_info_ms: float = 0.0
    pin_ms: float = 0.0
    """clientPIN operations that touch the secure element (setPIN, getPinToken, ...)."""
    make_credential_ms: float = 0.0
    """After the touch: key generation and attestation signature."""
    get_assertion_ms: float = 0.0
    reset_ms: float = 0.0
    config_ms: float = 0.0


NO_LATENCY = Latency()
HARDWARE_LATENCY = Latency(
    get_info_ms=15.0,
    pin_ms=180.0,
    make_credential_ms=280.0,
    get_assertion_ms=150.0,
    reset_ms=300.0,
    config_ms=120.0,
)
"""Roughly what a YubiKey 5 measures: PIN operations and makeCredential take 100-300 ms."""


YUBICO_VID = 0x1050


@dataclass(frozen=True)
class KeyProfile:
    name: str
    """Short name used by the demo and tests, e.g. ``yubikey5``."""
    description: str
    product_name: str
    vid: int
    pid: int
    aaguid: uuid.UUID
    firmware: tuple[int, int, int]
    versions: tuple[str, ...]
    """CTAP versions in getInfo. No profile offers U2F (CTAPHID MSG answers ERR_INVALID_CMD):
    the kiosk only speaks CTAP2, so a key that claimed U2F and refused it would mislead."""
    serial: int | None = None
    """YubiKey serial read through the management vendor command; None: no serial."""
    hid_serial: str | None = None
    """Serial number in the HID descriptor (some non-YubiKey keys expose one)."""
    yubikey_management: bool = False
    """Answers the YubiKey management vendor command over CTAPHID."""
    authnr_cfg: bool = True
    """authenticatorConfig with setMinPINLength (CTAP 2.1)."""
    cred_mgmt: bool = True
    max_credentials: int = 100
    min_pin_length: int = 4
    preset_pin: str | None = None
    """The key arrives with this PIN already set (needs a reset)."""
    preset_credentials: int = 0
    """The key arrives holding this many discoverable credentials."""
    form_factor: int = 1
    """YubiKey form factor code (1: USB-A keychain)."""
    latency: Latency = field(default_factory=Latency)

    def with_latency(self, latency: Latency) -> KeyProfile:
        return replace(self, latency=latency)

    def with_serial(self, serial: int | None) -> KeyProfile:
        return replace(self, serial=serial)


YUBIKEY_5_AAGUID = uuid.UUID("a25342c0-3cdc-4414-8e46-f4807fca511c")
"""What a real YubiKey 5 NFC with firmware 5.7 reports, from Yubico's published list "YubiKey
Hardware FIDO2 AAGUIDs" (https://support.yubico.com/hc/en-us/articles/360016648959, short link
https://yubi.co/aaguids): YubiKey 5 NFC / 5C NFC, firmware 5.7, a25342c0-3cdc-4414-8e46-
f4807fca511c. (ee882879-... is a YubiKey 5 without NFC, firmware 5.2/5.4.)"""
CTAP20_AAGUID = uuid.UUID("4e768f2c-5fab-48b3-b300-220eb487752b")

YUBIKEY_5 = KeyProfile(
    name="yubikey5",
    description="YubiKey 5 NFC, firmware 5.7, CTAP 2.1 with authenticatorConfig",
    product_name="YubiKey OTP+FIDO+CCID",
    vid=YUBICO_VID,
    pid=0x0407,
    aaguid=YUBIKEY_5_AAGUID,
    firmware=(5, 7, 1),
    versions=("FIDO_2_0", "FIDO_2_1_PRE", "FIDO_2_1"),
    serial=31400001,
    yubikey_management=True,
    authnr_cfg=True,
    max_credentials=100,
)

CTAP20_KEY = KeyProfile(
    name="ctap20",
    description="A CTAP 2.0-only key: no authenticatorConfig, no serial",
    product_name="Generic FIDO2 Key",
    vid=0x1EA8,
    pid=0xF025,
    aaguid=CTAP20_AAGUID,
    firmware=(1, 0, 0),
    versions=("FIDO_2_0",),
    serial=None,
    authnr_cfg=False,
    cred_mgmt=False,
    max_credentials=25,
)

USED_KEY = replace(
    YUBIKEY_5,
    name="used",
    description="A YubiKey 5 that already has a PIN and credentials (needs a reset)",
    serial=31400002,
    preset_pin="246813",
    preset_credentials=2,
)

FULL_KEY = replace(
    YUBIKEY_5,
    name="full",
    description="A YubiKey 5 whose credential store is full",
    serial=31400003,
    max_credentials=3,
    preset_credentials=3,
)

HOSTILE_STRINGS = replace(
    YUBIKEY_5,
    name="hostile",
    vid=0x1EA8,
    serial=None,
    yubikey_management=False,
    description="A key whose USB strings are hostile: markup, escape sequences, a 'PIN:' serial",
    product_name="\x1b]0;owned\x07[/bold]Evil\u202eyek",
    hid_serial="PIN: 11111111",
)
"""A USB device presenting as a FIDO key with strings chosen to hurt: not in :data:`PROFILES`
(the demo's menu); tests pick it, or ``replace(HOSTILE_STRINGS, hid_serial=...)``."""

PROFILES: dict[str, KeyProfile] = {p.name: p for p in (YUBIKEY_5, CTAP20_KEY, USED_KEY, FULL_KEY)}
