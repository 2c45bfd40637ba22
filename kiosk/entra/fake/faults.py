"""Fault injection and latency for the fake tenant, reproducible from a seed.

A :class:`Fault` names a *kind*, the *route* it hits (see :data:`ROUTES`, or ``"*"``), and when:
on given call numbers of that route (1-based, counted per route: "the 3rd POST fido2Methods"),
and/or with a probability. Probabilistic draws are a pure function of (seed, route, call
number, fault index), so a run is the same whatever threads interleave.

Kinds:

- ``429`` / ``503`` / ``504``: answered with Graph's error JSON (429 and 503 with
  ``Retry-After: <retry_after>`` seconds when set).
- ``403``: Graph's ``Authorization_RequestDenied``, as when the app lacks the permission for
  that route (``kiosk check`` tests name the missing permission with it).
- ``drop``: the connection is closed without an answer, before the request is processed.
- ``lost_response``: the request IS processed (a register call registers), then the
  connection is closed without an answer.
- ``slow``: the answer comes ``delay_s`` seconds late.
- ``expire_token``: every bearer token expires just before this call (so it gets a 401).
- ``bad_json`` / ``html`` / ``truncated``: a 200 whose body is broken JSON, an HTML page, or
  shorter than its Content-Length (the connection is then closed).

A :class:`Hold` (:meth:`FaultPlan.hold`) keeps every request of a route waiting until a test
releases it, so a test can act while a call is known to be in flight.
"""

from __future__ import annotations

import hashlib
import struct
import threading
from dataclasses import dataclass, field
from typing import Literal, cast, get_args

FaultKind = Literal[
    "429",
    "503",
    "504",
    "403",
    "drop",
    "lost_response",
    "slow",
    "expire_token",
    "bad_json",
    "html",
    "truncated",
]

ROUTES = (
    "discovery",
    "token",
    "user",
    "groups",
    "group",
    "members",
    "creation_options",
    "register",
    "list_methods",
    "get_method",
    "delete_method",
    "batch",
    "fido2_policy",
)
"""Route names faults can target (``"*"``: any route)."""


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    route: str = "*"
    calls: frozenset[int] = frozenset()
    """1-based call numbers of ``route`` this fault hits."""
    probability: float = 0.0
    """Chance of hitting any other call of ``route``."""
    retry_after: float | None = 1.0
    """Retry-After seconds sent with 429/503 (None: no header)."""
    delay_s: float = 0.0
    """For ``slow``: extra seconds before the answer."""
    limit: int | None = None
    """Fire at most this many times (None: no limit)."""

    def __post_init__(self) -> None:
        if self.route != "*" and self.route not in ROUTES:
            raise ValueError(f"unknown route {self.route!r}; known: {', '.join(ROUTES)}")


@dataclass(frozen=True)
class Fired:
    route: str
    call: int
    kind: FaultKind


HOLD_MAX_S = 60.0
"""A forgotten hold lets its requests go after this long: the fake never hangs for good."""


@dataclass
class Hold:
    """Requests of ``route`` wait here until :meth:`release` (see :meth:`FaultPlan.hold`)."""

    route: str
    arrived: threading.Event = field(default_factory=threading.Event)
    """Set once a request of the route has come and is waiting."""
    released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.released.set()


@dataclass
class FaultPlan:
    """Faults to inject, the latency of every request, and a record of what fired."""

    seed: int = 0
    rtt_ms: float = 0.0
    """Added to every request: the round trip a real network would cost."""
    faults: list[Fault] = field(default_factory=list)
    fired: list[Fired] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)
    holds: list[Hold] = field(default_factory=list)
    _fire_counts: dict[int, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hold(self, route: str) -> Hold:
        """From now on, requests of ``route`` wait until the returned hold is released."""
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; known: {', '.join(ROUTES)}")
        held = Hold(route)
        with self._lock:
            self.holds.append(held)
        return held

    def wait_if_held(self, route: str) -> None:
        """Called on a request's thread before it is answered."""
        with self._lock:
            waiting = [h for h in self.holds if h.route == route and not h.released.is_set()]
        for held in waiting:
            held.arrived.set()
            held.released.wait(HOLD_MAX_S)

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def schedule(
        self,
        kind: FaultKind,
        route: str,
        *calls: int,
        retry_after: float | None = 1.0,
        delay_s: float = 0.0,
    ) -> Fault:
        """``schedule("503", "register", 3)``: the 3rd register call gets a 503."""
        return self.add(
            Fault(kind, route, frozenset(calls), retry_after=retry_after, delay_s=delay_s)
        )

    def randomly(
        self,
        kind: FaultKind,
        route: str = "*",
        probability: float = 0.1,
        *,
        retry_after: float | None = 1.0,
        delay_s: float = 0.0,
        limit: int | None = None,
    ) -> Fault:
        return self.add(
            Fault(
                kind,
                route,
                probability=probability,
                retry_after=retry_after,
                delay_s=delay_s,
                limit=limit,
            )
        )

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def _draw(self, route: str, call: int, index: int) -> float:
        digest = hashlib.sha256(f"{self.seed}|{route}|{call}|{index}".encode()).digest()
        return float(struct.unpack(">Q", digest[:8])[0]) / 2.0**64

    def next_call(self, route: str) -> Fault | None:
        """Count one call of ``route`` and return the fault it gets, if any (first match wins)."""
        with self._lock:
            call = self.calls.get(route, 0) + 1
            self.calls[route] = call
            for index, fault in enumerate(self.faults):
                if fault.route not in ("*", route):
                    continue
                if fault.limit is not None and self._fire_counts.get(index, 0) >= fault.limit:
                    continue
                hit = call in fault.calls or (
                    fault.probability > 0 and self._draw(route, call, index) < fault.probability
                )
                if hit:
                    self._fire_counts[index] = self._fire_counts.get(index, 0) + 1
                    self.fired.append(Fired(route, call, fault.kind))
                    return fault
        return None

    def fired_kinds(self, route: str | None = None) -> list[str]:
        with self._lock:
            return [f.kind for f in self.fired if route is None or f.route == route]


FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)


def parse_fault(spec: str) -> Fault:
    """A fault from ``KIND@ROUTE[:WHEN]``, as ``kiosk fake-tenant --fault`` takes it.

    WHEN is call numbers (``3`` or ``2,5``) or a chance (``10%``); without it, every call.
    Examples: ``503@register:3``, ``429@*:10%``, ``lost_response@register:1``,
    ``slow@members:2`` (two seconds late). Raises ``ValueError`` saying what is wrong.
    """
    head, _, when = spec.strip().partition(":")
    name, sep, route = head.partition("@")
    if not sep or name not in FAULT_KINDS:
        raise ValueError(
            f"{spec!r}: expected KIND@ROUTE[:WHEN] with KIND one of {', '.join(FAULT_KINDS)}"
        )
    kind = cast(FaultKind, name)
    delay = 2.0 if kind == "slow" else 0.0
    try:
        if not when:
            return Fault(kind, route, probability=1.0, delay_s=delay)
        if when.endswith("%"):
            chance = float(when[:-1]) / 100.0
            if not 0.0 < chance <= 1.0:
                raise ValueError("the chance must be above 0% and at most 100%")
            return Fault(kind, route, probability=chance, delay_s=delay)
        calls = frozenset(int(c) for c in when.split(","))
        if not calls or min(calls) < 1:
            raise ValueError("call numbers start at 1")
        return Fault(kind, route, calls, delay_s=delay)
    except ValueError as exc:
        raise ValueError(f"{spec!r}: {exc}") from None
