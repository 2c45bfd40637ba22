"""One module per `kiosk` subcommand. Each exposes ``register(subparsers)``; heavy imports
(Textual, MSAL, fido2 devices) happen inside the handler, never at registration, so that
`kiosk audit verify` starts fast and the core never drags in the TUI."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

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


Handler = Callable[[argparse.Namespace], int]
"""What runs a (sub)command: the parsed arguments in, the exit code out."""


def add_actions(subparsers: Any, name: str, help: str, description: str | None = None) -> Any:
    """`kiosk NAME ACTION ...`: a command made of actions, one of which must be given; add
    them to what this returns with :func:`action`."""
    parser = subparsers.add_parser(name, help=help, description=description)
    actions = parser.add_subparsers(dest=f"{name}_command", metavar="ACTION")
    actions.required = True
    return actions


@contextmanager
def action(
    actions: Any, name: str, handler: Handler, *, config: bool = True, **texts: str
) -> Iterator[argparse.ArgumentParser]:
    """One action of :func:`add_actions` (``help=``, ``description=``): its own arguments are
    added inside the ``with``; then ``--config`` (unless ``config=False``), last, and the
    handler."""
    parser: argparse.ArgumentParser = actions.add_parser(name, **texts)
    yield parser
    if config:
        add_config_option(parser)
    parser.set_defaults(func=handler)
