"""One inserted key, and everything the kiosk does to it.

A :class:`KeySession` wraps an open ``CtapHidDevice`` and drives it with python-fido2's own
Ctap2, ClientPin, Config and Fido2Client. Every failure leaves as an operator-facing
:class:`~kiosk.errors.KioskError` (:mod:`kiosk.keys.errors`). Blocking calls take ``on_touch``
(called when the key starts blinking for a touch) and ``event`` (set it to cancel; pass a
Textual worker's cancellation event, or set it when the key is pulled).

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
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from fido2.client import ClientError, DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.ctap import STATUS, CtapError
from fido2.ctap2.base import Ctap2
from fido2.ctap2.config import Config
from fido2.ctap2.extensions import (
    CredPropsExtension,
    CredProtectExtension,
    HmacSecretExtension,
)
from fido2.ctap2.pin import ClientPin
from fido2.hid import CtapHidDevice
from fido2.webauthn import (
    AttestationObject,
    PublicKeyCredentialDescriptor,
    PublicKeyCredentialRequestOptions,
    PublicKeyCredentialType,
    UserVerificationRequirement,
)

from kiosk.errors import KioskError
from kiosk.keys.creation import creation_options
from kiosk.keys.errors import (
    KeyProblem,
    NotSupportedError,
    Op,
    PinAlreadySetError,
    PinNotSetError,
    PinPolicyError,
    key_error,
)
from kiosk.keys.identity import describe, identify, pin_retries
from kiosk.keys.mds import MdsCatalog
from kiosk.keys.types import CreatedCredential, KeyInfo, b64url

logger = logging.getLogger(__name__)

OnTouch = Callable[[], None]

PIN_POLICY_FEATURE = "minimum PIN length and forced PIN change (CTAP 2.1 authenticatorConfig)"


class SelfTestError(KeyProblem):
    title = "Self-test failed"

    def __init__(self, detail: str) -> None:
        super().__init__(
            detail, next_step="Set this key aside and enroll the user with another key."
        )


class _Interaction(UserInteraction):
    """Supplies the PIN Fido2Client asks for, and reports the blink."""

    def __init__(self, pin: str, on_touch: OnTouch | None) -> None:
        self._pin = pin
        self._on_touch = on_touch

    def prompt_up(self) -> None:
        if self._on_touch is not None:
            self._on_touch()

    def request_pin(self, permissions: ClientPin.PERMISSION, rp_id: str | None) -> str | None:
        return self._pin

    def request_uv(self, permissions: ClientPin.PERMISSION, rp_id: str | None) -> bool:
        return True


def _ctap_code(exc: BaseException) -> int | None:
    if isinstance(exc, CtapError):
        return int(exc.code)
    if isinstance(exc, ClientError) and isinstance(exc.cause, CtapError):
        return int(exc.cause.code)
    return None


def _plain(value: object) -> object:
    """Client extension results as JSON values (bytes as base64url) for Graph's body."""
    if isinstance(value, bytes):
        return b64url(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


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
        """Map a failure; a wrong PIN is completed with the attempts left."""
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
            return ClientPin(Ctap2(self.device)).get_pin_retries()[0]
        except Exception:  # the key may be gone or confused; the count is a nicety
            return None

    def _ctap2(self, op: Op) -> Ctap2:
        try:
            return Ctap2(self.device)
        except Exception as exc:
            raise self._fail(exc, op) from exc

    def _refresh(self, ctap2: Ctap2) -> KeyInfo:
        """Re-read getInfo after a change; serial, model and firmware stay as identified."""
        old = self.info
        fresh = describe(
            ctap2.get_info(),
            path=old.path,
            vid=self.device.descriptor.vid,
            mds=self._mds,
            firmware=old.firmware,
            serial=old.serial,
        )
        self._info = dataclasses.replace(fresh, model=old.model, pin_retries=pin_retries(ctap2))
        return self._info

    @staticmethod
    def _keepalive(on_touch: OnTouch | None) -> Callable[[int], None]:
        def on_keepalive(status: int) -> None:
            if status == STATUS.UPNEEDED and on_touch is not None:
                on_touch()

        return on_keepalive

    # -- operations --------------------------------------------------------------------------

    def identify(self) -> KeyInfo:
        self._info = identify(self.device, mds=self._mds)
        return self._info

    def reset(self, on_touch: OnTouch | None = None, event: threading.Event | None = None) -> None:
        """Erase the key (PIN and credentials). Needs a touch, and only works right after
        insertion: outside that window :class:`ResetRefusedError` asks for a re-insert."""
        ctap2 = self._ctap2(Op.RESET)
        try:
            ctap2.reset(event=event, on_keepalive=self._keepalive(on_touch))
            self._refresh(ctap2)
        except KioskError:
            raise
        except Exception as exc:
            raise self._fail(exc, Op.RESET) from exc
        logger.info("Key %s reset", self.path)

    def set_pin(self, pin: str) -> None:
        """Set the first PIN of a key that has none."""
        info = self.info
        if info.pin_set:
            raise PinAlreadySetError()
        if len(pin) < info.min_pin_length:
            raise PinPolicyError(
                f"The key needs a PIN of at least {info.min_pin_length} characters."
            )
        ctap2 = self._ctap2(Op.SET_PIN)
        try:
            ClientPin(ctap2).set_pin(pin)
            self._refresh(ctap2)
        except KioskError:
            raise
        except Exception as exc:
            raise self._fail(exc, Op.SET_PIN) from exc

    def change_pin(self, old: str, new: str) -> None:
        ctap2 = self._ctap2(Op.CHANGE_PIN)
        try:
            ClientPin(ctap2).change_pin(old, new)
            self._refresh(ctap2)
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
        """Create the user's credential from Graph's ``publicKey`` options; the key blinks."""
        options = creation_options(public_key)
        info = self.info
        if not info.pin_set:
            raise PinNotSetError()
        ext = options.extensions or {}
        policy = ext.get("credentialProtectionPolicy")
        if (
            ext.get("enforceCredentialProtectionPolicy")
            and policy not in (None, CredProtectExtension.POLICY.OPTIONAL.value)
            and not self._supports_extension("credProtect")
        ):
            raise NotSupportedError("credential protection (credProtect), which Entra enforces")
        rp_id = str(options.rp.id)
        try:
            client = Fido2Client(
                self.device,
                DefaultClientDataCollector("https://" + rp_id),
                user_interaction=_Interaction(pin, on_touch),
                extensions=[
                    HmacSecretExtension(allow_hmac_secret=True),  # type: ignore[no-untyped-call]
                    CredProtectExtension(),
                    CredPropsExtension(),
                ],
            )
            result = client.make_credential(options, event=event)
        except Exception as exc:
            raise self._fail(exc, Op.MAKE_CREDENTIAL) from exc
        attestation = result.response.attestation_object
        data = attestation.auth_data.credential_data
        if data is None:
            raise KeyProblem("The key's answer holds no credential.")
        try:  # remaining slots changed; a failure here must not lose the new credential
            self._refresh(Ctap2(self.device))
        except Exception as exc:
            logger.debug("Could not re-read the key after makeCredential: %r", exc)
        return CreatedCredential(
            credential_id=bytes(result.raw_id),
            client_data_json=bytes(result.response.client_data),
            attestation_object=bytes(attestation),
            aaguid=str(uuid.UUID(bytes=bytes(data.aaguid))),
            attestation_format=str(attestation.fmt),
            client_extension_results={
                str(k): _plain(v) for k, v in result.client_extension_results.items()
            },
        )

    def _supports_extension(self, name: str) -> bool:
        return name in self._ctap2(Op.MAKE_CREDENTIAL).info.extensions

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
        options = PublicKeyCredentialRequestOptions(
            challenge=os.urandom(32),
            rp_id=rp_id,
            allow_credentials=[
                PublicKeyCredentialDescriptor(
                    type=PublicKeyCredentialType.PUBLIC_KEY, id=credential.credential_id
                )
            ],
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        try:
            client = Fido2Client(
                self.device,
                DefaultClientDataCollector("https://" + rp_id),
                user_interaction=_Interaction(pin, on_touch),
                extensions=[],
            )
            response = client.get_assertion(options, event=event).get_response(0)
        except Exception as exc:
            raise self._fail(exc, Op.SELF_TEST) from exc
        data = AttestationObject(credential.attestation_object).auth_data.credential_data
        if data is None:
            raise SelfTestError("The credential's attestation holds no public key.")
        if bytes(response.raw_id) != credential.credential_id:
            raise SelfTestError("The key answered with a different credential.")
        signed = bytes(response.response.authenticator_data) + response.response.client_data.hash
        try:
            data.public_key.verify(signed, response.response.signature)
        except Exception as exc:
            raise SelfTestError("The key's signature does not match the new credential.") from exc

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
        ctap2 = self._ctap2(Op.PIN_POLICY)
        try:
            client_pin = ClientPin(ctap2)
            token = client_pin.get_pin_token(pin, ClientPin.PERMISSION.AUTHENTICATOR_CFG)
            Config(ctap2, client_pin.protocol, token).set_min_pin_length(
                min_pin_length=new_min, force_change_pin=force_change
            )
            after = self._refresh(ctap2)
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
