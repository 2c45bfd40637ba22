"""DEMO ONLY: the kiosk on the fake tenant, with keys to plug a virtual key (choosing its
profile), touch it and pull it. Nothing here is reachable from `kiosk run`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from kiosk.config import Settings
from kiosk.enroll.api import EngineControl
from kiosk.enroll.events import Prompt
from kiosk.keys.virtual.profiles import PROFILES
from kiosk.process import ADMIN_EXIT, exit_code
from kiosk.tui.app import KioskApp
from kiosk.tui.glyphs import glyphs_of

if TYPE_CHECKING:
    from kiosk.keys.virtual.device import VirtualKey
    from kiosk.keys.virtual.port import VirtualPort

AGAIN = "again:"
"""Option ids of keys pulled earlier: ``again:<n>``, n counting from the one pulled last."""
OPERATOR = "operator"
PULLED_SHOWN = 12
"""Keys pulled earlier that the F2 menu lists (the last pulled first)."""
LETTERS = "abcdefghijk"
"""The keys that pick the second, third, ... key pulled earlier (0 picks the last one)."""
WHY_PULLED = {Prompt.TOUCH_KEY: "pulled mid-touch", Prompt.CONFIRM_RESET: "pulled at the reset "
              "question", Prompt.REINSERT_KEY: "pulled for its re-insert"}
"""What the F2 menu says of a key pulled while the kiosk showed that prompt."""


class DemoKeys(Protocol):
    """What the TUI uses of kiosk.demo's DemoEnvironment: its engine and its virtual port."""

    @property
    def engine(self) -> EngineControl: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def port(self) -> VirtualPort: ...
    @property
    def operator_key(self) -> VirtualKey | None: ...
    @property
    def banner(self) -> str: ...
    @property
    def sign_in_note(self) -> str: ...
    def plug(self, profile: str) -> Any: ...
    def plug_again(self, key: VirtualKey) -> None: ...
    def pulled_keys(self) -> list[tuple[VirtualKey, str]]: ...
    def touch(self) -> Any: ...
    def pull(self, why: str = "") -> Any: ...
    def close(self) -> None: ...


class ProfileScreen(ModalScreen[str]):
    """DEMO: choose which kind of key to plug in, or a key pulled earlier (listed with its
    serial and state: "41000003, pulled mid-touch, PIN set by the kiosk")."""

    CSS_PATH = "screens/modal.tcss"
    BINDINGS = [
        *[Binding(str(n), f"pick({n - 1})", show=False) for n in range(1, len(PROFILES) + 1)],
        Binding("0", "again(0)", show=False),
        *[Binding(c, f"again({n})", show=False) for n, c in enumerate(LETTERS, 1)],
        Binding("9", "operator", show=False),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, pulled: list[str] | None = None) -> None:
        super().__init__()
        self._pulled = (pulled or [])[:PULLED_SHOWN]

    def compose(self) -> ComposeResult:
        options = [
            Option(Text(f"{n}  {p.name}: {p.description}"), id=p.name)
            for n, p in enumerate(PROFILES.values(), 1)
        ]
        again = [
            Option(Text(f"0  the key just pulled, again: {line}" if n == 0
                        else f"{LETTERS[n - 1]}  again: {line}"), id=f"{AGAIN}{n}")
            for n, line in enumerate(self._pulled)
        ]
        options = [*again[:1], *options, *again[1:]]
        options.append(Option("9  the demo operator's own key (sign in with F5)", id=OPERATOR))
        with Vertical(id="dialog"):
            yield Static("DEMO: plug in a virtual key", id="title")
            yield OptionList(*options, id="profiles")
            hint = glyphs_of(self).text("Press its number or letter, or ↑ ↓ and Enter.")
            yield Static(hint, id="next")
        yield Footer()

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_pick(self, index: int) -> None:
        self.dismiss(list(PROFILES)[index])

    def action_operator(self) -> None:
        self.dismiss(OPERATOR)

    def action_again(self, n: int) -> None:
        if n < len(self._pulled):
            self.dismiss(f"{AGAIN}{n}")

    def action_cancel(self) -> None:
        self.dismiss(None)


class DemoKioskApp(KioskApp):
    """The kiosk plus the DEMO keys: F2 plug a key, F3 touch it, F4 pull it.

    Give it a started environment (``env``), or a ``make_env`` that builds and starts one: it
    then runs in a worker while the sign-in screen is already up.
    """

    BINDINGS = [
        Binding("f2", "demo_plug", "Plug", priority=True, tooltip="DEMO: plug in a key"),
        Binding("f3", "demo_touch", "Touch", priority=True, tooltip="DEMO: touch the key"),
        Binding("f4", "demo_pull", "Pull", priority=True, tooltip="DEMO: pull the key out"),
    ]

    def __init__(
        self,
        settings: Settings,
        *,
        env: DemoKeys | None = None,
        make_env: Callable[[], DemoKeys] | None = None,
        **kw: Any,
    ) -> None:
        kw.setdefault("banner", env.banner if env is not None else "")
        kw.setdefault("sign_in_note", env.sign_in_note if env is not None else "")
        engine = env.engine if env is not None else None
        super().__init__(engine, settings, boot=self._start_env, **kw)
        self.env = env
        self._make_env = make_env
        self._offered: list[VirtualKey] = []
        """The keys pulled earlier that the open F2 menu lists, in its order."""
        if env is not None:
            self.hid = env.port

    def _start_env(self) -> EngineControl:
        if self._make_env is None:
            raise RuntimeError("DemoKioskApp needs env or make_env")
        env = self._make_env()
        self.settings = env.settings
        self.hid = env.port
        self.env = env
        return env.engine

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action.startswith("demo_"):
            from kiosk.tui.screens.admin import AdminScreen

            return not isinstance(self.screen, AdminScreen)
        return True

    def action_demo_plug(self) -> None:
        if self.env is None:
            self.notify("The demo is still starting.")
            return
        pulled = self.env.pulled_keys()[:PULLED_SHOWN]
        self._offered = [key for key, _ in pulled]

        def chosen(profile: str | None) -> None:
            if profile:
                self.demo_do("plug", profile)

        self.push_screen(ProfileScreen([line for _, line in pulled]), chosen)

    def action_demo_touch(self) -> None:
        self.demo_do("touch")

    def action_demo_pull(self) -> None:
        self.demo_do("pull", why=WHY_PULLED.get(self.state.prompt, ""))

    @work(thread=True, exit_on_error=False, group="demo")
    def demo_do(self, what: str, profile: str = "", why: str = "") -> None:
        env = self.env
        if env is None:
            return
        if what == "plug" and profile == OPERATOR and env.operator_key is not None:
            env.port.plug(env.operator_key)
        elif what == "plug" and profile.startswith(AGAIN):
            n = int(profile.removeprefix(AGAIN))
            if n < len(self._offered):
                env.plug_again(self._offered[n])
        elif what == "plug":
            env.plug(profile)
        elif what == "touch":
            if not any(key.waiting_for_touch for key in env.port.keys):
                # As on a real key, a touch before it blinks does not count: say so.
                self.call_from_thread(
                    self.notify, "DEMO: no key is waiting for a touch; that touch did not count."
                )
            env.touch()
        else:
            env.pull(why)


def demo_exit_code(return_code: int | None) -> int:
    """The demo's admin exit ends it normally (no service restarts it); a crash is not 0."""
    code = exit_code(return_code)
    return 0 if code == ADMIN_EXIT else code


def run_demo(env: DemoKeys, **kw: Any) -> int:
    """Run the interactive demo on a started ``env`` (a kiosk.demo DemoEnvironment)."""
    app = DemoKioskApp(env.settings, env=env, **kw)
    app.run()
    return demo_exit_code(app.return_code)


def run_demo_lazily(make_env: Callable[[], DemoKeys], settings: Settings, **kw: Any) -> int:
    """Show the kiosk at once and build the demo environment behind it (``make_env`` starts
    it); close the environment when the kiosk exits. ``settings`` serve until then (the
    demo's people, so the sign-in screen is ready at once)."""
    app = DemoKioskApp(settings, make_env=make_env, **kw)
    try:
        app.run()
        return demo_exit_code(app.return_code)
    finally:
        if app.env is not None:
            app.env.close()
