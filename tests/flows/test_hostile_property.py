"""Property: whatever a key calls itself and whatever a guest's display name says, the kiosk
goes identify -> enroll -> audit -> escrow -> manifest without crashing, every registered
credential has its audit record, and nothing from those strings reaches the terminal as a
control sequence. Real engine, virtual keys with arbitrary USB serials, fake tenant."""

from __future__ import annotations

import dataclasses
import io
import json
import queue
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.text import Text

from kiosk.enroll.escrow import sealed_text
from kiosk.enroll.events import EnrollmentResult, KeyIdentified, Step
from kiosk.keys.virtual.device import VirtualKey
from kiosk.keys.virtual.profiles import HOSTILE_STRINGS
from kiosk.model.text import has_controls
from kiosk.store.queue import NewUser
from kiosk.tui.widgets.key_panel import key_table
from kiosk.tui.widgets.queue_view import render_row
from tests.fixtures.engine import EngineRig

HOSTILE_BITS = ["[/bold]", "[red]", "\x1b]0;t\x07", "\x1b[41m", "\u202e", "\x9b2J", "\n",
                "PIN: 11111111", "\x00", "\ud800", "é", "\U0001d518", "%s", "{0}", "\t"]
hostile_text = st.lists(
    st.one_of(st.sampled_from(HOSTILE_BITS), st.text(max_size=12)), max_size=8
).map("".join)


def _plain(renderable: Any) -> str:
    out = io.StringIO()
    Console(file=out, width=120, color_system=None, force_terminal=False,
            legacy_windows=False).print(renderable)
    return out.getvalue()


class _Session:
    def __init__(self, rig: EngineRig) -> None:
        self.rig = rig
        self.keys: queue.Queue[VirtualKey] = queue.Queue()
        self.count = 0

        def feed() -> Iterator[VirtualKey]:
            while True:
                yield self.keys.get()

        rig.robot(keys=feed())
        rig.start()


# One engine serves every example (an engine per example would take minutes): no shrinking,
# whose replays would run against the state the failing example left.
@settings(max_examples=25, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(serial=hostile_text, name=hostile_text)
def test_hostile_key_strings_and_names_never_crash_and_never_lose_a_record(
    engine_rig: Callable[..., EngineRig], serial: str, name: str
) -> None:
    session = _session(engine_rig)
    rig = session.rig
    session.count += 1
    user = rig.tenant.state.add_user(f"guest{session.count}@contoso.onmicrosoft.com", name)
    found = rig.graph.get_user(user.id)  # the name enters through Graph, as in a group sync
    rig.store.queue.add([NewUser(found.user_principal_name, found.id, found.display_name)])
    # Each key is a new key (a serial seen before is refused as already enrolled, rightly).
    unique = f"{serial}{session.count}" if serial else None
    profile = dataclasses.replace(HOSTILE_STRINGS, hid_serial=unique)
    session.keys.put(VirtualKey(profile, auto_touch=0.0, touch_timeout=5.0))
    results = rig.wait_results(session.count, timeout=60)
    assert results[-1].status is Step.DONE, results[-1]
    # Every credential the tenant holds has its "enrolled" record.
    trail = Path(rig.settings.store.audit_path).read_text(encoding="utf-8").splitlines()
    enrolled = [json.loads(line) for line in trail if '"event":"enrolled"' in line]
    assert len(enrolled) == sum(r.status is Step.DONE for r in rig.of(EnrollmentResult))
    assert len(enrolled) == len(rig.tenant.state.all_methods())
    # What the screen draws of the key and the queue row holds no control sequence.
    info = rig.of(KeyIdentified)[-1].info
    assert not has_controls(info.serial or "")
    for row in rig.store.queue.page(0, 1000):
        shown = _plain(Text(render_row(row, 120)))  # what QueueView.render draws
        assert "\x1b" not in shown and not has_controls(row.display_name)
    assert "\x1b" not in _plain(key_table(info))
    # The sealed text has exactly the lines it should, whatever the strings.
    text = sealed_text("12345678", found.user_principal_name, info.serial, _now()).decode()
    assert [line.split(":", 1)[0] for line in text.splitlines()] == [
        "fido-kiosk sealed PIN", "UPN", "Key serial", "PIN", "Sealed at"]
    # The manifest (CSV and JSON) is written and holds no control character.
    for path in rig.engine.export_manifest(Path(rig.settings.store.manifest_directory)):
        assert not has_controls(path.read_text(encoding="utf-8-sig").replace("\n", "")
                                .replace("\r", ""))


_SESSIONS: dict[int, _Session] = {}


def _session(engine_rig: Callable[..., EngineRig]) -> _Session:
    key = id(engine_rig)
    if key not in _SESSIONS:
        _SESSIONS.clear()
        _SESSIONS[key] = _Session(engine_rig(escrow_mode="sealed"))
    return _SESSIONS[key]


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
