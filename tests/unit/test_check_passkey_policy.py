"""`kiosk check` reads the tenant's passkey (FIDO2) policy from the fake tenant (both of
Graph's shapes) and names each setting that would block the batch; a good policy passes.
Least privilege: either passkey permission works, and the narrower one is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.entra.fake.fido2_policy import (
    ALL_USERS,
    Fido2MethodPolicy,
    KeyRestrictions,
    PasskeyProfile,
    Target,
)
from kiosk.entra.fake.server import FakeTenant
from tests.unit.test_check import Box, make_box


@pytest.fixture
def box(fake_tenant: FakeTenant, helpdesk: tuple[Path, Path], tmp_path: Path) -> Box:
    return make_box(fake_tenant, helpdesk, tmp_path)


YUBIKEY_5 = "cb69481e-8ff7-4039-93ec-0a2729a154a8"  # in the box's MDS blob
UNKNOWN = "0bb43545-fd2c-4185-87dd-feb0b2916ace"  # not in it
OTHER = "ee882879-721c-4913-9775-3dfcce97072a"


def _policy(box: Box, aaguids: list[str], fido2: Fido2MethodPolicy) -> str:
    box.write(policy={"allowed_aaguids": aaguids})
    box.tenant.policy.fido2 = fido2
    result = box.results()["passkey policy"]
    assert result.status == "fail", result
    assert "Authentication methods > Passkey (FIDO2)" in result.fix
    return result.detail


def test_a_good_policy_passes_and_says_what_it_checked(box: Box) -> None:
    box.write(policy={"allowed_aaguids": [YUBIKEY_5]})
    box.tenant.policy.fido2 = Fido2MethodPolicy(
        attestation_enforced=True, restrictions=KeyRestrictions(True, "allow", [YUBIKEY_5])
    )
    result = box.results()["passkey policy"]
    assert result.status == "ok", result
    assert "FIDO2 is enabled for group 'Mailroom batch 7'" in result.detail
    assert "attestation is enforced" in result.detail
    assert "policy.allowed_aaguids" in result.detail


def test_self_service_off_is_named(box: Box) -> None:
    detail = _policy(box, [YUBIKEY_5], Fido2MethodPolicy(self_service=False))
    assert "Allow self-service set up" in detail


def test_attestation_enforced_with_an_unknown_aaguid_is_named(box: Box) -> None:
    detail = _policy(box, [YUBIKEY_5, UNKNOWN], Fido2MethodPolicy(attestation_enforced=True))
    assert f"AAGUID {UNKNOWN}" in detail and "enforces attestation" in detail
    assert YUBIKEY_5 not in detail


def test_an_aaguid_block_list_is_named(box: Box) -> None:
    fido2 = Fido2MethodPolicy(restrictions=KeyRestrictions(True, "block", [YUBIKEY_5.upper()]))
    detail = _policy(box, [YUBIKEY_5], fido2)
    assert f"blocks AAGUID {YUBIKEY_5}" in detail


def test_a_passkey_profile_without_the_group_is_named(box: Box) -> None:
    other_group = box.tenant.state.add_group("Executives")
    default = PasskeyProfile(
        "Default passkey profile", key_restrictions=KeyRestrictions(True, "allow", [OTHER])
    )
    keys = PasskeyProfile("Kiosk keys", id="11111111-1111-1111-1111-111111111111")
    fido2 = Fido2MethodPolicy(
        include=[Target(ALL_USERS, [default.id]), Target(other_group.id, [keys.id])],
        profiles=[default, keys],
    )
    detail = _policy(box, [YUBIKEY_5], fido2)
    assert "'Default passkey profile' allows only listed AAGUIDs" in detail
    assert "Kiosk keys" not in detail  # not the group's profile: not what blocks it


def test_the_method_disabled_or_the_group_excluded_is_named(box: Box) -> None:
    group = box.tenant.state.find_groups_by_name("Mailroom batch 7")[0]
    detail = _policy(box, [YUBIKEY_5], Fido2MethodPolicy(state="disabled", exclude=[group.id]))
    assert "disabled" in detail and "excluded" in detail


def test_a_policy_for_other_groups_only_is_a_warning(box: Box) -> None:
    other = box.tenant.state.add_group("Executives")
    box.tenant.policy.fido2 = Fido2MethodPolicy(include=[Target(other.id)])
    result = box.results()["passkey policy"]
    assert result.status == "warn" and "not group 'Mailroom batch 7'" in result.detail


@pytest.mark.parametrize(
    ("roles", "status", "named"),
    [
        (("UserAuthMethod-Passkey.ReadWrite.All",), "ok", "(least privilege)"),
        (("UserAuthenticationMethod.ReadWrite.All",), "ok",
         "the narrower UserAuthMethod-Passkey.ReadWrite.All is enough"),
    ],
)
def test_either_passkey_permission_works_and_the_narrower_is_named(
    box: Box, roles: tuple[str, ...], status: str, named: str
) -> None:
    box.tenant.state.update_app(
        box.tenant.client_id,
        roles=(*roles, "User.Read.All", "GroupMember.Read.All", "Policy.Read.AuthenticationMethod"),
    )
    graph = box.results()["Graph permissions"]
    assert graph.status == status, graph
    assert named in graph.detail


def test_without_either_passkey_permission_both_are_named(box: Box) -> None:
    box.tenant.state.update_app(
        box.tenant.client_id, roles=("User.Read.All", "GroupMember.Read.All")
    )
    results = box.results()
    graph = results["Graph permissions"]
    assert graph.status == "fail"
    for permission in ("UserAuthMethod-Passkey.ReadWrite.All",
                       "UserAuthenticationMethod.ReadWrite.All"):
        assert permission in graph.detail and permission in graph.fix
    policy = results["passkey policy"]
    assert policy.status == "warn" and "Policy.Read.AuthenticationMethod" in policy.detail


def test_policy_check_degrades_to_a_warning_without_the_read_permission(
    box: Box,
) -> None:
    box.tenant.state.update_app(
        box.tenant.client_id,
        roles=("UserAuthMethod-Passkey.ReadWrite.All", "User.Read.All", "GroupMember.Read.All"),
    )
    results = box.results()
    assert results["Graph permissions"].status == "ok"
    policy = results["passkey policy"]
    assert policy.status == "warn"
    assert "Policy.Read.AuthenticationMethod" in policy.detail
    assert "Policy.Read.AuthenticationMethod" in policy.fix


