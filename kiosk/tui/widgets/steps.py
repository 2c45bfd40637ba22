"""The per-user steps, the current one highlighted; each line has a symbol, not only a colour."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from kiosk.enroll.events import Step

SHOWN: tuple[Step, ...] = (
    Step.OPTIONS_READY,
    Step.KEY_INSERTED,
    Step.KEY_CHECKED,
    Step.RESET,
    Step.PIN_SET,
    Step.CREDENTIAL_CREATED,
    Step.PIN_POLICY_APPLIED,
    Step.REGISTERED,
    Step.DONE,
)

LABELS: dict[Step, str] = {
    Step.OPTIONS_READY: "Options from Entra",
    Step.KEY_INSERTED: "Key inserted",
    Step.KEY_CHECKED: "Key checked",
    Step.RESET: "Reset if needed",
    Step.PIN_SET: "PIN set",
    Step.CREDENTIAL_CREATED: "Credential made",
    Step.PIN_POLICY_APPLIED: "PIN policy applied",
    Step.REGISTERED: "Registered (Entra)",
    Step.DONE: "Done",
}


def render_steps(current: Step | None, passed: list[Step], detail: str = "") -> Text:
    """One line per step: ✔ passed, ▶ current, ✘ where it failed, · still to come."""
    text = Text()
    failed = current in (Step.FAILED, Step.SKIPPED)
    failed_at = next((s for s in SHOWN if s not in passed), None) if failed else None
    for step in SHOWN:
        label = LABELS[step]
        if step is current or (step is Step.DONE and current is Step.DONE):
            line = Text(f" ▶ {label} ", style="bold reverse")
        elif failed and step is failed_at:
            word = "failed" if current is Step.FAILED else "skipped"
            line = Text(f" ✘ {label}: {word}", style="bold red")
        elif step in passed:
            line = Text(f" ✔ {label}", style="")
        else:
            line = Text(f" · {label}", style="dim")
        text.append_text(line)
        text.append("\n")
    if detail:
        text.append(f"   {detail}", style="italic")
    return text


class StepsList(Static):
    """The list of steps of the user being enrolled."""

    DEFAULT_CSS = """
    StepsList { width: 26; height: auto; padding: 0 0; }
    """

    def show(self, current: Step | None, passed: list[Step], detail: str = "") -> None:
        self.update(render_steps(current, passed, detail))
