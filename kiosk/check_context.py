"""What `kiosk check` works on and what each check answers: shared by the local checks
(:mod:`kiosk.check`) and the network ones (:mod:`kiosk.check_tenant`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from kiosk.config import Settings
from kiosk.errors import KioskError

if TYPE_CHECKING:
    from kiosk.entra.secrets import Credential

Status = Literal["ok", "warn", "fail", "skip"]


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str
    fix: str = ""


@dataclass
class CheckContext:
    """What the checks look at. Tests point the paths and the clock elsewhere."""

    config_path: Path
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    hidraw_class: Path = Path("/sys/class/hidraw")
    dev: Path = Path("/dev")
    mds_root: bytes | None = None
    """Trust root (PEM or DER) for the MDS blob; None: FIDO's own."""
    kiosk_user: str = "fido-kiosk"
    """Whose access to the keys is checked when kiosk check runs as root."""
    identity: tuple[str, int, frozenset[int]] | None = None
    """(name, uid, groups) to check key access for, instead of the kiosk user or the caller."""
    system_root: Path = Path("/")
    """Where /etc and /proc of the kiosk are (the console lockdown check reads them)."""
    settings: Settings | None = None
    credential: Credential | None = None


def fail(name: str, exc: KioskError) -> CheckResult:
    return CheckResult(name, "fail", exc.detail, exc.next_step)
