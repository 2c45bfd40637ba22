"""Engine events reach the app as one message class per kind; newer news makes older moot."""

from __future__ import annotations

import subprocess
import sys
import typing

from kiosk.enroll import events
from kiosk.model.keys import KeyInfo
from kiosk.tui import messages
from kiosk.tui.app import KioskApp

KEY = KeyInfo(path="virtual:1", aaguid="ee882879-721c-4913-9775-3dfcce97072a",
              model="YubiKey 5 NFC", firmware="5.7.1", serial="1", versions=("FIDO_2_1",))


def test_every_event_kind_has_its_own_message_and_the_app_a_handler_for_those_it_shows() -> None:
    kinds = typing.get_args(events.Event)
    assert set(messages.MESSAGES) == set(kinds)
    assert len(set(messages.MESSAGES.values())) == len(kinds)
    for kind in kinds:
        sample = _sample(kind)
        message = messages.message_for(sample)
        assert message.event is sample
        cls = type(message)
        assert cls is messages.MESSAGES[kind]
        assert cls.handler_name.startswith("on_engine_")
        assert cls.__name__ == kind.__name__
    shown = {cls.handler_name for cls in messages.MESSAGES.values()} - {"on_engine_key_enrolled"}
    assert all(callable(getattr(KioskApp, name, None)) for name in shown)


def test_a_new_event_kind_without_a_message_stops_the_tui_at_import() -> None:
    """The mapping is read from the message classes: an event added to the engine's union
    and forgotten here fails at once, not when the engine first sends it."""
    code = (
        "import dataclasses\n"
        "from kiosk.enroll import events\n"
        "@dataclasses.dataclass(frozen=True)\n"
        "class CoffeeBreak:\n"
        "    minutes: int\n"
        "events.Event = events.Event | CoffeeBreak\n"
        "import kiosk.tui.messages\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode != 0
    assert "engine events without a message: ['CoffeeBreak']" in done.stderr


def test_newer_counts_prompts_and_keys_make_queued_older_ones_moot() -> None:
    older = messages.QueueChanged(events.QueueChanged({"pending": 2}))
    assert older.can_replace(messages.QueueChanged(events.QueueChanged({"pending": 1})))
    prompt = messages.PromptChanged(events.PromptChanged(events.Prompt.INSERT_KEY))
    assert prompt.can_replace(messages.PromptChanged(events.PromptChanged(events.Prompt.WORKING)))
    key = messages.KeyIdentified(events.KeyIdentified(KEY))
    assert key.can_replace(messages.KeyIdentified(events.KeyIdentified(KEY)))
    port = messages.PortChanged(events.PortChanged(("1", "2")))
    assert port.can_replace(messages.PortChanged(events.PortChanged(("1",))))
    # A step, a result or an error is never dropped, and a prompt never drops another kind.
    step = messages.StepChanged(events.StepChanged(1, "a@x", events.Step.PIN_SET))
    done = messages.StepChanged(events.StepChanged(1, "a@x", events.Step.DONE))
    assert not step.can_replace(done)
    assert not prompt.can_replace(step)
    error = messages.ErrorRaised(events.ErrorRaised("t", "d", "n"))
    assert not error.can_replace(messages.ErrorRaised(events.ErrorRaised("t2", "d", "n")))


def _sample(kind: type) -> events.Event:
    samples: dict[type, events.Event] = {
        events.StepChanged: events.StepChanged(1, "a@x", events.Step.QUEUED),
        events.PromptChanged: events.PromptChanged(events.Prompt.IDLE),
        events.TouchNeeded: events.TouchNeeded("credential"),
        events.KeyIdentified: events.KeyIdentified(KEY),
        events.KeyGone: events.KeyGone(),
        events.PortChanged: events.PortChanged(("1", None)),
        events.PinHandover: events.PinHandover(1, "a@x", "123456"),
        events.EnrollmentResult: events.EnrollmentResult(1, "a@x", events.Step.DONE),
        events.ErrorRaised: events.ErrorRaised("t", "d", "n"),
        events.QueueChanged: events.QueueChanged({}),
        events.KeyEnrolled: events.KeyEnrolled(1, 1, "a@x", "u", "A", "1", "m", "r", "p"),
        events.PaperNotice: events.PaperNotice(True, "printed"),
    }
    return samples[kind]
