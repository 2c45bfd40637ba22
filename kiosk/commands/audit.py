"""`kiosk audit verify [PATH | --config kiosk.toml] [--head SHA256]`: check the audit trail."""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.commands import DEFAULT_CONFIG, action, add_actions, config_or_default

if TYPE_CHECKING:
    from kiosk.config import Settings


def register(subparsers: Any) -> None:
    text = "Work with the audit trail."
    actions = add_actions(subparsers, "audit", text, text)
    with action(
        actions, "verify", _verify, config=False,
        help="Check the hash chain; name any edited, removed or reordered record.",
        description="Check the audit trail's hash chain. Exit 0 when it is intact, 1 when not.",
    ) as verify:
        verify.add_argument(
            "path", nargs="?", help="The audit trail (default: store.audit_path from the config)."
        )
        verify.add_argument(
            "--config",
            help=f"kiosk.toml to read store.audit_path from (default: $KIOSK_CONFIG or "
            f"{DEFAULT_CONFIG}).",
        )
        verify.add_argument(
            "--head",
            help="SHA-256 the last record must have (the last 'hash=' of kiosk.audit in the "
            "system log); catches an edited or removed end of the trail.",
        )
        verify.add_argument(
            "--fleet",
            action="store_true",
            help="Also check every station's chain mirrored in the fleet database (store.url), "
            "and this station's records there against its own file.",
        )


def _verify(args: argparse.Namespace) -> int:
    from kiosk.audit import verify
    from kiosk.audit_chain import GENESIS, line_hash
    from kiosk.model.audit import AuditReport

    path = args.path
    against_db = ""
    if path is None:
        from kiosk import config

        settings = config.load(config_or_default(args.config))
        path = settings.store.audit_path
        if args.head is None:
            against_db = _database_disagrees(settings, Path(path))
    report = verify(path, expected_head=args.head)
    if against_db:
        report = AuditReport(False, report.records, [*report.problems, against_db])
    fleet_ok = _verify_fleet(args.config, Path(path)) if args.fleet else True
    if report.ok and not fleet_ok:
        return 1
    if report.ok:
        lines = Path(path).read_bytes().splitlines()
        head = line_hash(lines[-1]) if lines else GENESIS
        print(f"audit trail OK: {path}: {report.records} records, intact; chain head {head}")
        return 0
    count = len(report.problems)
    print(f"audit trail FAILED: {path}: {report.records} records, {count} problem(s)")
    for problem in report.problems:
        print(f"  - {problem}")
    print("  next: keep a copy of this file, stop enrolling and call the kiosk administrator.")
    return 1


def _database_disagrees(settings: Settings, path: Path) -> str:
    """What the database's copy of the trail's head says against the file ("" if they agree,
    or if there is no database to ask)."""
    from kiosk.trail_check import disagreement
    from kiosk.wiring import open_store

    if not settings.store.url and not Path(settings.store.path).exists():
        return ""
    store = open_store(settings)
    try:
        db_seq = store.trail.last_seq()
        db_line = store.trail.line_at(db_seq) if db_seq else None
    finally:
        store.close()
    file_seq = 0
    if path.exists():
        lines = path.read_bytes().splitlines()
        with contextlib.suppress(ValueError, IndexError, AttributeError):
            file_seq = int(json.loads(lines[-1]).get("seq", 0)) if lines else 0
    return disagreement(path, file_seq, db_seq, db_line, store_name=settings.store.path)


def _verify_fleet(config_path: str | None, local: Path) -> bool:
    """Each station's mirrored chain against itself; this station's against its file."""
    from kiosk import config
    from kiosk.audit_chain import verify_lines
    from kiosk.model.text import STATION_NAME_MAX, clean
    from kiosk.wiring import open_store

    store = open_store(config.load(config_or_default(config_path)))
    ok = True
    try:
        for station in store.trail.stations():
            data = store.trail.lines(station)
            report = verify_lines(data)
            problems = list(report.problems)
            if station == store.station and local.exists():
                mine = local.read_bytes()
                if not mine.startswith(data):
                    problems.append(
                        "the database's copy differs from this station's file "
                        f"({local}): a record was changed in one of them"
                    )
            state = "OK" if not problems else "FAILED"
            name = clean(station, STATION_NAME_MAX)  # any station writes its own name there
            print(f"fleet station {name}: {state}, {report.records} records")
            for problem in problems:
                print(f"  - {problem}")
            ok = ok and not problems
    finally:
        store.close()
    return ok
