"""`kiosk demo --state-dir D` keeps the demo: started again over the same directory, the fake
tenant has the same ids, users, methods, certificates and helpdesk key, and the virtual keys
are there with what they hold (issue 11, item 9)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

from kiosk.demo.environment import DemoEnvironment
from kiosk.demo.headless import robot_at_work


def _enroll(env: DemoEnvironment, done: int, timeout: float = 60) -> None:
    with robot_at_work(env):
        deadline = time.monotonic() + timeout
        while env.engine.counts().get("done", 0) < done and time.monotonic() < deadline:
            time.sleep(0.05)
    assert env.engine.counts().get("done", 0) >= done


def test_a_demo_started_again_over_its_state_dir_goes_on_where_it_stopped(
    tmp_path: Path,
) -> None:
    state = tmp_path / "kept"
    env = DemoEnvironment(users=4, latency="none", escrow_mode="sealed", state_dir=state,
                          operator="tester")
    env.start()
    try:
        assert not env.restored
        _enroll(env, 1)
        tenant_id, client_id = env.tenant.tenant_id, env.tenant.client_id
        users = {u.user_principal_name: u.id for u in env.tenant.state.users.values()}
        methods = {m.id for m in env.tenant.state.all_methods()}
        helpdesk = env.helpdesk_cert.read_bytes()
        (first_key,) = [k for k, _ in env.pulled_keys()]
        first_serial = first_key.profile.serial
    finally:
        env.close()
    assert len(methods) == 1 and state.is_dir()

    again = DemoEnvironment(users=4, latency="none", escrow_mode="sealed", state_dir=state,
                            operator="tester")
    again.start()
    try:
        assert again.restored
        assert (again.tenant.tenant_id, again.tenant.client_id) == (tenant_id, client_id)
        assert {u.user_principal_name: u.id for u in again.tenant.state.users.values()} == users
        assert again.helpdesk_cert.read_bytes() == helpdesk
        # The kiosk trusts the kept CA over HTTPS and Graph still lists the method.
        assert again.kiosk is not None
        (enrolled,) = [e for e in again.engine.queue_page(0, 10, status="done")]
        listed = again.kiosk.graph.list_fido2_methods(users[enrolled.upn])
        assert {m.id for m in listed} == methods
        # The key enrolled before is on the shelf with what it holds; a new key does not take
        # its serial.
        pulled = again.pulled_keys()
        assert [k.profile.serial for k, _ in pulled] == [first_serial]
        assert "PIN set by the kiosk, 1 credential" in pulled[0][1]
        assert pulled[0][0].authenticator.credential_count == 1
        assert again.new_key().profile.serial == (first_serial or 0) + 1
        _enroll(again, 4)
        for upn, uid in users.items():
            assert len(again.tenant.state.methods_of(uid)) == 1, upn
    finally:
        again.close()
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for private in (state / "tenant" / "server-key.pem", state / "tenant" / "app-key.pem",
                    state / "tenant" / "tenant.json", state / "helpdesk" / "helpdesk.key",
                    state / "keys" / "1.cbor"):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600, private


def _demo(state: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "kiosk", "demo", "--headless", "--users", "6",
            "--state-dir", str(state), *extra]


def _methods(state: Path) -> dict[str, int]:
    doc = json.loads((state / "tenant" / "tenant.json").read_text())
    counts = {u["id"]: 0 for u in doc["users"]}
    for m in doc["methods"]:
        counts[m["user_id"]] += 1
    return counts


def test_kill_9_mid_batch_and_a_restart_finish_the_batch_once_per_user(tmp_path: Path) -> None:
    state = tmp_path / "killed"
    child = subprocess.Popen(_demo(state, "--latency", "hardware"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            kept = state / "tenant" / "tenant.json"
            if kept.exists() and sum(_methods(state).values()) >= 2:
                break
            time.sleep(0.05)
        assert child.poll() is None, "the demo ended before it could be killed"
        os.kill(child.pid, 9)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    before = sum(_methods(state).values())
    assert 2 <= before < 6
    out = subprocess.run(_demo(state), capture_output=True, text=True, timeout=180,
                         check=False)
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["users"] == 6 and result["enrolled"] == 6 and result["audit_ok"] is True
    # The tenant is the judge: every user holds exactly one method.
    assert sorted(_methods(state).values()) == [1] * 6


def test_a_kept_state_that_cannot_be_read_is_named_with_what_to_do(tmp_path: Path) -> None:
    state = tmp_path / "bad"
    with DemoEnvironment(users=2, latency="none", state_dir=state):
        pass
    (state / "tenant" / "tenant.json").write_text('{"format": 1, "users": [')
    out = subprocess.run(_demo(state), capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert str(state / "tenant" / "tenant.json") in out.stderr
    assert "Delete the state directory" in out.stderr
    (state / "tenant" / "tenant.json").unlink()
    (state / "keys").mkdir(exist_ok=True)
    (state / "keys" / "shelf.json").write_text('{"format": 1, "next_serial": 5, "keys": '
                                               '[{"n": 1, "profile": "yubikey5", "serial": 7}]}')
    out = subprocess.run(_demo(state, "--users", "2"), capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "kept keys" in out.stderr and "1.cbor is missing" in out.stderr
    (state / "keys" / "shelf.json").unlink()
    (state / "helpdesk" / "helpdesk.pem").write_text("not a certificate")
    out = subprocess.run(_demo(state, "--users", "2"), capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert str(state / "helpdesk" / "helpdesk.pem") in out.stderr
    assert "Delete the state directory" in out.stderr
