"""CMS AuthEnvelopedData (RFC 5083) with AES-256-GCM (RFC 5084) and RSAES-OAEP (RFC 4055).

The sealed PIN is authenticated: a changed bit anywhere in the ciphertext fails GCM's tag, so
``openssl cms -decrypt`` refuses the file instead of printing altered text. The ``cryptography``
package builds only EnvelopedData (AES-CBC, no integrity, RSA PKCS#1 v1.5), so this module
writes the few DER structures itself; the helpdesk opens the result with stock OpenSSL 3.0 or
later::

    openssl cms -decrypt -inform DER -in <file>.p7m -recip helpdesk.pem -inkey helpdesk.key

Only encoding lives here (the kiosk never decrypts); tests decrypt with the real openssl.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ID_DATA = "1.2.840.113549.1.7.1"
ID_AUTH_ENVELOPED_DATA = "1.2.840.113549.1.9.16.1.23"
ID_AES256_GCM = "2.16.840.1.101.3.4.1.46"
ID_RSAES_OAEP = "1.2.840.113549.1.1.7"
ID_MGF1 = "1.2.840.113549.1.1.8"
ID_SHA256 = "2.16.840.1.101.3.4.2.1"
NONCE_BYTES = 12
TAG_BYTES = 16


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _len(len(body)) + body


def seq(*items: bytes) -> bytes:
    return tlv(0x30, b"".join(items))


def set_of(*items: bytes) -> bytes:
    return tlv(0x31, b"".join(sorted(items)))


def integer(value: int) -> bytes:
    body = value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True)
    return tlv(0x02, body)


def octets(data: bytes) -> bytes:
    return tlv(0x04, data)


def oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    out = bytearray([40 * parts[0] + parts[1]])
    for part in parts[2:]:
        left = part >> 7
        chunk = [part & 0x7F]
        while left:
            chunk.append(0x80 | (left & 0x7F))
            left >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, bytes(out))


def context(number: int, body: bytes, *, constructed: bool = True) -> bytes:
    return tlv((0xA0 if constructed else 0x80) | number, body)


def _sha256_id() -> bytes:
    return seq(oid(ID_SHA256))


def _oaep_id() -> bytes:
    params = seq(context(0, _sha256_id()), context(1, seq(oid(ID_MGF1), _sha256_id())))
    return seq(oid(ID_RSAES_OAEP), params)


def _recipient(cert: x509.Certificate, cek: bytes) -> bytes:
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise TypeError("an RSA certificate is needed")
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    issuer_and_serial = seq(cert.issuer.public_bytes(), integer(cert.serial_number))
    return seq(integer(0), issuer_and_serial, _oaep_id(), octets(key.encrypt(cek, oaep)))


def auth_enveloped(plaintext: bytes, recipients: Sequence[x509.Certificate]) -> bytes:
    """ContentInfo(AuthEnvelopedData) of ``plaintext``, openable by each recipient (DER)."""
    cek = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(cek).encrypt(nonce, plaintext, None)
    ciphertext, tag = sealed[:-TAG_BYTES], sealed[-TAG_BYTES:]
    gcm_params = seq(octets(nonce), integer(TAG_BYTES))
    content = seq(
        oid(ID_DATA),
        seq(oid(ID_AES256_GCM), gcm_params),
        context(0, ciphertext, constructed=False),
    )
    body = seq(
        integer(0),
        set_of(*(_recipient(cert, cek) for cert in recipients)),
        content,
        octets(tag),
    )
    return seq(oid(ID_AUTH_ENVELOPED_DATA), context(0, body))
