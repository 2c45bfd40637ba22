"""Audit trail benchmark: durable append rate, resume cost on a large trail, verify speed.

Prints one JSON object:

- ``append_per_second``: ``AuditTrail.append`` of a full enrollment record (each fsynced),
  over ``--appends`` records, on the file system of ``--dir`` (default: a temporary directory).
- ``append_p50_ms`` / ``append_p95_ms``: the same, per record.
- ``open_ms_large``: opening (resuming) a trail of ``--records`` records: reads only its last line.
- ``verify_seconds_large``: ``kiosk.audit.verify`` over that trail.
- ``records_large``: its size in records.

Usage: .venv/bin/python bench/audit.py [--appends 500] [--records 100000] [--dir PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from kiosk.audit import AuditTrail, verify
from kiosk.audit_chain import GENESIS, line_hash

KEY = {"serial": "12345678", "aaguid": "2fc0579f-8113-47ea-b116-bb5a8db9202a",
       "model": "YubiKey 5 NFC", "firmware": "5.4.3"}


def _record(trail: AuditTrail, i: int) -> None:
    trail.append(
        "enrolled", operator="olga", upn=f"user{i}@contoso.com", user_id=f"id-{i}",
        entry_id=i, key=KEY, method_id=f"method-{i}", credential_id=i.to_bytes(16, "big"),
        attestation_format="packed", graph_request_ids=[f"req-{i}"],
        timings_ms={"make_credential": 280.0, "register": 210.0},
    )


def _large(path: Path, n: int) -> None:
    """A valid trail of n records written without fsync (setup only, not measured)."""
    prev = GENESIS
    with path.open("wb") as fh:
        for i in range(1, n + 1):
            line = json.dumps(
                {"seq": i, "time": "2026-11-22T00:00:00.000Z", "prev": prev, "event": "enrolled",
                 "upn": f"user{i}@contoso.com", "key": KEY, "outcome": "ok"},
                separators=(",", ":"),
            ).encode()
            fh.write(line + b"\n")
            prev = line_hash(line)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--appends", type=int, default=500)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        times = []
        with AuditTrail(Path(tmp) / "append.jsonl") as trail:
            for i in range(args.appends):
                t0 = time.perf_counter()
                _record(trail, i)
                times.append((time.perf_counter() - t0) * 1000)
        big = Path(tmp) / "large.jsonl"
        _large(big, args.records)
        t0 = time.perf_counter()
        AuditTrail(big).close()
        open_ms = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        report = verify(big)
        verify_s = time.perf_counter() - t0
        if not report.ok:
            raise SystemExit(f"the generated trail does not verify: {report.problems[:3]}")
    times.sort()
    print(json.dumps({
        "append_per_second": round(len(times) / (sum(times) / 1000), 1),
        "append_p50_ms": round(statistics.median(times), 3),
        "append_p95_ms": round(times[int(len(times) * 0.95) - 1], 3),
        "open_ms_large": round(open_ms, 3),
        "verify_seconds_large": round(verify_s, 3),
        "records_large": args.records,
    }))


if __name__ == "__main__":
    main()
