"""Key policy decisions (pure): refusals name the reason and what to do next."""

from __future__ import annotations

import dataclasses

import pytest

from kiosk.config import PolicySettings
from kiosk.enroll.policy import KeyRefused, check_key, parse_version
from kiosk.model.keys import KeyInfo
from kiosk.store.inventory import InventoryEntry

YK = KeyInfo(
    path="virtual:1",
    aaguid="ee882879-721c-4913-9775-3dfcce97072a",
    model="YubiKey 5 NFC",
    firmware="5.7.1",
    serial="31400001",
    versions=("FIDO_2_0", "FIDO_2_1"),
    options={"authnrCfg": True, "setMinPINLength": True},
)


def check(info: KeyInfo = YK, owner: InventoryEntry | None = None, **policy: object) -> object:
    return check_key(
        info, PolicySettings(**policy), user_id="u1", entry_id=1, owner=owner,  # type: ignore[arg-type]
        earlier=None,
    )


def test_clean_ctap21_key_is_accepted_with_pin_policy() -> None:
    verdict = check()
    assert verdict.reset == "none" and verdict.apply_pin_policy  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("policy", "info", "words"),
    [
        ({"blocked_aaguids": [YK.aaguid.upper()]}, YK, "blocked"),
        ({"allowed_aaguids": ["00000000-0000-0000-0000-000000000001"]}, YK, "allowed"),
        ({"min_firmware": "5.7.2"}, YK, "5.7.1"),
        ({"min_firmware": "5.0"}, dataclasses.replace(YK, firmware=None), "cannot be read"),
        ({"pin_policy": "required"}, dataclasses.replace(YK, options={}), "authenticatorConfig"),
        ({"reset": "never"}, dataclasses.replace(YK, pin_set=True), "never resets"),
    ],
)
def test_refusals_say_why(policy: dict[str, object], info: KeyInfo, words: str) -> None:
    with pytest.raises(KeyRefused) as caught:
        check_key(
            info, PolicySettings(**policy), user_id="u1", entry_id=1,  # type: ignore[arg-type]
            owner=None, earlier=None,
        )
    assert words in caught.value.detail
    assert caught.value.next_step


def test_versions_compare_numerically() -> None:
    assert parse_version("5.10.0") > parse_version("5.9.9")  # type: ignore[operator]
    assert check(dataclasses.replace(YK, firmware="5.10.0"), min_firmware="5.9")


def test_reset_needs_depend_on_policy() -> None:
    dirty = dataclasses.replace(YK, has_credentials=True)
    assert check(dirty, reset="ask").reset == "ask"  # type: ignore[attr-defined]
    assert check(dirty, reset="automatic").reset == "automatic"  # type: ignore[attr-defined]


def test_serial_owned_by_another_user() -> None:
    owner = InventoryEntry("31400001", YK.aaguid, YK.model, "5.7.1", "u2", "bob@x", "m", "t")
    with pytest.raises(KeyRefused, match="bob@x"):
        check(owner=owner)
    assert check(owner=owner, refuse_used_serials=False)
    same = dataclasses.replace(owner, user_id="u1")
    assert check(owner=same)


def test_optional_pin_policy_enrolls_and_notes_it() -> None:
    verdict = check(dataclasses.replace(YK, options={}), pin_policy="optional")
    assert not verdict.apply_pin_policy  # type: ignore[attr-defined]
    assert "does not support" in verdict.note  # type: ignore[attr-defined]
