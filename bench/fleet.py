"""A fleet's throughput and its claims: 1, 2 and 4 stations over one PostgreSQL queue.

For each station count, ``--users`` users are enrolled by that many station processes
(:mod:`kiosk.demo.station`: hardware-like virtual keys, a robot operator), with the fake
tenant adding ``--rtt-ms`` to every Graph request, on a fresh database of a real PostgreSQL
server started for the run (initdb + pg_ctl, TLS verify-full, as in the tests).
``keys_per_hour_N`` counts users enrolled per hour of wall time from the users being
queued (the stations are up and waiting, as on a running line) to the last user done;
``scaling_4`` is ``keys_per_hour_4 / keys_per_hour_1``. The tenant is the judge:
``double_enrollments`` are users holding more than one FIDO2 method after a run,
``lost_users`` users holding none. ``claim_p95_ms`` is the 95th percentile of the time to
claim the next user (one claim statement, client side) with ``--claimers`` simulated
stations (processes) claiming and finishing users of one queue at once.
``claim_server_p95_ms`` is the same claims' time inside the server (its statement log:
planning, index, row locks, commit), so the rest of ``claim_p95_ms`` is the round trip and
the wait for a CPU on the client and server side.

    .venv/bin/python bench/fleet.py             # prints one JSON object
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.store import Store
from kiosk.store.queue import NewUser
from tests.fixtures.fleet import Fleet
from tests.fixtures.pgserver import PgServer


def throughput(server: PgServer, stations: int, users: int, rtt_ms: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="kiosk-fleet-bench-") as tmp, Fleet(
        server, Path(tmp), users, rtt_ms=rtt_ms, latency="hardware", fill=False
    ) as fleet:
        for i in range(stations):
            fleet.start(f"station{i + 1}", i)
        fleet.wait_ready(stations)  # the line is running; then the users arrive
        started = time.monotonic()
        fleet.queue_users()
        fleet.wait_done(users, timeout=3600)
        seconds = time.monotonic() - started
        fleet.wait(timeout=120)
        per_user = fleet.methods_per_user()
        return {
            "keys_per_hour": round(users / seconds * 3600, 1),
            "seconds": round(seconds, 1),
            "double": sum(1 for n in per_user.values() if n > 1),
            "lost": sum(1 for n in per_user.values() if n == 0),
        }


def _claimer(url: str, password_file: str, name: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store = Store(url, station=name, password_file=password_file)
    times: list[float] = []
    while True:
        start = time.perf_counter()
        store.queue.claims.claim(1, None, held=0, renew=False)
        times.append((time.perf_counter() - start) * 1000)
        held = store.queue.claims.held()
        if not held:
            break
        entry = held[0]
        attempt = store.journal.start(int(entry["id"]), str(entry["user_id"]), str(entry["upn"]),
                                      name)
        store.journal.complete(attempt)
    store.close()
    out.put(times[:-1])  # the last claim found nothing left


_CLAIM_LOGGED = re.compile(
    r"duration: ([0-9.]+) ms +(?:statement|execute [^:]*): UPDATE queue SET station"
)


def claim_times(server: PgServer, claimers: int, users: int) -> tuple[list[float], list[float]]:
    """Client-side and server-side claim times, in ms."""
    url = server.new_database()
    dbname = urlsplit(url).path.lstrip("/")
    server.admin_sql(f"ALTER DATABASE {dbname} SET log_min_duration_statement = 0")
    store = Store(url, station="import", password_file=str(server.password_file))
    store.queue.add(NewUser(f"c{i:05d}@contoso.test", f"cid-{i:05d}") for i in range(users))
    store.close()
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [
        ctx.Process(target=_claimer, args=(url, str(server.password_file), f"sim{i}", out))
        for i in range(claimers)
    ]
    for p in procs:
        p.start()
    times: list[float] = []
    for _ in procs:
        times += out.get(timeout=600)
    for p in procs:
        p.join(60)
    log = (server.root / "server.log").read_text(errors="replace")
    return times, [float(m.group(1)) for m in _CLAIM_LOGGED.finditer(log)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--rtt-ms", type=float, default=200.0)
    parser.add_argument("--stations", default="1,2,4", help="station counts; '' for none")
    parser.add_argument("--claimers", type=int, default=20)
    parser.add_argument("--claim-users", type=int, default=2000)
    args = parser.parse_args()
    server = PgServer.create()
    try:
        result: dict[str, float | int] = {}
        double = lost = 0
        for n in (int(x) for x in args.stations.split(",") if x.strip()):
            run = throughput(server, n, args.users, args.rtt_ms)
            result[f"keys_per_hour_{n}"] = run["keys_per_hour"]
            result[f"seconds_{n}"] = run["seconds"]
            double += int(run["double"])
            lost += int(run["lost"])
            print(json.dumps({f"stations_{n}": run}), file=sys.stderr, flush=True)
        if "keys_per_hour_1" in result and "keys_per_hour_4" in result:
            result["scaling_4"] = round(
                float(result["keys_per_hour_4"]) / float(result["keys_per_hour_1"]), 2
            )
        result["double_enrollments"] = double
        result["lost_users"] = lost
        claims, inside = claim_times(server, args.claimers, args.claim_users)
        result["claim_p95_ms"] = round(statistics.quantiles(claims, n=20)[18], 2)
        result["claim_p50_ms"] = round(statistics.median(claims), 2)
        result["claim_server_p95_ms"] = round(statistics.quantiles(inside, n=20)[18], 2)
        result["load_average_1min"] = round(os.getloadavg()[0], 2)
    finally:
        server.destroy()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
