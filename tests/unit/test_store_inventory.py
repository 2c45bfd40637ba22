"""The key inventory on both backends: states, search, counts, deletions journaled."""

from __future__ import annotations

import pytest

from kiosk.store import Store, StoreError
from tests.fixtures.postgres import Backend


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.open()


def _enroll(store: Store, serial: str, upn: str, model: str = "YubiKey 5 NFC") -> None:
    store.inventory.record(
        serial=serial, aaguid="a" * 32, model=model, firmware="5.7.1",
        user_id="id-" + upn, upn=upn, method_id="m-" + serial,
    )


def test_a_key_moves_through_its_states_and_loses_its_owner_in_stock(store: Store) -> None:
    _enroll(store, "100", "Alice@Contoso.test")
    item = store.inventory.get("100")
    assert item is not None and item.state == "enrolled" and item.owned
    assert store.inventory.set_state("100", "returned", "leaver")
    kept = store.inventory.get("100")
    assert kept is not None and kept.upn == "Alice@Contoso.test" and kept.reason == "leaver"
    store.inventory.set_state("100", "in_stock", "reset on return")
    stocked = store.inventory.get("100")
    assert stocked is not None and stocked.state == "in_stock" and not stocked.owned
    assert stocked.upn == "" and stocked.method_id is None
    _enroll(store, "100", "bob@contoso.test")
    again = store.inventory.get("100")
    assert again is not None and again.state == "enrolled" and again.upn == "bob@contoso.test"
    assert not store.inventory.set_state("999", "lost", "no such key")


def test_search_by_serial_or_upn_any_case_and_counts_by_state_and_model(store: Store) -> None:
    _enroll(store, "100", "Alice@Contoso.test")
    _enroll(store, "200", "bob@contoso.test", model="Other key")
    _enroll(store, "300", "carol_x@contoso.test")
    store.inventory.set_state("300", "lost", "train")
    assert [e.serial for e in store.inventory.search("ALICE")] == ["100"]
    assert [e.serial for e in store.inventory.search("20")] == ["200"]
    assert [e.serial for e in store.inventory.search("_")] == ["300"]  # literal, not a wildcard
    assert [e.serial for e in store.inventory.search("", state="lost")] == ["300"]
    assert [e.serial for e in store.inventory.of_user("alice@contoso.TEST")] == ["100"]
    assert store.inventory.counts() == {
        "enrolled": {"YubiKey 5 NFC": 1, "Other key": 1},
        "lost": {"YubiKey 5 NFC": 1},
    }


def test_an_unknown_key_is_stocked_once_and_deletions_are_journaled(store: Store) -> None:
    store.inventory.stock(serial="400", aaguid="b" * 32, model="M", firmware=None,
                          reason="found in a drawer")
    store.inventory.stock(serial="400", aaguid="b" * 32, model="M", firmware=None, reason="x")
    item = store.inventory.get("400")
    assert item is not None and item.state == "in_stock" and item.reason == "found in a drawer"
    d = store.inventory.deletion_started(serial="400", user_id="u", upn="a@b", method_id="m",
                                         reason="lost", operator="op")
    assert [x.state for x in store.inventory.deletions(state="sending")] == ["sending"]
    store.inventory.deletion_done(d, "deleted")
    assert store.inventory.deletions(state="sending") == []
    assert [x.state for x in store.inventory.deletions()] == ["deleted"]


def test_a_state_this_kiosk_does_not_know_is_a_clear_error(store: Store) -> None:
    _enroll(store, "500", "dave@contoso.test")
    with store.db.tx() as conn:
        conn.execute("UPDATE keys SET state = 'borrowed' WHERE serial = '500'")
    with pytest.raises(StoreError, match="keys table holds 'borrowed'"):
        store.inventory.get("500")


def test_a_serialless_key_enrolled_takes_one_of_its_model_out_of_stock(store: Store) -> None:
    """Keys without a serial cannot be told apart once reset: enrolling one renames one key
    of its AAGUID in stock without a serial, so the stock counts it out; none: nothing."""
    for name in ("no serial 01", "no serial 02"):
        store.inventory.stock(serial=name, aaguid="c" * 32, model="M", firmware=None,
                              reason="reset by an admin")
    store.inventory.stock(serial="500", aaguid="c" * 32, model="M", firmware=None, reason="r")
    assert store.inventory.restock_serialless("no serial 99", "c" * 32)
    _enroll(store, "no serial 99", "dora@contoso.test", model="M")
    assert store.inventory.counts() == {"enrolled": {"M": 1}, "in_stock": {"M": 2}}
    assert store.inventory.get("500") is not None  # a key with a serial stays in stock
    assert not store.inventory.restock_serialless("no serial 98", "d" * 32)  # other model
    assert not store.inventory.restock_serialless("no serial 99", "c" * 32)  # name taken
