"""Random requests at the authenticator: only CTAP status codes come back, never a crash."""

from __future__ import annotations

import threading
from typing import Any

from fido2 import cbor
from fido2.ctap import CtapError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.keys.virtual.authenticator import Authenticator
from kiosk.keys.virtual.presence import UserPresence
from kiosk.keys.virtual.profiles import CTAP20_KEY, USED_KEY, YUBIKEY_5

KNOWN = {e.value for e in CtapError.ERR}
SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

leaves = (
    st.integers(min_value=-(2**64) + 1, max_value=2**64 - 1)
    | st.binary(max_size=80)
    | st.text(max_size=20)
    | st.booleans()
)
values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.integers(-4, 12), inner, max_size=4)
    ),
    max_leaves=12,
)
commands = st.sampled_from([0x01, 0x02, 0x04, 0x06, 0x07, 0x08, 0x0A, 0x0B, 0x0D, 0x41, 0x99])
profiles = st.sampled_from([YUBIKEY_5, CTAP20_KEY, USED_KEY])


def _key(profile: Any) -> Authenticator:
    return Authenticator(profile, UserPresence(auto_touch=0.0, timeout=1.0), seed=1)


def _check(response: bytes) -> None:
    assert response, "empty response"
    status = response[0]
    assert status in KNOWN and status != CtapError.ERR.OTHER, f"status {status:#x}"
    if status == 0 and len(response) > 1:
        body = response[1:]
        assert cbor.encode(cbor.decode(body)) == body  # canonical, as Ctap2 demands


def _send(key: Authenticator, request: bytes) -> None:
    _check(key.process(request, lambda _status: None, threading.Event()))


@SETTINGS
@given(profile=profiles, request=st.binary(max_size=300))
def test_random_bytes_get_status_codes(profile: Any, request: bytes) -> None:
    _send(_key(profile), request)


@SETTINGS
@given(profile=profiles, command=commands, params=st.dictionaries(st.integers(0, 12), values))
def test_random_cbor_parameters_get_status_codes(
    profile: Any, command: int, params: dict[int, Any]
) -> None:
    _send(_key(profile), bytes([command]) + cbor.encode(params))


@SETTINGS
@given(
    sub=st.integers(0, 12),
    protocol=st.sampled_from([1, 2, 3, None]),
    params=st.dictionaries(st.integers(3, 10), values, max_size=5),
)
def test_random_client_pin_subcommands_get_status_codes(
    sub: int, protocol: int | None, params: dict[int, Any]
) -> None:
    request: dict[int, Any] = {**params, 2: sub}
    if protocol is not None:
        request[1] = protocol
    _send(_key(USED_KEY), b"\x06" + cbor.encode(request))


@SETTINGS
@given(
    data=st.data(),
    drop=st.sets(st.integers(1, 4)),
)
def test_mangled_make_credential_gets_status_codes(data: st.DataObject, drop: set[int]) -> None:
    request: dict[int, Any] = {
        1: data.draw(st.binary(min_size=0, max_size=40) | values),
        2: data.draw(st.just({"id": "example.com"}) | values),
        3: data.draw(st.just({"id": b"user"}) | values),
        4: data.draw(st.just([{"type": "public-key", "alg": -7}]) | values),
    }
    for key in drop:
        request.pop(key)
    for key in (5, 6, 7, 8, 9, 0x0B):
        if data.draw(st.booleans()):
            request[key] = data.draw(values)
    _send(_key(YUBIKEY_5), b"\x01" + cbor.encode(request))


def test_deeply_nested_cbor_is_invalid_cbor_not_a_crash() -> None:
    key = _key(YUBIKEY_5)
    nested = b"\x01" + b"\x81" * 5000 + b"\x00"
    response = key.process(nested, lambda _s: None, threading.Event())
    assert response[0] in (CtapError.ERR.INVALID_CBOR, CtapError.ERR.CBOR_UNEXPECTED_TYPE)
