"""`kiosk demo --headless`: the engine end to end on the fake tenant with a robot operator."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from kiosk.audit import verify
from kiosk.demo.environment import DemoEnvironment
from kiosk.demo.headless import robot_at_work, run_headless
from kiosk.enroll.events import PinHandover


def test_headless_demo_enrolls_everyone_and_prints_one_json_line(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kiosk", "demo", "--headless", "--users", "4",
         "--state-dir", str(tmp_path / "demo")],
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["users"] == 4
    assert result["enrolled"] == 4
    assert result["failed"] == 0
    assert result["verified_by_tenant"] == 4
    assert result["audit_ok"] is True
    assert result["seconds"] > 0
    # The state directory the operator asked for holds the audit trail, and it verifies.
    report = verify(tmp_path / "demo" / "audit.jsonl")
    assert report.ok and report.records >= 4


def test_headless_demo_returns_keys_to_stock_and_enrolls_them_again(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kiosk", "demo", "--headless", "--users", "5", "--returns", "2",
         "--state-dir", str(tmp_path / "demo")],
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    (line,) = out.stdout.strip().splitlines()
    result = json.loads(line)
    assert result["enrolled"] == 5 and result["returned"] == 2
    assert result["methods_deleted"] == 2 and result["keys_reset"] == 2
    assert result["in_stock_after_returns"] == 2 and result["reenrolled"] == 2
    assert result["tenant_methods_of_returned_users"] == 0 and result["audit_ok"] is True
    events = [json.loads(x)["event"] for x in
              (tmp_path / "demo" / "audit.jsonl").read_text().splitlines()]
    assert events.count("key in_stock") == 2 and events.count("method deleted") == 2
    assert events.count("enrolled") == 7


def test_headless_demo_state_is_kept_with_one_sealed_pin_per_user(tmp_path: Path) -> None:
    state = tmp_path / "kept"
    result = run_headless(3, state_dir=state)
    assert result.ok
    sealed = sorted((state / "escrow").iterdir())
    assert len(sealed) == 3
    for blob in sealed:
        assert blob.stat().st_mode & 0o077 == 0, "sealed PINs are private to the kiosk user"


def test_no_pin_reaches_any_file_the_kiosk_writes(tmp_path: Path) -> None:
    """With PINs shown on screen and sealed, no PIN appears in plaintext in the store, the
    audit trail, the escrow files, the manifest or the log."""
    state = tmp_path / "demo"
    pins: list[str] = []
    with DemoEnvironment(users=3, latency="none", state_dir=state, escrow_mode="both",
                         operator="tester") as env:
        env.engine.subscribe(lambda e: pins.append(e.pin) if isinstance(e, PinHandover) else None)
        with robot_at_work(env):
            deadline = time.monotonic() + 60
            while env.engine.counts()["done"] < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            env.engine.export_manifest(state / "manifests")
    assert len(pins) == 3 and all(len(p) >= 6 for p in pins)
    files = [p for p in state.rglob("*") if p.is_file() and "tenant" not in p.parts]
    assert any(p.name.endswith(".jsonl") for p in files)
    for path in files:
        data = path.read_bytes()
        for pin in pins:
            assert pin.encode() not in data, f"a PIN in plaintext in {path.name}"


def test_bad_user_count_is_refused_with_a_clear_message() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kiosk", "demo", "--headless", "--users", "0"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert out.returncode == 2
    assert "--users must be at least 1" in out.stderr


def test_state_directories_the_kiosk_creates_are_private(tmp_path: Path) -> None:
    state = tmp_path / "fresh" / "state"
    result = run_headless(1, state_dir=state)
    assert result.ok
    for directory in (state, state / "escrow"):
        assert directory.stat().st_mode & 0o077 == 0, f"{directory} is readable by others"
