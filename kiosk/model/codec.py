"""Base64 codecs for the binary values Graph and the keys exchange (credential ids, CBOR)."""

from __future__ import annotations

import base64
import binascii


def b64url(data: bytes) -> str:
    """base64url without padding, as Graph wants it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64_lenient(value: str) -> bytes:
    """Decode base64 or base64url, with or without padding (challenges, user ids, our own).

    Raises ``ValueError`` (never anything else) when the text is not base64 at all. Not for
    Graph's credential and method ids: those may carry a padding-count digit, see
    :func:`credential_id_readings`.
    """
    text = value.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not a base64 or base64url value") from exc


_B64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_VALUE = {c: i for i, c in enumerate(_B64_CHARS)} | {"-": 62, "_": 63}


def _unpadded(text: str) -> tuple[bytes, bool] | None:
    """(bytes, canonical) for unpadded base64 or base64url ``text``; None if it is not that.

    Canonical: the unused low bits of the last character are zero, as every encoder writes.
    """
    if not text or len(text) % 4 == 1 or any(c not in _B64_VALUE for c in text):
        return None
    try:
        data = b64_lenient(text)
    except ValueError:
        return None
    spare = {0: 0, 2: 4, 3: 2}[len(text) % 4]
    return data, _B64_VALUE[text[-1]] & ((1 << spare) - 1) == 0


def credential_id_readings(value: str) -> tuple[bytes, ...]:
    """Every credential id ``value`` may stand for, in the spellings Graph writes ids in.

    Graph spells credential ids (``excludeCredentials``) and FIDO2 method ids three ways:
    standard base64 with ``=`` padding; base64url without padding; and base64url without
    padding followed by one digit that counts the ``=`` removed (.NET's UrlTokenEncode).
    An ordinary base64url id can end in a digit too, so a string that reads both ways gives
    both readings (an extra id in an exclude list is harmless; matching tries each). A
    reading whose last character carries stray bits (no encoder writes that) is kept only
    when nothing else reads. Empty when the text is no id in any spelling.
    """
    text = value.strip()
    if "=" in text:
        try:
            padded = b64_lenient(text)
        except ValueError:
            return ()
        return (padded,) if padded else ()
    found: list[tuple[bytes, bool]] = []
    plain = _unpadded(text)
    if plain is not None:
        found.append(plain)
    if len(text) >= 2 and text[-1] in "012":
        body = text[:-1]
        counted = _unpadded(body)
        if counted is not None and int(text[-1]) == -len(body) % 4:
            found.append(counted)
    good = [data for data, canonical in found if data and canonical]
    chosen = good or [data for data, _canonical in found if data]
    return tuple(dict.fromkeys(chosen))


def id_matches(value: str, credential_id: bytes) -> bool:
    """Is ``value`` (a Graph method or credential id, any spelling) this credential id?"""
    return credential_id in credential_id_readings(value)


def same_method_id(a: str, b: str) -> bool:
    """Two Graph FIDO2 method ids name the same credential, whatever spelling each is in."""
    return a == b or bool(set(credential_id_readings(a)) & set(credential_id_readings(b)))
