"""`kiosk import` and `kiosk export` from the command line, against the fake tenant."""

from __future__ import annotations

import csv
import json
import sqlite3
import time
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.demo.environment import DemoEnvironment, write_helpdesk
from kiosk.demo.headless import robot_at_work
from kiosk.entra.fake.server import FakeTenant
from kiosk.store import Store


def write_config(tenant: FakeTenant, tmp: Path) -> Path:
    cert, _key = write_helpdesk(tmp / "helpdesk")
    config = tmp / "kiosk.toml"
    config.write_text(
        tenant.kiosk_toml("certificate")
        + f"""
[store]
path = "{tmp / 'kiosk.db'}"
audit_path = "{tmp / 'audit.jsonl'}"
manifest_directory = "{tmp / 'manifests'}"

[escrow]
recipients = ["{cert}"]
directory = "{tmp / 'escrow'}"
""",
        encoding="utf-8",
    )
    return config


def test_import_csv_queues_good_rows_and_names_each_bad_line(
    fake_tenant: FakeTenant, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    domain = fake_tenant.state.domain
    for name in ("ada", "alan"):
        fake_tenant.state.add_user(f"{name}@{domain}", name.title())
    config = write_config(fake_tenant, tmp_path)
    users = tmp_path / "users.csv"
    users.write_text(
        "\ufeffName;UserPrincipalName\n"
        f"Ada;ada@{domain}\n"
        "Nobody;not-an-upn\n"
        f"Ghost;ghost@{domain}\n"
        "\n"
        f"Alan;alan@{domain}\n",
        encoding="utf-8",
    )
    code = main(["import", "--config", str(config), "--csv", str(users)])
    out = capsys.readouterr().out
    assert code == 1, "some rows were not queued"
    assert "2 queued" in out
    assert "line 3" in out and "not-an-upn" in out
    assert "line 4" in out and "ghost@" in out
    store = Store(tmp_path / "kiosk.db")
    try:
        queued = {row.upn for row in store.queue.page(0, 10)}
    finally:
        store.close()
    assert queued == {f"ada@{domain}", f"alan@{domain}"}

    # Importing the same file again loses nothing and queues nobody twice.
    assert main(["import", "--config", str(config), "--csv", str(users)]) == 1
    out = capsys.readouterr().out
    assert "0 queued, 0 requeued, 2 already queued or done" in out
    assert f"ada@{domain}: already queued" in out and f"alan@{domain}: already queued" in out


def test_import_one_upn_with_backup_keys(
    fake_tenant: FakeTenant, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    upn = f"grace@{fake_tenant.state.domain}"
    fake_tenant.state.add_user(upn, "Grace")
    config = write_config(fake_tenant, tmp_path)
    assert main(["import", "--config", str(config), "--upn", upn, "--keys", "2"]) == 0
    assert "1 queued" in capsys.readouterr().out
    store = Store(tmp_path / "kiosk.db")
    try:
        (row,) = store.queue.page(0, 10)
    finally:
        store.close()
    assert row.upn == upn and row.keys_wanted == 2


def test_import_needs_no_escrow_certificate_and_is_audited(
    fake_tenant: FakeTenant, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Queueing users builds no enrollment engine: a helpdesk certificate that is not there
    yet (it is needed to seal PINs, not to queue users) does not stop the import."""
    upn = f"hedy@{fake_tenant.state.domain}"
    fake_tenant.state.add_user(upn, "Hedy")
    config = write_config(fake_tenant, tmp_path)
    text = config.read_text(encoding="utf-8")
    cert = str(tmp_path / "helpdesk")
    config.write_text(text.replace(cert, str(tmp_path / "not-yet")), encoding="utf-8")
    assert main(["import", "--config", str(config), "--upn", upn]) == 0
    assert "1 queued" in capsys.readouterr().out
    records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    (imported,) = [r for r in records if r["event"] == "queue imported"]
    assert imported["counts"]["added"] == 1 and imported["source"] == "upn"


def test_import_refuses_a_missing_csv_with_a_next_step(
    fake_tenant: FakeTenant, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(fake_tenant, tmp_path)
    code = main(["import", "--config", str(config), "--csv", str(tmp_path / "nope.csv")])
    err = capsys.readouterr().err
    assert code == 2
    assert "CSV not found" in err and "next:" in err


def test_export_lists_every_enrolled_key_even_with_the_tenant_offline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "demo"
    with DemoEnvironment(users=2, latency="none", state_dir=state, escrow_mode="sealed",
                         operator="tester") as env:
        with robot_at_work(env):
            deadline = time.monotonic() + 60
            while env.engine.counts()["done"] < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
        serials = {item.serial: item.upn for item in env.engine.store.inventory.all()}
        tenant_toml = env.tenant.kiosk_toml("certificate")
        recipients = env.settings.escrow.recipients
    assert len(serials) == 2
    # The fake tenant is gone now: exporting needs only the kiosk's own store.
    config = tmp_path / "kiosk.toml"
    config.write_text(
        tenant_toml
        + f"""
[store]
path = "{state / 'kiosk.db'}"
audit_path = "{state / 'audit.jsonl'}"

[escrow]
recipients = {json.dumps(recipients)}
directory = "{state / 'escrow'}"
""",
        encoding="utf-8",
    )
    out_dir = tmp_path / "out"
    assert main(["export", "--config", str(config), "--dir", str(out_dir)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "Keys to reset before reuse: 0"  # none left holding the kiosk's PIN
    paths = [Path(p) for p in out[:-1]]
    assert {p.suffix for p in paths} == {".csv", ".json"}
    csv_path = next(p for p in paths if p.suffix == ".csv")
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8-sig")))
    assert {r["serial"]: r["upn"] for r in rows} == serials
    assert all(r["status"] == "enrolled" for r in rows)
    assert not any("pin" in h.lower() for h in rows[0])
    data = json.loads(next(p for p in paths if p.suffix == ".json").read_text(encoding="utf-8"))
    assert data["count"] == 2
    assert {r["serial"] for r in data["rows"]} == set(serials)


def test_reimport_names_each_row_and_requeues_skipped_failed_and_backup_keys(
    fake_tenant: FakeTenant, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    domain = fake_tenant.state.domain
    names = ("ada", "alan", "bob", "cy", "dee")
    for name in names:
        fake_tenant.state.add_user(f"{name}@{domain}", name.title())
    config = write_config(fake_tenant, tmp_path)
    users = tmp_path / "users.csv"
    users.write_text("upn\n" + "".join(f"{n}@{domain}\n" for n in names[:4]), encoding="utf-8")
    assert main(["import", "--config", str(config), "--csv", str(users)]) == 0
    capsys.readouterr()
    # The shift: ada skipped, alan failed, bob enrolled with one key, cy still pending.
    with sqlite3.connect(tmp_path / "kiosk.db") as db:
        db.execute("UPDATE queue SET status = 'skipped', reason = 'skipped by operator: x'"
                   " WHERE upn = ?", (f"ada@{domain}",))
        db.execute("UPDATE queue SET status = 'failed' WHERE upn = ?", (f"alan@{domain}",))
        db.execute("UPDATE queue SET status = 'done', keys_done = 1 WHERE upn = ?",
                   (f"bob@{domain}",))
    again = tmp_path / "again.csv"
    again.write_text(
        "upn,keys\n" + "".join(f"{n}@{domain},{2 if n == 'bob' else 1}\n" for n in names),
        encoding="utf-8",
    )
    # Without --requeue: every row is named; the skipped and failed stay where they are.
    assert main(["import", "--config", str(config), "--csv", str(again)]) == 0
    out = capsys.readouterr().out
    assert f"ada@{domain}: skipped, not requeued" in out
    assert f"alan@{domain}: failed, not requeued" in out
    assert f"bob@{domain}: backup key queued" in out
    assert f"cy@{domain}: already queued" in out
    assert f"dee@{domain}: queued" in out
    # With --requeue: the skipped and failed are pending again, and bob is not asked twice.
    assert main(["import", "--config", str(config), "--csv", str(again), "--requeue"]) == 0
    out = capsys.readouterr().out
    assert f"ada@{domain}: requeued" in out and f"alan@{domain}: requeued" in out
    assert f"bob@{domain}: already queued" in out
    store = Store(tmp_path / "kiosk.db")
    try:
        rows = {row.upn.split("@")[0]: row for row in store.queue.page(0, 10)}
    finally:
        store.close()
    assert {n: r.status for n, r in rows.items()} == dict.fromkeys(names, "pending")
    assert rows["bob"].keys_wanted == 2 and rows["bob"].keys_done == 1
    trail = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    requeued = sorted((r["upn"].split("@")[0], r["reason"]) for r in trail
                      if r["event"] == "entry requeued")
    assert requeued == [("ada", "requeued"), ("alan", "requeued"), ("bob", "backup key queued")]
