"""`kiosk key lost`: a lost key stops working at once (its FIDO2 method deleted in Entra), is
marked lost, and its owner is queued for a replacement key."""

from __future__ import annotations

import argparse
import getpass
from typing import Any

from kiosk.commands import action, add_actions


def register(subparsers: Any) -> None:
    actions = add_actions(subparsers, "key", "A key's life after enrollment: report a lost key.")
    with action(
        actions, "lost", handle_lost,
        help="Delete a lost key's method in Entra, mark it lost, queue a replacement.",
        description=(
            "Delete the Entra FIDO2 method the kiosk registered for the key (by serial, or "
            "every enrolled key of a user), mark the key lost and queue its owner for a "
            "replacement key. Only the method the kiosk registered is deleted."
        ),
    ) as lost:
        which = lost.add_mutually_exclusive_group(required=True)
        which.add_argument("--serial", help="The lost key's serial number.")
        which.add_argument("--upn", help="The user whose enrolled keys are lost.")
        lost.add_argument("--reason", default="reported lost", help="Why (audited).")
        lost.add_argument("--no-replacement", action="store_true",
                          help="Do not queue the user for a replacement key.")
        lost.add_argument("--operator", default="",
                          help="Who reports it (default: login name).")


def handle_lost(args: argparse.Namespace) -> int:
    from kiosk.config import load
    from kiosk.enroll.lifecycle import KeyLife
    from kiosk.keys.creation import DEFAULT_RP_ID
    from kiosk.model.text import clean
    from kiosk.wiring import open_records

    operator = clean(args.operator or getpass.getuser(), 64)
    reason = clean(args.reason, 200)
    records = open_records(load(args.config), operator=operator)
    try:
        life = KeyLife(records.graph, records.store, records.recorder, rp_id=DEFAULT_RP_ID)
        found = life.find(serial=args.serial or "", upn=args.upn or "")
        if not found:
            print("No enrolled key found for " + (f"serial {args.serial}" if args.serial
                                                   else f"user {args.upn}") + ".")
            return 1
        for entry in found:
            report = life.lost(entry, reason, replace=not args.no_replacement)
            note = report.deleted.note or "method deleted in Entra"
            queued = "; replacement queued" if report.requeued else ""
            print(f"key {report.serial} of {report.upn or '-'}: lost ({note}{queued})")
    finally:
        records.store.close()
        records.audit.close()
    return 0
