"""`kiosk escrow get` on the embedded database: a lookup that finds nothing is audited (who
asked, for what), and an envelope is written only once its retrieval is in the audit trail."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk import x509util
from kiosk.audit import AuditTrail
from kiosk.cli import main
from kiosk.enroll.escrow import EscrowStore, load_recipients, seal
from kiosk.enroll.pins import Pin
from kiosk.store import Store
from kiosk.store.queue import NewUser

NOW = datetime.now(UTC)
ROOT = Path(__file__).resolve().parents[2]


def _sealed(tmp: Path) -> Path:
    """A database holding Ann's sealed PIN for key 31400001; the kiosk.toml that opens it."""
    key = x509util.rsa_key()
    cert = x509util.certificate(
        x509util.name("Helpdesk"), key, not_before=NOW - timedelta(days=1),
        not_after=NOW + timedelta(days=30),
        extensions=[(x509util.key_usage(key_encipherment=True), True)],
    )
    x509util.write_pair(cert, key, tmp / "helpdesk.pem", tmp / "helpdesk.key")
    store = Store(tmp / "kiosk.db")
    try:
        store.queue.add([NewUser("ann@contoso.test", "id-ann", "Ann")])
        entry = store.queue.upcoming(1)[0]
        blob = seal(Pin("58294713"), entry.upn, "31400001", load_recipients([tmp / "helpdesk.pem"]))
        escrow = EscrowStore(tmp / "escrow", central=store.sealed.put)
        escrow.write(entry.entry_id, "31400001", blob)
    finally:
        store.close()
    config = tmp / "kiosk.toml"
    config.write_text(f'[store]\npath = "{tmp}/kiosk.db"\naudit_path = "{tmp}/audit.jsonl"\n')
    return config


def _records(tmp: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in (tmp / "audit.jsonl").read_text().splitlines()]


def test_a_lookup_that_finds_nothing_is_audited(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _sealed(tmp_path)
    out = tmp_path / "out"
    assert main(["escrow", "get", "--upn", "bob\x1b[2J@contoso.test", "--out", str(out),
                 "--config", str(config)]) == 1
    assert main(["escrow", "get", "--serial", "99", "--out", str(out),
                 "--config", str(config)]) == 1
    assert "no sealed PIN for UPN bob[2J@contoso.test" in capsys.readouterr().out
    assert not out.exists()
    by_upn, by_serial = _records(tmp_path)
    assert by_upn["event"] == by_serial["event"] == "escrow not found"
    assert by_upn["upn"] == "bob[2J@contoso.test" and by_upn["operator"] == getpass.getuser()
    assert by_serial["key"] == {"serial": "99"} and by_serial["outcome"] == "not found"
    assert main(["escrow", "get", "--upn", "ANN@contoso.test", "--out", str(out),
                 "--config", str(config)]) == 0
    retrieved = _records(tmp_path)[-1]
    assert retrieved["event"] == "escrow retrieved" and retrieved["upn"] == "ann@contoso.test"
    assert retrieved["operator"] == getpass.getuser()


def test_no_envelope_leaves_when_its_retrieval_cannot_be_audited(tmp_path: Path) -> None:
    config = _sealed(tmp_path)
    audit = tmp_path / "audit.jsonl"
    with AuditTrail(audit) as trail:  # a trail as large as the file-size limit set below
        for i in range(300):
            trail.append("enrolled", upn=f"u{i}@contoso.test", operator="op", reason="r" * 2000)
    limit = audit.stat().st_size  # the trail cannot grow (EFBIG); the database, an envelope can
    out = tmp_path / "out"
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
        "from kiosk.cli import main\n"
        f"sys.exit(main(['escrow', 'get', '--serial', '31400001', '--out', {str(out)!r},"
        f" '--config', {str(config)!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode != 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert not out.exists() or not any(out.iterdir())
    assert audit.stat().st_size == limit
