"""Our authenticator-side PIN/UV protocols agree with python-fido2's platform side."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import CoseKey
from fido2.ctap2.pin import PinProtocol, PinProtocolV1, PinProtocolV2

from kiosk.keys.virtual.pin_protocols import ProtocolFailure, cose_public_key, protocols

PAIRS = [(PinProtocolV1, 1), (PinProtocolV2, 2)]


@pytest.mark.parametrize(("platform_cls", "version"), PAIRS, ids=["one", "two"])
def test_both_sides_derive_the_same_secret_and_understand_each_other(
    platform_cls: type[PinProtocol], version: int
) -> None:
    ours = protocols(os.urandom)[version]
    key = ec.generate_private_key(ec.SECP256R1())
    platform = platform_cls()
    message, platform_secret = platform.encapsulate(CoseKey(cose_public_key(key)))
    secret = ours.decapsulate(key, message)
    assert secret == platform_secret

    plaintext = b"0123456789abcdef" * 4
    assert ours.decrypt(secret, platform.encrypt(secret, plaintext)) == plaintext
    assert platform.decrypt(secret, ours.encrypt(secret, plaintext)) == plaintext
    mac = platform.authenticate(secret, plaintext)
    assert ours.verify(secret, plaintext, mac)
    assert not ours.verify(secret, plaintext + b"x", mac)
    assert not ours.verify(secret, plaintext, mac[:-1])


@pytest.mark.parametrize("version", [1, 2])
def test_malformed_platform_input_is_a_protocol_failure(version: int) -> None:
    ours = protocols(os.urandom)[version]
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(ProtocolFailure):
        ours.decapsulate(key, {1: 2, -1: 1, -2: b"\x00" * 32, -3: b"\x00" * 32})
    with pytest.raises(ProtocolFailure):
        ours.decapsulate(key, {1: 1, -1: 6, -2: b"\x00" * 32})
    with pytest.raises(ProtocolFailure):
        ours.decrypt(b"k" * 64, b"\x00" * 15)
