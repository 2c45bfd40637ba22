"""`kiosk operator add NAME [--admin]`: ask for a PIN twice and print the TOML to paste."""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kiosk.errors import KioskError

if TYPE_CHECKING:
    from kiosk.keys.types import HidBackend


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "operator", help="Manage kiosk operators (PIN hashes for kiosk.toml)."
    )
    sub = parser.add_subparsers(dest="operator_command", metavar="ACTION")
    sub.required = True
    add = sub.add_parser(
        "add",
        help="Ask for a PIN twice (not echoed) and print the [[kiosk.operators]] entry.",
    )
    add.add_argument("name", help="Operator's name as shown at sign-in.")
    add.add_argument(
        "--key",
        action="store_true",
        help="Also register the operator's own FIDO2 key for sign-in (insert it, touch it).",
    )
    add.add_argument(
        "--hidraw", default="/dev/hidraw*", help="Where to look for the key (with --key)."
    )
    add.add_argument(
        "--admin",
        action="store_true",
        help="Make the admin PIN instead (prints kiosk.admin_pin_hash).",
    )
    add.set_defaults(func=handle_add)


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else " " for c in escaped) + '"'


def snippet(name: str, pin_hash: str, *, admin: bool, key_credential: str = "") -> str:
    """The TOML text to paste into kiosk.toml."""
    if admin:
        return (
            f"# Admin PIN, made by {name}: put this line in the [kiosk] section.\n"
            f"admin_pin_hash = {_toml_string(pin_hash)}\n"
        )
    text = (
        f"[[kiosk.operators]]\nname = {_toml_string(name)}\n"
        f"pin_hash = {_toml_string(pin_hash)}\n"
    )
    if key_credential:
        text += f"key_credential = {_toml_string(key_credential)}\n"
    return text


def register_key(
    name: str,
    backend: HidBackend,
    *,
    timeout: float = 60.0,
    say: Callable[[str], None] = print,
) -> str:
    """Wait for one key in ``backend``, make the operator credential on it (a touch)."""
    from kiosk.tui.operator_key import enroll

    say("Insert the operator's key (only that one)...")
    deadline = time.monotonic() + timeout
    while True:
        found = backend.list_descriptors()
        if len(found) == 1:
            break
        if time.monotonic() > deadline:
            raise KioskError(
                f"{len(found)} keys were found; exactly one is needed.",
                title="No operator key",
                next_step="Insert the operator's key alone and run the command again.",
            )
        time.sleep(0.2)
    device = backend.open(found[0])
    try:
        return enroll(device, name, lambda: say("Touch the key now (it blinks)."))
    finally:
        device.close()


def read_new_pin(prompt: Callable[[str], str] | None = None) -> str:
    """Ask for a PIN twice without echo; raise a KioskError when they differ."""
    prompt = prompt or getpass.getpass
    first = prompt("New PIN: ")
    second = prompt("Same PIN again: ")
    if not secrets_equal(first, second):
        raise KioskError(
            "The two PINs you typed are not the same.",
            title="PINs differ",
            next_step="Run the command again and type the same PIN twice.",
        )
    return first


def secrets_equal(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def handle_add(args: argparse.Namespace) -> int:
    from kiosk.tui.auth import hash_pin

    name = str(args.name).strip()
    if not name:
        raise KioskError(
            "The operator name is empty.",
            title="No name",
            next_step="Give the operator's name, e.g. `kiosk operator add 'Ana Silva'`.",
        )
    pin = read_new_pin()
    pin_hash = hash_pin(pin)
    key_credential = ""
    if getattr(args, "key", False) and not args.admin:
        from kiosk.keys.hid import RealHidBackend

        key_credential = register_key(name, RealHidBackend(args.hidraw), say=_stderr)
    print(snippet(name, pin_hash, admin=bool(args.admin), key_credential=key_credential), end="")
    return 0


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
