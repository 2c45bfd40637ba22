"""DEMO ONLY: the demo's people and the demo operator's own key.

A demo operator (PIN :data:`DEMO_OPERATOR_PIN`, and a FIDO2 key of their own whose PIN is
:data:`DEMO_KEY_PIN`) and a demo admin (:data:`DEMO_ADMIN_PIN`). The PINs follow the rules
for operator PINs (at least 6 digits, no runs, not common) and are public on purpose.
"""

from __future__ import annotations

import dataclasses

from fido2.ctap2.base import Ctap2
from fido2.ctap2.pin import ClientPin

from kiosk.config import OperatorSettings, Settings
from kiosk.keys.virtual.device import VirtualKey
from kiosk.keys.virtual.port import VirtualPort
from kiosk.keys.virtual.profiles import PROFILES
from kiosk.operators.key_sign_in import enroll

DEMO_OPERATOR = "Demo operator"
DEMO_ADMIN = "Demo admin"
DEMO_OPERATOR_PIN = "135790"
DEMO_ADMIN_PIN = "864213"
DEMO_KEY_PIN = "246813"
"""The PIN of the demo operator's own key (typed before F5: the key checks it)."""
DEMO_BANNER = f"DEMO PINs: {DEMO_OPERATOR_PIN}, admin {DEMO_ADMIN_PIN}, key {DEMO_KEY_PIN}"
"""What the demo shows in its header: the demo's public PINs (the header fits 80 columns)."""
DEMO_SIGN_IN = (
    f"DEMO  Demo operator: PIN {DEMO_OPERATOR_PIN}\n"
    f"      Demo admin: PIN {DEMO_ADMIN_PIN}\n"
    f"      operator's own key (F2, then 9): key PIN {DEMO_KEY_PIN}"
)
"""What the demo's sign-in screen shows: who signs in with which PIN."""
OPERATOR_KEY_SERIAL = 49_999_999
# scrypt hashes of the two PINs above, made with fixed salts (public on purpose: the demo).
_DEMO_OPERATOR_HASH = (
    "scrypt$n=16384,r=8,p=1$Zmlkby1raW9zay1kZW1vLW9wZXJhdG9y$"
    "W_ysptnAH_2_U5Wn07Sh5NrYIs-k2Nl-zmllvkKt9TI"
)
_DEMO_ADMIN_HASH = (
    "scrypt$n=16384,r=8,p=1$Zmlkby1raW9zay1kZW1vLWFkbWlu$"
    "eBvDqGjlM1sl8Cpv4EU1TLRf9-pvLoZATccGtBnLNhs"
)


def demo_people(key_credential: str = "") -> list[OperatorSettings]:
    """The demo operator (with their key's credential, when given) and the demo admin."""
    return [
        OperatorSettings(DEMO_OPERATOR, "operator", _DEMO_OPERATOR_HASH, key_credential),
        OperatorSettings(DEMO_ADMIN, "admin", _DEMO_ADMIN_HASH),
    ]


def demo_settings(settings: Settings) -> Settings:
    """``settings`` with the demo's people, unless some are configured."""
    if settings.kiosk.operators:
        return settings
    kiosk = dataclasses.replace(settings.kiosk, operators=demo_people())
    return dataclasses.replace(settings, kiosk=kiosk)


def make_operator_key(port: VirtualPort) -> tuple[VirtualKey, str]:
    """The demo operator's own key, its PIN set, with its credential for the kiosk's rp id
    (returned as the ``key_credential`` text). It is left unplugged."""
    key = VirtualKey(PROFILES["yubikey5"].with_serial(OPERATOR_KEY_SERIAL), auto_touch=0.0)
    descriptor = port.plug(key)
    try:
        device = port.open(descriptor)
        try:
            ClientPin(Ctap2(device)).set_pin(DEMO_KEY_PIN)
            credential = enroll(device, DEMO_OPERATOR, pin=DEMO_KEY_PIN)
        finally:
            device.close()
    finally:
        port.unplug(key)
    key.presence.auto_touch = None  # at sign-in the operator touches it
    return key, credential
