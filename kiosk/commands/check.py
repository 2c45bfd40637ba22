"""`kiosk check [--config kiosk.toml]`: the preflight before the first batch. Exit 0 when nothing
failed (warnings allowed), 1 when something must be fixed."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kiosk.commands import DEFAULT_CONFIG, config_or_default

LABEL = {"ok": "ok", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "check",
        help="Preflight: configuration, secrets, clock, sign-in, Graph permissions, keys, "
        "MDS blob, audit trail.",
        description="Check that the kiosk is ready to enroll; each failure says how to fix it. "
        "Run it as the kiosk user: sudo -u fido-kiosk kiosk check",
    )
    parser.add_argument(
        "--config",
        default=None,
        help=f"kiosk.toml to check (default: $KIOSK_CONFIG or {DEFAULT_CONFIG}).",
    )
    parser.set_defaults(func=handle)


def render(results: list[Any], config: Path) -> str:
    """One line per check; a failure or warning gets its fix on the line below."""
    lines = [f"kiosk check: {config}"]
    width = max(len(r.name) for r in results)
    for r in results:
        lines.append(f"  {LABEL[r.status]:<5} {r.name:<{width}}  {r.detail}")
        if r.fix and r.status in ("fail", "warn"):
            lines.append(f"  {'':<5} {'':<{width}}  fix: {r.fix}")
    failed = sum(r.status == "fail" for r in results)
    warned = sum(r.status == "warn" for r in results)
    if failed:
        lines.append(
            f"{failed} check(s) failed, {warned} warning(s). Fix them, then run `kiosk check` "
            "again."
        )
    else:
        lines.append(f"Ready to enroll ({warned} warning(s)).")
    return "\n".join(lines)


def handle(args: argparse.Namespace) -> int:
    from kiosk.check import run_checks
    from kiosk.check_context import CheckContext

    config = Path(config_or_default(args.config))
    results = run_checks(CheckContext(config_path=config))
    print(render(results, config))
    return 1 if any(r.status == "fail" for r in results) else 0
