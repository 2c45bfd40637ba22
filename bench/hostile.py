"""Hostile inputs against the kiosk: does it hold, crash or lose a record?

One attack per group of the adversarial review (a crash in the TUI, Ctrl+C at start, a key
serial reading ``PIN: 11111111``, a sealed PIN with a flipped bit, escape sequences in a
display name, a PIN left on screen, operator entries of the wrong type, an admin task failing,
a Graph that sends too much, too slowly, in a loop or elsewhere, a broken store or trail,
bad settings, a huge CSV, the process's dumpability). Each attack says ``held`` (a clear
error or the right behaviour, nothing lost), ``failed`` (the kiosk did the wrong thing) or
``crashed`` (an exception escaped). ``records_lost`` counts credentials registered in the
(fake) tenant without their ``enrolled`` audit record.

``graph_peak_rss_mb`` is the peak RSS of a child process whose Graph call gets a 600 MB body;
``graph_call_seconds_max`` the longest Graph call under slow-loris answers (one byte every
0.25 s, in the body and in the headers) with ``graph.call_deadline_seconds`` = ``--deadline``.

    .venv/bin/python bench/hostile.py            # prints one JSON object
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
Result = tuple[str, int]
"""("held" | "failed", records lost)."""

SERVER = r'''
import sys, time, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        try:
            if self.path == "/big":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                block = b" " * (1 << 20)
                for _ in range(600):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
            elif self.path == "/slow-body":
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                for _ in range(100000):
                    self.wfile.write(b" "); self.wfile.flush(); time.sleep(0.25)
            elif self.path == "/slow-headers":
                for ch in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100000:
                    self.wfile.write(bytes([ch])); self.wfile.flush(); time.sleep(0.25)
        except OSError:
            pass

server = ThreadingHTTPServer(("127.0.0.1", 0), H)
server.daemon_threads = True
threading.Thread(target=server.serve_forever, daemon=True).start()
print(server.server_address[1], flush=True)
sys.stdin.read()
'''

CLIENT = r'''
import json, resource, sys, time
from kiosk.entra.http import GraphHttp, KioskSession, RetryPolicy
class Tokens:
    def token(self, *, force_refresh=False): return "t"
url, deadline = sys.argv[1], float(sys.argv[2])
http = GraphHttp(KioskSession(timeout=30.0, loopback_http=True), Tokens(),
                 RetryPolicy(max_retries=2), call_deadline=deadline)
start = time.monotonic()
try:
    http.request("GET", url, what="Get")
    outcome = "answered"
except Exception as exc:
    outcome = type(exc).__name__
print(json.dumps({"outcome": outcome, "seconds": time.monotonic() - start,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


class Graphs:
    """A misbehaving server in a child process, and clients in child processes (their RSS)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None  # noqa: S101 - a pipe was asked for
        self.base = f"http://127.0.0.1:{self.proc.stdout.readline().strip()}"

    def call(self, path: str, deadline: float) -> dict[str, Any]:
        out = subprocess.run(
            [sys.executable, "-c", CLIENT, self.base + path, str(deadline)],
            capture_output=True, text=True, timeout=deadline * 3 + 60, check=False,
            cwd=ROOT,
        )
        result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        return result

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


# -- the attacks ---------------------------------------------------------------------------


def tui_crash() -> Result:
    from kiosk.commands.run import run_tui
    from kiosk.config import Settings
    from kiosk.tui.app import KioskApp

    class Crashing(KioskApp):
        def on_mount(self) -> None:
            from rich.markup import render

            render("[/bold]x")

    code = run_tui(Crashing(None, Settings(), start_engine=False), headless=True)
    return ("held" if code != 0 else "failed", 0)


def ctrl_c_at_start() -> Result:
    code = (
        "import sys; sys.argv = ['kiosk', 'run']\nimport kiosk, os, signal, time\n"
        "os.kill(os.getpid(), signal.SIGINT)\ntime.sleep(0.1)\nprint('alive')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    return ("held" if "alive" in out.stdout else "failed", 0)


def hostile_key_strings() -> Result:
    """Three keys with hostile serials enroll three users; every credential has its record."""
    import dataclasses

    from kiosk.demo.environment import DemoEnvironment
    from kiosk.demo.robot import Robot, keys_from
    from kiosk.keys.virtual.device import VirtualKey
    from kiosk.keys.virtual.profiles import HOSTILE_STRINGS

    serials = ["PIN: 11111111", "X\nPIN: 22222222\x1b]0;owned\x07", "[/bold]x\u202e"]
    keys = [
        VirtualKey(dataclasses.replace(HOSTILE_STRINGS, hid_serial=s), auto_touch=0.0)
        for s in serials
    ]
    with DemoEnvironment(users=3, latency="none", operator="bench", escrow_mode="both") as env:
        robot = Robot(env.engine, env.port, keys_from(keys), touch_keys=False)
        robot.start(threaded=False)
        stop = threading.Event()
        runner = threading.Thread(target=env.engine.run, args=(stop,), daemon=True)
        runner.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and env.engine.counts().get("done", 0) < 3:
            time.sleep(0.05)
        stop.set()
        runner.join(15)
        trail = Path(env.settings.store.audit_path).read_text(encoding="utf-8")
        enrolled = [json.loads(x) for x in trail.splitlines() if '"event":"enrolled"' in x]
        methods = len(env.tenant.state.all_methods())
        lost = max(0, methods - len(enrolled))
        clean = "\x1b" not in trail and "PIN: 11111111" not in trail
        return ("held" if methods == 3 and lost == 0 and clean else "failed", lost)


def sealed_pin_bit_flip() -> Result:
    from datetime import UTC, datetime, timedelta

    from kiosk import x509util
    from kiosk.enroll.escrow import seal

    with tempfile.TemporaryDirectory() as tmp:
        key = x509util.rsa_key()
        now = datetime.now(UTC)
        cert = x509util.certificate(
            x509util.name("Helpdesk"), key, not_before=now - timedelta(days=1),
            not_after=now + timedelta(days=30),
        )
        cert_path, key_path = x509util.write_pair(cert, key, Path(tmp) / "c.pem", Path(tmp) / "k")
        blob = bytearray(seal("58294713", "a@contoso.com", "1", [cert]))
        blob[-20] ^= 1  # inside the GCM tag
        (Path(tmp) / "f.p7m").write_bytes(bytes(blob))
        out = subprocess.run(
            ["openssl", "cms", "-decrypt", "-inform", "DER", "-in", str(Path(tmp) / "f.p7m"),
             "-recip", str(cert_path), "-inkey", str(key_path)],
            capture_output=True, timeout=60, check=False,
        )
        return ("held" if out.returncode != 0 else "failed", 0)


def escape_sequences_in_names() -> Result:
    from kiosk.entra.graph_data import parse_user

    user = parse_user(
        {"id": "1", "userPrincipalName": "eve@x", "displayName": "\x1b]0;t\x07\x1b[41mEve\x9b"},
        "Get user",
    )
    return ("held" if "\x1b" not in user.display_name and "\x9b" not in user.display_name
            else "failed", 0)


def pin_left_on_screen() -> Result:
    from kiosk.config import EscrowSettings
    from kiosk.tui.screens.handover import HandoverScreen

    seconds = EscrowSettings().show_seconds
    screen = HandoverScreen("a@x", "12345678", shown_at=0.0, seconds=seconds)
    return ("held" if seconds <= 60 and screen.due(seconds) else "failed", 0)


def operator_entry_of_the_wrong_type() -> Result:
    from kiosk.config import parse
    from kiosk.errors import ConfigError

    try:
        parse('[[kiosk.operators]]\nname = 42\npin_hash = "x"\n')
    except ConfigError:
        return ("held", 0)
    return ("failed", 0)


def admin_task_failure() -> Result:
    from kiosk.tui.screens.admin import task_error_lines

    lines = task_error_lines(IsADirectoryError(21, "Is a directory"))
    return ("held" if lines[0].startswith("✘") and "next:" in lines[1] else "failed", 0)


def graph_loop_and_redirect(graphs: Graphs) -> Result:
    from kiosk.entra.errors import GraphResponseError
    from kiosk.entra.limits import PageGuard

    guard = PageGuard("List")
    guard.check(graphs.base + "/p1", 1)
    try:
        guard.check(graphs.base + "/p1", 2)
    except GraphResponseError:
        return ("held", 0)
    return ("failed", 0)


def store_and_trail() -> Result:
    """A trail cut at its tail, next to its database: refused when the kiosk opens them."""
    from kiosk.audit import AuditTrail
    from kiosk.config import Settings, StoreSettings
    from kiosk.trail_check import TrailMismatch, check_store_and_trail
    from kiosk.wiring import open_store

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.jsonl"
        settings = Settings(store=StoreSettings(path=f"{tmp}/kiosk.db", audit_path=str(path)))
        store, trail = open_store(settings), AuditTrail(path)
        trail.mirror = store.trail.put
        for i in range(5):
            trail.append("step", upn=f"u{i}@x")
        trail.close()
        store.close()
        path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:3]))
        store, trail = open_store(settings), AuditTrail(path)
        try:
            check_store_and_trail(store, trail)
        except TrailMismatch:
            return ("held", 0)
        finally:
            store.close()
            trail.close()
        return ("failed", 0)


def bad_settings() -> Result:
    from kiosk.config import parse
    from kiosk.errors import ConfigError

    cases = ["[graph]\ntimeout_seconds = nan\n", "[kiosk]\nidle_lock_minutes = -5\n",
             "[graph]\ngroup = " + "[" * 5000 + "]" * 5000 + "\n"]
    for text in cases:
        try:
            parse(text)
        except ConfigError:
            continue
        return ("failed", 0)
    return ("held", 0)


def huge_csv() -> Result:
    """A CSV far larger than any batch: refused by a row cap, never read whole into memory."""
    from kiosk.enroll import csv_source

    cap = getattr(csv_source, "MAX_ROWS", None)
    return ("held" if cap is not None else "failed", 0)


def dumpable() -> Result:
    code = (
        "import resource\nfrom kiosk.cli import main\nfrom kiosk.process import is_dumpable\n"
        "try:\n    main(['check', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(is_dumpable(), resource.getrlimit(resource.RLIMIT_CORE)[0])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False,
        cwd=ROOT,
    )
    return ("held" if out.stdout.strip().endswith("False 0") else "failed", 0)


def run(deadline: float) -> dict[str, Any]:
    graphs = Graphs()
    figures: dict[str, float] = {}

    def graph_size() -> Result:
        big = graphs.call("/big", 120.0)
        figures["graph_peak_rss_mb"] = round(big["rss_mb"], 1)
        return ("held" if big["outcome"] == "GraphResponseError" else "failed", 0)

    def graph_slow() -> Result:
        body = graphs.call("/slow-body", deadline)
        headers = graphs.call("/slow-headers", deadline)
        figures["graph_call_seconds_max"] = round(max(body["seconds"], headers["seconds"]), 2)
        ok = figures["graph_call_seconds_max"] <= 1.1 * deadline
        return ("held" if ok and body["outcome"] != "answered" else "failed", 0)

    attacks: dict[str, Callable[[], Result]] = {
        "tui crash exits non-zero": tui_crash,
        "ctrl+c at start": ctrl_c_at_start,
        "hostile key strings (PIN-looking, newline, markup)": hostile_key_strings,
        "sealed PIN with a flipped bit": sealed_pin_bit_flip,
        "escape sequences in a display name": escape_sequences_in_names,
        "PIN left on screen": pin_left_on_screen,
        "operator entry of the wrong type": operator_entry_of_the_wrong_type,
        "admin task failing": admin_task_failure,
        "graph 600 MB body": graph_size,
        "graph slow-loris": graph_slow,
        "graph nextLink loop": lambda: graph_loop_and_redirect(graphs),
        "store and trail cut at the tail": store_and_trail,
        "settings nan, negative, 5000-deep": bad_settings,
        "CSV with a million rows": huge_csv,
        "core dump of an admin command": dumpable,
    }
    outcomes: dict[str, str] = {}
    lost = 0
    try:
        for name, attack in attacks.items():
            try:
                verdict, n = attack()
            except Exception:
                traceback.print_exc(file=sys.stderr)
                verdict, n = "crashed", 0
            outcomes[name] = verdict
            lost += n
    finally:
        graphs.close()
    return {
        "attacks": len(outcomes),
        "held": sum(v == "held" for v in outcomes.values()),
        "crashed": sum(v == "crashed" for v in outcomes.values()),
        "records_lost": lost,
        "graph_peak_rss_mb": figures.get("graph_peak_rss_mb"),
        "graph_call_seconds_max": figures.get("graph_call_seconds_max"),
        "graph_call_deadline_seconds": deadline,
        "not_held": sorted(k for k, v in outcomes.items() if v != "held"),
        "python": sys.version.split()[0],
        "sha": hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deadline", type=float, default=3.0,
                        help="graph.call_deadline_seconds for the slow-loris calls")
    args = parser.parse_args()
    os.environ.setdefault("TERM", "xterm-256color")
    print(json.dumps(run(args.deadline)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
