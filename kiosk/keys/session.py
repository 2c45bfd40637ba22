"""One inserted key, and everything the kiosk does to it, in the fewest CTAP transactions.

A :class:`KeySession` wraps an open ``CtapHidDevice`` and drives it with python-fido2's own
Ctap2, PIN protocols and Config. It sends nothing the enrollment does not need (issue 14;
``tests/flows/test_key_transactions.py`` counts them): getInfo once per insertion (one Ctap2
for the session) and again only after a reset or a config change; getPINRetries only for a key
that came in with a PIN, or after a wrong PIN; one key agreement per insertion
(:class:`~kiosk.keys.pin_channel.PinChannel` reuses the shared secret for setPIN and every
token); one token with exactly ``mc`` for the rp id before makeCredential, one with ``acfg``
before authenticatorConfig. What the kiosk just did to the key (a PIN set, a credential
made) updates :attr:`KeySession.info` without asking the key again.

Every failure leaves as an operator-facing :class:`~kiosk.errors.KioskError`
(:mod:`kiosk.keys.errors`). Blocking calls take ``on_touch`` (called when the key starts
blinking for a touch) and ``event`` (set it to cancel; pass a Textual worker's cancellation
event, or set it when the key is pulled).

Order matters (ARCHITECTURE.md, "CTAP facts that bite"): reset (within seconds of insertion)
-> set PIN -> make credential -> self-test (optional) -> apply PIN policy. Once force-PIN-change
is set the key hands out no PIN token, so nothing that needs the PIN can follow it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from fido2.client import ClientError, DefaultClientDataCollector
from fido2.ctap import STATUS, CtapError
from fido2.ctap2.base import Ctap2
from fido2.ctap2.config import Config
from fido2.ctap2.extensions import (
    CredProtectExtension,
)
from fido2.ctap2.pin import ClientPin
from fido2.hid import CtapHidDevice
from fido2.webauthn import (
    AttestationObject,
    PublicKeyCredentialRequestOptions,
)

from kiosk.errors import KioskError
from kiosk.keys.creation import creation_options
from kiosk.keys.credential import make_credential as new_credential
from kiosk.keys.credential import wants_resident_key
from kiosk.keys.errors import (
    KeyProblem,
    NotSupportedError,
    Op,
    PinAlreadySetError,
    PinNotSetError,
    PinPolicyError,
    key_error,
)
from kiosk.keys.identity import describe, identify, open_ctap2
from kiosk.keys.mds import MdsCatalog
from kiosk.keys.pin_channel import PinChannel
from kiosk.model.keys import CreatedCredential, KeyInfo

logger = logging.getLogger(__name__)

OnTouch = Callable[[], None]

PIN_POLICY_FEATURE = "minimum PIN length and forced PIN change (CTAP 2.1 authenticatorConfig)"


class SelfTestError(KeyProblem):
    title = "Self-test failed"

    def __init__(self, detail: str) -> None:
        super().__init__(
            detail, next_step="Set this key aside and enroll the user with another key."
        )


def _ctap_code(exc: BaseException) -> int | None:
    if isinstance(exc, CtapError):
        return int(exc.code)
    if isinstance(exc, ClientError) and isinstance(exc.cause, CtapError):
        return int(exc.cause.code)
    return None


class KeySession:
    """One key, from insertion to removal. Not thread-safe: one call at a time."""

    def __init__(
        self,
        device: CtapHidDevice,
        info: KeyInfo | None = None,
        *,
        mds: MdsCatalog | None = None,
        reset_window_seconds: float = 10.0,
    ) -> None:
        self.device = device
        self._info = info
        self._mds = mds
        self.reset_window_seconds = reset_window_seconds
        self._ctap: Ctap2 | None = None
        self._channel: PinChannel | None = None

    @property
    def path(self) -> str:
        return str(self.device.descriptor.path)

    @property
    def info(self) -> KeyInfo:
        """What is known about the key; identifies it on first use."""
        if self._info is None:
            return self.identify()
        return self._info

    # -- plumbing ----------------------------------------------------------------------------

    def _fail(self, exc: BaseException, op: Op) -> KioskError:
        """Map a failure; a wrong PIN is completed with the attempts left (the one place a
        retry counter is worth a transaction)."""
        attempts = None
        if _ctap_code(exc) == CtapError.ERR.PIN_INVALID:
            attempts = self._pin_retries_quietly()
        return key_error(
            exc,
            op,
            attempts_remaining=attempts,
            reset_window_seconds=self.reset_window_seconds,
            path=self.path,
        )

    def _pin_retries_quietly(self) -> int | None:
        try:
            return ClientPin(self._ctap2(Op.IDENTIFY)).get_pin_retries()[0]
        except Exception:  # the key may be gone or confused; the count is a nicety
            return None

    def _ctap2(self, op: Op) -> Ctap2:
        """The session's one Ctap2 (its getInfo is the insertion's)."""
        if self._ctap is None:
            try:
                self._ctap = open_ctap2(self.device)
            except KioskError:
                raise
            except Exception as exc:
                raise self._fail(exc, op) from exc
        return self._ctap

    def _pin(self, op: Op) -> PinChannel:
        """The session's PIN/UV channel: one key agreement per insertion."""
        if self._channel is None:
            ctap2 = self._ctap2(op)
            try:
                self._channel = PinChannel(ctap2)
            except ValueError as exc:  # no PIN/UV protocol in common
                raise NotSupportedError("a PIN protocol the kiosk speaks") from exc
        return self._channel

    def _refresh(self, ctap2: Ctap2, **known: Any) -> KeyInfo:
        """Re-read getInfo after a reset or a config change; serial, model and firmware stay
        as identified. ``known`` sets what the kiosk knows without asking (retries)."""
        old = self.info
        fresh = describe(
            ctap2.get_info(),
            path=old.path,
            vid=self.device.descriptor.vid,
            mds=self._mds,
            firmware=old.firmware,
            serial=old.serial,
        )
        known.setdefault("has_credentials", old.has_credentials)  # getInfo cannot tell
        self._info = dataclasses.replace(fresh, model=old.model, **known)
        return self._info

    @staticmethod
    def _keepalive(on_touch: OnTouch | None) -> Callable[[int], None]:
        def on_keepalive(status: int) -> None:
            if status == STATUS.UPNEEDED and on_touch is not None:
                on_touch()

        return on_keepalive

    # -- operations --------------------------------------------------------------------------

    def identify(self) -> KeyInfo:
        """Who the key is: read once per session (insertion); later calls return what is known,
        kept current by the session's own operations."""
        if self._info is None or self._ctap is None:
            self._info = identify(self.device, mds=self._mds, ctap2=self._ctap2(Op.IDENTIFY))
        return self._info

    def reset(self, on_touch: OnTouch | None = None, event: threading.Event | None = None) -> None:
        """Erase the key (PIN and credentials). Needs a touch, and only works right after
        insertion: outside that window :class:`ResetRefusedError` asks for a re-insert."""
        ctap2 = self._ctap2(Op.RESET)
        try:
            ctap2.reset(event=event, on_keepalive=self._keepalive(on_touch))
            # A reset makes a new key-agreement key (CTAP 2.1 section 6.6): agree again.
            if self._channel is not None:
                self._channel.forget()
            self._refresh(ctap2, pin_retries=None, has_credentials=False)
        except KioskError:
            raise
        except Exception as exc:
            raise self._fail(exc, Op.RESET) from exc
        logger.info("Key %s reset", self.path)

    def set_pin(self, pin: str) -> None:
        """Set the first PIN of a key that has none. The PIN state is then known: no getInfo,
        no retry counter."""
        info = self.info
        if info.pin_set:
            raise PinAlreadySetError()
        if len(pin) < info.min_pin_length:
            raise PinPolicyError(
                f"The key needs a PIN of at least {info.min_pin_length} characters."
            )
        channel = self._pin(Op.SET_PIN)
        try:
            channel.set_pin(pin)
        except KioskError:
            raise
        except Exception as exc:
            raise self._fail(exc, Op.SET_PIN) from exc
        options = {**info.options, "clientPin": True}
        self._info = dataclasses.replace(info, options=options, pin_set=True, pin_retries=None)

    def change_pin(self, old: str, new: str) -> None:
        channel = self._pin(Op.CHANGE_PIN)
        try:
            channel.change_pin(old, new)
            self._refresh(channel.ctap2, pin_retries=None)
        except KioskError:
            raise
        except Exception as exc:
            raise self._fail(exc, Op.CHANGE_PIN) from exc

    def make_credential(
        self,
        public_key: Mapping[str, Any],
        pin: str,
        on_touch: OnTouch | None = None,
        event: threading.Event | None = None,
    ) -> CreatedCredential:
        """Create the user's credential from Graph's ``publicKey`` options; the key blinks.

        Two transactions: a token with exactly ``mc`` bound to the rp id, then makeCredential.
        """
        options = creation_options(public_key)
        info = self.info
        if not info.pin_set:
            raise PinNotSetError()
        ctap2 = self._ctap2(Op.MAKE_CREDENTIAL)
        ext = options.extensions or {}
        policy = ext.get("credentialProtectionPolicy")
        if (
            ext.get("enforceCredentialProtectionPolicy")
            and policy not in (None, CredProtectExtension.POLICY.OPTIONAL.value)
            and "credProtect" not in ctap2.info.extensions
        ):
            raise NotSupportedError("credential protection (credProtect), which Entra enforces")
        rp_id = str(options.rp.id)
        channel = self._pin(Op.MAKE_CREDENTIAL)
        try:
            token = channel.token(pin, ClientPin.PERMISSION.MAKE_CREDENTIAL, rp_id)
            created = new_credential(
                ctap2,
                options,
                channel.protocol,
                token,
                on_keepalive=self._keepalive(on_touch),
                event=event,
            )
        except Exception as exc:
            raise self._fail(exc, Op.MAKE_CREDENTIAL) from exc
        left = info.remaining_credentials
        if left is not None and wants_resident_key(options, ctap2.info):
            left = max(0, left - 1)  # the next insertion's getInfo has the exact count
        self._info = dataclasses.replace(info, remaining_credentials=left, has_credentials=True)
        return created

    def self_test(
        self,
        credential: CreatedCredential,
        rp_id: str,
        pin: str,
        on_touch: OnTouch | None = None,
        event: threading.Event | None = None,
    ) -> None:
        """Sign a fresh challenge with the new credential and check the signature against the
        public key in its attestation. Run it before :meth:`apply_pin_policy`."""
        options = PublicKeyCredentialRequestOptions(challenge=os.urandom(32), rp_id=rp_id)
        allow: list[Mapping[str, Any]] = [{"type": "public-key", "id": credential.credential_id}]
        channel = self._pin(Op.SELF_TEST)
        try:  # two transactions: a token with exactly ga for the rp id, getAssertion
            token = channel.token(pin, ClientPin.PERMISSION.GET_ASSERTION, rp_id)
            collector = DefaultClientDataCollector("https://" + rp_id)
            client_data, _ = collector.collect_client_data(options)  # type: ignore[no-untyped-call]
            assertion = channel.ctap2.get_assertion(
                rp_id,
                client_data.hash,
                allow,
                pin_uv_param=channel.protocol.authenticate(token, client_data.hash),
                pin_uv_protocol=channel.protocol.VERSION,
                event=event,
                on_keepalive=self._keepalive(on_touch),
            )
        except Exception as exc:
            raise self._fail(exc, Op.SELF_TEST) from exc
        data = AttestationObject(credential.attestation_object).auth_data.credential_data
        if data is None:
            raise SelfTestError("The credential's attestation holds no public key.")
        answered = assertion.credential.get("id", credential.credential_id)  # may be left out
        if bytes(answered) != credential.credential_id:
            raise SelfTestError("The key answered with a different credential.")
        signed = bytes(assertion.auth_data) + client_data.hash
        try:
            data.public_key.verify(signed, assertion.signature)
        except Exception as exc:
            raise SelfTestError("The key's signature does not match the new credential.") from exc

    def holds_one_of(self, rp_id: str, credential_ids: list[bytes]) -> bytes | None:
        """Which of ``credential_ids`` the key holds for ``rp_id``, asked silently (a
        getAssertion without user presence, no PIN: credentials Entra made with credProtect
        "userVerificationOptional" answer it), in chunks the key accepts. None: none of them,
        or the key would not say. Never needs a touch."""
        ctap2 = self._ctap2(Op.SELF_TEST)
        size = max(1, int(ctap2.info.max_creds_in_list or 1))
        longest = int(ctap2.info.max_cred_id_length or 0)
        ids = [i for i in credential_ids if not longest or len(i) <= longest]
        for start in range(0, len(ids), size):
            allow: list[Mapping[str, Any]] = [
                {"type": "public-key", "id": i} for i in ids[start : start + size]
            ]
            try:
                found = ctap2.get_assertion(rp_id, bytes(32), allow, options={"up": False})
            except CtapError as exc:
                if exc.code != CtapError.ERR.NO_CREDENTIALS:
                    logger.info("the key would not say which credentials it holds (%s)", exc)
                    return None
                continue
            answered = found.credential.get("id") if found.credential else None
            return bytes(answered) if answered else ids[start]
        return None

    def apply_pin_policy(self, pin: str, min_length: int, force_change: bool) -> None:
        """Set the key's minimum PIN length and force-PIN-change (CTAP 2.1 authenticatorConfig).

        Must come after the credential exists: with force-PIN-change set, the key refuses PIN
        tokens until the user changes the PIN. A key can only raise its minimum, never lower
        it; a lower request keeps the key's stricter minimum.
        """
        info = self.info
        if not info.supports_pin_policy:
            raise NotSupportedError(PIN_POLICY_FEATURE)
        if len(pin) < min_length and not force_change:
            raise PinPolicyError(
                f"The PIN is shorter than the minimum of {min_length}; the key would force a "
                "PIN change the policy did not ask for."
            )
        new_min = min_length if min_length > info.min_pin_length else None
        channel = self._pin(Op.PIN_POLICY)
        try:
            token = channel.token(pin, ClientPin.PERMISSION.AUTHENTICATOR_CFG)
            Config(channel.ctap2, channel.protocol, token).set_min_pin_length(
                min_pin_length=new_min, force_change_pin=force_change
            )
            after = self._refresh(channel.ctap2, pin_retries=None)  # a config change: re-read
        except KioskError:
            raise
        except ValueError as exc:  # Config: command not offered by this key
            raise NotSupportedError(PIN_POLICY_FEATURE) from exc
        except Exception as exc:
            raise self._fail(exc, Op.PIN_POLICY) from exc
        if after.min_pin_length < min_length or (force_change and not after.force_pin_change):
            raise PinPolicyError("The key accepted the PIN policy but does not report it applied.")

    def close(self) -> None:
        with contextlib.suppress(OSError):  # already gone
            self.device.close()
