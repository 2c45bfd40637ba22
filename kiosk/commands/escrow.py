"""`kiosk escrow get --upn U | --serial S [--out DIR]`: write a sealed PIN envelope from the
database for the helpdesk to open with ``openssl cms -decrypt``; every retrieval is audited."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kiosk.commands import action, add_actions


def register(subparsers: Any) -> None:
    text = "Sealed PIN envelopes kept in the database."
    actions = add_actions(subparsers, "escrow", text, text)
    with action(
        actions, "get", _get,
        help="Write the sealed PIN envelopes of a user or a key (audited).",
        description=(
            "Write the sealed PIN envelopes (CMS, DER) of a user or of a key to files named "
            "pin-<serial>-<time>.p7m. Open one with: openssl cms -decrypt -inform DER -in "
            "FILE -recip helpdesk.pem -inkey helpdesk.key. Each retrieval is an audit record."
        ),
    ) as get:
        which = get.add_mutually_exclusive_group(required=True)
        which.add_argument("--upn", help="The user whose envelopes to write.")
        which.add_argument("--serial", help="The key whose envelopes to write.")
        get.add_argument("--out", type=Path, default=Path("."), help="Directory (default: here).")


def _get(args: argparse.Namespace) -> int:
    import getpass

    from kiosk.audit import AuditTrail
    from kiosk.config import load
    from kiosk.durable import atomic_write
    from kiosk.model.text import clean
    from kiosk.wiring import open_store

    settings = load(args.config)
    operator = clean(getpass.getuser(), 64)
    upn = clean(args.upn) if args.upn else None
    serial = None if args.upn else clean(args.serial, 64)
    store = open_store(settings)
    try:
        found = store.sealed.find(upn=args.upn, serial=args.serial)
        with AuditTrail(settings.store.audit_path) as audit:
            if store.fleet:
                audit.mirror = store.trail.put
            if not found:  # a lookup is a helpdesk's question about a user: audited too
                audit.append(
                    "escrow not found", outcome="not found", operator=operator,
                    host=store.station, reason="no sealed PIN in the database", upn=upn,
                    key={"serial": serial} if serial is not None else None,
                )
                what = f"UPN {upn}" if upn is not None else f"serial {serial}"
                print(f"no sealed PIN for {what}")
                return 1
            args.out.mkdir(mode=0o700, parents=True, exist_ok=True)
            for env in found:
                name = "".join(c for c in (env.serial or "noserial") if c.isalnum())[:40]
                stamp = env.sealed.replace(":", "").replace("-", "")[:15]
                path = args.out / f"pin-{name or 'noserial'}-{stamp}-{env.id}.p7m"
                # The record first: an envelope that cannot be audited is not written.
                audit.append(
                    "escrow retrieved", operator=operator, upn=env.upn,
                    entry_id=env.entry_id, key={"serial": env.serial},
                    escrow={"file": path.name}, host=store.station,
                    detail=f"sealed at {env.station} {env.sealed}",
                )
                atomic_write(path, env.envelope, 0o600)
                print(path)
    finally:
        store.close()
    return 0
