"""`kiosk demo`: the whole kiosk on the virtual key and the fake tenant."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiosk.config import Settings

IDLE_HELP = ("Lock the kiosk after this many minutes without a key press (default 5, as "
             "kiosk.idle_lock_minutes; from 0.5), to show the idle lock without a long wait.")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="Run the kiosk on virtual security keys and a local fake tenant (for training).",
        description=(
            "Starts a local fake Entra tenant with demo users and runs the kiosk on virtual "
            "security keys. Interactive by default (F2 plug a key, F3 touch it, F4 pull it); "
            "--headless enrolls every demo user with a simulated operator and prints one "
            "JSON line."
        ),
    )
    parser.add_argument("--users", type=int, default=12, help="Demo users (default 12).")
    parser.add_argument(
        "--headless", action="store_true", help="No screen: enroll everyone, print JSON."
    )
    parser.add_argument(
        "--latency",
        choices=("none", "hardware"),
        default=None,
        help="Virtual key speed (default: hardware-like interactive, none headless).",
    )
    parser.add_argument(
        "--rtt-ms", type=float, default=0.0, help="Round-trip time the fake tenant adds."
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="Keep the demo here: started again with the same directory (after an exit or "
        "kill -9) it goes on with the same tenant, users, keys and records (default: a "
        "temporary directory removed at exit).",
    )
    parser.add_argument(
        "--returns", type=int, default=0,
        help="Headless: after enrolling, take this many keys back and enroll them again.",
    )
    parser.add_argument(
        "--mishaps", action="store_true",
        help="Headless: the robot operator makes a shift's ordinary mistakes (two keys, the "
        "operator's own key, a key pulled mid-touch, a full and a used key, a skip then a "
        "requeue, a backup key); prints what the records say about it as one JSON line.",
    )
    parser.add_argument("--seed", type=int, default=0, help="Seed for demo names and faults.")
    parser.add_argument(
        "--print", dest="paper", action="store_true",
        help="Headless: print each key's label and PIN mailer (to a CUPS-PDF queue where "
        "CUPS has one, else PDF files in the state directory). The interactive demo always "
        "prints.",
    )
    parser.add_argument(
        "--glyphs",
        choices=("auto", "unicode", "console"),
        default="auto",
        help="Symbols: console = ASCII for the Linux text console (default: auto, from TERM).",
    )
    parser.add_argument("--idle-lock", type=_idle_minutes, metavar="MINUTES", help=IDLE_HELP)
    parser.set_defaults(func=handle)


def _idle_minutes(text: str) -> float:
    from kiosk.config import KioskSettings

    check = next(f for f in dataclasses.fields(KioskSettings) if f.name == "idle_lock_minutes")
    try:
        minutes = float(text)
    except ValueError:
        minutes = float("nan")
    problem = check.metadata["check"](minutes)
    if problem:
        raise argparse.ArgumentTypeError(f"{text!r}: give {problem} (minutes)")
    return minutes


def handle(args: argparse.Namespace) -> int:
    from kiosk.entra.fake.snapshot import SnapshotError

    try:
        return _handle(args)
    except SnapshotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if args.state_dir is None or not args.headless:
            raise
        print(f"error: the demo cannot use its state directory {args.state_dir}: "
              f"{exc.strerror or exc}. Give another --state-dir.", file=sys.stderr)
        return 2


def _handle(args: argparse.Namespace) -> int:
    if args.users < 1:
        print("error: --users must be at least 1", file=sys.stderr)
        return 2
    if args.mishaps and not args.headless:
        print("error: --mishaps needs --headless", file=sys.stderr)
        return 2
    if args.mishaps:
        from kiosk.demo.shift import run_mishaps

        shift = run_mishaps(args.users, state_dir=args.state_dir, seed=args.seed)
        print(shift.to_json(), flush=True)
        return 0 if shift.ok else 1
    if args.headless:
        from kiosk.demo.headless import run_headless

        result = run_headless(
            args.users,
            latency=args.latency or "none",
            rtt_ms=args.rtt_ms,
            state_dir=args.state_dir,
            seed=args.seed,
            paper=args.paper,
            returns=max(0, min(args.returns, args.users)),
        )
        print(result.to_json(), flush=True)
        return 0 if result.ok else 1
    return _interactive(args)


def _interactive(args: argparse.Namespace) -> int:
    if args.state_dir is not None:  # a kept demo that cannot start says so before its screen
        from kiosk.demo.environment import check_kept

        check_kept(args.state_dir)
    from kiosk.tui.demo import run_demo_lazily

    def make_env() -> Any:
        # Built in a worker while the sign-in screen is already up (first frame fast).
        from kiosk.demo.environment import DemoEnvironment

        env = DemoEnvironment(
            users=args.users,
            latency=args.latency or "hardware",
            rtt_ms=args.rtt_ms,
            state_dir=args.state_dir,
            seed=args.seed,
            paper=True,
        )
        try:
            env.start()
        except BaseException:
            env.close()
            raise
        return env

    from kiosk.tui.glyphs import choose

    # A closed terminal (SIGHUP) or a stop (SIGTERM) ends the demo like its Exit: the demo's
    # temporary state (sealed demo PINs, the demo helpdesk key) is removed, not left behind.
    for signum in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, _end_demo)
    from kiosk.demo.operators import DEMO_BANNER, DEMO_SIGN_IN

    start = _start_settings(args.idle_lock)
    return run_demo_lazily(make_env, start, banner=DEMO_BANNER, sign_in_note=DEMO_SIGN_IN,
                           glyphs=choose(args.glyphs))


def _start_settings(idle_lock: float | None) -> Settings:
    """The settings the kiosk starts with (its idle lock is made from them)."""
    from kiosk.config import Settings
    from kiosk.demo.operators import demo_settings

    start = demo_settings(Settings(source="kiosk demo"))
    if idle_lock is None:
        return start
    kiosk = dataclasses.replace(start.kiosk, idle_lock_minutes=idle_lock)
    return dataclasses.replace(start, kiosk=kiosk)


def _end_demo(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)
