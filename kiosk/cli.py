"""`kiosk` command line: run | demo | check | import | export | audit verify | fake-tenant | ..."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from kiosk import __version__
from kiosk.errors import KioskError
from kiosk.process import harden_process

# Each name is a module in kiosk.commands exposing register(subparsers).
COMMANDS: tuple[str, ...] = (
    "demo",
    "queue_import",
    "export",
    "operator",
    "run",
    "audit",
    "check",
    "fake_tenant",
    "fleet",
    "escrow",
    "key",
    "inventory",
    "report",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kiosk",
        description="Enroll FIDO2 security keys on behalf of Microsoft Entra ID users.",
    )
    parser.add_argument("--version", action="version", version=f"fido-kiosk {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"kiosk.commands.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Every command may hold the app's key, a token or a PIN: no core file, no ptrace.
    harden_process()
    parser = build_parser()
    args = parser.parse_args(argv)
    # What the kiosk writes is private to its user, also when an admin runs a command from a
    # shell whose umask is 022 (the service has UMask=0077 anyway).
    umask = os.umask(0o077)
    try:
        result: int = args.func(args)
    except KioskError as exc:
        print(f"error: {exc.title}\n  {exc.detail}\n  next: {exc.next_step}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        os.umask(umask)
    return result


if __name__ == "__main__":
    sys.exit(main())
