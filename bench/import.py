"""Benchmark: import a CSV of ``--rows`` users at ``--rtt-ms`` round-trip time.

The kiosk's own engine (``kiosk.wiring.build_kiosk`` in a ``DemoEnvironment``) imports a CSV
whose rows are all users the fake tenant knows (one of them a B2B guest), so every row is a
Graph lookup. The fake tenant adds ``--rtt-ms`` to every HTTP request (once per ``$batch``,
whatever it holds). The token is fetched before the clock starts (a running kiosk already
holds one); the time covers ``engine.import_csv`` from reading the file to the queue written.

Prints one JSON object: ``rows``, ``rtt_ms``, ``seconds`` and ``requests`` (HTTP requests the
import sent to Graph) with JSON batching, ``floor_seconds`` (those requests, 4 at a time, at
one RTT each: what batching allows at all), the same under ``unbatched`` with batching switched
off (one GET per user, 8 at a time; skip with ``--batched-only``), and ``same_report`` (both
imports queued the same users).

Usage: ``.venv/bin/python bench/import.py [--rows 5000] [--rtt-ms 200] [--batched-only]``
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kiosk.demo.environment import DemoEnvironment  # noqa: E402
from kiosk.entra.batch import BATCHES_IN_FLIGHT  # noqa: E402


def run(rows: int, rtt_ms: float, batching: bool) -> dict[str, Any]:
    with DemoEnvironment(
        users=rows, latency="none", operator="bench", sync_group=False
    ) as env, tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        assert env.kiosk is not None  # noqa: S101 - started by the context manager
        upns = sorted(u.user_principal_name for u in env.tenant.state.users.values())
        path = Path(tmp) / "users.csv"
        path.write_text("upn\n" + "\n".join(upns) + "\n", encoding="utf-8")
        env.kiosk.graph.batching = batching
        env.kiosk.graph.http.tokens.token()
        env.tenant.faults.rtt_ms = rtt_ms
        before = len(env.tenant.routes_called())
        start = time.perf_counter()
        report = env.kiosk.engine.import_csv(path)
        seconds = time.perf_counter() - start
        calls = list(env.tenant.routes_called())[before:]
        batches = sum(1 for _m, route, _s in calls if route == "batch")
        singles = sum(1 for _m, route, _s in calls if route == "user")
        return {
            "rows": len(upns),
            "seconds": round(seconds, 2),
            "requests": batches if batching else singles,
            "lookups": singles,
            "added": report.added,
            "problems": len(report.problems),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--rtt-ms", type=float, default=200.0)
    parser.add_argument("--batched-only", action="store_true")
    args = parser.parse_args()
    batched = run(args.rows, args.rtt_ms, batching=True)
    out: dict[str, Any] = {
        "rows": batched["rows"],
        "rtt_ms": args.rtt_ms,
        "seconds": batched["seconds"],
        "requests": batched["requests"],
        "floor_seconds": round(
            math.ceil(batched["requests"] / BATCHES_IN_FLIGHT) * args.rtt_ms / 1000.0, 2
        ),
        "problems": batched["problems"],
    }
    if not args.batched_only:
        single = run(args.rows, args.rtt_ms, batching=False)
        out["unbatched"] = {"seconds": single["seconds"], "requests": single["requests"]}
        out["same_report"] = (single["added"], single["problems"]) == (
            batched["added"],
            batched["problems"],
        )
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
