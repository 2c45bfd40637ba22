"""An admin picks one of a user's FIDO2 methods, as Entra lists them, to delete: nothing is
deleted but the one picked (and confirmed). The method the kiosk registered for the key is
marked; every name and id from Graph is shown as plain text."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from kiosk.entra.models import Fido2Method
from kiosk.model.codec import same_method_id
from kiosk.model.text import clean


def method_line(method: Fido2Method, ours: str | None) -> Text:
    created = method.created.date().isoformat() if method.created is not None else "?"
    mark = "  (this key)" if ours and same_method_id(method.id, ours) else ""
    return Text(
        f"{clean(method.display_name, 30) or '(no name)'}  {clean(method.model or '', 24)}  "
        f"{created}  id {clean(method.id, 20)}{mark}",
        no_wrap=True, overflow="ellipsis",
    )


class MethodPickScreen(ModalScreen[str | None]):
    """Dismissed with the picked method's id (as Graph spells it), or None."""

    CSS_PATH = "modal.tcss"
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, upn: str, methods: list[Fido2Method], ours: str | None) -> None:
        super().__init__(classes="-confirm")
        self._upn = upn
        self._methods = methods
        self._ours = ours

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"?  Delete which method of {clean(self._upn)}?", id="title",
                         markup=False)
            yield OptionList(
                *[Option(method_line(m, self._ours), id=str(i))
                  for i, m in enumerate(self._methods)],
                id="methods",
            )
            yield Static("Pick one and press Enter; only that one is deleted. Esc: none.",
                         id="next", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        methods = self.query_one(OptionList)
        methods.highlighted = 0 if self._methods else None
        methods.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self._methods[event.option_index].id)
