"""Keys without a serial number through their whole life: the inventory tracks them from their
enrollment by the credential the kiosk made on them, and a returned one is identified by what
the inventory holds about it (the key says silently, without its PIN or a touch, which of the
kiosk's credentials it holds). A key the inventory cannot tell is an unknown key, which an
admin resets into stock. Virtual keys and the fake tenant; nothing mocked."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kiosk.enroll.lifecycle import LifecycleError
from kiosk.keys.session import KeySession
from kiosk.keys.virtual.device import VirtualKey
from kiosk.model.steps import Step
from tests.fixtures.engine import EngineRig
from tests.fixtures.key_life import insert, life_of, reinsert

_life, _insert, _reinsert = life_of, insert, reinsert


def _enroll(rig: EngineRig, keys: list[VirtualKey], n: int) -> None:
    rig.robot(iter(keys))
    rig.start()
    results = rig.wait_results(n, timeout=60)
    rig.stop()
    assert all(r.status is Step.DONE for r in results)


def test_serialless_keys_are_tracked_and_each_return_is_known_by_its_credential(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig(reset="automatic")
    first, second = rig.add_users(2)
    keys = [rig.key(serial=None), rig.key(serial=None)]
    assert [k.profile.serial for k in keys] == [None, None]
    _enroll(rig, keys, 2)
    tracked = rig.store.inventory.search(state="enrolled")
    assert sorted(e.upn for e in tracked) == sorted([first, second])
    assert all(e.serial.startswith("no serial ") and e.method_id for e in tracked)

    life = _life(rig)
    rig.port.unplug(keys[1])
    session = _insert(rig, keys[1])  # the second user's key comes back first
    case = life.identify(session)
    assert case.known and case.entry is not None and case.entry.upn == second
    assert life.take_back(session, case, reinsert=_reinsert(rig, keys[1]),
                          reason="leaver") == "in_stock"
    assert rig.tenant.state.methods_of(second) == []
    assert len(rig.tenant.state.methods_of(first)) == 1  # the other user's is kept
    assert keys[1].authenticator.credential_count == 0 and not keys[1].authenticator.pin_set
    item = rig.store.inventory.get(case.entry.serial)
    assert item is not None and item.state == "in_stock" and item.upn == ""
    assert rig.store.inventory.of_user(first)[0].state == "enrolled"
    # The journal no longer counts the returned key's credential as on a key.
    aaguid = tracked[0].aaguid
    holding = {r.upn for r in rig.store.journal.serialless_holding(aaguid)}
    assert holding == {first}

    # Back in stock, it is enrolled again for someone new: the stock of that model is taken.
    rig.port.unplug(keys[1])
    (third,) = rig.add_users(1, prefix="next")
    _enroll(rig, [keys[1]], 3)
    counts = rig.store.inventory.counts()
    assert "in_stock" not in counts and sum(counts["enrolled"].values()) == 2
    (again,) = rig.store.inventory.of_user(third)
    session = _insert(rig, keys[1])
    assert life.identify(session).entry == again


def test_an_orphan_on_a_serialless_key_needs_a_reset_and_is_known_at_its_return(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig(reset="automatic")
    (upn,) = rig.add_users(1)
    rig.tenant.faults.schedule("403", "register", 1)
    refused, good = rig.key(serial=None), rig.key(serial=None)
    _enroll(rig, [refused, good], 1)
    (waiting,) = rig.engine.keys_needing_reset()
    assert waiting.serial.startswith("no serial ") and waiting.state == "needs_reset"
    life = _life(rig)
    rig.port.unplug(good)
    session = _insert(rig, refused)
    case = life.identify(session)
    assert case.entry is not None and case.entry.serial == waiting.serial
    assert life.take_back(session, case, reinsert=_reinsert(rig, refused),
                          reason="set aside") == "in_stock"
    assert refused.authenticator.credential_count == 0
    assert rig.engine.keys_needing_reset() == []
    assert len(rig.tenant.state.methods_of(upn)) == 1


def test_a_serialless_key_the_inventory_cannot_tell_is_unknown_and_an_admin_stocks_it(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig(reset="automatic")
    stranger = rig.key("used", serial=None)
    assert stranger.authenticator.credential_count > 0
    life = _life(rig)
    session = _insert(rig, stranger)
    case = life.identify(session)
    assert not case.known
    with pytest.raises(LifecycleError, match="does not know"):
        life.take_back(session, case, reinsert=_reinsert(rig, stranger), reason="found")
    info = life.stock_unknown(session, reinsert=_reinsert(rig, stranger), reason="found")
    assert not info.pin_set and stranger.authenticator.credential_count == 0
    (stocked,) = rig.store.inventory.search(state="in_stock")
    assert stocked.serial.startswith("no serial ") and stocked.aaguid == info.aaguid


def test_another_serialless_key_at_the_reinsert_is_refused_not_reset(
    engine_rig: Callable[..., EngineRig],
) -> None:
    """The return's reset needs the key again; a different key without a serial put in
    instead is not reset, and the returned key is not marked in stock."""
    rig = engine_rig(reset="automatic")
    rig.add_users(2)
    mine, other = rig.key(serial=None), rig.key(serial=None)
    _enroll(rig, [mine, other], 2)
    rig.port.unplug(other)
    life = _life(rig)
    mine.authenticator.reset_window = 0.0  # the window has passed: the handshake is needed

    def wrong_key() -> KeySession:
        rig.port.unplug(mine)
        return _insert(rig, other)

    session = _insert(rig, mine)
    case = life.identify(session)
    assert case.entry is not None
    with pytest.raises(LifecycleError, match="Another key"):
        life.take_back(session, case, reinsert=wrong_key, reason="leaver")
    assert other.authenticator.credential_count == 1  # not reset
    item = rig.store.inventory.get(case.entry.serial)
    assert item is not None and item.state == "needs_reset"


def test_the_oldest_of_many_serialless_keys_is_still_known_at_its_return(
    engine_rig: Callable[..., EngineRig],
) -> None:
    """Enrollment asks a key about the newest 64 credentials only; a returned key is asked
    about all of its model's that are still on a key, so the batch's first key is known."""
    rig = engine_rig(reset="automatic")
    upns = rig.add_users(66)
    keys = [rig.key(serial=None) for _ in upns]
    _enroll(rig, keys, 66)
    rig.port.unplug(keys[-1])
    session = _insert(rig, keys[0])
    case = _life(rig).identify(session)
    assert case.entry is not None and case.entry.upn == upns[0]
