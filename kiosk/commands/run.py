"""`kiosk run`: the kiosk on real HID security keys and the tenant from kiosk.toml."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.commands import add_config_option
from kiosk.process import (
    ADMIN_EXIT,
    ADMIN_EXIT_NOTICE,
    CRASH_EXIT,
    RUNS_FILE,
    RunLog,
    exit_code,
)

if TYPE_CHECKING:
    from textual.app import App

    from kiosk.config import Settings
    from kiosk.enroll.engine import Engine


log = logging.getLogger("kiosk.run")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run", help="Run the kiosk on real security keys and the configured tenant."
    )
    add_config_option(parser)
    parser.add_argument(
        "--hidraw",
        default="/dev/hidraw*",
        help="Glob of the hidraw device nodes to watch (default: /dev/hidraw*).",
    )
    parser.add_argument(
        "--after-exit",
        action="store_true",
        help="Say on the console how the kiosk ended (the unit's ExecStopPost runs this).",
    )
    parser.set_defaults(func=handle)


def build_engine(settings: Settings, hidraw: str) -> Engine:
    """The engine over real hidraw devices and the tenant's Graph."""
    from kiosk.keys.hid import RealHidBackend
    from kiosk.wiring import build_kiosk

    return build_kiosk(settings, RealHidBackend(hidraw)).engine


def handle(args: argparse.Namespace) -> int:
    from kiosk.config import load
    from kiosk.logsetup import configure_logging

    if args.after_exit:
        print(after_exit_notice(os.environ), flush=True)
        return 0
    configure_logging()  # the journal under systemd (audit records included), never the TUI
    from kiosk.operators.sign_in import check_sign_in

    settings = load(args.config)
    check_sign_in(settings)
    runs = RunLog(Path(settings.store.path).parent / RUNS_FILE)
    loop = runs.started()
    if loop:
        log.error("%s See `journalctl -u fido-kiosk` for their tracebacks.", loop)
    code = CRASH_EXIT
    try:
        engine = build_engine(settings, args.hidraw)
        from kiosk.tui.app import KioskApp

        code = run_tui(KioskApp(engine, settings, hid=engine.backend))
    finally:
        runs.ended(code)
    return code


def run_tui(app: App[int], *, headless: bool = False) -> int:
    """Run the TUI; its exit code for systemd (a crash is never 0) and a journal line."""
    app.run(headless=headless)
    code = exit_code(app.return_code)
    if code not in (0, ADMIN_EXIT):
        log.error("the kiosk ended with exit code %d; systemd starts it again.", code)
    return code


def after_exit_notice(env: Mapping[str, str]) -> str:
    """What tty1 says once the kiosk has ended (systemd passes how in the environment)."""
    if env.get("EXIT_STATUS") == str(ADMIN_EXIT):
        return ADMIN_EXIT_NOTICE
    how = env.get("EXIT_STATUS") or env.get("SERVICE_RESULT") or "unknown"
    return (
        f"fido-kiosk ended ({how}); systemd starts it again in a few seconds.\n"
        "Details for the administrator: journalctl -u fido-kiosk\n"
    )
