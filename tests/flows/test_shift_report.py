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
        "keys_needing_reset": 1,
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
    assert bob["keys_reset"] == 1 and bob["keys_needing_reset"] == []
    by_bob = Counter(r["event"] for r in trail if r.get("operator") == "Bob")
    assert (by_bob["enrolled"], by_bob["enrollment failed"], by_bob["enrollment skipped"]) == (
        1, 1, 1
    )
    # Olivia's shift, asked by name, is the one written at her sign-out.
    assert main(["report", "--shift", "--operator", "Olivia", "--config",
                 config]) == 0
    assert json.loads(capsys.readouterr().out) == olivia
    assert "pin" not in json.dumps(olivia).lower().replace("pin_", "")
