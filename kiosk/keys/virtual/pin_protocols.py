"""PIN/UV auth protocols one and two, authenticator side (CTAP 2.1 sections 6.5.6 and 6.5.7).

The authenticator holds one P-256 key-agreement key per power cycle. A platform sends its own
ephemeral public key; both sides derive the shared secret from the ECDH x-coordinate with the
protocol's KDF. Protocol one: SHA-256 of Z, AES-256-CBC with a zero IV, HMAC-SHA-256 cut to
16 bytes. Protocol two: HKDF-SHA-256 into an HMAC key and an AES key, a random IV in front of
every ciphertext, the full 32-byte HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_BLOCK = 16
_ZERO_IV = b"\x00" * _BLOCK
_HKDF_SALT = b"\x00" * 32


class ProtocolFailure(ValueError):
    """A platform's key or ciphertext is malformed (the command answers INVALID_PARAMETER)."""


def cose_public_key(key: ec.EllipticCurvePrivateKey) -> dict[int, Any]:
    """The key-agreement public key as CTAP wants it: COSE EC2, alg ECDH-ES+HKDF-256 (-25)."""
    numbers = key.public_key().public_numbers()
    return {
        1: 2,
        3: -25,
        -1: 1,
        -2: numbers.x.to_bytes(32, "big"),
        -3: numbers.y.to_bytes(32, "big"),
    }


def _peer_key(cose: Mapping[Any, Any]) -> ec.EllipticCurvePublicKey:
    x, y = cose.get(-2), cose.get(-3)
    if cose.get(1) != 2 or cose.get(-1) != 1:
        raise ProtocolFailure("key agreement is not a P-256 EC2 key")
    if not isinstance(x, bytes) or not isinstance(y, bytes) or len(x) != 32 or len(y) != 32:
        raise ProtocolFailure("key agreement coordinates are not 32 bytes each")
    try:
        return ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
        ).public_key()
    except ValueError as exc:
        raise ProtocolFailure("key agreement point is not on the curve") from exc


def _aes_cbc(key: bytes, iv: bytes, data: bytes, *, encrypt: bool) -> bytes:
    if len(data) % _BLOCK:
        raise ProtocolFailure("ciphertext is not a whole number of AES blocks")
    cipher = Cipher(algorithms.AES(key), modes.CBC(iv))
    op = cipher.encryptor() if encrypt else cipher.decryptor()
    return op.update(data) + op.finalize()


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


class PinUvAuthProtocol:
    """One PIN/UV auth protocol. Subclasses fix the KDF, the cipher framing and the MAC size."""

    version: int = 0
    mac_length: int = 32

    def kdf(self, z: bytes) -> bytes:
        raise NotImplementedError

    def decapsulate(self, own: ec.EllipticCurvePrivateKey, peer: Mapping[Any, Any]) -> bytes:
        """The shared secret between our key-agreement key and the platform's public key."""
        z = own.exchange(ec.ECDH(), _peer_key(peer))
        return self.kdf(z)

    def encrypt(self, key: bytes, plaintext: bytes) -> bytes:
        raise NotImplementedError

    def decrypt(self, key: bytes, ciphertext: bytes) -> bytes:
        raise NotImplementedError

    def authenticate(self, key: bytes, message: bytes) -> bytes:
        raise NotImplementedError

    def verify(self, key: bytes, message: bytes, signature: bytes) -> bool:
        """Constant-time check of a platform's pinUvAuthParam."""
        if len(signature) != self.mac_length:
            return False
        return hmac.compare_digest(self.authenticate(key, message), signature)


class ProtocolOne(PinUvAuthProtocol):
    version = 1
    mac_length = 16

    def kdf(self, z: bytes) -> bytes:
        return hashlib.sha256(z).digest()

    def encrypt(self, key: bytes, plaintext: bytes) -> bytes:
        return _aes_cbc(key[:32], _ZERO_IV, plaintext, encrypt=True)

    def decrypt(self, key: bytes, ciphertext: bytes) -> bytes:
        return _aes_cbc(key[:32], _ZERO_IV, ciphertext, encrypt=False)

    def authenticate(self, key: bytes, message: bytes) -> bytes:
        return _hmac(key, message)[:16]


class ProtocolTwo(PinUvAuthProtocol):
    version = 2
    mac_length = 32

    def __init__(self, random_bytes: Callable[[int], bytes]) -> None:
        self._random = random_bytes

    def kdf(self, z: bytes) -> bytes:
        def derive(info: bytes) -> bytes:
            return HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=info).derive(z)

        return derive(b"CTAP2 HMAC key") + derive(b"CTAP2 AES key")

    @staticmethod
    def _aes_key(key: bytes) -> bytes:
        # A shared secret is HMAC key + AES key; a pinUvAuthToken is used whole.
        return key[32:] if len(key) == 64 else key

    @staticmethod
    def _hmac_key(key: bytes) -> bytes:
        return key[:32]

    def encrypt(self, key: bytes, plaintext: bytes) -> bytes:
        iv = self._random(_BLOCK)
        return iv + _aes_cbc(self._aes_key(key), iv, plaintext, encrypt=True)

    def decrypt(self, key: bytes, ciphertext: bytes) -> bytes:
        if len(ciphertext) < _BLOCK:
            raise ProtocolFailure("ciphertext shorter than its IV")
        iv, body = ciphertext[:_BLOCK], ciphertext[_BLOCK:]
        return _aes_cbc(self._aes_key(key), iv, body, encrypt=False)

    def authenticate(self, key: bytes, message: bytes) -> bytes:
        return _hmac(self._hmac_key(key), message)


def protocols(random_bytes: Callable[[int], bytes]) -> dict[int, PinUvAuthProtocol]:
    """Both protocols by version number."""
    return {1: ProtocolOne(), 2: ProtocolTwo(random_bytes)}
