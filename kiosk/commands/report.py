"""`kiosk report --shift`: the last shift's report as one JSON line (never a PIN)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from kiosk.commands import add_config_option


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report",
        help="Report the last shift: operator, start, end, enrolled, failed, skipped, resets.",
        description=(
            "Print the last shift's report (from the audit trail) as one JSON line: operator, "
            "started, ended, enrolled, failed and skipped (with reasons), keys reset, keys "
            "needing a reset. With --write, also write it as CSV and JSON and audit that."
        ),
    )
    parser.add_argument("--shift", action="store_true", required=True,
                        help="The last shift (the one report there is so far).")
    parser.add_argument("--operator", default=None, help="The last shift of this operator.")
    parser.add_argument("--write", action="store_true",
                        help="Also write shift-<n>.csv and .json and record it in the trail.")
    parser.add_argument("--dir", type=Path, default=None,
                        help="Directory for --write (default: store.manifest_directory).")
    add_config_option(parser)
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from kiosk.audit_chain import parse_line
    from kiosk.config import load
    from kiosk.enroll.shift_report import ShiftReport, last_shift

    settings = load(args.config)
    report: ShiftReport | None
    if args.write:
        from kiosk.keys.hid import RealHidBackend
        from kiosk.wiring import build_kiosk

        kiosk = build_kiosk(settings, RealHidBackend())
        try:
            written = kiosk.engine.report_shift(args.dir, operator=args.operator)
        finally:
            kiosk.close()
        report = written[0] if written else None
    else:
        trail = Path(settings.store.audit_path)
        lines = trail.read_bytes().split(b"\n") if trail.exists() else []
        records = [r for r in map(parse_line, lines) if r is not None]
        report = last_shift(records, args.operator)
        if report is not None and settings.store.url:  # a fleet: the station it was worked at
            from kiosk.store import default_station

            station = settings.store.station or default_station(settings.store.url)
            report = dataclasses.replace(report, station=station)
    if report is None:
        print("no shift: nobody has signed in yet", file=sys.stderr)
        return 1
    print(report.json_line())
    return 0
