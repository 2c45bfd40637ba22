"""The shift report: two operators in turn, a mix of outcomes (an orphan that needs a reset, a
cancelled attempt, a reset key, a skipped user); each one's report, written on sign-out and
printed by `kiosk report --shift`, matches the journal and the audit trail. Real engine,
virtual keys, fake tenant; nothing mocked."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kiosk.cli import main
from kiosk.enroll.events import EnrollmentResult, Event, Prompt, PromptChanged, TouchNeeded
from kiosk.enroll.lifecycle import KeyLife
from kiosk.keys.creation import DEFAULT_RP_ID
from kiosk.keys.errors import KeyPulledError
from kiosk.keys.session import KeySession
from kiosk.keys.virtual.device import VirtualKey
from kiosk.model.steps import Step
from tests.fixtures.engine import EngineRig


def _trail(rig: EngineRig) -> list[dict[str, Any]]:
    text = Path(rig.settings.store.audit_path).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def _two_shifts(rig: EngineRig) -> tuple[list[str], list[str]]:
    """Olivia: two users (the first key's registration refused: an orphan). Bob: three users
    (a cancelled touch, a used key reset, a skip). Bob stays signed in."""
    olivia = rig.add_users(2, prefix="ann")
    bob = rig.add_users(3, prefix="bob")
    rig.tenant.faults.schedule("403", "register", 1)
    stubborn = rig.key(auto_touch=None)
    keys = itertools.chain(
        [rig.key(), rig.key(), rig.key(), stubborn, rig.key("used")], iter(rig.key, None)
    )

    def operator(event: Event) -> None:
        if isinstance(event, EnrollmentResult) and event.upn == olivia[-1]:
            rig.engine.set_operator("Bob")
        if isinstance(event, TouchNeeded) and event.reason == "credential" and (
            rig.port.keys and rig.port.keys[0] is stubborn
        ):
            rig.engine.cancel()
        prompt = isinstance(event, PromptChanged) and event.prompt is Prompt.INSERT_KEY
        if prompt and bob[2] in event.detail:  # type: ignore[union-attr]
            rig.engine.skip("no key in stock")

    rig.engine.subscribe(operator)
    rig.robot(keys)
    rig.engine.set_operator("Olivia")
    rig.start()
    results = rig.wait_results(5, timeout=90)
    rig.stop()
    assert [(r.upn, r.status) for r in results] == [
        (olivia[0], Step.DONE), (olivia[1], Step.DONE), (bob[0], Step.FAILED),
        (bob[1], Step.DONE), (bob[2], Step.SKIPPED),
    ]
    return olivia, bob


def _config(rig: EngineRig, tmp: Path) -> str:
    """A kiosk.toml naming the rig's store and trail (what `kiosk report` reads)."""
    store, escrow = rig.settings.store, rig.settings.escrow
    config = tmp / "kiosk.toml"
    config.write_text(
        rig.tenant.kiosk_toml("certificate")
        + f"""
[store]
path = "{store.path}"
audit_path = "{store.audit_path}"
manifest_directory = "{store.manifest_directory}"

[escrow]
recipients = {json.dumps(list(escrow.recipients))}
directory = "{escrow.directory}"
""",
        encoding="utf-8",
    )
    return str(config)


def _journal_counts(rig: EngineRig, operator: str) -> Counter[str]:
    rows = rig.store.db.query(
        "SELECT state FROM enrollments WHERE operator = ?", (operator,)
    )
    return Counter(str(r["state"]) for r in rows)


def test_each_shift_report_matches_the_journal_and_the_trail(
    engine_rig: Callable[..., EngineRig], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rig = engine_rig(operator=None, reset="automatic")
    config = _config(rig, tmp_path)
    _two_shifts(rig)
    trail = _trail(rig)
    # Olivia's report was written and audited when Bob took over.
    (reported,) = [r for r in trail if r["event"] == "shift reported"]
    assert reported["operator"] == "Olivia"
    outbox = Path(rig.settings.store.manifest_directory)
    csv_path, json_path = (Path(p) for p in reported["detail"].split(", "))
    assert csv_path.parent == outbox and json_path.parent == outbox
    olivia = json.loads(json_path.read_text(encoding="utf-8"))
    journal = _journal_counts(rig, "Olivia")
    assert olivia["enrolled"] == journal["done"] == 2
    assert len(olivia["keys_needing_reset"]) == journal["orphan"] == 1
    (orphan,) = [r for r in trail if r["event"] == "orphan credential"]
    assert olivia["keys_needing_reset"] == [orphan["key"]["serial"]]
    assert (olivia["failed"], olivia["skipped"], olivia["keys_reset"]) == (0, 0, 0)
    assert reported["counts"] == {
        "enrolled": 2, "failed": 0, "skipped": 0, "attempts_failed": 0, "keys_reset": 0,
        "keys_needing_reset": 1, "returned": 0, "back_in_stock": 0, "retired": 0, "lost": 0,
    }
    assert olivia["ended"] == next(
        r["time"] for r in trail if r["event"] == "operator signed out"
    )
    assert "Olivia" in csv_path.read_text(encoding="utf-8-sig")
    # Bob is still signed in: the last shift is his, printed as one JSON line.
    assert main(["report", "--shift", "--config", config]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    bob = json.loads(line)
    journal = _journal_counts(rig, "Bob")
    assert bob["operator"] == "Bob" and bob["ended"] is None
    assert bob["started"] >= olivia["ended"]  # may share the millisecond
    assert bob["enrolled"] == journal["done"] == 1
    assert bob["attempts_failed"] == journal["failed"] == 1
    assert bob["failed"] == 1 and next(iter(bob["failed_by_reason"])).startswith("cancelled")
    assert bob["skipped_by_reason"] == {"no key in stock": 1}
    # The key cancelled at its touch keeps the PIN the kiosk set: it needs a reset (the used
    # key Bob had reset is another one).
    (kept,) = [r for r in trail if r["event"] == "key needs_reset" and r["operator"] == "Bob"]
    assert bob["keys_reset"] == 1 and bob["keys_needing_reset"] == [kept["key"]["serial"]]
    by_bob = Counter(r["event"] for r in trail if r.get("operator") == "Bob")
    assert (by_bob["enrolled"], by_bob["enrollment failed"], by_bob["enrollment skipped"]) == (
        1, 1, 1
    )
    # Olivia's shift, asked by name, is the one written at her sign-out.
    assert main(["report", "--shift", "--operator", "Olivia", "--config",
                 config]) == 0
    assert json.loads(capsys.readouterr().out) == olivia
    assert "pin" not in json.dumps(olivia).lower().replace("pin_", "")


def test_returns_in_the_shift_match_the_inventory_and_the_trail(
    engine_rig: Callable[..., EngineRig],
) -> None:
    """Olivia enrolls four keys, then takes back three (one to stock, one retired, one whose
    reset is interrupted by a pulled key) and reports one lost: her report counts what the
    key-life records say, and the interrupted key is the one that needs a reset."""
    rig = engine_rig(operator=None, reset="automatic")
    upns = rig.add_users(4, prefix="ret")
    keys = [rig.key() for _ in upns]
    rig.robot(iter(keys))
    rig.engine.set_operator("Olivia")
    rig.start()
    rig.wait_results(4, timeout=90)
    rig.stop()
    life = KeyLife(rig.graph, rig.store, rig.engine.recorder, rp_id=DEFAULT_RP_ID)

    def back(key: VirtualKey, **how: str) -> str:
        session = KeySession(rig.port.open(rig.port.plug(key)))
        return life.take_back(session, life.identify(session), reinsert=lambda: session,
                              reason="leaver", **how)

    assert back(keys[0]) == "in_stock"
    assert back(keys[1], retire="cracked case") == "retired"
    keys[2].authenticator.reset_window = 0.0  # the reset needs a re-insert: the key is pulled

    def pulled() -> KeySession:
        rig.port.unplug(keys[2])
        raise KeyPulledError()

    session = KeySession(rig.port.open(rig.port.plug(keys[2])))
    with pytest.raises(KeyPulledError):
        life.take_back(session, life.identify(session), reinsert=pulled, reason="leaver")
    (lost,) = life.find(upn=upns[3])
    life.lost(lost, "left on a train", replace=False)
    report = rig.engine.set_operator(None)

    assert report is not None and report.operator == "Olivia" and report.enrolled == 4
    by_event = Counter(r["event"] for r in _trail(rig) if r.get("operator") == "Olivia")
    assert report.returned == by_event["key returned"] == 3
    assert report.back_in_stock == by_event["key in_stock"] == 1
    assert report.retired == by_event["key retired"] == 1
    assert report.lost == by_event["key lost"] == 1
    states = {e.serial: e.state for e in rig.store.inventory.all()}
    assert [s for s, state in states.items() if state == "needs_reset"] == list(
        report.keys_needing_reset
    ) == [str(keys[2].profile.serial)]
    (reported,) = [r for r in _trail(rig) if r["event"] == "shift reported"]
    assert reported["counts"]["returned"] == 3 and reported["counts"]["lost"] == 1
    assert "Keys returned: 3 (back in stock 1, retired 1); keys lost: 1" in report.lines()


def test_report_shift_write_writes_the_files_and_audits_them(
    engine_rig: Callable[..., EngineRig], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`kiosk report --shift --write --dir DIR`: Bob's running shift, printed as one JSON line,
    written as CSV and JSON in DIR and recorded in the trail with the same counts."""
    rig = engine_rig(operator=None, reset="automatic")
    config = _config(rig, tmp_path)
    _two_shifts(rig)
    out = tmp_path / "elsewhere"
    assert main(["report", "--shift", "--write", "--dir", str(out), "--config", config]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    bob = json.loads(line)
    assert bob["operator"] == "Bob" and bob["ended"] is None and bob["enrolled"] == 1
    (csv_path,) = out.glob("shift-*.csv")
    (json_path,) = out.glob("shift-*.json")
    assert json.loads(json_path.read_text(encoding="utf-8")) == bob
    assert "Bob" in csv_path.read_text(encoding="utf-8-sig")
    reported = [r for r in _trail(rig) if r["event"] == "shift reported"]
    assert [r["operator"] for r in reported] == ["Olivia", "Bob"]
    assert reported[-1]["detail"] == f"{csv_path}, {json_path}"
    assert reported[-1]["counts"]["enrolled"] == 1 and reported[-1]["counts"]["skipped"] == 1


def test_a_key_reset_and_then_failed_still_counts_as_reset(
    engine_rig: Callable[..., EngineRig],
) -> None:
    """Olivia's used key is reset by the kiosk, then Entra refuses its registration (an
    orphan) and a second key enrolls the user: the report counts the reset all the same, as
    the trail's 'key reset' record says, and the orphaned key as needing a reset."""
    rig = engine_rig(operator=None, reset="automatic")
    (upn,) = rig.add_users(1, prefix="rst")
    rig.tenant.faults.schedule("403", "register", 1)
    used = rig.key("used")
    rig.robot(iter([used, rig.key()]))
    rig.engine.set_operator("Olivia")
    rig.start()
    (result,) = rig.wait_results(1, timeout=60)
    rig.stop()
    assert result.status is Step.DONE
    report = rig.engine.set_operator(None)
    assert report is not None and report.enrolled == 1
    (reset,) = [r for r in _trail(rig) if r["event"] == "key reset"]
    assert reset["operator"] == "Olivia" and reset["upn"] == upn
    assert reset["key"]["serial"] == str(used.profile.serial)
    assert report.keys_reset == 1
    assert list(report.keys_needing_reset) == [str(used.profile.serial)]
    assert "Keys enrolled: 1 (1 reset first)" in report.lines()
