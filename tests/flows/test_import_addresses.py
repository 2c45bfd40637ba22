"""Addresses for the shipping labels come with the queue: Graph's address and office
properties (read with the users, over real HTTPS from the fake tenant) or a CSV's columns,
per batch home, office or none; users without a usable address are named at import."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from kiosk.config import PaperSettings
from kiosk.paper.address import Address
from kiosk.wiring import address_book
from tests.fixtures.engine import EngineRig

LABELS = PaperSettings(cups_server="/nonexistent/cups.sock", label_queue="labels")


def stored(rig: EngineRig, user_id: str) -> tuple[str, Address]:
    found = rig.store.addresses.get(user_id)
    assert found is not None
    return found[0], Address.from_json(found[1])


def test_graph_addresses_are_kept_and_missing_ones_named(
    engine_rig: Callable[..., EngineRig], tmp_path: Path
) -> None:
    rig = engine_rig(paper=LABELS)
    state = rig.tenant.state
    full = state.add_user("ada@contoso.onmicrosoft.com", "Ada Lovelace")
    bare = state.add_user("bob@contoso.onmicrosoft.com", "Bob Nobody", postal={})
    part = state.add_user("cy@contoso.onmicrosoft.com", "Cy Part",
                          postal={"streetAddress": "5 Pier St", "city": "Hobart"})
    csv = tmp_path / "users.csv"
    csv.write_text("upn\nada@contoso.onmicrosoft.com\nbob@contoso.onmicrosoft.com\n"
                   "cy@contoso.onmicrosoft.com\n")
    report = rig.engine.queue.import_csv(csv)

    assert report.added == 3 and report.problems == ()
    warned = {(w.line, w.value): w.reason for w in report.warnings}
    assert set(warned) == {(3, bare.user_principal_name), (4, part.user_principal_name)}
    assert warned[(3, bare.user_principal_name)].startswith("no address")
    assert "no postal code, country" in warned[(4, part.user_principal_name)]
    mode, address = stored(rig, full.id)
    assert mode == "home" and address.street == full.postal["streetAddress"]
    assert address.lines("home")[-1] == full.postal["country"]


def test_csv_columns_win_and_the_batch_can_choose_office(
    engine_rig: Callable[..., EngineRig], tmp_path: Path
) -> None:
    rig = engine_rig(paper=LABELS)
    dee = rig.tenant.state.add_user("dee@contoso.onmicrosoft.com", "Dee", postal={})
    eve = rig.tenant.state.add_user("eve@contoso.onmicrosoft.com", "Eve")
    csv = tmp_path / "users.csv"
    csv.write_text("upn;office;street\ndee@contoso.onmicrosoft.com;Mail room\u202e 7;\n"
                   "eve@contoso.onmicrosoft.com;;\n")
    rig.engine.queue.postal = address_book(rig.settings, rig.store, "office")
    report = rig.engine.queue.import_csv(csv)
    assert report.warnings == ()  # both have an office: the CSV's, or Graph's
    mode, address = stored(rig, dee.id)
    assert mode == "office" and address.office == "Mail room 7"  # cleaned where it enters
    assert stored(rig, eve.id)[1].office == eve.postal["officeLocation"]
    fields = json.loads(rig.store.addresses.get(dee.id)[1])  # type: ignore[index]
    assert "\u202e" not in json.dumps(fields, ensure_ascii=False)


def test_without_labels_nothing_is_named(engine_rig: Callable[..., EngineRig]) -> None:
    rig = engine_rig()
    rig.tenant.state.add_user("fay@contoso.onmicrosoft.com", "Fay", postal={})
    report = rig.engine.queue.add_user("fay@contoso.onmicrosoft.com")
    assert report.added == 1 and report.warnings == ()
