"""fido-kiosk: enroll FIDO2 security keys on behalf of Microsoft Entra ID users."""

import sys as _sys

__version__ = "0.1.0"


def _kiosk_run_started() -> bool:
    """True when this interpreter runs ``kiosk run`` (the console script or ``-m kiosk``)."""
    argv = _sys.argv
    return len(argv) > 1 and argv[1] == "run" and argv[0].rsplit("/", 1)[-1] in (
        "kiosk", "-m", "__main__.py",
    )


if _kiosk_run_started():
    # The first code `kiosk run` executes: a Ctrl+C typed on tty1 before the TUI owns the
    # console would otherwise end the kiosk by SIGINT, which systemd counts as a clean stop.
    from kiosk.process import ignore_terminal_signals as _ignore

    _ignore()
