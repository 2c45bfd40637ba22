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
            "person's name, the key's label, AAGUID, model and time. Never a PIN. Then the "
            "keys that need a reset before reuse (left holding the kiosk's PIN or an "
            "unregistered credential), by serial and reason."
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
    from kiosk.model.text import clean
    from kiosk.wiring import build_kiosk

    settings = load(args.config)
    directory = args.dir or Path(settings.store.manifest_directory)
    kiosk = build_kiosk(settings, RealHidBackend())
    try:
        paths = kiosk.engine.export_manifest(directory)
        needing = kiosk.engine.keys_needing_reset()
    finally:
        kiosk.close()
    for path in paths:
        print(path)
    print(f"Keys to reset before reuse: {len(needing)}")  # left holding the kiosk's PIN or a
    for key in needing:  # credential Entra does not know (inventory state needs_reset)
        print(f"  {clean(key.serial)}: {clean(key.reason)}")
    return 0
