"""Crash recovery: a subprocess runs the real engine and is SIGKILLed at each journaled step
(before and after the write, on the first and on the second user); a second run resumes.

The fake tenant runs in this process, so its state survives the crash. After the restart:
every user has exactly one registered method (none lost, none twice), every registered
credential has its sealed PIN file, every orphan is reported with its key's serial, and the
audit trail verifies. The scenarios run a few at a time (each is two short-lived processes);
each is then checked by its own test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kiosk.audit import verify
from kiosk.entra.fake.server import FakeTenant
from kiosk.model.codec import b64url
from kiosk.store import Store
from kiosk.store.queue import NewUser
from tests.fixtures.engine import EngineRig
from tests.fixtures.engine_build import build_settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
USERS = 2
PARALLEL = 4

KILL_POINTS = [
    ("key inserted", "after"),
    ("key checked", "after"),
    ("PIN set", "before"),
    ("PIN set", "after"),
    ("credential created", "before"),
    ("credential created", "after"),
    ("PIN policy applied", "before"),
    ("PIN policy applied", "after"),
    ("registered", "before"),  # the register call went out; its answer is lost with us
    ("registered", "after"),
    ("done", "before"),
    ("done", "after"),
]
PIN_KEPT_POINTS = {("PIN set", "after"), ("credential created", "before")}
"""The key keeps the PIN the kiosk set (and maybe a credential the journal never saw): it is
tracked as needing a reset, and recovery names it; it is not an orphan credential."""
REPLACE = [("method deleted", "before", 1), ("method deleted", "after", 1)]
"""Replace mode: crash after the new key is registered, before the old method's DELETE is sent,
and after Entra deleted it but before the kiosk heard."""
EXPIRED = ("credential created", "after", 1, 7200.0)
"""Crash right after the credential is journaled; come back two hours later (60-min challenge)."""


@dataclass
class Scenario:
    label: str
    when: str
    nth: int
    offset: float = 0.0
    replace: bool = False
    state: Path = Path()
    upns: list[str] = field(default_factory=list)
    serial_base: int = 0
    crashed: Any = None
    resumed: Any = None

    @property
    def name(self) -> str:
        extra = f"+{self.offset:g}s" if self.offset else ""
        return f"{self.label}|{self.when}|{self.nth}{extra}"


def _toml(tenant: FakeTenant, state: Path, helpdesk_cert: Path) -> Path:
    path = state / "kiosk.toml"
    path.write_text(
        tenant.kiosk_toml("certificate")
        + "\n[graph]\nmax_retries = 2\ntimeout_seconds = 15.0\nprefetch = 1\n"
        + '\n[policy]\nreset = "automatic"\n'
        + f'\n[escrow]\nmode = "sealed"\nrecipients = ["{helpdesk_cert}"]\n'
        + f'directory = "{state / "escrow"}"\n'
        + f'\n[store]\npath = "{state / "kiosk.db"}"\naudit_path = "{state / "audit.jsonl"}"\n'
        + "\n[kiosk]\npoll_interval_ms = 10\n",
        encoding="utf-8",
    )
    return path


def _driver(toml: Path, serial_base: int, crash_at: str | None, offset: float) -> Any:
    env = {k: v for k, v in os.environ.items() if k != "CRASH_AT"}
    if crash_at:
        env["CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "tests.system.crash_driver", str(toml), str(serial_base),
         str(offset)],
        check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )


def _prepare(tenant: FakeTenant, base: Path, helpdesk_cert: Path, n: int, sc: Scenario) -> None:
    sc.state = base / f"s{n:02d}"
    sc.state.mkdir()
    sc.serial_base = 50_000_000 + n * 1000
    store = Store(sc.state / "kiosk.db")
    for i in range(USERS):
        upn = f"crash{n:02d}-{i}@{tenant.state.domain}"
        user = tenant.state.add_user(upn, f"Crash {n} {i}")
        store.queue.add([NewUser(upn, user.id, f"Crash {n} {i}")], replace=sc.replace)
        sc.upns.append(upn)
    store.close()
    if sc.replace:  # each user already has a key, enrolled by another kiosk
        other = EngineRig(tenant, build_settings(tenant, base / f"old{n:02d}", helpdesk_cert))
        other.store.queue.add(
            [NewUser(u, tenant.state.user_by_upn(u).id) for u in sc.upns]
        )
        other.robot()
        other.start()
        other.wait_results(USERS)
        other.stop()
        other.store.close()
        other.audit.close()


def _run(sc: Scenario) -> Scenario:
    toml = sc.state / "kiosk.toml"
    sc.crashed = _driver(toml, sc.serial_base, f"{sc.label}|{sc.when}|{sc.nth}", 0.0)
    sc.resumed = _driver(toml, sc.serial_base + 500, None, sc.offset)
    return sc


@pytest.fixture(scope="module")
def crashes(
    helpdesk: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FakeTenant, dict[str, Scenario]]]:
    base = tmp_path_factory.mktemp("crashes")
    scenarios = [Scenario(lb, wh, n) for lb, wh in KILL_POINTS for n in (1, 2)]
    scenarios.append(Scenario(*EXPIRED))
    scenarios += [Scenario(*point, replace=True) for point in REPLACE]
    with FakeTenant() as tenant:
        for n, sc in enumerate(scenarios):
            _prepare(tenant, base, helpdesk[0], n, sc)
            _toml(tenant, sc.state, helpdesk[0])
        with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            done = list(pool.map(_run, scenarios))
        yield tenant, {sc.name: sc for sc in done}


def _check(tenant: FakeTenant, sc: Scenario) -> tuple[Store, list[str]]:
    assert sc.crashed.returncode == -9, sc.crashed.stderr[-2000:]
    assert sc.resumed.returncode == 0, sc.resumed.stderr[-2000:]
    report = json.loads(sc.resumed.stdout.strip().splitlines()[-1])
    assert report["counts"]["done"] == USERS, report
    store = Store(sc.state / "kiosk.db")
    done = {row.credential_id: row for row in store.journal.with_state("done")}
    for upn in sc.upns:
        methods = tenant.state.methods_of(upn)
        assert len(methods) == 1, f"{upn} has {len(methods)} methods"  # none lost, none twice
        row = done[b64url(methods[0].credential_id)]
        assert row.escrow_file and Path(row.escrow_file).is_file()  # its PIN is sealed
    for orphan in store.journal.with_state("orphan"):
        assert orphan.serial
        assert any(orphan.serial in line and "reset" in line for line in report["recovery"])
    audit = verify(sc.state / "audit.jsonl")
    assert audit.ok, audit.problems
    _each_enrollment_names_its_options_fetch(tenant, sc.state / "audit.jsonl")
    return store, list(report["recovery"])


def _each_enrollment_names_its_options_fetch(tenant: FakeTenant, trail: Path) -> None:
    """Every "enrolled" record, also one finished after the restart, names the creation
    options call whose challenge its credential used, by a request id the tenant issued."""
    issued = {i.request_id for i in tenant.issued if i.route == "creation_options"}
    lines = trail.read_text(encoding="utf-8").splitlines()
    enrolled = [r for r in map(json.loads, lines) if r.get("event") == "enrolled"]
    assert len(enrolled) == USERS
    for record in enrolled:
        fetched = [c for c in record.get("graph_calls") or [] if c["call"] == "creation_options"]
        assert fetched, record
        assert all(c["request_id"] in issued and c["status"] == 200 for c in fetched), record
        assert set(c["request_id"] for c in fetched) <= set(record["graph_request_ids"])


@pytest.mark.parametrize("nth", [1, 2])
@pytest.mark.parametrize(("label", "when"), KILL_POINTS)
def test_sigkill_at_each_journaled_step_then_resume(
    crashes: tuple[FakeTenant, dict[str, Scenario]], label: str, when: str, nth: int
) -> None:
    tenant, scenarios = crashes
    sc = scenarios[f"{label}|{when}|{nth}"]
    store, report = _check(tenant, sc)
    assert store.journal.with_state("orphan") == []
    tracked = [k.serial for k in store.inventory.search(state="needs_reset")]
    if (label, when) in PIN_KEPT_POINTS:
        serial = str(sc.serial_base + nth - 1)
        assert tracked == [serial]
        assert any(line.startswith(f"Key {serial} keeps the PIN the kiosk set")
                   and "reset" in line for line in report), report
    else:
        assert tracked == []
    store.close()


def test_expired_challenge_after_a_crash_is_an_orphan_on_its_serial(
    crashes: tuple[FakeTenant, dict[str, Scenario]],
) -> None:
    tenant, scenarios = crashes
    sc = scenarios["credential created|after|1+7200s"]
    store, report = _check(tenant, sc)
    (orphan,) = store.journal.with_state("orphan")
    assert orphan.serial == str(sc.serial_base) and "challenge expired" in orphan.reason
    assert any(str(sc.serial_base) in line for line in report)
    store.close()


@pytest.mark.parametrize("when", ["before", "after"])
def test_replace_interrupted_at_deleting_the_old_key_is_finished_on_restart(
    crashes: tuple[FakeTenant, dict[str, Scenario]], when: str
) -> None:
    tenant, scenarios = crashes
    sc = scenarios[f"method deleted|{when}|1"]
    store, report = _check(tenant, sc)  # exactly one method each: the old one is gone
    done = {row.method_id for row in store.journal.with_state("done")}
    for upn in sc.upns:
        (method,) = tenant.state.methods_of(upn)
        assert method.id in done  # and the one left is the new key
    assert any("finished replacing" in line for line in report)
    assert store.queue.unfinished_replacements() == []
    # Every old method's deletion was journaled, and ended: none left 'sending'.
    assert [d.state for d in store.inventory.deletions()] == ["deleted"] * USERS
    trail = [json.loads(line) for line in (sc.state / "audit.jsonl").read_text().splitlines()]
    assert sum(r["event"] == "method deleted" for r in trail) == USERS
    store.close()


def test_graph_unreachable_at_restart_is_retried_without_enrolling_twice(
    fake_tenant: FakeTenant, helpdesk: tuple[Path, Path], tmp_path: Path
) -> None:
    sc = Scenario("PIN policy applied", "after", 1)
    _prepare(fake_tenant, tmp_path, helpdesk[0], 0, sc)
    _toml(fake_tenant, sc.state, helpdesk[0])
    toml = sc.state / "kiosk.toml"
    sc.crashed = _driver(toml, sc.serial_base, f"{sc.label}|{sc.when}|{sc.nth}", 0.0)
    # At the restart Graph cannot be asked whether the credential got registered.
    fake_tenant.faults.schedule("503", "list_methods", 1, 2, 3, retry_after=None)
    sc.resumed = _driver(toml, sc.serial_base + 500, None, 0.0)
    store, report = _check(fake_tenant, sc)
    assert any("being finished" in line for line in report)
    assert any(f"Finished the enrollment of {sc.upns[0]}" in line for line in report)
    assert store.journal.with_state("orphan") == []
    store.close()
