"""`kiosk fake-tenant`: run the fake Entra ID tenant and Graph alone, until Ctrl+C.

It prints its URLs, the CA file to trust, demo credentials and a ready kiosk.toml snippet, so
anyone can point a real configuration (or curl) at it. The client secret it prints is a demo
secret made for this run of the fake tenant only: printing it is intended.
"""

from __future__ import annotations

import argparse
import signal
import time
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "fake-tenant",
        help="run the fake Entra ID tenant (HTTPS token endpoint + Graph) for demos and tests",
        description=__doc__,
    )
    p.add_argument("--users", type=int, default=25, help="users to seed (default 25)")
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: any)")
    p.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="where ca.pem, the app certificate and key go (default: a temporary directory)",
    )
    p.add_argument("--page-size", type=int, default=100, help="largest page Graph returns")
    p.add_argument("--rtt-ms", type=float, default=0.0, help="latency added to every request")
    p.add_argument("--seed", type=int, default=0, help="seed for names and faults")
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND@ROUTE[:WHEN]",
        help="inject a fault, e.g. 503@register:3 (3rd register call), 429@*:10%% (one call "
        "in ten), lost_response@register:1; repeatable",
    )
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from kiosk.entra.fake.demo_tenant import make_demo_tenant
    from kiosk.entra.fake.faults import parse_fault
    from kiosk.entra.fake.server import FakeTenant
    from kiosk.errors import KioskError

    if args.users < 0:
        raise KioskError("--users must be 0 or more.", title="Bad argument")
    if not 1 <= args.page_size <= 999:
        raise KioskError("--page-size must be from 1 to 999.", title="Bad argument")
    try:
        faults = [parse_fault(spec) for spec in args.fault]
    except ValueError as exc:
        raise KioskError(
            f"--fault {exc}",
            title="Bad argument",
            next_step="Write faults as KIND@ROUTE[:WHEN], e.g. 503@register:3 or 429@*:10%.",
        ) from None
    try:
        tenant = FakeTenant(
            args.state_dir,
            port=args.port,
            page_size=args.page_size,
            rtt_ms=args.rtt_ms,
            seed=args.seed,
        ).start()
    except OSError as exc:
        raise KioskError(
            f"The fake tenant could not listen on 127.0.0.1:{args.port} ({exc.strerror}).",
            title="Fake tenant did not start",
            next_step="Choose another --port, or leave it out to take any free port.",
        ) from None
    # Ctrl+C or SIGTERM from here on is a clean stop: the handlers are in place before the
    # configuration is printed, so a stop sent the moment it is read (a script, a test) ends
    # the tenant with status 0 instead of a KeyboardInterrupt between the print and the wait.
    # The handler only records the signal (taking a lock in it could deadlock the thread it
    # interrupts); the loop below looks at it.
    stopped: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: stopped.append(signum))
    signal.signal(signal.SIGINT, lambda signum, _frame: stopped.append(signum))
    try:
        for fault in faults:
            tenant.inject(fault)
        group = make_demo_tenant(tenant.state, args.users, seed=args.seed) if args.users else None
        print(
            describe(tenant, group.display_name if group else None, group.id if group else None),
            flush=True,
        )
        while not stopped:
            time.sleep(0.1)
    finally:
        tenant.stop()
    return 0


def describe(tenant: Any, group_name: str | None, group_id: str | None) -> str:
    users = list(tenant.state.users.values())
    lines = [
        "fake tenant running (Ctrl+C to stop)",
        f"  login URL      {tenant.login_url}",
        f"  authority      {tenant.authority}   (MSAL: instance_discovery=False)",
        f"  Graph URL      {tenant.graph_url}   (v1.0 and beta)",
        f"  trust CA       {tenant.ca_file}",
        f"  tenant id      {tenant.tenant_id}",
        f"  client id      {tenant.client_id}",
        f"  app cert/key   {tenant.certificate_file}  {tenant.private_key_file}",
        f"  client secret  {tenant.client_secret}   (demo secret of this fake tenant only)",
        f"  secret file    {tenant.client_secret_file}",
    ]
    if group_name:
        lines.append(f"  group          {group_name!r}  id {group_id}  ({len(users)} users)")
    if users:
        lines.append(f"  a user         {users[0].user_principal_name}")
    for fault in tenant.faults.faults:
        when = (
            ",".join(str(c) for c in sorted(fault.calls))
            if fault.calls
            else f"{fault.probability:.0%} of calls"
        )
        lines.append(f"  fault          {fault.kind} on {fault.route}: {when}")
    lines += ["", "kiosk.toml:", "", tenant.kiosk_toml("certificate")]
    return "\n".join(lines)
