"""R (retry) after a user was skipped puts that user back in the queue, as U on the queue screen
does: audited as 'entry requeued', never silently (found by the shift test in a real terminal:
the skip's reason vanished from the queue and the trail never said why)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from kiosk.enroll.events import Event, Prompt, PromptChanged
from kiosk.model.steps import Step
from tests.fixtures.engine import EngineRig


def test_retry_after_a_skip_requeues_that_user_with_an_audit_record(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig()
    first, second = rig.add_users(2)
    asked: list[str] = []

    def operator(event: Event) -> None:
        if not (isinstance(event, PromptChanged) and event.prompt is Prompt.INSERT_KEY):
            return
        asked.append(event.detail)
        if first in event.detail and len(asked) == 1:
            rig.engine.skip("skipped by operator: user not here today")
        elif second in event.detail and len(asked) == 2:
            rig.engine.retry()  # R at the next user's INSERT: the skipped one again

    rig.engine.subscribe(operator)
    rig.robot()
    rig.start()
    results = rig.wait_results(3)
    rig.stop()
    assert (results[0].upn, results[0].status) == (first, Step.SKIPPED)
    assert sorted((r.upn, r.status) for r in results[1:]) == [
        (first, Step.DONE), (second, Step.DONE),
    ]
    trail = [json.loads(line) for line in
             Path(rig.settings.store.audit_path).read_text().splitlines()]
    requeued = [r for r in trail if r["event"] == "entry requeued"]
    assert [r["upn"] for r in requeued] == [first]
    events = [r["event"] for r in trail if r.get("upn") == first]
    assert events.index("enrollment skipped") < events.index("entry requeued") < events.index(
        "enrolled")
