"""A batch over real parts: virtual keys over CTAPHID, the fake tenant over HTTPS (which
verifies every attestation like a relying party), SQLite, the audit trail, sealed escrow."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.audit import verify
from kiosk.enroll.events import (
    PinHandover,
    Prompt,
    PromptChanged,
    QueueChanged,
    StepChanged,
    TouchNeeded,
)
from kiosk.keys.session import KeySession
from kiosk.keys.virtual.port import VirtualPort
from kiosk.model.steps import Step
from tests.fixtures.engine import EngineRig


def test_25_user_batch_enrolls_everyone_once(
    engine_rig: Callable[..., EngineRig], helpdesk: tuple[Path, Path], tmp_path: Path
) -> None:
    rig = engine_rig()
    upns = rig.add_users(25)
    bot = rig.robot()
    rig.start()
    results = rig.wait_results(25, timeout=120)
    rig.stop()

    assert [r.upn for r in results] == upns
    assert {r.status for r in results} == {Step.DONE}
    # Graph has exactly one verified method per user, named after the key's serial.
    serials = {str(k.profile.serial) for k in bot.log.plugged}
    assert len(serials) == 25
    for upn in upns:
        (method,) = rig.tenant.state.methods_of(upn)
        assert len(method.display_name) <= 30
        assert method.display_name.split()[-1] in serials
    # The kiosk's records agree: inventory, journal, audit.
    assert {i.serial for i in rig.store.inventory.all()} == serials
    assert len(rig.store.journal.with_state("done")) == 25
    report = verify(rig.settings.store.audit_path)
    assert report.ok, report.problems
    assert rig.engine.verify_audit().records == report.records
    enrolled = [
        json.loads(line)
        for line in Path(rig.settings.store.audit_path).read_text().splitlines()
        if '"event":"enrolled"' in line
    ]
    assert len(enrolled) == 25
    assert all(r["operator"] == "test operator" for r in enrolled)
    assert {"make_credential", "register"} <= set(enrolled[0]["timings_ms"])
    assert all(r["key"]["serial"] in serials and r["credential"]["method_id"] for r in enrolled)
    # Every key asked for a touch; steps ran in the documented order.
    assert len([t for t in rig.of(TouchNeeded) if t.reason == "credential"]) == 25
    first = [s.step for s in rig.of(StepChanged) if s.upn == upns[0]]
    order = [Step.QUEUED, Step.OPTIONS_READY, Step.KEY_INSERTED, Step.KEY_CHECKED,
             Step.PIN_SET, Step.CREDENTIAL_CREATED, Step.PIN_POLICY_APPLIED, Step.REGISTERED,
             Step.DONE]
    assert first == order
    # Each registered credential has its sealed PIN file.
    escrow = sorted(Path(rig.settings.escrow.directory).iterdir())
    assert len(escrow) == 25
    # Options came from the prefetcher, not while the operator waited.
    assert rig.engine.prefetch.sync_fetches <= 3
    # The manifest lists every key.
    csv_path, _json_path = rig.engine.export_manifest(tmp_path / "manifest")
    text = csv_path.read_text(encoding="utf-8-sig")
    assert all(s in text for s in serials)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_sealed_pin_opens_with_helpdesk_key_and_matches_the_key(
    engine_rig: Callable[..., EngineRig], helpdesk: tuple[Path, Path]
) -> None:
    rig = engine_rig(escrow_mode="both")
    (upn,) = rig.add_users(1)
    bot = rig.robot()
    rig.start()
    rig.wait_results(1)
    rig.stop()
    (handover,) = rig.of(PinHandover)
    assert handover.pin not in repr(handover)
    (sealed,) = Path(rig.settings.escrow.directory).iterdir()
    opened = subprocess.run(
        ["openssl", "cms", "-decrypt", "-inform", "DER", "-in", str(sealed),
         "-inkey", str(helpdesk[1]), "-recip", str(helpdesk[0])],
        capture_output=True, check=True, timeout=30,
    ).stdout.decode()
    assert f"PIN: {handover.pin}" in opened
    assert upn in opened and str(bot.log.plugged[0].profile.serial) in opened
    # The PIN is on the key, with the policy applied, and nowhere in the kiosk's records.
    port = VirtualPort()
    info = KeySession(port.open(port.plug(bot.log.plugged[0]))).identify()
    assert info.pin_set and info.force_pin_change and info.min_pin_length >= 6
    for path in (rig.settings.store.audit_path, rig.settings.store.path):
        assert handover.pin.encode() not in Path(path).read_bytes()
    assert any(p.prompt is Prompt.REMOVE_KEY for p in rig.of(PromptChanged))


def test_show_mode_hands_the_pin_over_once_and_seals_nothing(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig(escrow_mode="show")
    upns = rig.add_users(2)
    rig.robot()
    rig.start()
    rig.wait_results(2)
    rig.stop()
    handovers = rig.of(PinHandover)
    assert [h.upn for h in handovers] == upns
    assert len({h.pin for h in handovers}) == 2  # a fresh random PIN per key
    assert all(len(h.pin) == 8 and h.pin.isdigit() for h in handovers)
    escrow = Path(rig.settings.escrow.directory)
    assert not escrow.exists() or list(escrow.iterdir()) == []
    for h in handovers:
        assert h.pin.encode() not in Path(rig.settings.store.audit_path).read_bytes()


def test_events_carry_what_a_front_end_shows(engine_rig: Callable[..., EngineRig]) -> None:
    """A front end never asks the engine back: each step names the user as queued, the counts
    show the entry active as soon as its key is in, and no prompt is said twice running."""
    rig = engine_rig()
    upns = rig.add_users(2)
    rig.robot()
    rig.start()
    rig.wait_results(2, timeout=60)
    rig.stop()

    steps = rig.of(StepChanged)
    assert {(s.upn, s.display_name) for s in steps} == {
        (upns[0], "User 0000"), (upns[1], "User 0001")
    }
    events = list(rig.events)
    inserted = next(
        i for i, e in enumerate(events)
        if isinstance(e, StepChanged) and e.step is Step.KEY_INSERTED
    )
    counts = [e.counts for e in events[:inserted] if isinstance(e, QueueChanged)]
    assert counts and counts[-1].get("active") == 1
    prompts = [(i, e) for i, e in enumerate(events) if isinstance(e, PromptChanged)]
    repeated = [
        e for (i, e), (j, f) in itertools.pairwise(prompts) if j == i + 1 and e == f
    ]
    assert repeated == []
