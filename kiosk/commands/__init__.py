"""One module per `kiosk` subcommand. Each exposes ``register(subparsers)``; heavy imports
(Textual, MSAL, fido2 devices) happen inside the handler, never at registration, so that
`kiosk audit verify` starts fast and the core never drags in the TUI."""

from __future__ import annotations

import argparse
import os

DEFAULT_CONFIG = "/etc/fido-kiosk/kiosk.toml"


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """``--config``: the kiosk.toml to use, by default $KIOSK_CONFIG or :data:`DEFAULT_CONFIG`
    (read when the parser is built)."""
    parser.add_argument(
        "--config",
        default=os.environ.get("KIOSK_CONFIG", DEFAULT_CONFIG),
        help=f"kiosk.toml to use (default: $KIOSK_CONFIG or {DEFAULT_CONFIG}).",
    )


def config_or_default(given: str | None) -> str:
    """The kiosk.toml named on the command line, else $KIOSK_CONFIG (when not empty), else
    :data:`DEFAULT_CONFIG`."""
    return given or os.environ.get("KIOSK_CONFIG") or DEFAULT_CONFIG
