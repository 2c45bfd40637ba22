"""A registration the tenant's passkey policy refuses reaches the operator as that policy, by
name (Graph's refusal text for it is not documented: the kiosk reads the policy and judges the
key), not as a generic HTTP error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.enroll.events import ErrorRaised
from kiosk.entra.fake.fido2_policy import (
    ALL_USERS,
    Fido2MethodPolicy,
    KeyRestrictions,
    PasskeyProfile,
    Target,
)
from kiosk.keys.virtual.profiles import YUBIKEY_5_AAGUID
from tests.fixtures.engine import EngineRig

YK = str(YUBIKEY_5_AAGUID)


@pytest.mark.parametrize(
    ("fido2", "named"),
    [
        (Fido2MethodPolicy(restrictions=KeyRestrictions(True, "block", [YK])),
         f"the tenant's FIDO2 settings blocks AAGUID {YK} (key restrictions)"),
        (Fido2MethodPolicy(
            include=[Target(ALL_USERS, ["p1"])],
            profiles=[PasskeyProfile("Phones only", id="p1", passkey_types="synced")],
        ), "'Phones only' allows no device-bound passkeys"),
    ],
)
def test_a_policy_refusal_names_the_policy(
    engine_rig: Callable[..., EngineRig], fido2: Fido2MethodPolicy, named: str
) -> None:
    rig = engine_rig(reset="automatic")
    rig.tenant.policy.fido2 = fido2
    (upn,) = rig.add_users(1)
    rig.robot(iter([rig.key()]))
    rig.start()
    rig.wait(lambda evs: any(isinstance(e, ErrorRaised) for e in evs))
    rig.stop()
    error = rig.of(ErrorRaised)[0]
    assert named in error.detail, error
    assert "HTTP 400" in error.detail  # what Graph answered, for the admin's logs
    assert rig.tenant.state.methods_of(upn) == []
    audit = Path(rig.settings.store.audit_path).read_text(encoding="utf-8")
    assert named in audit
    assert "Entra's passkey policy refused this key" in error.detail
