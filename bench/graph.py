"""Benchmark: load a 50,000-member group through our Graph client at 50 ms round-trip time.

Prints one JSON object: ``members``, ``pages``, ``rtt_ms``, ``seconds``, ``ideal_seconds``
(pages x RTT), ``ratio``, ``peak_rss_mb`` and the targets (ratio <= 1.10, peak_rss_mb <= 200).

The fake tenant runs in a separate process (this script re-run with ``--serve``), so
``peak_rss_mb`` is the peak resident set of the client process alone: the Python interpreter,
MSAL, requests, cryptography and our client, measured with ``getrusage(RUSAGE_SELF)``.
``floor_seconds`` is the same pages read by the barest possible loop (a plain requests.Session
and ``json.loads``, no users built, each page decoded before the next is asked for), so
``floor_ratio`` is what a plain sequential reader gets on this machine; our client can go below
it because it reads the next link from a page's head and asks for the next page first
(kiosk/entra/paging.py).
``rss_before_mb`` is the same figure just before the group is loaded, so the growth due to the
load itself is visible too. ``overhead_ms_per_page`` is what each page cost beyond the RTT (client,
TLS and the fake's own work together); ``fake_dispatch_ms_per_page`` is the part the fake spent
routing and building the page. The token is fetched before the clock starts (a running kiosk
already holds one); the time covers every page request from the first to the last user.

Usage: ``.venv/bin/python bench/graph.py [--members 50000] [--rtt-ms 50] [--page-size 999]
[--gzip-level N]`` (``--gzip-level`` 1..9: the fake gzips pages as Graph does).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_RATIO = 1.10
TARGET_RSS_MB = 200.0


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def serve(members: int, rtt_ms: float, page_size: int, gzip_level: int) -> None:
    """Child process: a fake tenant with one big group (some of it nested), until stdin closes."""
    from kiosk.entra.fake import server as server_module
    from kiosk.entra.fake.server import FakeTenant

    with FakeTenant(page_size=page_size, rtt_ms=0.0) as tenant:
        state = tenant.state
        nested_count = members // 5
        users = [state.add_user(f"user{i:06d}@{state.domain}", f"User {i}") for i in range(members)]
        wave2 = state.add_group("Bench wave 2", users[:nested_count])
        device = state.add_device("KIOSK-01")
        group = state.add_group("Bench rollout", [wave2, device, *users[nested_count:]])
        state.transitive_member_ids(group.id)  # warm the fake's cache
        tenant.faults.rtt_ms = rtt_ms
        tenant.gzip_level = max(0, gzip_level)
        info = {
            "tenant_id": tenant.tenant_id,
            "client_id": tenant.client_id,
            "login_url": tenant.login_url,
            "graph_url": tenant.graph_url,
            "ca_bundle": str(tenant.ca_file),
            "certificate_file": str(tenant.certificate_file),
            "private_key_file": str(tenant.private_key_file),
            "group_id": group.id,
        }
        busy = {"seconds": 0.0, "pages": 0}
        dispatch = tenant.dispatch
        wait_until = server_module._wait_until
        waited = threading.local()

        def timed_wait(deadline: float) -> None:
            start = time.perf_counter()
            wait_until(deadline)
            waited.seconds = time.perf_counter() - start

        def timed(req: Any) -> Any:
            # The fake's own work per request (its RTT wait excluded), to report separately.
            start = time.perf_counter()
            waited.seconds = 0.0
            outcome = dispatch(req)
            if "transitiveMembers" in req.target:
                busy["seconds"] += time.perf_counter() - start - waited.seconds
                busy["pages"] += 1
            return outcome

        server_module._wait_until = timed_wait  # type: ignore[assignment]
        tenant.dispatch = timed  # type: ignore[method-assign]
        print(json.dumps(info), flush=True)
        sys.stdin.readline()
        print(json.dumps(busy), flush=True)
        sys.stdin.read()


def _floor_seconds(info: dict[str, Any], token: str) -> float:
    """The same pages read by the barest client: one requests.Session, a loop, json.loads.

    What a plain sequential reader costs per page on this machine: each page decoded before
    the next one is asked for (our client asks first, so it can do better).
    """
    import requests

    from kiosk.entra.graph import USER_SELECT

    session = requests.Session()
    session.trust_env = False
    session.verify = info["ca_bundle"]
    url: str | None = (
        f"{info['graph_url']}/v1.0/groups/{info['group_id']}/transitiveMembers"
        f"?$select={USER_SELECT}&$top=999"
    )
    headers = {"Authorization": "Bearer " + token}
    # Open the connection first, untimed, as our client's is (by its token request): the fake
    # charges a new connection its TCP and TLS round trips.
    session.get(f"{info['graph_url']}/v1.0/groups/{info['group_id']}", headers=headers, timeout=60)
    start = time.perf_counter()
    while url:
        data = json.loads(session.get(url, headers=headers, timeout=60).content)
        url = data.get("@odata.nextLink")
    return time.perf_counter() - start


def measure(info: dict[str, Any], rtt_ms: float) -> dict[str, Any]:
    from kiosk.config import GraphSettings, Settings, TenantSettings
    from kiosk.entra.auth import TokenProvider
    from kiosk.entra.graph import GraphClient
    from kiosk.entra.http import make_session
    from kiosk.entra.secrets import load_credential
    from kiosk.model.timing import Timing

    tenant = TenantSettings(
        tenant_id=info["tenant_id"],
        client_id=info["client_id"],
        login_url=info["login_url"],
        graph_url=info["graph_url"],
        ca_bundle=info["ca_bundle"],
        certificate_file=info["certificate_file"],
        private_key_file=info["private_key_file"],
    )
    settings = Settings(tenant=tenant, graph=GraphSettings())
    session = make_session(tenant, settings.graph)
    tokens = TokenProvider(settings, load_credential(tenant, env={}), session)
    pages: list[Timing] = []
    graph = GraphClient(settings, tokens, session, on_timing=pages.append)
    tokens.token()
    rss_before = _rss_mb()
    start = time.perf_counter()
    count = 0
    for _user in graph.iter_group_users(info["group_id"]):
        count += 1
    seconds = time.perf_counter() - start
    n_pages = sum(1 for t in pages if t.status == 200)
    ideal = n_pages * rtt_ms / 1000.0
    peak = _rss_mb()
    floor = _floor_seconds(info, tokens.token())
    ratio = seconds / ideal if ideal else 0.0
    return {
        "members": count,
        "pages": n_pages,
        "rtt_ms": rtt_ms,
        "seconds": round(seconds, 3),
        "ideal_seconds": round(ideal, 3),
        "ratio": round(ratio, 3),
        "peak_rss_mb": round(peak, 1),
        "rss_before_mb": round(rss_before, 1),
        "floor_seconds": round(floor, 3),
        "floor_ratio": round(floor / ideal, 3) if ideal else 0.0,
        "targets": {"ratio": TARGET_RATIO, "peak_rss_mb": TARGET_RSS_MB},
        "ok": ratio <= TARGET_RATIO and peak <= TARGET_RSS_MB,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--rtt-ms", type=float, default=50.0)
    parser.add_argument("--page-size", type=int, default=999)
    parser.add_argument(
        "--gzip-level", type=int, default=0,
        help="gzip the pages as Graph does, at this zlib level 1..9 (default: plain JSON)",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.members, args.rtt_ms, args.page_size, args.gzip_level)
        return 0
    child = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--serve",
            "--members",
            str(args.members),
            "--rtt-ms",
            str(args.rtt_ms),
            "--page-size",
            str(args.page_size),
            "--gzip-level",
            str(args.gzip_level),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    if child.stdout is None or child.stdin is None:
        return 1
    try:
        line = child.stdout.readline()
        if not line:
            print(json.dumps({"error": "the fake tenant process did not start"}))
            return 1
        result = measure(json.loads(line), args.rtt_ms)
        child.stdin.write("done\n")
        child.stdin.flush()
        busy = json.loads(child.stdout.readline() or "{}")
        result["overhead_ms_per_page"] = round(
            (result["seconds"] - result["ideal_seconds"]) * 1000.0 / max(1, result["pages"]), 2
        )
        if busy.get("pages"):
            # of which the fake's own routing and JSON building (not its TLS write)
            result["fake_dispatch_ms_per_page"] = round(
                float(busy["seconds"]) * 1000.0 / busy["pages"], 2
            )
    finally:
        if child.stdin is not None:
            child.stdin.close()
        child.wait(timeout=30)
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
