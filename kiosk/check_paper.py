"""`kiosk check`, printing: the label and mailer queues exist and accept jobs, and CUPS is set
up so that a PIN mailer leaves nothing behind (admin guide, "Printing"):

- ``PreserveJobFiles No`` in cupsd.conf: a printed job's document (the mailer, PIN included)
  is deleted at once, not kept for reprinting (CUPS keeps it a day by default);
- ``PreserveJobHistory`` No or short (at most an hour): job names hold no personal data, but
  the history need not outlive the job's follow-up;
- the spool (``RequestRoot`` and ``TempDir`` in cups-files.conf) on a tmpfs, so a document
  waiting for the printer is never written to a disk.

With mailers configured these are failures; with labels only, warnings.
"""

from __future__ import annotations

import re
from pathlib import Path

from kiosk.check_context import CheckContext, CheckResult, Status
from kiosk.paper.cups import Cups, PrintFault

MAX_HISTORY_SECONDS = 3600
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_FALSE = ("no", "off", "false")


def directives(path: Path) -> dict[str, str]:
    """Top-level ``Name value`` lines of a CUPS configuration file (last one wins)."""
    found: dict[str, str] = {}
    depth = 0
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("</"):
            depth = max(0, depth - 1)
        elif line.startswith("<"):
            depth += 1
        elif depth == 0:
            name, _, value = line.partition(" ")
            found[name.lower()] = value.strip()
    return found


def _seconds(value: str) -> float | None:
    """A CUPS time value in seconds; None for yes/on/true (forever)."""
    text = value.strip().lower()
    if text in _FALSE:
        return 0
    m = re.fullmatch(r"(\d+)\s*([smhdw]?)", text)
    return int(m.group(1)) * _UNITS[m.group(2)] if m else None


def _mount_type(path: Path, mountinfo: Path) -> str:
    """The filesystem type of the mount holding ``path`` (longest mount point prefix)."""
    best, kind = "", "unknown"
    target = str(path.resolve())
    for line in mountinfo.read_text().splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        point = fields[4].replace("\\040", " ")
        after = line.split(" - ", 1)[1].split()
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best) and after:
            best, kind = point, after[0]
    return kind


def cups_setup_problems(cups_root: Path, mountinfo: Path) -> list[str]:
    """What in CUPS's configuration lets a PIN outlive its print job; raises OSError when a
    file cannot be read."""
    conf = directives(cups_root / "cupsd.conf")
    files_conf = cups_root / "cups-files.conf"
    files = directives(files_conf) if files_conf.exists() else {}
    problems: list[str] = []
    if conf.get("preservejobfiles", "86400").lower() not in _FALSE:
        problems.append("cupsd.conf keeps printed documents (set PreserveJobFiles No)")
    history = _seconds(conf.get("preservejobhistory", "yes"))
    if history is None or history > MAX_HISTORY_SECONDS:
        problems.append(
            "cupsd.conf keeps job history long (set PreserveJobHistory No, or 300 seconds)"
        )
    spool = Path(files.get("requestroot", "/var/spool/cups"))
    for where in {spool, Path(files.get("tempdir", str(spool / "tmp")))}:
        kind = _mount_type(where, mountinfo)
        if kind != "tmpfs":
            problems.append(f"{where} is on {kind}, not tmpfs (documents waiting to print "
                            "would be written to disk)")
    return problems


def check_printing(
    ctx: CheckContext, cups_root: Path = Path("/etc/cups"),
    mountinfo: Path = Path("/proc/self/mountinfo"),
) -> CheckResult:
    assert ctx.settings is not None  # noqa: S101 - checked by the caller
    paper = ctx.settings.paper
    named = (paper.label_queue, paper.mailer_queue, paper.report_queue)
    queues = [q for q in dict.fromkeys(named) if q]
    if not queues:
        return CheckResult("printing", "ok", "no label or mailer queue is configured.")
    cups = Cups(paper.cups_server, timeout=10)
    try:
        for queue in queues:
            cups.check_queue(queue)
    except PrintFault as fault:
        return CheckResult("printing", "fail", fault.detail, fault.next_step)
    where = ", ".join(queues)
    status: Status = "fail" if paper.mailer_queue else "warn"
    try:
        problems = cups_setup_problems(cups_root, mountinfo)
    except OSError as exc:
        return CheckResult(
            "printing", "warn",
            f"queues {where} are ready; CUPS's configuration in {cups_root} cannot be read "
            f"({exc.strerror}).", "Run `kiosk check` as root to check it.",
        )
    if problems:
        return CheckResult(
            "printing", status, f"queues {where} are ready, but " + "; ".join(problems) + ".",
            "Configure CUPS as the admin guide says (Printing), then restart cups.",
        )
    return CheckResult("printing", "ok", f"queues {where} are ready; CUPS keeps no PIN.")
