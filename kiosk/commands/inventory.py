"""`kiosk inventory`: the keys the kiosk has seen, counted by state and model, searchable by
serial and UPN, exported as CSV or JSON. Never a PIN (the inventory holds none)."""

from __future__ import annotations

import argparse
import csv
import io
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kiosk.commands import add_config_option

FIELDS = ("serial", "state", "model", "aaguid", "firmware", "upn", "user_id", "method_id",
          "enrolled", "reason", "station", "changed")


def register(subparsers: Any) -> None:
    from kiosk.store.inventory import KEY_STATES

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "inventory",
        help="Keys by state and model; search by serial or UPN; export CSV or JSON.",
        description=(
            "Without options: the number of keys in each state, by model. --search and "
            "--state list matching keys; --csv / --json write them (never a PIN)."
        ),
    )
    parser.add_argument("--search", default=None, help="Part of a serial or UPN (any case).")
    parser.add_argument("--state", choices=KEY_STATES, default=None, help="Only this state.")
    parser.add_argument("--csv", type=Path, default=None, help="Write the keys as CSV here.")
    parser.add_argument("--json", type=Path, default=None, help="Write the keys as JSON here.")
    add_config_option(parser)
    parser.set_defaults(func=handle)


def csv_text(rows: list[dict[str, object]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:  # a cell starting like a formula is quoted for spreadsheets
        writer.writerow({k: _cell(row.get(k)) for k in FIELDS})
    return out.getvalue()


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def handle(args: argparse.Namespace) -> int:
    from kiosk.config import load
    from kiosk.model.text import clean
    from kiosk.wiring import open_store

    store = open_store(load(args.config))
    try:
        listing = args.search is not None or args.state or args.csv or args.json
        if not listing:
            for state, models in sorted(store.inventory.counts().items()):
                for model, n in sorted(models.items()):
                    print(f"{state:12} {n:6d}  {clean(model, 60)}")
            print(f"{'total':12} {store.inventory.count():6d}")
            return 0
        keys = store.inventory.search(clean(args.search or "", 100), state=args.state)
        rows = [asdict(k) for k in keys]
        if args.csv:
            args.csv.write_text(csv_text(rows), encoding="utf-8")
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
        if not (args.csv or args.json):
            for k in keys:
                print(f"{clean(k.serial, 40):16} {k.state:12} {clean(k.model, 30):30} "
                      f"{clean(k.upn, 80)}")
        print(f"{len(keys)} key(s)")
    finally:
        store.close()
    return 0
