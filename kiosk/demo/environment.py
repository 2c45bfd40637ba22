"""The demo world: a fake tenant with demo users, a virtual USB port, a state directory, the
kiosk's Settings and its Engine, all real (real HTTPS, real CTAPHID packets).

Used by `kiosk demo` (interactive and headless), the TUI tests and the benchmarks.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Literal

from kiosk.config import (
    EscrowSettings,
    GraphSettings,
    KioskSettings,
    PaperSettings,
    PolicySettings,
    Settings,
    StoreSettings,
)
from kiosk.demo.keyshelf import KeyShelf
from kiosk.demo.operators import DEMO_BANNER, DEMO_SIGN_IN, demo_people, make_operator_key
from kiosk.enroll.engine import Engine
from kiosk.entra.fake.demo_tenant import make_demo_tenant
from kiosk.entra.fake.server import FakeTenant
from kiosk.keys.virtual.device import VirtualKey
from kiosk.keys.virtual.key_state import pin_hash
from kiosk.keys.virtual.port import VirtualPort
from kiosk.keys.virtual.profiles import HARDWARE_LATENCY, NO_LATENCY, KeyProfile
from kiosk.paper.cups import Cups
from kiosk.paper.desk import Printer
from kiosk.paper.folder import FolderPrinter
from kiosk.wiring import Kiosk, build_kiosk
from kiosk.x509util import certificate, key_usage, name, rsa_key, write_pair

LatencyName = Literal["none", "hardware"]
DEMO_GROUP = "FIDO2 Rollout"


def write_helpdesk(directory: Path, *, keep: bool = False) -> tuple[Path, Path]:
    """A demo helpdesk certificate and key (RSA, key encipherment) for sealed PINs.

    In the demo the key sits beside the kiosk so trainers can open a sealed PIN with openssl;
    on a real kiosk the helpdesk key never comes near it. ``keep``: the pair already in
    ``directory`` (a demo started again) serves on, so PINs sealed before open with it.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    cert_file, key_file = directory / "helpdesk.pem", directory / "helpdesk.key"
    if keep and kept_helpdesk(directory):
        return cert_file, key_file
    key = rsa_key()
    now = datetime.now(UTC)
    cert = certificate(
        name("fido-kiosk demo helpdesk"),
        key,
        not_before=now - timedelta(minutes=5),
        not_after=now + timedelta(days=365),
        extensions=[(key_usage(key_encipherment=True), True)],
    )
    return write_pair(cert, key, directory / "helpdesk.pem", directory / "helpdesk.key")


def kept_helpdesk(directory: Path) -> bool:
    """True if ``directory`` holds the demo helpdesk's certificate and key from an earlier
    run; SnapshotError names a certificate that cannot be read."""
    from cryptography import x509

    from kiosk.entra.fake.snapshot import bad_file

    cert_file, key_file = directory / "helpdesk.pem", directory / "helpdesk.key"
    if not (cert_file.is_file() and key_file.is_file()):
        return False
    try:
        x509.load_pem_x509_certificate(cert_file.read_bytes())
    except (OSError, ValueError) as exc:
        raise bad_file(cert_file, exc) from None
    return True


def check_kept(state_dir: Path) -> None:
    """Read what a demo kept in ``state_dir`` without starting anything: SnapshotError names
    a file that cannot be used and what to do (the interactive demo asks before its screen)."""
    from kiosk.entra.fake.pki import load_pki
    from kiosk.entra.fake.snapshot import SNAPSHOT_NAME, bad_file, load

    tenant = state_dir / "tenant"
    if load(tenant / SNAPSHOT_NAME) is not None:
        try:
            load_pki(tenant)
        except (OSError, ValueError) as exc:
            raise bad_file(tenant / "server-cert.pem", exc) from None
    KeyShelf(state_dir / "keys", NO_LATENCY).load()
    kept_helpdesk(state_dir / "helpdesk")


class DemoEnvironment:
    """Everything `kiosk demo` runs on. Use as a context manager.

    ``plug(profile)``, ``touch()`` and ``pull()`` are the demo's hands on the virtual USB port.

    With a ``state_dir`` the demo is kept there: the fake tenant (``tenant/``: ids, users,
    methods, challenges, certificates) and the virtual keys (``keys/``: each key's memory and
    whether it is in the port), so an environment started again over the same directory
    (after ``kill -9``) finds everything as it was, and the kiosk's own store and journal
    recovery do the rest. Without one, everything lives in a temporary directory removed at
    :meth:`close`. The directory is made 0700; its private keys are 0600.
    """

    def __init__(
        self,
        *,
        users: int = 12,
        state_dir: Path | None = None,
        latency: LatencyName = "hardware",
        rtt_ms: float = 0.0,
        escrow_mode: Literal["sealed", "show", "both"] = "both",
        policy: PolicySettings | None = None,
        graph: GraphSettings | None = None,
        page_size: int = 100,
        seed: int = 0,
        operator: str | None = None,
        sync_group: bool = True,
        paper: bool = False,
        cups_server: str = "/run/cups/cups.sock",
    ) -> None:
        self._own_dir = state_dir is None
        self.state_dir = (
            Path(tempfile.mkdtemp(prefix="kiosk-demo-")) if state_dir is None else state_dir
        )
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.users = users
        self.latency = HARDWARE_LATENCY if latency == "hardware" else NO_LATENCY
        self.escrow_mode = escrow_mode
        self.policy = policy or PolicySettings()
        self.graph_settings = graph or GraphSettings()
        self.seed = seed
        self.operator = operator
        self.sync_group = sync_group
        self.paper = paper
        """Print a label and a PIN mailer per key: to a CUPS-PDF queue of ``cups_server``
        where there is one, else as PDF files under ``state_dir/printed``."""
        self.cups_server = cups_server
        self.printed_to = ""
        """Where the demo prints: a CUPS queue's name, or the folder of PDF files."""
        keep = not self._own_dir
        self.tenant = FakeTenant(
            self.state_dir / "tenant", page_size=page_size, rtt_ms=rtt_ms, seed=seed, keep=keep
        )
        self.port = VirtualPort()
        self.shelf = KeyShelf(self.state_dir / "keys" if keep else None, self.latency)
        """Every key the demo made (kept with the state directory)."""
        self.restored = self.tenant.restored
        """Started again over a kept state directory."""
        self.kiosk: Kiosk | None = None
        self.banner = DEMO_BANNER
        self.sign_in_note = DEMO_SIGN_IN
        """The demo's PINs, for its sign-in screen."""
        self.operator_key: VirtualKey | None = None
        """The demo operator's own sign-in key (plugged with ``port.plug``)."""
        self._operator_credential = ""
        self.helpdesk_cert, self.helpdesk_key = self.state_dir / "helpdesk.pem", Path()

    # ---- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> DemoEnvironment:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        self.tenant.start()
        if not self.tenant.restored:
            make_demo_tenant(self.tenant.state, self.users, seed=self.seed, group_name=DEMO_GROUP)
            self.tenant.save()
        self.helpdesk_cert, self.helpdesk_key = write_helpdesk(
            self.state_dir / "helpdesk", keep=not self._own_dir
        )
        for key in self.shelf.load():  # left in the port when the demo stopped
            self.port.plug(key)
        self.operator_key, self._operator_credential = make_operator_key(self.port)
        self.settings = self.make_settings()
        printer: Printer | None = None
        if self.paper:
            queue = Cups(self.cups_server, timeout=10).pdf_queue()
            if queue is None:
                folder = self.state_dir / "printed"
                printer, queue, self.printed_to = FolderPrinter(folder), "demo", str(folder)
            else:
                self.printed_to = f"CUPS queue {queue}"
            self.settings = dataclasses.replace(self.settings, paper=PaperSettings(
                cups_server=self.cups_server, label_queue=queue, mailer_queue=queue,
                helpdesk="Demo helpdesk: +1 555 0100, helpdesk@contoso.example",
            ))
        self.kiosk = build_kiosk(
            self.settings, self.port, operator=self.operator, env={}, printer=printer
        )
        if self.sync_group:
            self.engine.sync_group(DEMO_GROUP)

    def close(self) -> None:
        self.shelf.close()  # the keys in the port stay in as far as the kept state knows
        self.port.unplug()
        if self.kiosk is not None:
            self.kiosk.close()
        self.tenant.stop()
        if self._own_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def make_settings(self) -> Settings:
        state = self.state_dir
        (state / "inbox").mkdir(mode=0o700, exist_ok=True)  # the admin screen's O lists it
        base = Settings(
            graph=dataclasses.replace(self.graph_settings, group=DEMO_GROUP),
            policy=self.policy,
            escrow=EscrowSettings(
                mode=self.escrow_mode,
                recipients=[str(self.helpdesk_cert)],
                directory=str(state / "escrow"),
            ),
            store=StoreSettings(
                path=str(state / "kiosk.db"),
                audit_path=str(state / "audit.jsonl"),
                manifest_directory=str(state / "manifests"),
                inbox=str(state / "inbox"),
                usb_mount=str(state / "usb"),
                eject_request=str(state / "eject-usb"),
                mds_blob=str(state / "mds3.jwt"),
            ),
            kiosk=KioskSettings(operators=demo_people(self._operator_credential)),
            source="kiosk demo",
        )
        return self.tenant.settings("certificate", base)

    @property
    def engine(self) -> Engine:
        if self.kiosk is None:
            raise RuntimeError("DemoEnvironment.start() first")
        return self.kiosk.engine

    # ---- the demo's hands -----------------------------------------------------------------
    def new_key(
        self, profile: str | KeyProfile = "yubikey5", *, auto_touch: float | None = None
    ) -> VirtualKey:
        """A fresh key of ``profile`` (a name from PROFILES) with its own serial (on the
        demo's shelf: kept with the state directory, offered again by F2 once pulled)."""
        return self.shelf.make(profile, auto_touch=auto_touch)

    def plug(self, profile: str | KeyProfile = "yubikey5") -> VirtualKey:
        key = self.new_key(profile)
        self.port.plug(key)
        return key

    def plug_again(self, key: VirtualKey) -> None:
        """Put a key pulled earlier back in."""
        if not key.plugged:
            self.port.plug(key)

    def pulled_keys(self) -> list[tuple[VirtualKey, str]]:
        """Keys pulled earlier (the last one first), each with a line saying what it is: its
        serial, why it was pulled and what it holds."""
        return [(e.key, describe(e.key, e.note)) for e in self.shelf.pulled()]

    def touch(self, settle: float = 2.0) -> bool:
        """Touch the key that waits for a touch (else the last one plugged).

        The kiosk shows "touch the key now" a moment before the key starts blinking, and a
        touch before the blink does not count on a key. An operator who touches at once means
        the touch for the blink that is coming, so wait up to ``settle`` seconds for it.
        """
        deadline = time.monotonic() + settle
        while not any(k.waiting_for_touch for k in self.port.keys):
            if time.monotonic() >= deadline or not self.port.keys:
                break
            time.sleep(0.01)
        keys = self.port.keys
        waiting = [k for k in keys if k.waiting_for_touch]
        target = waiting[0] if waiting else (keys[-1] if keys else None)
        if target is None:
            return False
        target.touch()
        return True

    def pull(self, why: str = "") -> bool:
        """Pull the last key plugged in (``why``: said of it in the F2 menu)."""
        keys = self.port.keys
        if not keys:
            return False
        self.shelf.note(keys[-1], why)
        self.port.unplug(keys[-1])
        return True


def describe(key: VirtualKey, note: str = "") -> str:
    """One line on a demo key: serial, why it was pulled, what it holds ("41000003 pulled
    mid-touch, PIN set by the kiosk")."""
    serial = key.profile.serial
    first = f"{serial}" if serial is not None else f"{key.profile.name} key (no serial)"
    parts = [f"{first} {note}" if note else first]
    auth, preset = key.authenticator, key.profile.preset_pin
    own = preset is not None and auth.state.pin_hash == pin_hash(preset)
    parts.append("its old PIN" if own else "PIN set by the kiosk" if auth.pin_set else "no PIN")
    if auth.credential_count:
        n = auth.credential_count
        parts.append(f"{n} credential{'s' if n != 1 else ''}")
    return ", ".join(parts)
