"""The kiosk's USB stick on a plain folder, for tests: what udev, systemd and the root eject
unit show the kiosk, without a block device. "Mounted" while the folder is there; the eject
request the kiosk writes (with its own code) is answered as fido-kiosk-eject.service does:
the stick goes (the folder is moved away) and the request is removed."""

from __future__ import annotations

import threading
from pathlib import Path

from kiosk.tui.screens.files import UsbStick


class FolderStick(UsbStick):
    def __init__(self, mount: Path, request: Path, *, unit_works: bool = True) -> None:
        super().__init__(mount, request)
        self.unit_works = unit_works
        self.requests = 0
        self._stop = threading.Event()
        self._unit = threading.Thread(target=self._eject_unit, daemon=True)
        self._unit.start()

    def mounted(self) -> bool:
        return self.mount is not None and self.mount.is_dir()

    def _eject_unit(self) -> None:
        while not self._stop.wait(0.05):
            if not self.request.exists():
                continue
            assert self.request.read_bytes() == b"eject\n"
            self.requests += 1
            if self.unit_works and self.mount is not None:
                self.mount.rename(self.mount.with_name(self.mount.name + "-pulled"))
            self.request.unlink()

    def close(self) -> None:
        self._stop.set()
        self._unit.join(timeout=2)
