"""The key's life after enrollment, on the virtual key and the fake tenant: a returned key's
method leaves Entra and the key goes back to stock clean; an already deleted method, an
unknown key, a lost key with its replacement, a return interrupted by a pulled key."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.enroll.lifecycle import LifecycleError
from kiosk.entra.fake.faults import Fault
from kiosk.keys.errors import KeyPulledError
from kiosk.keys.session import KeySession
from kiosk.keys.virtual.device import VirtualKey
from tests.fixtures.engine import EngineRig
from tests.fixtures.key_life import insert, life_of, reinsert


def _enrolled(engine_rig: Callable[..., EngineRig], n: int) -> tuple[EngineRig, list[str],
                                                                      list[VirtualKey]]:
    rig = engine_rig(reset="automatic")
    upns = rig.add_users(n)
    keys = [rig.key() for _ in range(n)]
    rig.robot(iter(keys))
    rig.start()
    rig.wait_results(n)
    rig.stop()
    return rig, upns, keys


_life, _insert, _reinsert = life_of, insert, reinsert


def _trail(rig: EngineRig) -> list[dict[str, object]]:
    path = Path(rig.settings.store.audit_path)
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_return_of_an_enrolled_key_deletes_its_method_and_stocks_it_clean(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig, (upn,), (key,) = _enrolled(engine_rig, 1)
    assert len(rig.tenant.state.methods_of(upn)) == 1
    life = _life(rig)
    session = _insert(rig, key)
    case = life.identify(session)
    assert case.known and case.entry is not None and case.entry.upn == upn
    assert case.entry.method_id
    key.authenticator.reset_window = 0.0  # the window has passed: the handshake is needed
    reinserted: list[bool] = []

    def reinsert() -> KeySession:
        reinserted.append(True)
        key.authenticator.reset_window = 10.0
        return _reinsert(rig, key)()

    final = life.take_back(session, case, reinsert=reinsert, reason="leaver")
    assert final == "in_stock" and reinserted == [True]
    assert rig.tenant.state.methods_of(upn) == []
    item = rig.store.inventory.get(str(key.profile.serial))
    assert item is not None and item.state == "in_stock" and item.upn == ""
    assert key.authenticator.credential_count == 0 and not key.authenticator.pin_set
    events = [r["event"] for r in _trail(rig)]
    assert events[-4:] == ["key returned", "method deleted", "key needs_reset", "key in_stock"]
    assert all(r["operator"] == "mailroom admin" for r in _trail(rig)[-4:])


def test_a_returned_key_can_be_enrolled_again_for_someone_else(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig, _, (key,) = _enrolled(engine_rig, 1)
    life = _life(rig)
    session = _insert(rig, key)
    life.take_back(session, life.identify(session), reinsert=_reinsert(rig, key), reason="r")
    rig.port.unplug(key)
    (other,) = rig.add_users(1, prefix="next")
    rig.robot(iter([key]))
    rig.start()
    rig.wait_counts(done=2)
    rig.stop()
    assert len(rig.tenant.state.methods_of(other)) == 1
    item = rig.store.inventory.get(str(key.profile.serial))
    assert item is not None and item.state == "enrolled" and item.upn == other


def test_a_method_already_deleted_by_its_owner_goes_back_to_stock_noted(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig, (upn,), (key,) = _enrolled(engine_rig, 1)
    (method,) = rig.tenant.state.methods_of(upn)
    user = rig.tenant.state.user_by_upn(upn)
    assert rig.tenant.state.delete_method(user.id, method.id)
    life = _life(rig)
    session = _insert(rig, key)
    assert life.take_back(session, life.identify(session), reinsert=_reinsert(rig, key),
                          reason="broken", retire="broken hinge") == "retired"
    assert rig.tenant.routes_called("delete_method") == []
    item = rig.store.inventory.get(str(key.profile.serial))
    assert item is not None and item.state == "retired"
    assert "already deleted" in item.reason and "broken hinge" in item.reason


def test_an_unknown_key_is_shown_as_such_and_an_admin_resets_it_into_stock(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig = engine_rig(reset="automatic")
    stranger = rig.key("used")
    life = _life(rig)
    session = _insert(rig, stranger)
    case = life.identify(session)
    assert not case.known
    with pytest.raises(LifecycleError, match="does not know"):
        life.take_back(session, case, reinsert=_reinsert(rig, stranger), reason="found")
    info = life.stock_unknown(session, reinsert=_reinsert(rig, stranger), reason="found")
    assert not info.pin_set and stranger.authenticator.credential_count == 0
    item = rig.store.inventory.get(str(stranger.profile.serial))
    assert item is not None and item.state == "in_stock"


def test_lost_key_stops_working_and_its_owner_gets_a_replacement(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig, (upn, other), keys = _enrolled(engine_rig, 2)
    life = _life(rig)
    (entry,) = life.find(upn=upn)
    report = life.lost(entry, "left on a train", replace=True)
    assert report.deleted.how == "deleted" and report.requeued
    assert rig.tenant.state.methods_of(upn) == []
    assert len(rig.tenant.state.methods_of(other)) == 1  # nobody else's method
    lost = rig.store.inventory.get(entry.serial)
    assert lost is not None and lost.state == "lost"
    rig.robot(iter([rig.key()]))
    rig.start()
    rig.wait_counts(done=2, pending=0)
    rig.stop()
    assert len(rig.tenant.state.methods_of(upn)) == 1
    found = keys[0] if str(keys[0].profile.serial) == entry.serial else keys[1]
    session = _insert(rig, found)  # the lost key turns up later: it comes back to stock
    assert life.take_back(session, life.identify(session), reinsert=_reinsert(rig, found),
                          reason="found again") == "in_stock"
    assert len(rig.tenant.state.methods_of(upn)) == 1  # the replacement's method stays


def test_a_lost_answer_to_the_delete_is_reconciled_never_sent_twice(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig, (upn,), _ = _enrolled(engine_rig, 1)
    rig.tenant.inject(Fault("lost_response", route="delete_method", calls=frozenset({1})))
    life = _life(rig)
    (entry,) = life.find(upn=upn)
    assert life.lost(entry, "stolen", replace=False).deleted.how == "deleted"
    assert len(rig.tenant.routes_called("delete_method")) == 1
    assert rig.tenant.state.methods_of(upn) == []
    assert [d.state for d in rig.store.inventory.deletions()] == ["deleted"]


def test_a_return_interrupted_by_a_pulled_key_resumes_without_deleting_twice(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig, (upn,), (key,) = _enrolled(engine_rig, 1)
    life = _life(rig)
    session = _insert(rig, key)
    case = life.identify(session)
    key.authenticator.reset_window = 0.0

    def pulled() -> KeySession:
        rig.port.unplug(key)
        raise KeyPulledError()

    with pytest.raises(KeyPulledError):
        life.take_back(session, case, reinsert=pulled, reason="leaver")
    item = rig.store.inventory.get(str(key.profile.serial))
    assert item is not None and item.state == "needs_reset"  # never in stock while dirty
    assert key.authenticator.credential_count > 0
    assert rig.tenant.state.methods_of(upn) == []
    time.sleep(0.01)
    key.authenticator.reset_window = 10.0
    session = _insert(rig, key)
    assert life.take_back(session, life.identify(session), reinsert=_reinsert(rig, key),
                          reason="leaver") == "in_stock"
    assert len(rig.tenant.routes_called("delete_method")) == 1
    assert key.authenticator.credential_count == 0


def test_cli_reports_a_lost_key_and_lists_the_inventory_without_pins(
    engine_rig: Callable[..., EngineRig], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    rig, (upn, other), _ = _enrolled(engine_rig, 2)
    config = _config(rig, tmp_path)
    assert main(["key", "lost", "--upn", upn.upper(), "--reason", "stolen bag",
                 "--operator", "desk 2", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "lost (method deleted in Entra; replacement queued)" in out
    assert rig.tenant.state.methods_of(upn) == [] and rig.tenant.state.methods_of(other)
    assert rig.store.queue.counts()["pending"] == 1
    assert main(["key", "lost", "--serial", "no-such", "--config", str(config)]) == 1
    assert main(["inventory", "--config", str(config)]) == 0
    counts = capsys.readouterr().out
    assert "enrolled" in counts and "lost" in counts and "total             2" in counts
    exported = tmp_path / "keys.json"
    assert main(["inventory", "--search", upn[:8].upper(), "--json", str(exported),
                 "--csv", str(tmp_path / "keys.csv"), "--config", str(config)]) == 0
    (row,) = json.loads(exported.read_text())
    assert row["upn"] == upn and row["state"] == "lost" and "stolen bag" in row["reason"]
    assert "pin" not in " ".join(row).lower()
    assert (tmp_path / "keys.csv").read_text().splitlines()[0].startswith("serial,state,")
    trail = _trail(rig)[-1]
    assert trail["event"] == "key lost" and trail["operator"] == "desk 2"


def _config(rig: EngineRig, tmp_path: Path) -> Path:
    config = tmp_path / "kiosk.toml"
    config.write_text(
        rig.tenant.kiosk_toml("certificate")
        + f'\n[store]\npath = "{rig.settings.store.path}"\n'
        f'audit_path = "{rig.settings.store.audit_path}"\n',
        encoding="utf-8",
    )
    return config


def test_kill_9_after_the_delete_was_sent_resumes_without_sending_it_again(
    engine_rig: Callable[..., EngineRig], tmp_path: Path,
) -> None:
    rig, (upn,), _ = _enrolled(engine_rig, 1)
    (entry,) = rig.store.inventory.of_user(upn)
    config = _config(rig, tmp_path)
    # Entra deletes the method, but its answer is slow: the kiosk is killed while waiting.
    rig.tenant.inject(Fault("slow", route="delete_method", delay_s=60, calls=frozenset({1})))
    command = [sys.executable, "-m", "kiosk", "key", "lost", "--serial", entry.serial,
               "--config", str(config)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while rig.tenant.state.methods_of(upn) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rig.tenant.state.methods_of(upn) == []
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert [d.state for d in rig.store.inventory.deletions()] == ["sending"]
    still = rig.store.inventory.get(entry.serial)
    assert still is not None and still.state == "enrolled"
    again = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(rig.tenant.routes_called("delete_method")) == 1  # never sent twice
    assert [d.state for d in rig.store.inventory.deletions()] == ["deleted"]
    lost = rig.store.inventory.get(entry.serial)
    assert lost is not None and lost.state == "lost"


def test_a_replacement_in_replace_mode_leaves_the_old_key_to_reset_and_it_returns_later(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig, (upn,), (old,) = _enrolled(engine_rig, 1)
    user = rig.tenant.state.user_by_upn(upn)
    assert rig.store.queue.replacement(upn, user.id, replace=True)
    new = rig.key()
    rig.robot(iter([new]))
    rig.start()
    rig.wait_counts(done=1, pending=0, active=0)
    rig.wait(lambda _evs: len(rig.tenant.state.methods_of(upn)) == 1
             and rig.tenant.routes_called("delete_method") != [])
    rig.stop()
    (method,) = rig.tenant.state.methods_of(upn)
    assert str(new.profile.serial) in method.display_name
    was = rig.store.inventory.get(str(old.profile.serial))
    assert was is not None and was.state == "needs_reset" and was.reason == "replaced by a new key"
    now = rig.store.inventory.get(str(new.profile.serial))
    assert now is not None and now.state == "enrolled"
    life = _life(rig)
    session = _insert(rig, old)  # the old key comes back later: reset into stock, no delete
    assert life.take_back(session, life.identify(session), reinsert=_reinsert(rig, old),
                          reason="old key back") == "in_stock"
    assert len(rig.tenant.routes_called("delete_method")) == 1
    assert len(rig.tenant.state.methods_of(upn)) == 1 and old.authenticator.credential_count == 0


def test_an_admin_deletes_only_the_method_picked_from_the_users_list(
    engine_rig: Callable[..., EngineRig],
) -> None:
    rig, (upn,), _ = _enrolled(engine_rig, 1)
    (entry,) = rig.store.inventory.of_user(upn)
    life = _life(rig)
    listed = life.methods_of(entry)
    assert [m.id for m in listed] == [m.id for m in rig.tenant.state.methods_of(upn)]
    with pytest.raises(LifecycleError, match="no such method"):
        life.delete_picked(entry, "bm90LWEtbWV0aG9k", "not in Entra's list")
    assert rig.tenant.routes_called("delete_method") == []
    (picked,) = listed
    assert life.delete_picked(entry, picked.id, "helpdesk ticket 42").how == "deleted"
    assert rig.tenant.state.methods_of(upn) == []
    (deletion,) = rig.store.inventory.deletions()
    assert deletion.serial is None and deletion.state == "deleted"
    assert "picked by an admin: helpdesk ticket 42" in deletion.reason
