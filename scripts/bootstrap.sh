#!/usr/bin/env bash
# Prepare a fresh Debian machine (Python 3.11+) to run fido-kiosk: the Debian packages the
# build needs (pyscard, pulled in by yubikey-manager, compiles against libpcsclite with swig),
# then a virtualenv in .venv with the kiosk and its development tools. With --test it also
# installs what the test suite drives: openssl (opens sealed PINs as the helpdesk would), tmux
# (system tests read a real terminal), systemd-analyze (checks the service hardening) and
# strace (checks every system call of an enrollment against the service's filter), for the
# print tests CUPS with a CUPS-PDF queue, poppler-utils (pdftotext, pdftoppm) and zbar-tools,
# and postgresql (the fleet tests start their own server with initdb and pg_ctl as an
# unprivileged user).
# Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

py=${PYTHON:-python3}
need=()
for pkg in libpcsclite-dev swig; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
command -v gcc >/dev/null 2>&1 || need+=(gcc)
"$py" -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
"$py" - <<'PY' || need+=(python3-dev)
import os, sys, sysconfig
sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)
PY
if [ "${1:-}" = "--test" ]; then
    command -v openssl >/dev/null 2>&1 || need+=(openssl)
    command -v tmux >/dev/null 2>&1 || need+=(tmux)
    command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
    command -v strace >/dev/null 2>&1 || need+=(strace)
    # The print tests start a real CUPS server with a CUPS-PDF queue and read the PDFs back.
    [ -x /usr/sbin/cupsd ] || need+=(cups)
    [ -e /usr/lib/cups/backend/cups-pdf ] || need+=(printer-driver-cups-pdf)
    command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
    command -v zbarimg >/dev/null 2>&1 || need+=(zbar-tools)
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
fi
if [ "${#need[@]}" -gt 0 ]; then
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    echo "bootstrap: installing Debian packages: ${need[*]}" >&2
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    "$py" -m venv .venv
fi
stamp=.venv/.kiosk-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
    touch "$stamp"
fi
