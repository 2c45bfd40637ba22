"""`kiosk check` on the box itself: the console is locked down and the kiosk is not crash-looping.

Console lockdown (docs/install.md, required steps), checked only where the kiosk's unit is
installed (a developer's machine is no kiosk):

- ``ctrl-alt-del.target`` masked: Ctrl+Alt+Del on the keyboard does not reboot the box;
- ``kernel.sysrq = 0``: no magic SysRq key (which can kill every process on the console);
- ``NAutoVTs=0`` for logind: no login prompt on the other consoles (Ctrl+Alt+F2 ...).
"""

from __future__ import annotations

from pathlib import Path

from kiosk.check_context import CheckContext, CheckResult
from kiosk.process import RUNS_FILE, RunLog

UNIT_DIRS = ("etc/systemd/system", "usr/lib/systemd/system", "lib/systemd/system")
UNIT = "fido-kiosk.service"
SYSCTL_FILE = "/etc/sysctl.d/90-fido-kiosk.conf"
LOGIND_FILE = "/etc/systemd/logind.conf.d/90-fido-kiosk.conf"


def _installed(root: Path) -> bool:
    return any((root / d / UNIT).exists() for d in UNIT_DIRS)


def _masked(root: Path, unit: str) -> bool:
    path = root / "etc/systemd/system" / unit
    try:
        return path.is_symlink() and str(path.readlink()) == "/dev/null"
    except OSError:
        return False


def _logind_value(root: Path, key: str) -> str | None:
    """The value logind uses for ``key``: logind.conf, then its drop-ins in name order."""
    value = _last(root / "etc/systemd/logind.conf", key, None)
    dropins: dict[str, Path] = {}
    for d in ("usr/lib/systemd/logind.conf.d", "etc/systemd/logind.conf.d"):
        if (root / d).is_dir():
            dropins.update({p.name: p for p in (root / d).glob("*.conf")})
    for name in sorted(dropins):
        value = _last(dropins[name], key, value)
    return value


def _last(path: Path, key: str, value: str | None) -> str | None:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return value
    for line in lines:
        name, sep, v = line.strip().partition("=")
        if sep and name.strip() == key:
            value = v.strip()
    return value


def check_console(ctx: CheckContext) -> CheckResult:
    root = ctx.system_root
    if not _installed(root):
        return CheckResult(
            "console lockdown", "skip", f"{UNIT} is not installed here: not a kiosk."
        )
    problems: list[tuple[str, str]] = []
    if not _masked(root, "ctrl-alt-del.target"):
        problems.append((
            "Ctrl+Alt+Del reboots the box (ctrl-alt-del.target is not masked)",
            "systemctl mask ctrl-alt-del.target",
        ))
    try:
        sysrq = (root / "proc/sys/kernel/sysrq").read_text().strip()
    except OSError:
        sysrq = "unknown"
    if sysrq != "0":
        problems.append((
            f"the SysRq key is enabled (kernel.sysrq = {sysrq})",
            f"echo 'kernel.sysrq = 0' > {SYSCTL_FILE} && sysctl --system",
        ))
    if _logind_value(root, "NAutoVTs") != "0":
        problems.append((
            "other consoles offer a login prompt (logind NAutoVTs is not 0)",
            f"printf '[Login]\\nNAutoVTs=0\\nReserveVT=0\\n' > {LOGIND_FILE} and reboot",
        ))
    if problems:
        return CheckResult(
            "console lockdown", "fail",
            "; ".join(p for p, _ in problems) + ".",
            "; ".join(f for _, f in problems) + " (docs/install.md, step 7).",
        )
    return CheckResult(
        "console lockdown", "ok",
        "ctrl-alt-del.target masked, kernel.sysrq = 0, no login prompts on other consoles.",
    )


def check_restarts(ctx: CheckContext) -> CheckResult:
    assert ctx.settings is not None  # noqa: S101 - checked by the caller
    runs = RunLog(Path(ctx.settings.store.path).parent / RUNS_FILE)
    loop = runs.crash_loop()
    if loop:
        return CheckResult(
            "restarts", "fail", loop,
            "Read why in `journalctl -u fido-kiosk -b` (each crash logs its traceback) and fix "
            "that first; systemd keeps restarting the kiosk meanwhile.",
        )
    count = len(runs.runs())
    return CheckResult("restarts", "ok", f"no crash loop ({count} recent runs recorded).")
