"""DEMO ONLY: the kiosk on the fake tenant, with keys to plug a virtual key (choosing its
profile), touch it and pull it. Nothing here is reachable from `kiosk run`."""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from kiosk.config import Settings
from kiosk.enroll.api import EngineControl
from kiosk.keys.virtual.profiles import PROFILES
from kiosk.tui.app import KioskApp

DEMO_OPERATOR = "Demo operator"
DEMO_OPERATOR_PIN = "1234"
DEMO_ADMIN_PIN = "0000"
# scrypt hashes of the two demo PINs above (public on purpose: this is the demo).
_DEMO_OPERATOR_HASH = (
    "scrypt$n=16384,r=8,p=1$Zmlkby1raW9zay1kZW1vLW9wZXJhdG9y$"
    "LEs-HMVXh7-7DsnCRtWjJaHAT9uYXa9iOjxSSYRYhbY"
)
_DEMO_ADMIN_HASH = (
    "scrypt$n=16384,r=8,p=1$Zmlkby1raW9zay1kZW1vLWFkbWlu$"
    "QZ2RvaZQlcno0stB6LkWPf_IFM6tKL-7kTqdTBWGkQs"
)
BANNER = f"DEMO: PIN {DEMO_OPERATOR_PIN}, admin PIN {DEMO_ADMIN_PIN}"


class DemoKeys(Protocol):
    """What the demo environment does with its virtual USB port."""

    def plug(self, profile: str) -> Any: ...
    def touch(self) -> Any: ...
    def pull(self) -> Any: ...


def demo_settings(settings: Settings) -> Settings:
    """The demo's settings: its own operator and admin PIN unless some are configured."""
    kiosk = settings.kiosk
    if not kiosk.operators:
        kiosk = dataclasses.replace(
            kiosk, operators=[{"name": DEMO_OPERATOR, "pin_hash": _DEMO_OPERATOR_HASH}]
        )
    if not kiosk.admin_pin_hash:
        kiosk = dataclasses.replace(kiosk, admin_pin_hash=_DEMO_ADMIN_HASH)
    return dataclasses.replace(settings, kiosk=kiosk)


class ProfileScreen(ModalScreen[str]):
    """DEMO: choose which kind of key to plug in."""

    CSS_PATH = "screens/modal.tcss"
    BINDINGS = [
        *[Binding(str(n), f"pick({n - 1})", show=False) for n in range(1, len(PROFILES) + 1)],
        Binding("escape", "cancel", "Cancel"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("DEMO: plug in a virtual key", id="title")
            yield OptionList(
                *[
                    Option(f"{n}  {p.name}: {p.description}", id=p.name)
                    for n, p in enumerate(PROFILES.values(), 1)
                ],
                id="profiles",
            )
            yield Static("Press its number, or ↑ ↓ and Enter.", id="next")
        yield Footer()

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_pick(self, index: int) -> None:
        self.dismiss(list(PROFILES)[index])

    def action_cancel(self) -> None:
        self.dismiss(None)


class DemoKioskApp(KioskApp):
    """The kiosk plus the DEMO keys: F2 plug a key, F3 touch it, F4 pull it."""

    BINDINGS = [
        Binding("f2", "demo_plug", "Plug", priority=True, tooltip="DEMO: plug in a key"),
        Binding("f3", "demo_touch", "Touch", priority=True, tooltip="DEMO: touch the key"),
        Binding("f4", "demo_pull", "Pull", priority=True, tooltip="DEMO: pull the key out"),
    ]

    def __init__(self, engine: EngineControl, settings: Settings, keys: DemoKeys, **kw: Any):
        kw.setdefault("banner", BANNER)
        super().__init__(engine, demo_settings(settings), **kw)
        self.keys = keys

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action.startswith("demo_"):
            from kiosk.tui.screens.admin import AdminScreen

            return not isinstance(self.screen, AdminScreen)
        return True

    def action_demo_plug(self) -> None:
        def chosen(profile: str | None) -> None:
            if profile:
                self.demo_do("plug", profile)

        self.push_screen(ProfileScreen(), chosen)

    def action_demo_touch(self) -> None:
        self.demo_do("touch")

    def action_demo_pull(self) -> None:
        self.demo_do("pull")

    @work(thread=True, exit_on_error=False, group="demo")
    def demo_do(self, what: str, profile: str = "") -> None:
        if what == "plug":
            self.keys.plug(profile)
        elif what == "touch":
            self.keys.touch()
        else:
            self.keys.pull()


def run_demo(env: Any, **kw: Any) -> int:
    """Run the interactive demo on ``env`` (a kiosk.demo DemoEnvironment)."""
    app = DemoKioskApp(env.engine, env.settings, env, **kw)
    return app.run() or 0
