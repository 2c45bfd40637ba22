"""`kiosk run`: the kiosk on real HID security keys and the tenant from kiosk.toml."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from kiosk.commands import add_config_option
from kiosk.errors import ConfigError

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


def check_sign_in(settings: Settings) -> None:
    """Refuse to start a kiosk nobody can sign in to, or nobody can stop."""
    from kiosk.tui.auth import check_hash

    operators = [o for o in settings.kiosk.operators if o.get("name") and o.get("pin_hash")]
    if not operators:
        raise ConfigError(
            f"{settings.source}: no [[kiosk.operators]] with a name and a pin_hash.",
            next_step="Run `kiosk operator add NAME` and paste its output into kiosk.toml.",
        )
    for operator in operators:
        check_hash(operator["pin_hash"])
    if not settings.kiosk.admin_pin_hash:
        raise ConfigError(
            f"{settings.source}: kiosk.admin_pin_hash is not set, so nobody could exit the kiosk.",
            next_step="Run `kiosk operator add NAME --admin` and paste its output into [kiosk].",
        )
    check_hash(settings.kiosk.admin_pin_hash)


def build_engine(settings: Settings, hidraw: str) -> Engine:
    """The engine over real hidraw devices and the tenant's Graph."""
    from kiosk.keys.hid import RealHidBackend
    from kiosk.wiring import build_kiosk

    return build_kiosk(settings, RealHidBackend(hidraw)).engine


def handle(args: argparse.Namespace) -> int:
    from kiosk.config import load
    from kiosk.logsetup import configure_logging

    configure_logging()  # the journal under systemd (audit records included), never the TUI
    settings = load(args.config)
    check_sign_in(settings)
    engine = build_engine(settings, args.hidraw)
    from kiosk.tui.app import KioskApp

    result = KioskApp(engine, settings).run()
    return result or 0
