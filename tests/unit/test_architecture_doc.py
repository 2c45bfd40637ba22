"""docs/architecture.md, the operator guide and the code tell one story: the same step order,
and the same layers as the import contracts that `lint-imports` checks."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from kiosk.model.steps import ENDINGS, PATH, Step

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
OPERATOR_GUIDE = ROOT / "docs" / "operator-guide.md"


def _section(text: str, heading: str) -> str:
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _layer_contract() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers: list[str] = next(c for c in contracts if c["type"] == "layers")["layers"]
    return layers


def _names(layer: str) -> list[tuple[str, bool]]:
    """(module, optional) for each module of one layer line of the contract."""
    out = []
    for raw in re.split(r"[|:]", layer):
        name = raw.strip()
        out.append((name.strip("()"), name.startswith("(")))
    return out


def test_the_documented_step_order_is_the_code_s() -> None:
    section = _section(ARCHITECTURE.read_text(encoding="utf-8"), "The step order")
    numbered = re.findall(r"^(\d+)\. `([^`]+)`", section, flags=re.MULTILINE)
    assert [int(n) for n, _ in numbered] == list(range(1, len(numbered) + 1))
    assert [step for _, step in numbered] == [s.value for s in PATH]
    endings = re.search(r"^Ends early: (.+)$", section, flags=re.MULTILINE)
    assert endings is not None, "the steps that end an enrollment early are not listed"
    assert re.findall(r"`([^`]+)`", endings.group(1)) == [s.value for s in ENDINGS]
    assert [*PATH, *ENDINGS] == list(Step), "every step is on the path or ends it"


def test_the_operator_guide_names_the_steps_as_the_screen_does() -> None:
    """The guide lists the steps with the words the enrollment screen draws (its step list's
    labels, in the screen's order), not the code's internal step names."""
    from kiosk.tui.widgets.steps import LABELS, SHOWN, render_steps

    guide = OPERATOR_GUIDE.read_text(encoding="utf-8")
    line = re.search(r"`([^`]*→[^`]+)`", guide, flags=re.DOTALL)
    assert line is not None, "the operator guide no longer lists the steps"
    shown = [s.strip() for s in " ".join(line.group(1).split()).split("→")]
    drawn = render_steps(None, []).plain.splitlines()
    on_screen = [row.strip().split(" ", 1)[1] for row in drawn if row.strip()]
    assert shown == on_screen, "the guide's steps differ from the screen's"
    assert shown == [LABELS[s] for s in SHOWN]
    assert [*SHOWN] == [s for s in PATH if s is not Step.QUEUED], "the screen shows every step"


def test_every_top_level_module_has_a_layer() -> None:
    """A new module under kiosk/ must be placed in the layers, or nothing checks its imports."""
    placed = {name for layer in _layer_contract() for name, _ in _names(layer)}
    present = {
        p.stem if p.is_file() else p.name
        for p in (ROOT / "kiosk").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
    }
    assert present - placed == set(), "modules in no layer of pyproject.toml's contract"
    required = {name for layer in _layer_contract() for name, opt in _names(layer) if not opt}
    assert required - present == set(), "the contract names modules that do not exist"


def test_the_page_names_every_layer_module() -> None:
    table = _section(ARCHITECTURE.read_text(encoding="utf-8"), "Layers")
    named = set(re.findall(r"`(\w+)/?`", table))
    for layer in _layer_contract():
        for name, optional in _names(layer):
            if name != "__main__" and not optional:
                assert name in named, f"docs/architecture.md does not place {name}"
