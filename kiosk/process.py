"""The kiosk process itself: how it ends, what a crash leaves behind, and who can stop it.

- **Exit codes** tell systemd what happened. The unit restarts the kiosk after any end
  (``Restart=always``) except :data:`ADMIN_EXIT`, the admin screen's deliberate exit
  (``RestartPreventExitStatus``). A crash exits with :data:`CRASH_EXIT`, never 0.
- **Terminal signals** (Ctrl+C, Ctrl+\\, Ctrl+Z, background tty access) are ignored from the
  first line of ``kiosk run``: until the TUI puts the console in raw mode, a Ctrl+C would
  otherwise end the kiosk with SIGINT, which systemd counts as a clean stop.
- **No core dumps**: the process holds the app's private key, tokens and PINs. It makes itself
  non-dumpable (``PR_SET_DUMPABLE`` 0: no core, no ptrace by the same user, /proc/PID/mem
  closed) and sets its core limit to 0, also when an admin runs a command from a shell.
- **Runs**: each start and end of ``kiosk run`` is one line in a small file beside the store;
  several bad ends in a few minutes are a crash loop, which ``kiosk check`` and the journal
  name.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ADMIN_EXIT = 10
"""The admin screen's deliberate exit. The unit does not restart the kiosk after it."""
CRASH_EXIT = 1
"""Any unhandled failure in the TUI."""
TERMINAL_SIGNALS = ("SIGINT", "SIGQUIT", "SIGTSTP", "SIGTTIN", "SIGTTOU")
PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3
RUNS_FILE = "runs.jsonl"
"""Starts and ends of `kiosk run` (:class:`RunLog`), beside the database."""
CRASH_LOOP_WINDOW = 600.0
CRASH_LOOP_ENDS = 3
RUNS_KEPT = 50
ADMIN_EXIT_NOTICE = (
    "fido-kiosk was stopped by an administrator from the admin screen and stays stopped.\n"
    "To start it again: systemctl start fido-kiosk\n"
)


def ignore_terminal_signals() -> None:
    """Keys on the console can no longer stop or suspend this process."""
    for name in TERMINAL_SIGNALS:
        signum = getattr(signal, name, None)
        if signum is not None:
            signal.signal(signum, signal.SIG_IGN)


def _prctl(option: int, arg: int = 0) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    result: int = libc.prctl(option, arg, 0, 0, 0)
    return result


def harden_process() -> None:
    """No core file and no ptrace by our own user: secrets stay in this process's memory."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if _prctl(PR_SET_DUMPABLE, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")


def is_dumpable() -> bool:
    return _prctl(PR_GET_DUMPABLE) != 0


def exit_code(return_code: int | None) -> int:
    """What ``kiosk run`` exits with: Textual's code; a crash (None or 1) is never 0."""
    if return_code is None:
        return CRASH_EXIT
    return return_code


@dataclass(frozen=True)
class Run:
    started: float
    code: int | None
    """None: the run never said how it ended (killed, power lost, still running)."""

    @property
    def bad(self) -> bool:
        return self.code not in (0, ADMIN_EXIT)


class RunLog:
    """Starts and ends of ``kiosk run``, one JSON line each, the last few dozen kept."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock

    def _now(self) -> float:
        return self._clock()

    def _lines(self) -> list[dict[str, object]]:
        try:
            raw = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return []
        out: list[dict[str, object]] = []
        for line in raw[-RUNS_KEPT * 2 :]:
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict):
                out.append(item)
        return out

    def _write(self, lines: list[dict[str, object]]) -> None:
        text = "".join(json.dumps(line) + "\n" for line in lines[-RUNS_KEPT * 2 :])
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, self.path)

    def runs(self) -> list[Run]:
        out: list[Run] = []
        for line in self._lines():
            at = line.get("at")
            if not isinstance(at, int | float):
                continue
            if line.get("event") == "start":
                out.append(Run(float(at), None))
            elif line.get("event") == "end" and out and out[-1].code is None:
                code = line.get("code")
                out[-1] = Run(out[-1].started, code if isinstance(code, int) else CRASH_EXIT)
        return out

    def started(self) -> str:
        """Record a start; return a crash-loop warning (or "") about the runs before it."""
        warning = self.crash_loop()
        # A full or read-only disk must not keep the kiosk from starting.
        with contextlib.suppress(OSError):
            self._write([*self._lines(), {"event": "start", "at": self._now()}])
        return warning

    def ended(self, code: int) -> None:
        with contextlib.suppress(OSError):
            self._write([*self._lines(), {"event": "end", "at": self._now(), "code": code}])

    def crash_loop(self, running: bool = False) -> str:
        """"" unless several recent runs ended badly. ``running``: the last run is this one."""
        runs = self.runs()
        if running and runs:
            runs = runs[:-1]
        now = self._now()
        bad = [r for r in runs if r.bad and now - r.started <= CRASH_LOOP_WINDOW]
        if len(bad) < CRASH_LOOP_ENDS:
            return ""
        codes = ", ".join("killed" if r.code is None else f"exit {r.code}" for r in bad[-5:])
        minutes = int(CRASH_LOOP_WINDOW // 60)
        return (
            f"crash loop: {len(bad)} runs of the kiosk ended badly in the last {minutes} "
            f"minutes ({codes})."
        )
