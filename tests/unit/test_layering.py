"""The core never imports Textual or Rich: the TUI is a thin layer over it
(docs/architecture.md). `lint-imports` checks the same statically; this proves it at run time,
where a module imported by a module-level side effect would show too."""

from __future__ import annotations

import subprocess
import sys

import pytest

CORE = [
    "kiosk.model",
    "kiosk.keys",
    "kiosk.entra",
    "kiosk.enroll",
    "kiosk.store",
    "kiosk.audit",
    "kiosk.operators",
    "kiosk.config",
    "kiosk.wiring",
    "kiosk.check",
]
UI = ("textual", "rich")


@pytest.mark.parametrize("package", CORE)
def test_core_package_imports_without_textual_or_rich(package: str) -> None:
    # Import every module of the package in a fresh interpreter, then check sys.modules.
    code = f"""
import importlib, pkgutil, sys
mod = importlib.import_module({package!r})
if hasattr(mod, "__path__"):
    for info in pkgutil.walk_packages(mod.__path__, mod.__name__ + "."):
        importlib.import_module(info.name)
bad = sorted(m for m in sys.modules if m.split(".")[0] in {UI!r})
print("\\n".join(bad))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"{package} pulls in a UI library: {out.stdout.split()[:3]}"
