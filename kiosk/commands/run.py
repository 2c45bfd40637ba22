"""`kiosk run`: the kiosk on real HID security keys and the tenant from kiosk.toml."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from kiosk.commands import add_config_option

if TYPE_CHECKING:
    from kiosk.config import Settings
    from kiosk.enroll.engine import Engine


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
    parser.set_defaults(func=handle)


def build_engine(settings: Settings, hidraw: str) -> Engine:
    """The engine over real hidraw devices and the tenant's Graph."""
    from kiosk.keys.hid import RealHidBackend
    from kiosk.wiring import build_kiosk

    return build_kiosk(settings, RealHidBackend(hidraw)).engine


def handle(args: argparse.Namespace) -> int:
    from kiosk.config import load
    from kiosk.logsetup import configure_logging

    configure_logging()  # the journal under systemd (audit records included), never the TUI
    from kiosk.operators.sign_in import check_sign_in

    settings = load(args.config)
    check_sign_in(settings)
    engine = build_engine(settings, args.hidraw)
    from kiosk.tui.app import KioskApp

    result = KioskApp(engine, settings, hid=engine.backend).run()
    return result or 0
