"""`kiosk export`: write the shipping manifest (CSV and JSON) of every enrolled key."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kiosk.commands import add_config_option


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "export",
        help="Write the shipping manifest (CSV and JSON): every user, their state, their keys.",
        description=(
            "Write the shipping manifest as CSV and JSON: every user of the batch with their "
            "state (enrolled, pending, failed, skipped and why); for each key its serial, the "
            "person's name, the key's label, AAGUID, model and time. Never a PIN."
        ),
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="Directory for the manifest (default: store.manifest_directory).",
    )
    add_config_option(parser)
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from kiosk.config import load
    from kiosk.keys.hid import RealHidBackend
    from kiosk.wiring import build_kiosk

    settings = load(args.config)
    directory = args.dir or Path(settings.store.manifest_directory)
    kiosk = build_kiosk(settings, RealHidBackend())
    try:
        paths = kiosk.engine.export_manifest(directory)
    finally:
        kiosk.close()
    for path in paths:
        print(path)
    return 0
