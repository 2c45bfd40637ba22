"""`kiosk check` against the fake tenant: a ready kiosk passes; each misconfiguration is named
with its fix. Real HTTPS to the fake tenant; device nodes and sysfs are small trees in tmp_path.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk.audit import AuditTrail
from kiosk.check import run_checks
from kiosk.check_context import CheckContext, CheckResult
from kiosk.cli import main
from kiosk.entra.fake.server import FakeTenant
from kiosk.operators.pin_hash import hash_pin
from tests.unit.mds_blob import MdsSigner, entry, payload

FIDO_DESCRIPTOR = bytes.fromhex(
    "06d0f10901a1010920150026ff007508954081020921150026ff00750895409102c0"
)
KEYBOARD_DESCRIPTOR = bytes.fromhex("05010906a101050719e029e7150025017501950881029501750881")
KIOSK_UID, KIOSK_GID = 4711, 4711
PIN_HASH = hash_pin("582947")


@dataclass
class Box:
    """A kiosk machine in a directory: config, state, keys on a fake /dev, an MDS blob."""

    root: Path
    tenant: FakeTenant
    config: Path
    mds_root: bytes
    sections: dict[str, dict[str, object]]

    def write(self, **changes: dict[str, object]) -> None:
        for section, values in changes.items():
            self.sections.setdefault(section, {}).update(values)
        lines = [self.tenant.kiosk_toml()]
        for section, values in self.sections.items():
            lines.append(f"[{section}]")
            lines += [f"{k} = {_toml(v)}" for k, v in values.items()]
        self.config.write_text("\n".join(lines) + "\n")
        self.config.chmod(0o640)

    def context(self, **kw: object) -> CheckContext:
        base: dict[str, object] = {
            "config_path": self.config,
            "env": {},
            "hidraw_class": self.root / "sys/class/hidraw",
            "dev": self.root / "dev",
            "mds_root": self.mds_root,
            "identity": ("fido-kiosk", KIOSK_UID, frozenset({KIOSK_GID})),
            "system_root": self.root / "os",
        }
        base.update(kw)
        return CheckContext(**base)  # type: ignore[arg-type]

    def results(self, **kw: object) -> dict[str, CheckResult]:
        return {r.name: r for r in run_checks(self.context(**kw))}


def _toml(value: object) -> str:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        tables = ", ".join(
            "{" + ", ".join(f"{k} = {json.dumps(v)}" for k, v in item.items()) + "}"
            for item in value
        )
        return f"[{tables}]"
    return json.dumps(value)


def _hidraw(root: Path, name: str, descriptor: bytes, mode: int) -> Path:
    sysdir = root / "sys/class/hidraw" / name / "device"
    sysdir.mkdir(parents=True)
    (sysdir / "report_descriptor").write_bytes(descriptor)
    node = root / "dev" / name
    node.parent.mkdir(exist_ok=True)
    node.write_bytes(b"")
    node.chmod(mode)
    return node


def _locked_console(root: Path) -> None:
    """An installed kiosk as docs/install.md leaves it: the console locked down."""
    units = root / "etc/systemd/system"
    units.mkdir(parents=True)
    (units / "fido-kiosk.service").write_text("[Service]\n")
    (units / "ctrl-alt-del.target").symlink_to("/dev/null")
    (root / "proc/sys/kernel").mkdir(parents=True)
    (root / "proc/sys/kernel/sysrq").write_text("0\n")
    (root / "etc/systemd/logind.conf.d").mkdir(parents=True)
    (root / "etc/systemd/logind.conf").write_text("[Login]\nNAutoVTs=6\n")
    (root / "etc/systemd/logind.conf.d/90-fido-kiosk.conf").write_text("[Login]\nNAutoVTs=0\n")


@pytest.fixture
def box(fake_tenant: FakeTenant, helpdesk: tuple[Path, Path], tmp_path: Path) -> Box:
    return make_box(fake_tenant, helpdesk, tmp_path)


def make_box(fake_tenant: FakeTenant, helpdesk: tuple[Path, Path], tmp_path: Path) -> Box:
    """A ready kiosk machine in ``tmp_path`` against ``fake_tenant``."""
    state = fake_tenant.state
    users = [state.add_user(f"user{i}@contoso.onmicrosoft.com", f"User {i}") for i in range(3)]
    state.add_group("Mailroom batch 7", users)
    state.add_user("canary@contoso.onmicrosoft.com", "Canary")
    var = tmp_path / "var"
    for d in ("", "escrow", "manifests"):
        (var / d).mkdir(exist_ok=True, mode=0o700)
    signer = MdsSigner.create()
    next_update = (datetime.now(UTC) + timedelta(days=20)).date().isoformat()
    blob = signer.sign(payload([entry("cb69481e-8ff7-4039-93ec-0a2729a154a8", "YubiKey 5")],
                               next_update=next_update))
    (var / "mds3.jwt").write_bytes(blob)
    fido = _hidraw(tmp_path, "hidraw0", FIDO_DESCRIPTOR, 0o660)
    if os.geteuid() == 0:
        os.chown(fido, 0, KIOSK_GID)  # what 70-fido-kiosk.rules does: group fido-kiosk
    else:
        fido.chmod(0o666)  # without root the group cannot be given away; open to all instead
    _hidraw(tmp_path, "hidraw1", KEYBOARD_DESCRIPTOR, 0o600)  # a keyboard: none of our business
    _locked_console(tmp_path / "os")
    for place in ("srv/inbox", "srv/outbox"):  # what the tmpfiles lines make (2770)
        (tmp_path / place).mkdir(parents=True)
        (tmp_path / place).chmod(0o2770)
    (tmp_path / "media/kioskusb").mkdir(parents=True)
    b = Box(tmp_path, fake_tenant, tmp_path / "kiosk.toml", signer.root_der, {})
    b.write(
        kiosk={"operators": [{"name": "Olga", "role": "admin", "pin_hash": PIN_HASH}]},
        graph={"group": "Mailroom batch 7", "canary_upn": "canary@contoso.onmicrosoft.com"},
        escrow={"recipients": [str(helpdesk[0])], "directory": str(var / "escrow")},
        store={
            "path": str(var / "kiosk.db"),
            "audit_path": str(var / "audit.jsonl"),
            "manifest_directory": str(tmp_path / "srv/outbox"),
            "inbox": str(tmp_path / "srv/inbox"),
            "usb_mount": str(tmp_path / "media/kioskusb"),
            "mds_blob": str(var / "mds3.jwt"),
        },
    )
    return b


def test_a_ready_kiosk_passes_every_check(box: Box) -> None:
    results = box.results()
    assert set(results) == {
        "configuration", "secret files", "helpdesk certificates", "state directories",
        "files in and out", "clock",
        "token", "Graph permissions", "passkey policy", "HID devices", "MDS blob", "audit trail",
        "printing", "restarts", "console lockdown",
    }
    assert results["printing"].detail == "no label or mailer queue is configured."
    assert "may sign in: 1, admins among them: 1" in results["configuration"].detail
    bad = {n: r for n, r in results.items() if r.status not in ("ok",)}
    assert bad == {}, bad
    assert "Mailroom batch 7" in results["Graph permissions"].detail
    assert "canary@contoso.onmicrosoft.com" in results["Graph permissions"].detail
    hid = results["HID devices"].detail
    assert "hidraw0" in hid and "hidraw1" not in hid
    graph_calls = [route for _, route, _ in box.tenant.routes_called()]
    assert "creation_options" in graph_calls and "register" not in graph_calls


def test_cli_names_a_bad_setting_with_its_line_and_skips_the_rest(
    box: Box, capsys: pytest.CaptureFixture[str]
) -> None:
    box.write(policy={"reset": "sometimes"})
    code = main(["check", "--config", str(box.config)])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL  configuration" in out and "policy.reset" in out and f"{box.config}:" in out
    assert "'never', 'ask', 'automatic'" in out
    assert "fix: Fix the setting in kiosk.toml" in out
    assert "skip  token" in out


def test_cli_names_an_open_private_key_and_the_chmod_that_fixes_it(
    box: Box, capsys: pytest.CaptureFixture[str]
) -> None:
    key = box.tenant.private_key_file
    key.chmod(0o644)
    code = main(["check", "--config", str(box.config)])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL  secret files" in out and "can be read by group or others" in out
    assert f"fix: Run: chmod 600 {key}" in out


def test_a_skewed_clock_is_caught_against_the_login_endpoint(box: Box) -> None:
    ahead = box.results(now=lambda: datetime.now(UTC) + timedelta(minutes=10))["clock"]
    assert ahead.status == "fail"
    seconds = re.search(r"(\d+) s ahead of https://127\.0\.0\.1", ahead.detail)
    assert seconds and 598 <= int(seconds.group(1)) <= 602, ahead.detail
    assert "timedatectl" in ahead.fix
    slightly = box.results(now=lambda: datetime.now(UTC) - timedelta(seconds=90))["clock"]
    assert slightly.status == "warn" and "behind" in slightly.detail


def test_an_unknown_client_id_fails_sign_in(box: Box) -> None:
    box.config.write_text(
        box.config.read_text().replace(box.tenant.client_id, "11111111-2222-4333-8444-555555555555")
    )
    results = box.results()
    token = results["token"]
    assert token.status == "fail"
    assert "client id" in token.detail.lower() or "application" in token.detail.lower()
    assert token.fix
    assert results["Graph permissions"].status == "skip"


def test_missing_admin_consent_fails_sign_in_with_the_consent_fix(box: Box) -> None:
    app = box.tenant.state.apps[box.tenant.client_id]
    box.tenant.state.apps[box.tenant.client_id] = replace(app, admin_consent=False)
    token = box.results()["token"]
    assert token.status == "fail"
    assert "consent" in (token.detail + token.fix).lower()


def test_a_group_that_does_not_exist_is_named(box: Box) -> None:
    box.write(graph={"group": "Mailroom batch 8"})
    graph = box.results()["Graph permissions"]
    assert graph.status == "fail"
    assert "graph.group" in graph.detail and "Mailroom batch 8" in graph.detail
    assert "display name or its object id" in graph.fix


def test_a_canary_that_does_not_exist_is_named(box: Box) -> None:
    box.write(graph={"canary_upn": "ghost@contoso.onmicrosoft.com"})
    graph = box.results()["Graph permissions"]
    assert graph.status == "fail"
    assert "graph.canary_upn" in graph.detail and "ghost@" in graph.detail
    assert "existing test user" in graph.fix


def test_without_group_or_canary_permissions_are_not_claimed(box: Box) -> None:
    box.sections["graph"] = {}
    box.write()
    graph = box.results()["Graph permissions"]
    assert graph.status == "warn" and "graph.canary_upn" in graph.fix


def test_a_key_the_kiosk_user_cannot_open_is_named_with_the_udev_fix(box: Box) -> None:
    (box.root / "dev/hidraw0").chmod(0o600)
    hid = box.results()["HID devices"]
    assert hid.status == "fail" and "hidraw0" in hid.detail and "fido-kiosk" in hid.detail
    assert "70-fido-kiosk.rules" in hid.fix and "udevadm" in hid.fix


def test_no_key_plugged_in_is_a_warning(box: Box) -> None:
    hid = box.results(hidraw_class=box.root / "nothing")["HID devices"]
    assert hid.status == "warn" and "Plug a key in" in hid.fix


def test_missing_and_stale_mds_blobs_fail_with_the_download_fix(box: Box) -> None:
    blob = Path(str(box.sections["store"]["mds_blob"]))
    later = box.results(now=lambda: datetime.now(UTC) + timedelta(days=40))["MDS blob"]
    assert later.status == "fail" and "out of date" in later.detail
    assert "mds3.fidoalliance.org" in later.fix
    blob.unlink()
    missing = box.results()["MDS blob"]
    assert missing.status == "fail" and str(blob) in missing.detail
    assert "mds3.fidoalliance.org" in missing.fix


def test_a_tampered_audit_trail_fails_and_is_named(box: Box) -> None:
    path = Path(str(box.sections["store"]["audit_path"]))
    with AuditTrail(path) as trail:
        for i in range(3):
            trail.append("enrolled", upn=f"user{i}@contoso.onmicrosoft.com")
    assert box.results()["audit trail"].status == "ok"
    lines = path.read_bytes().splitlines()
    del lines[1]
    path.write_bytes(b"\n".join(lines) + b"\n")
    audit = box.results()["audit trail"]
    assert audit.status == "fail" and "line 2 (seq 3)" in audit.detail
    assert "kiosk audit verify" in audit.fix


def test_unusable_helpdesk_certificate_is_named(box: Box) -> None:
    box.write(escrow={"recipients": [str(box.root / "nope.pem")]})
    helpdesk = box.results()["helpdesk certificates"]
    assert helpdesk.status == "fail" and "nope.pem" in helpdesk.detail
    assert "escrow.recipients" in helpdesk.fix


def test_a_state_directory_anyone_can_read_is_a_warning(box: Box) -> None:
    state = Path(str(box.sections["store"]["path"])).parent
    state.chmod(0o755)
    result = box.results()["state directories"]
    assert result.status == "warn" and f"chmod 0700 {state}" in result.fix
    state.chmod(0o750)  # the kiosk's group may read it
    assert box.results()["state directories"].status == "ok"


def test_a_missing_or_open_escrow_directory_is_named(box: Box) -> None:
    escrow = Path(str(box.sections["escrow"]["directory"]))
    escrow.chmod(0o755)
    open_dir = box.results()["state directories"]
    assert open_dir.status == "fail" and "chmod 0700" in open_dir.fix
    escrow.rmdir()
    missing = box.results()["state directories"]
    assert missing.status == "fail" and str(escrow) in missing.detail
    assert "systemd-tmpfiles" in missing.fix


def test_a_config_others_may_change_is_refused(box: Box) -> None:
    box.config.chmod(0o666)
    config = box.results()["configuration"]
    assert config.status == "fail" and "chmod 0640" in config.fix



@pytest.mark.parametrize(
    ("route", "permission"),
    [
        ("groups", "GroupMember.Read.All"),
        ("members", "GroupMember.Read.All"),
        ("user", "User.Read.All"),
        ("creation_options", "UserAuthMethod-Passkey.ReadWrite.All"),
    ],
)
def test_a_missing_graph_permission_is_named(box: Box, route: str, permission: str) -> None:
    from kiosk.entra.fake.faults import Fault

    box.tenant.inject(Fault("403", route=route, probability=1.0))
    graph = box.results()["Graph permissions"]
    assert graph.status == "fail"
    assert permission in graph.detail and permission in graph.fix
    assert "admin consent" in graph.fix


def test_a_helpdesk_certificate_others_could_swap_is_refused(box: Box, tmp_path: Path) -> None:
    import shutil

    mine = tmp_path / "helpdesk" / "helpdesk.pem"
    mine.parent.mkdir()
    shutil.copy(str(box.sections["escrow"]["recipients"][0]), mine)  # type: ignore[index]
    mine.parent.chmod(0o755)
    mine.chmod(0o644)
    box.write(escrow={"recipients": [str(mine)]})
    assert box.results()["helpdesk certificates"].status == "ok"
    mine.chmod(0o666)
    swapped = box.results()["helpdesk certificates"]
    assert swapped.status == "fail" and "every PIN sealed after that" in swapped.detail
    assert f"chmod go-w {mine}" in swapped.fix
    mine.chmod(0o644)
    mine.parent.chmod(0o777)
    assert box.results()["helpdesk certificates"].status == "fail"


def test_every_graph_problem_is_reported_not_only_the_first(box: Box) -> None:
    box.write(graph={"group": "Mailroom batch 8", "canary_upn": "ghost@contoso.onmicrosoft.com"})
    graph = box.results()["Graph permissions"]
    assert graph.status == "fail"
    assert "graph.group" in graph.detail and "graph.canary_upn" in graph.detail
    assert "display name or its object id" in graph.fix and "existing test user" in graph.fix


def test_a_kiosk_nobody_can_sign_in_to_is_caught(box: Box) -> None:
    box.sections["kiosk"] = {}
    box.write()
    config = box.results()["configuration"]
    assert config.status == "fail" and "kiosk.operators" in config.detail
    assert "kiosk operator add" in config.fix


def test_a_console_that_is_not_locked_down_fails_with_each_fix(box: Box) -> None:
    root = box.root / "os"
    (root / "etc/systemd/system/ctrl-alt-del.target").unlink()
    (root / "proc/sys/kernel/sysrq").write_text("438\n")
    (root / "etc/systemd/logind.conf.d/90-fido-kiosk.conf").unlink()
    console = box.results()["console lockdown"]
    assert console.status == "fail"
    assert "Ctrl+Alt+Del" in console.detail and "kernel.sysrq = 438" in console.detail
    assert "NAutoVTs" in console.detail
    assert "systemctl mask ctrl-alt-del.target" in console.fix and "sysrq = 0" in console.fix


def test_the_console_is_not_checked_where_no_kiosk_is_installed(box: Box) -> None:
    (box.root / "os/etc/systemd/system/fido-kiosk.service").unlink()
    assert box.results()["console lockdown"].status == "skip"


def test_a_crash_loop_is_named(box: Box) -> None:
    from kiosk.process import RUNS_FILE, RunLog

    runs = RunLog(box.root / "var" / RUNS_FILE)
    for _ in range(3):
        runs.started()
        runs.ended(1)
    restarts = box.results()["restarts"]
    assert restarts.status == "fail" and "crash loop: 3 runs" in restarts.detail
    assert "journalctl -u fido-kiosk" in restarts.fix
