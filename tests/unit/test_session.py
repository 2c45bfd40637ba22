"""KeySession over the virtual key (real CTAPHID packets): the enrollment steps and their
failures as the operator sees them."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator

import pytest
from fido2.ctap import CtapError
from fido2.webauthn import AttestationObject
from webauthn import verify_registration_response
from webauthn.helpers.structs import AttestationFormat

from kiosk.errors import KioskError
from kiosk.keys.assertion import find_credential
from kiosk.keys.errors import (
    CancelledError,
    CredentialExcludedError,
    KeyFullError,
    KeyPulledError,
    NotSupportedError,
    OptionsError,
    PinAlreadySetError,
    PinBlockedError,
    PinNotSetError,
    PinPolicyError,
    ResetRefusedError,
    TouchTimeoutError,
    WrongPinError,
)
from kiosk.keys.virtual.attestation import default_ca
from tests.unit.key_rig import PIN, RP_ID, Rig, b64std, b64url, graph_options, profile, rig

MAKE_CREDENTIAL = 0x01


@pytest.fixture
def r() -> Iterator[Rig]:
    with rig() as value:
        yield value


def verify_with_py_webauthn(cred_json: dict[str, object], challenge: bytes) -> object:
    return verify_registration_response(
        credential=cred_json,
        expected_challenge=challenge,
        expected_origin="https://login.microsoft.com",
        expected_rp_id=RP_ID,
        require_user_verification=True,
        pem_root_certs_bytes_by_fmt={AttestationFormat.PACKED: [default_ca().root_pem()]},
    )


def test_graph_shaped_make_credential_verifies_independently(r: Rig) -> None:
    session = r.session(r.key(auto_touch=0.05))
    session.set_pin(PIN)
    touches: list[int] = []
    challenge = b"\x00\xffchallenge-from-graph" + bytes(range(10))
    cred = session.make_credential(
        graph_options(challenge=challenge), PIN, on_touch=lambda: touches.append(1)
    )
    assert touches, "the operator was never told to touch the key"
    assert cred.attestation_format == "packed"
    assert cred.aaguid == "a25342c0-3cdc-4414-8e46-f4807fca511c"
    assert cred.client_extension_results.get("hmacCreateSecret") is True
    client_data = json.loads(cred.client_data_json)
    assert client_data["origin"] == "https://login.microsoft.com"
    assert client_data["type"] == "webauthn.create"
    body = cred.public_key_credential()
    assert "=" not in json.dumps(body)  # base64url without padding, as Graph wants
    verified = verify_with_py_webauthn(
        {
            "id": body["id"],
            "rawId": body["id"],
            "response": body["response"],
            "type": "public-key",
            "clientExtensionResults": {},
        },
        challenge,
    )
    assert verified.credential_id == cred.credential_id  # type: ignore[attr-defined]
    assert verified.user_verified  # type: ignore[attr-defined]
    assert session.info.remaining_credentials == 99


def test_challenge_and_user_id_in_standard_base64_work_too(r: Rig) -> None:
    session = r.session(r.key())
    session.set_pin(PIN)
    options = graph_options()
    challenge = b"\xfb\xff" * 16  # encodes with + and / in standard base64
    options["challenge"] = b64std(challenge)
    options["user"]["id"] = b64std(b"\xfb\xef\xbe-user")
    cred = session.make_credential(options, PIN)
    assert json.loads(cred.client_data_json)["challenge"] == b64url(challenge)


@pytest.mark.parametrize("flavour", ["base64url", "standard base64 with padding"])
def test_key_already_registered_to_user_is_refused(r: Rig, flavour: str) -> None:
    session = r.session(r.key())
    session.set_pin(PIN)
    first = session.make_credential(graph_options(), PIN)
    encoded = b64url(first.credential_id) if flavour == "base64url" else b64std(first.credential_id)
    exclude = ["not base64 at all!!", b64url(b"someone-elses-key"), encoded]
    with pytest.raises(CredentialExcludedError) as caught:
        session.make_credential(graph_options(exclude=exclude), PIN)
    assert "already registered to this user" in caught.value.detail
    assert caught.value.next_step


def test_garbage_exclude_ids_are_skipped_not_fatal(r: Rig) -> None:
    session = r.session(r.key())
    session.set_pin(PIN)
    garbage = ["%%%", "", "a", b64url(b"\x00" * 64) + "***"]
    cred = session.make_credential(graph_options(exclude=garbage), PIN)
    assert cred.credential_id


def test_unusable_options_say_so(r: Rig) -> None:
    session = r.session(r.key())
    session.set_pin(PIN)
    no_challenge = graph_options()
    del no_challenge["challenge"]
    with pytest.raises(OptionsError, match="challenge"):
        session.make_credential(no_challenge, PIN)
    bad_user = graph_options()
    bad_user["user"]["id"] = "###"
    with pytest.raises(OptionsError, match="user id"):
        session.make_credential(bad_user, PIN)
    bad_policy = graph_options(extensions={"credentialProtectionPolicy": "sometimes"})
    with pytest.raises(OptionsError, match="credential protection"):
        session.make_credential(bad_policy, PIN)


def test_wrong_pin_tells_attempts_left_and_never_the_pin(r: Rig) -> None:
    session = r.session(r.key())
    session.set_pin(PIN)
    with pytest.raises(WrongPinError) as caught:
        session.make_credential(graph_options(), "11112222")
    assert caught.value.attempts_remaining == 7
    assert "7 attempts" in str(caught.value)
    assert "11112222" not in str(caught.value) and PIN not in str(caught.value)
    with pytest.raises(WrongPinError) as again:
        session.change_pin("00000000", "12345678")
    assert again.value.attempts_remaining == 6


def test_three_wrong_pins_block_until_reinserted_and_eight_for_good(r: Rig) -> None:
    key = r.key()
    session = r.session(key)
    session.set_pin(PIN)
    wrong = "99999999"
    for _ in range(2):
        with pytest.raises(WrongPinError):
            session.change_pin(wrong, "12345678")
    with pytest.raises(PinBlockedError) as soft:
        session.change_pin(wrong, "12345678")
    assert soft.value.until_reinserted and "insert it again" in soft.value.next_step
    # Re-inserting lets the next attempts through; five more wrong ones lock the key.
    errors: list[KioskError] = []
    for _ in range(3):
        session = r.reinsert(key)
        for _ in range(3):
            try:
                session.change_pin(wrong, "12345678")
            except (WrongPinError, PinBlockedError) as exc:
                errors.append(exc)
                if isinstance(exc, PinBlockedError):
                    break
    hard = [e for e in errors if isinstance(e, PinBlockedError) and not e.until_reinserted]
    assert hard, [type(e).__name__ for e in errors]
    assert "Reset the key" in hard[0].next_step
    with pytest.raises(PinBlockedError):
        r.reinsert(key).make_credential(graph_options(), PIN)


def test_reset_inside_the_window_erases_pin_and_credentials(r: Rig) -> None:
    key = r.key("used", auto_touch=0.05)
    session = r.session(key)
    assert session.identify().pin_set
    touches: list[int] = []
    session.reset(on_touch=lambda: touches.append(1))
    assert touches
    assert not session.info.pin_set
    session.set_pin(PIN)
    assert session.info.pin_set
    assert session.make_credential(graph_options(), PIN).credential_id


def test_reset_outside_the_window_asks_for_reinsert_then_works(r: Rig) -> None:
    now = [1000.0]
    key = r.key("used", clock=lambda: now[0])
    session = r.session(key, reset_window_seconds=10)
    now[0] += 60  # the key has been in for a minute
    with pytest.raises(ResetRefusedError) as caught:
        session.reset()
    assert caught.value.window_seconds == 10
    assert "insert it again, and touch it within 10 seconds" in caught.value.next_step
    assert session.identify().pin_set  # nothing was erased
    session = r.reinsert(key)  # pulled and inserted again: a new window
    session.reset()
    assert not session.info.pin_set


def test_reset_without_touch_times_out(r: Rig) -> None:
    session = r.session(r.key("used", auto_touch=None, touch_timeout=0.2))
    with pytest.raises(TouchTimeoutError):
        session.reset()


def test_make_credential_without_touch_times_out(r: Rig) -> None:
    session = r.session(r.key(auto_touch=None, touch_timeout=0.2))
    session.set_pin(PIN)
    started = time.monotonic()
    with pytest.raises(TouchTimeoutError) as caught:
        session.make_credential(graph_options(), PIN)
    assert time.monotonic() - started < 5
    assert "touch" in caught.value.next_step


def test_cancel_while_waiting_for_touch(r: Rig) -> None:
    key = r.key(auto_touch=None, touch_timeout=10)
    session = r.session(key)
    session.set_pin(PIN)
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(CancelledError):
        session.make_credential(graph_options(), PIN, on_touch=lambda: None, event=cancel)
    assert time.monotonic() - started < 3


def test_key_pulled_while_blinking(r: Rig) -> None:
    key = r.key(auto_touch=None, touch_timeout=10)
    session = r.session(key)
    session.set_pin(PIN)

    def pull_when_blinking() -> None:
        r.port.unplug(key)

    with pytest.raises(KeyPulledError) as caught:
        session.make_credential(
            graph_options(), PIN, on_touch=lambda: threading.Timer(0.05, pull_when_blinking).start()
        )
    assert "Insert the key again" in caught.value.next_step


def test_key_pulled_mid_command_by_fault(r: Rig) -> None:
    key = r.key()
    session = r.session(key)
    session.set_pin(PIN)
    key.faults.pull(command=MAKE_CREDENTIAL)
    with pytest.raises(KeyPulledError):
        session.make_credential(graph_options(), PIN)


def test_full_key_says_so(r: Rig) -> None:
    session = r.session(r.key("full"))
    assert session.identify().remaining_credentials == 0
    session.set_pin(PIN)
    with pytest.raises(KeyFullError) as caught:
        session.make_credential(graph_options(), PIN)
    assert "Reset the key" in caught.value.next_step


def test_injected_ctap_error_is_named_for_the_admin(r: Rig) -> None:
    key = r.key()
    session = r.session(key)
    session.set_pin(PIN)
    key.faults.error(CtapError.ERR.INVALID_CREDENTIAL, command=MAKE_CREDENTIAL)
    with pytest.raises(KioskError) as caught:
        session.make_credential(graph_options(), PIN)
    assert "0x22" in caught.value.detail and "INVALID_CREDENTIAL" in caught.value.detail


def test_malformed_reply_is_an_error_not_a_crash(r: Rig) -> None:
    key = r.key()
    session = r.session(key)
    session.set_pin(PIN)
    key.faults.malformed_reply(command=MAKE_CREDENTIAL)
    with pytest.raises(KioskError):
        session.make_credential(graph_options(), PIN)


def test_set_pin_rules(r: Rig) -> None:
    session = r.session(r.key())
    with pytest.raises(PinNotSetError):
        session.make_credential(graph_options(), PIN)
    with pytest.raises(PinPolicyError, match="at least 4"):
        session.set_pin("123")
    session.set_pin(PIN)
    with pytest.raises(PinAlreadySetError):
        session.set_pin("24681357")


def test_pin_policy_after_the_credential(r: Rig) -> None:
    session = r.session(r.key())
    session.set_pin(PIN)
    cred = session.make_credential(graph_options(), PIN)
    session.self_test(cred, RP_ID, PIN)
    session.apply_pin_policy(PIN, min_length=8, force_change=True)
    info = session.identify()
    assert info.min_pin_length == 8 and info.force_pin_change
    assert info.has_credentials  # known from the credential made; getInfo cannot say
    # Now no PIN token is handed out until the user changes the PIN...
    with pytest.raises(PinPolicyError, match="changed"):
        session.self_test(cred, RP_ID, PIN)
    # ...which the user can do, after which the credential works.
    with pytest.raises(PinPolicyError):
        session.change_pin(PIN, "1234567")  # shorter than the new minimum
    session.change_pin(PIN, "12345678")
    assert not session.identify().force_pin_change
    session.self_test(cred, RP_ID, "12345678")


def test_pin_policy_never_lowers_the_keys_minimum(r: Rig) -> None:
    session = r.session(r.key(profile("yubikey5", min_pin_length=6)))
    session.set_pin(PIN)
    session.apply_pin_policy(PIN, min_length=4, force_change=False)
    info = session.identify()
    assert info.min_pin_length == 6 and not info.force_pin_change


def test_pin_policy_refuses_a_pin_below_the_minimum_without_force(r: Rig) -> None:
    session = r.session(r.key())
    session.set_pin("123456")
    with pytest.raises(PinPolicyError, match="shorter"):
        session.apply_pin_policy("123456", min_length=8, force_change=False)


def test_ctap20_key_enrolls_but_has_no_pin_policy(r: Rig) -> None:
    session = r.session(r.key("ctap20"))
    info = session.identify()
    assert not info.supports_ctap21 and not info.supports_pin_policy
    session.set_pin(PIN)
    options = graph_options(extensions={"hmacCreateSecret": True})
    cred = session.make_credential(options, PIN)
    assert cred.aaguid == "4e768f2c-5fab-48b3-b300-220eb487752b"
    with pytest.raises(NotSupportedError) as caught:
        session.apply_pin_policy(PIN, min_length=8, force_change=True)
    assert "authenticatorConfig" in caught.value.detail


def test_enforced_cred_protect_on_a_key_without_it(r: Rig) -> None:
    key = r.key("ctap20", auto_touch=None, touch_timeout=10)
    session = r.session(key)
    session.set_pin(PIN)
    options = graph_options(
        extensions={
            "credentialProtectionPolicy": "userVerificationRequired",
            "enforceCredentialProtectionPolicy": True,
        }
    )
    with pytest.raises(NotSupportedError, match="credProtect"):
        session.make_credential(options, PIN)
    assert not key.waiting_for_touch  # refused before asking for a touch


def test_self_test_detects_a_foreign_credential(r: Rig) -> None:
    session = r.session(r.key())
    session.set_pin(PIN)
    cred = session.make_credential(graph_options(), PIN)
    other = r.session(r.key())
    other.set_pin(PIN)
    with pytest.raises(KioskError):
        other.self_test(cred, RP_ID, PIN)


def test_wrapped_public_key_is_accepted(r: Rig) -> None:
    session = r.session(r.key())
    session.set_pin(PIN)
    cred = session.make_credential({"publicKey": graph_options()}, PIN)
    assert base64.urlsafe_b64decode(cred.public_key_credential()["id"] + "==")  # type: ignore[operator]


def test_cred_protect_and_hmac_secret_reach_the_key(r: Rig) -> None:
    session = r.session(r.key())
    session.set_pin(PIN)
    options = graph_options(
        extensions={
            "hmacCreateSecret": True,
            "credentialProtectionPolicy": "userVerificationRequired",
            "enforceCredentialProtectionPolicy": True,
        }
    )
    cred = session.make_credential(options, PIN)
    extensions = AttestationObject(cred.attestation_object).auth_data.extensions or {}
    assert extensions.get("credProtect") == 3
    assert extensions.get("hmac-secret") is True
    plain = session.make_credential(graph_options(extensions={}), PIN)
    assert not (AttestationObject(plain.attestation_object).auth_data.extensions or {})


def test_key_pulled_during_reset(r: Rig) -> None:
    key = r.key("used", auto_touch=None, touch_timeout=10)
    session = r.session(key)
    key.faults.pull(command=0x07, delay=0.1)
    with pytest.raises(KeyPulledError):
        session.reset()


def test_self_test_takes_a_ga_token_and_one_assertion(r: Rig) -> None:
    key = r.key()
    session = r.session(key)
    session.set_pin(PIN)
    cred = session.make_credential(graph_options(), PIN)
    key.transactions.clear()
    session.self_test(cred, RP_ID, PIN)
    # The insertion's key agreement serves this token too; the key blinked once.
    assert key.transactions.names() == [
        f"clientPIN.getPinUvAuthTokenUsingPinWithPermissions(ga@{RP_ID})",
        "getAssertion",
    ]
    assert key.authenticator.sign_count == 1


def test_operator_key_check_reuses_the_insertions_get_info(r: Rig) -> None:
    key = r.key()
    session = r.session(key)
    session.identify()
    assert find_credential(session.device, "kiosk.invalid", [b"\x01" * 32]) is None
    # The silent "is this an operator's key?" question is one transaction, no second getInfo.
    assert key.transactions.names() == ["getInfo", "vendor.readConfig", "getAssertion!0x2e"]
