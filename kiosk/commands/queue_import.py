"""`kiosk import`: queue users from a CSV file, an Entra group or one UPN, without the TUI.

Users are resolved against Graph before they enter the queue; every row that cannot be queued
is reported with its line number, and the good rows are queued all the same.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kiosk.commands import add_config_option


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "import",
        help="Queue users from a CSV file, an Entra group or one UPN.",
        description=(
            "Queue users for enrollment. Each user is looked up in Entra first; rows that "
            "cannot be queued are listed with their line numbers and the rest are queued. "
            "Exit 0 when every row was queued (or already was), 1 when some were not."
        ),
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", type=Path, help="CSV with a upn/userPrincipalName column.")
    source.add_argument("--group", help="Entra group display name or object id.")
    source.add_argument("--upn", help="One user principal name.")
    parser.add_argument("--keys", type=int, default=None, help="Keys per user (backup keys).")
    parser.add_argument(
        "--replace",
        action="store_true",
        help="Replace the users' existing FIDO2 methods (asked again at the kiosk per user).",
    )
    parser.add_argument(
        "--address", choices=("home", "office", "none"), default=None,
        help="What this batch's shipping labels are addressed to: home (street address), "
        "office (internal mail by office location) or none (default: paper.address).",
    )
    parser.add_argument(
        "--requeue", action="store_true",
        help="Put the skipped and failed users among these back in the queue.",
    )
    add_config_option(parser)
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from kiosk.config import load
    from kiosk.errors import ConfigError
    from kiosk.wiring import open_records, queue_service

    settings = load(args.config)
    keys = args.keys if args.keys is not None else settings.policy.keys_per_user
    if not 1 <= keys <= 10:
        raise ConfigError(
            f"--keys {keys} is not allowed; expected a whole number from 1 to 10.",
            title="Bad option",
            next_step="Run the command again with --keys between 1 and 10.",
        )
    if args.csv is not None and not args.csv.is_file():
        raise ConfigError(
            f"{args.csv}: no such file.",
            title="CSV not found",
            next_step="Check the path of the CSV and run the command again.",
        )
    records = open_records(settings)
    try:
        service = queue_service(records, settings, args.address)
        if args.csv is not None:
            report = service.import_csv(
                args.csv, keys_per_user=keys, replace=args.replace, requeue=args.requeue
            )
        elif args.group is not None:
            if args.replace:
                print("note: --replace applies to CSV and single users only", file=sys.stderr)
            report = service.sync_group(args.group, keys_per_user=keys, requeue=args.requeue)
        else:
            report = service.add_user(
                args.upn, keys_per_user=keys, replace=args.replace, requeue=args.requeue
            )
    finally:
        records.close()
    print(
        f"{report.source}: {report.added} queued, {report.requeued} requeued, "
        f"{report.already_queued} already queued or done, {len(report.problems)} not queued"
    )
    for upn, outcome in report.rows:
        print(f"  {upn}: {outcome}")
    for problem in report.problems:
        where = f"line {problem.line}: " if problem.line else ""
        print(f"  {where}{problem.value!r}: {problem.reason}")
    if report.warnings:
        print(f"{len(report.warnings)} queued without an address the labels can use:")
    for warning in report.warnings:
        where = f"line {warning.line}: " if warning.line else ""
        print(f"  {where}{warning.value!r}: {warning.reason}")
    return 1 if report.problems else 0
