"""`kiosk operator add NAME [--admin] [--key]`: ask for a PIN twice and print the TOML to paste.

The PIN must follow the rules of generated key PINs (no runs like 111 or 123, not a common
PIN or a year) and have at least 6 characters: a hash cannot be checked later, so this is
where a weak PIN is refused.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kiosk.commands import action, add_actions
from kiosk.errors import KioskError

if TYPE_CHECKING:
    from kiosk.keys.types import HidBackend


def register(subparsers: Any) -> None:
    actions = add_actions(
        subparsers, "operator", "Manage kiosk operators (PIN hashes for kiosk.toml)."
    )
    with action(
        actions, "add", handle_add, config=False,
        help="Ask for a PIN twice (not echoed) and print the [[kiosk.operators]] entry.",
    ) as add:
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
            help='Make this person an admin (role = "admin": admin screen and exit).',
        )


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else " " for c in escaped) + '"'


def snippet(name: str, pin_hash: str, *, admin: bool, key_credential: str = "") -> str:
    """The [[kiosk.operators]] table to paste into kiosk.toml."""
    text = f"[[kiosk.operators]]\nname = {_toml_string(name)}\n"
    if admin:
        text += 'role = "admin"\n'
    text += f"pin_hash = {_toml_string(pin_hash)}\n"
    if key_credential:
        text += f"key_credential = {_toml_string(key_credential)}\n"
    return text


def register_key(
    name: str,
    backend: HidBackend,
    *,
    timeout: float = 60.0,
    say: Callable[[str], None] = print,
    key_pin: Callable[[], str] | None = None,
) -> str:
    """Wait for one key in ``backend``, make the operator credential on it (a touch; with
    the key's own PIN, asked through ``key_pin``, when the key has one)."""
    from kiosk.keys.assertion import has_pin
    from kiosk.operators.key_sign_in import enroll

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
        pin = None
        if has_pin(device):
            pin = (key_pin or (lambda: _ask("The key's own PIN: ")))()
        else:
            say(
                "This key has no PIN. Sign-in with it asks for the key's PIN unless the admin "
                "sets kiosk.operator_key_verification = false: set a PIN on the key first."
            )
        return enroll(device, name, pin=pin, on_touch=lambda: say("Touch the key now (it blinks)."))
    finally:
        device.close()


def _ask(prompt: str, ask: Callable[[str], str] | None = None) -> str:
    """One hidden answer; the end of input is a clear error, not a traceback."""
    try:
        return (ask or getpass.getpass)(prompt)
    except (EOFError, KeyboardInterrupt):
        raise KioskError(
            "The input ended before the PIN was typed.",
            title="No PIN typed",
            next_step="Run the command again in a terminal and type the PIN twice.",
        ) from None


def read_new_pin(prompt: Callable[[str], str] | None = None) -> str:
    """Ask for a PIN twice without echo; raise a KioskError when they differ or the PIN is
    weak (the detail says which rule, never the PIN)."""
    from kiosk.enroll.pins import pin_problem
    from kiosk.operators.pin_hash import MIN_PIN_LENGTH

    first = _ask("New PIN: ", prompt)
    problem = pin_problem(unicodedata.normalize("NFC", first), MIN_PIN_LENGTH)
    if problem is not None:
        raise KioskError(
            f"The PIN was not accepted: {problem}.",
            title="PIN too weak",
            next_step=f"Run the command again with a PIN of at least {MIN_PIN_LENGTH} "
            "characters, without runs (111, 123), not a common PIN or a year.",
        )
    second = _ask("Same PIN again: ", prompt)
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
    from kiosk.operators.pin_hash import hash_pin

    name = str(args.name).strip()
    if not name:
        raise KioskError(
            "The operator name is empty.",
            title="No name",
            next_step="Give the operator's name, e.g. `kiosk operator add 'Ana Silva'`.",
        )
    pin = read_new_pin()
    pin_hash = hash_pin(unicodedata.normalize("NFC", pin))
    key_credential = ""
    if getattr(args, "key", False):
        from kiosk.keys.hid import RealHidBackend

        key_credential = register_key(name, RealHidBackend(args.hidraw), say=_stderr)
    print(snippet(name, pin_hash, admin=bool(args.admin), key_credential=key_credential), end="")
    return 0


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
