"""Whole enrollments, happy and fault-injected, leave no secret anywhere someone could read it.

Every logger (ours, MSAL's, urllib3's, fido2's, down to fido2's packet traffic) is captured at
its lowest level; the secrets are the ones this run really used: the PINs handed over, every
access token the fake tenant issued, the client secret, the app's private key (as the file
holds it and as the kiosk re-encodes it in memory) and the demo helpdesk key. None of them may
appear in the log, in any file the kiosk wrote (SQLite database with its WAL, audit trail,
sealed PINs, manifests), in any engine event but the one PIN hand-over, or in the message,
``repr`` or full traceback (chained exceptions included) of any KioskError raised on the way.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import re
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from kiosk.config import GraphSettings, PolicySettings, Settings
from kiosk.demo.environment import DemoEnvironment
from kiosk.demo.robot import Robot
from kiosk.enroll.events import Event, PinHandover, Prompt, PromptChanged
from kiosk.enroll.pins import generate_pin
from kiosk.entra.fake.faults import Fault
from kiosk.entra.secrets import CertificateCredential, load_credential
from kiosk.errors import KioskError
from kiosk.keys.virtual.device import VirtualKey

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
PRIVATE_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")


# ---- what to look for ---------------------------------------------------------------------
def pem_body_lines(pem: str) -> list[str]:
    """The base64 lines of a PEM private key (each 64 characters of key material)."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


@dataclasses.dataclass
class Secrets:
    pins: list[str] = dataclasses.field(default_factory=list)
    values: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    def add(self, name: str, *values: str) -> None:
        self.values.setdefault(name, []).extend(v for v in values if v)

    def found_in(self, text: str) -> list[str]:
        """Names of the secrets found in ``text`` (empty: none)."""
        hits = [
            name for name, values in self.values.items() if any(v in text for v in values)
        ]
        for pin in self.pins:
            if pin in text or pin.encode().hex() in text:
                hits.append(f"PIN #{self.pins.index(pin) + 1}")
        if PRIVATE_PEM.search(text):
            hits.append("PEM private key header")
        return hits

    def found_in_bytes(self, data: bytes) -> list[str]:
        return self.found_in(data.decode("latin-1"))


def collect_kiosk_secrets(env: DemoEnvironment, secrets: Secrets) -> None:
    """The secrets of this run as the tenant and the kiosk hold them."""
    settings = env.settings
    secrets.add("access token", *env.tenant.tokens.issued_tokens())
    secrets.add("client secret", env.tenant.client_secret)
    secrets.add("app private key (file)", *pem_body_lines(env.tenant.private_key_file.read_text()))
    secrets.add("helpdesk private key", *pem_body_lines(env.helpdesk_key.read_text()))
    credential = load_credential(
        dataclasses.replace(
            settings.tenant,
            certificate_file=str(env.tenant.certificate_file),
            private_key_file=str(env.tenant.private_key_file),
            client_secret_file="",
        ),
        env={},
    )
    assert isinstance(credential, CertificateCredential)
    secrets.add("app private key (in memory)", *pem_body_lines(credential.private_key_pem))


# ---- capturing ----------------------------------------------------------------------------
@contextmanager
def every_log_line() -> Iterator[io.StringIO]:
    """Every record of every logger, at every level (fido2's traffic is below DEBUG)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setLevel(1)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    loggers = [
        lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    saved_root, saved_disable = root.level, logging.root.manager.disable
    detached = [lg for lg in loggers if not lg.propagate]
    logging.disable(logging.NOTSET)
    root.setLevel(1)
    root.addHandler(handler)
    for lg in loggers:
        lg.setLevel(1)
        lg.disabled = False
    for lg in detached:
        lg.addHandler(handler)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        for lg in detached:
            lg.removeHandler(handler)
        for lg, level, disabled in saved:
            lg.setLevel(level)
            lg.disabled = disabled
        root.setLevel(saved_root)
        logging.disable(saved_disable)


@pytest.fixture
def raised(monkeypatch: pytest.MonkeyPatch) -> list[KioskError]:
    """Every KioskError constructed during the test (observed, behaviour unchanged)."""
    seen: list[KioskError] = []
    original = KioskError.__init__

    def recording(self: KioskError, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        seen.append(self)

    monkeypatch.setattr(KioskError, "__init__", recording)
    return seen


def error_texts(err: BaseException) -> str:
    """All an operator, a log or a crash report could show of ``err``: message, repr,
    fields and the whole traceback with its chained causes."""
    parts = [str(err), repr(err), *map(str, err.args)]
    if isinstance(err, KioskError):
        parts += [err.title, err.detail, err.next_step]
    parts += traceback.format_exception(err)
    return "\n".join(parts)


class SecretDemo(DemoEnvironment):
    """The demo signing in with the client secret instead of the certificate."""

    def make_settings(self) -> Settings:
        settings = super().make_settings()
        graph = GraphSettings(max_retries=2, timeout_seconds=5.0, retry_after_cap_seconds=0.2)
        return dataclasses.replace(
            settings, tenant=self.tenant.tenant_settings("secret"), graph=graph
        )


def run_batch(
    env: DemoEnvironment, keys: Callable[[int], VirtualKey] | None = None, timeout: float = 90
) -> list[Event]:
    """Run the engine with the demo robot until the queue is worked through; export the
    manifest; return every event the engine published."""
    events: list[Event] = []
    env.engine.subscribe(events.append)
    robot = Robot(env.engine, env.port, keys or (lambda _n: env.new_key()))
    robot.start()
    stop = threading.Event()
    runner = threading.Thread(target=env.engine.run, args=(stop,), daemon=True)
    runner.start()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            assert runner.is_alive(), "the engine stopped by itself"
            counts = env.engine.counts()
            if counts.get("pending", 0) == 0 and counts.get("active", 0) == 0:
                break
            time.sleep(0.05)
        env.engine.export_manifest(Path(env.settings.store.manifest_directory))
    finally:
        stop.set()
        runner.join(15)
        robot.stop()
    return events


def kiosk_files(state: Path) -> list[Path]:
    """Every file the kiosk wrote (the fake tenant's and the demo helpdesk's are not)."""
    return [
        p for p in state.rglob("*")
        if p.is_file() and "tenant" not in p.parts and "helpdesk" not in p.parts
    ]


def assert_nothing_leaked(
    secrets: Secrets,
    log_text: str,
    files: dict[Path, bytes],
    events: list[Event],
    raised: list[KioskError],
) -> None:
    assert secrets.pins, "the run handed over PINs"
    assert secrets.values["access token"], "the run used access tokens"
    leaks: list[str] = []
    leaks += [f"log: {name}" for name in secrets.found_in(log_text)]
    if JWT.search(log_text):
        leaks.append("log: a JWT (client assertion?)")
    for path, data in files.items():
        leaks += [f"{path.name}: {name}" for name in secrets.found_in_bytes(data)]
    for event in events:
        shown = repr(event) if isinstance(event, PinHandover) else f"{event!r} {event}"
        leaks += [f"event {type(event).__name__}: {n}" for n in secrets.found_in(shown)]
    for err in raised:
        text = error_texts(err)
        leaks += [f"{type(err).__name__}: {name}" for name in secrets.found_in(text)]
        if JWT.search(text):
            leaks.append(f"{type(err).__name__}: a JWT")
    assert leaks == []


def test_a_whole_batch_leaves_no_secret_in_logs_files_events_or_errors(
    tmp_path: Path, raised: list[KioskError]
) -> None:
    state = tmp_path / "demo"
    secrets = Secrets()
    with every_log_line() as log, DemoEnvironment(
        users=3, latency="none", state_dir=state, escrow_mode="both", operator="tester"
    ) as env:
        env.engine.subscribe(
            lambda e: secrets.pins.append(e.pin) if isinstance(e, PinHandover) else None
        )
        events = run_batch(env)
        assert env.engine.counts()["done"] == 3
        collect_kiosk_secrets(env, secrets)
        # Read while the kiosk is open: the WAL holds the latest pages until a checkpoint.
        files = {p: p.read_bytes() for p in kiosk_files(state)}
    files.update({p: p.read_bytes() for p in kiosk_files(state)})
    names = {p.name for p in files}
    assert {"kiosk.db", "kiosk.db-wal", "audit.jsonl"} <= names
    assert any(n.startswith("manifest-") for n in names)
    assert sum(1 for p in files if p.parent.name == "escrow") == 3
    text = log.getvalue()
    for logger_name in ("kiosk.", "urllib3", "msal", "fido2.hid"):
        assert logger_name in text, f"{logger_name} was captured"
    assert "SEND: " in text, "fido2's packet traffic (below DEBUG) was captured"
    assert_nothing_leaked(secrets, text, files, events, raised)


def test_fault_injected_runs_leave_no_secret_in_errors_or_logs(
    tmp_path: Path, raised: list[KioskError]
) -> None:
    """Sign-in with the client secret; the token endpoint, Graph and the keys misbehave."""
    state = tmp_path / "faults"
    secrets = Secrets()

    with every_log_line() as log, SecretDemo(
        users=4, latency="none", state_dir=state, escrow_mode="both", operator="tester"
    ) as env:
        tenant = env.tenant
        for fault in (
            # The demo signed in when it started (token call 1); a 401 makes it sign in again.
            Fault("expire_token", "creation_options", frozenset({2})),
            Fault("truncated", "token", frozenset({2})),  # a token answer cut short
            Fault("bad_json", "token", frozenset({3})),
            Fault("expire_token", "register", frozenset({2})),
            Fault("503", "register", frozenset({1}), retry_after=0),
            Fault("html", "creation_options", frozenset({3})),
            Fault("lost_response", "register", frozenset({3})),
            Fault("drop", "list_methods", frozenset({1})),
        ):
            tenant.inject(fault)

        def keys(n: int) -> VirtualKey:
            key = env.new_key()
            if n == 1:
                key.faults.error(0x31, command=0x06)  # clientPIN answers PIN_INVALID once
            if n == 2:
                key.faults.malformed_reply(command=0x01)  # makeCredential: broken CBOR
            return key

        env.engine.subscribe(
            lambda e: secrets.pins.append(e.pin) if isinstance(e, PinHandover) else None
        )
        events = run_batch(env, keys)
        collect_kiosk_secrets(env, secrets)
        files = {p: p.read_bytes() for p in kiosk_files(state)}
        fired = {f.kind for f in tenant.faults.fired}
    assert {"truncated", "bad_json", "expire_token", "503", "lost_response"} <= fired
    assert len(secrets.values["access token"]) >= 3
    assert raised, "the faults raised KioskErrors"
    assert_nothing_leaked(secrets, log.getvalue(), files, events, raised)


REFUSED_PIN = "20242024"  # a repeated group: the PIN rules refuse it


def test_operator_typed_pins_refused_or_accepted_leave_no_trace(
    tmp_path: Path, raised: list[KioskError]
) -> None:
    """policy.pin_source = operator: for each key the operator first types a PIN the rules
    refuse, then a good one. Neither reaches a log, a file, an event or an error."""
    state = tmp_path / "typed"
    secrets = Secrets(pins=[REFUSED_PIN])
    with every_log_line() as log, DemoEnvironment(
        users=2, latency="none", state_dir=state, escrow_mode="both", operator="tester",
        policy=PolicySettings(pin_source="operator"),
    ) as env:

        def type_pins(event: Event) -> None:
            if isinstance(event, PromptChanged) and event.prompt is Prompt.TYPE_PIN:
                good = generate_pin(8).reveal()
                secrets.pins.append(good)
                env.engine.provide_pin(REFUSED_PIN)
                env.engine.provide_pin(good)

        env.engine.subscribe(type_pins)
        events = run_batch(env)
        assert env.engine.counts()["done"] == 2
        collect_kiosk_secrets(env, secrets)
        files = {p: p.read_bytes() for p in kiosk_files(state)}
    handed = [e.pin for e in events if isinstance(e, PinHandover)]
    assert handed == secrets.pins[1:], "the typed PINs were the ones set and handed over"
    refusals = [e for e in raised if "not accepted" in e.detail]
    assert len(refusals) == 2, "each refused PIN was refused"
    assert_nothing_leaked(secrets, log.getvalue(), files, events, raised)
