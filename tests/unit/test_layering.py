"""The core never imports Textual: the TUI is a thin layer over it (ARCHITECTURE.md)."""

from __future__ import annotations

import subprocess
import sys

import pytest

CORE = ["kiosk.keys", "kiosk.entra", "kiosk.enroll", "kiosk.store", "kiosk.audit"]


@pytest.mark.parametrize("package", CORE)
def test_core_package_imports_without_textual(package: str) -> None:
    # Import every module of the package in a fresh interpreter, then check sys.modules.
    code = f"""
import importlib, pkgutil, sys
mod = importlib.import_module({package!r})
if hasattr(mod, "__path__"):
    for info in pkgutil.walk_packages(mod.__path__, mod.__name__ + "."):
        importlib.import_module(info.name)
bad = sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))
print("\\n".join(bad))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"{package} pulls in Textual: {out.stdout.split()[:3]}"
