"""`kiosk fleet status | release`: the stations sharing one queue, and an admin's release of a
user that a station started and cannot finish."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from kiosk.commands import action, add_actions


def register(subparsers: Any) -> None:
    text = "Stations sharing one queue (PostgreSQL)."
    actions = add_actions(subparsers, "fleet", text, text)
    with action(
        actions, "status", _status,
        help="Each station, the queue left, the time to finish.",
        description="Each station (online, operator, current user, keys in the last hour), "
        "the users left and the time to finish at the last hour's rate.",
    ) as status:
        status.add_argument("--json", action="store_true", help="One JSON object.")
    with action(
        actions, "release", _release,
        help="Give a started user back to the queue (name the key's serial).",
        description="A user that a station started stays with that station (its key is "
        "there) until it resumes. When it cannot (broken, gone), an admin with the key in "
        "hand releases the user, naming the key's serial. Audited.",
    ) as release:
        release.add_argument("--upn", required=True)
        release.add_argument("--serial", help="Serial of the key the station was enrolling.")
    with action(
        actions, "migrate", _migrate, config=False,
        help="Bring the fleet database's schema up to this kiosk's (as the owner).",
        description="Open the fleet database as its owner and apply this kiosk's schema "
        "migrations (stations sign in with a role that cannot). Then run the grants again.",
    ) as migrate:
        migrate.add_argument("--url", required=True, help="postgresql:// URL of the owner role.")
        migrate.add_argument("--password-file", default="", help="The owner's password (0600).")
    with action(
        actions, "grants", _grants, config=False,
        help="Print the GRANT statements of a station (or helpdesk) role.",
        description="Print the SQL that gives a role exactly what a station needs (or, with "
        "--helpdesk, what `kiosk escrow get` needs). Run it as the owner.",
    ) as grants:
        grants.add_argument("--role", required=True)
        grants.add_argument("--helpdesk", action="store_true")


def _status(args: argparse.Namespace) -> int:
    from kiosk.config import load
    from kiosk.store.fleet import fleet_status, status_lines
    from kiosk.wiring import open_store

    store = open_store(load(args.config))
    try:
        st = fleet_status(store.db, datetime.now(UTC))
    finally:
        store.close()
    if args.json:
        out = {
            "stations": [s.__dict__ for s in st.stations],
            "left": st.left,
            "keys_last_hour": st.keys_last_hour,
            "finish_in_minutes": None if st.finish_in is None
            else round(st.finish_in.total_seconds() / 60, 1),
        }
        print(json.dumps(out, indent=2))
        return 0
    print("\n".join(status_lines(st)))
    return 0


def _release(args: argparse.Namespace) -> int:
    from kiosk.audit import AuditTrail
    from kiosk.config import load
    from kiosk.errors import KioskError
    from kiosk.wiring import open_store

    settings = load(args.config)
    store = open_store(settings)
    try:
        entry = store.queue.find(args.upn)
        if entry is None:
            raise KioskError(f"{args.upn} is not in the queue.", title="No such user")
        held_by = store.queue.release(entry.entry_id, args.serial)
        with AuditTrail(settings.store.audit_path) as audit:
            if store.fleet:
                audit.mirror = store.trail.put
            audit.append(
                "user released", upn=entry.upn, user_id=entry.user_id, entry_id=entry.entry_id,
                key={"serial": args.serial} if args.serial else None, host=store.station,
                reason=f"released by an admin from station {held_by}",
            )
    finally:
        store.close()
    print(f"{entry.upn} is back in the queue (was held by station {held_by})")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from kiosk.store import Store
    from kiosk.store.migrations import LATEST

    store = Store(args.url, station="migrate", password_file=args.password_file)
    try:
        found = store.db.schema_found
    finally:
        store.close()
    print(f"fleet database schema: version {found} -> {LATEST}")
    return 0


def _grants(args: argparse.Namespace) -> int:
    from kiosk.store.grants import HELPDESK, STATION, grant_sql

    print(grant_sql(args.role, HELPDESK if args.helpdesk else STATION))
    return 0
