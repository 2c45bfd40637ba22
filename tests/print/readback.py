"""Read printed PDFs back as a person or a scanner would: pdftotext for the words, pdftoppm
(300 dpi) and zbarimg for the barcodes."""

from __future__ import annotations

import subprocess
from pathlib import Path


def pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          check=True, timeout=60).stdout.decode()


def barcodes(pdf: Path, workdir: Path) -> dict[str, set[str]]:
    """Symbol type (CODE-128, QR-Code) -> the values zbarimg decodes from the first page."""
    prefix = workdir / pdf.stem
    subprocess.run(["pdftoppm", "-r", "300", "-gray", "-png", "-f", "1", "-l", "1", str(pdf),
                    str(prefix)], check=True, capture_output=True, timeout=60)
    (page,) = sorted(workdir.glob(f"{pdf.stem}*.png"))
    done = subprocess.run(["zbarimg", "-q", str(page)], capture_output=True, check=False,
                          timeout=60)
    found: dict[str, set[str]] = {}
    for line in done.stdout.decode().splitlines():
        kind, _, value = line.partition(":")
        found.setdefault(kind, set()).add(value)
    return found
