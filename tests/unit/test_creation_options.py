"""Graph's ``publicKey`` object -> python-fido2's creation options: lenient base64, garbage
exclude ids skipped, unusable options refused with a reason."""

from __future__ import annotations

import base64
import os

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.keys.creation import creation_options
from kiosk.keys.errors import OptionsError
from tests.unit.key_rig import b64std, b64url, graph_options


def test_every_base64_flavour_decodes_to_the_same_ids() -> None:
    cred_id = os.urandom(48) + b"\xfb\xff"
    flavours = [
        b64url(cred_id),
        b64std(cred_id),
        b64std(cred_id).rstrip("="),
        base64.urlsafe_b64encode(cred_id).decode(),  # base64url, padded
    ]
    options = creation_options(graph_options(exclude=[*flavours, "no base64 here!", "%%"]))
    assert [d.id for d in options.exclude_credentials or ()] == [cred_id] * 4


def test_wrapper_timeout_and_defaults() -> None:
    base = graph_options()
    options = creation_options({"publicKey": base})
    assert options.rp.id == "login.microsoft.com" and options.timeout is None
    assert options.user.name == "adelev@contoso.example"
    del base["rp"]
    del base["attestation"]
    options = creation_options(base)
    assert options.rp.id == "login.microsoft.com"
    assert options.attestation == "direct"


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=16)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=10,
)
graph_keys = st.sampled_from(
    [
        "rp",
        "user",
        "challenge",
        "pubKeyCredParams",
        "excludeCredentials",
        "authenticatorSelection",
        "attestation",
        "extensions",
        "timeout",
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    base=st.just(graph_options()),
    replaced=st.dictionaries(graph_keys, json_values, max_size=3),
)
def test_any_options_object_converts_or_says_why(
    base: dict[str, object], replaced: dict[str, object]
) -> None:
    try:
        options = creation_options({**base, **replaced})
    except OptionsError as exc:
        assert exc.title and exc.next_step
        return
    assert options.challenge and options.user.id and options.pub_key_cred_params
    assert options.timeout is None  # the key times out touches itself
    for descriptor in options.exclude_credentials or ():
        assert isinstance(descriptor.id, bytes) and descriptor.id
