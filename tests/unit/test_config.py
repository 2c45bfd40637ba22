"""kiosk.toml.example stays in step with the model; bad settings are named with line and remedy."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from kiosk.config import SECTIONS, EscrowSettings, Settings, load, parse, render_example
from kiosk.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "kiosk.toml.example"
REGENERATE = (
    ".venv/bin/python -c \"from kiosk.config import render_example; "
    "open('kiosk.toml.example', 'w').write(render_example())\""
)


def _uncommented(text: str) -> str:
    return re.sub(r"(?m)^#([a-z_]+ = )", r"\1", text)


def test_the_example_is_in_step_with_the_model() -> None:
    assert EXAMPLE.read_text(encoding="utf-8") == render_example(), (
        f"kiosk.toml.example is stale; regenerate it with: {REGENERATE}"
    )


def test_the_example_documents_every_setting() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for name, cls in SECTIONS.items():
        assert f"[{name}]" in text
        for f in dataclasses.fields(cls):
            assert re.search(rf"(?m)^#{f.name} = ", text), f"{name}.{f.name} missing"
            assert f"# {f.metadata['doc']}" in text


def test_the_example_parses_as_is_and_with_every_setting_uncommented() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert dataclasses.replace(parse(text), source="") == Settings(source="")
    every = _uncommented(text)
    assert every.count("\n#") < text.count("\n#")  # settings really were uncommented
    assert dataclasses.replace(parse(every), source="") == Settings(source="")


@pytest.mark.parametrize(
    ("toml", "line", "named", "allowed"),
    [
        ("[policy]\nreset = \"sometimes\"\n", 2, "policy.reset", "'never', 'ask', 'automatic'"),
        ("[policy]\n\nmin_pin_length = 2\n", 3, "policy.min_pin_length", "from 4 to 63"),
        ("[graph]\nprefetch = \"3\"\n", 2, "graph.prefetch", "a whole number"),
        ("[graph]\nmax_retries = true\n", 2, "graph.max_retries", "a whole number"),
        ("[tenant]\nlogin_url = \"http://x\"\n", 2, "tenant.login_url", "https://"),
        ("[policy]\nallowed_aaguids = [\"nope\"]\n", 2, "policy.allowed_aaguids", "UUID"),
        ("[policy]\nforce_pin_change = \"yes\"\n", 2, "policy.force_pin_change", "true or false"),
        ("[store]\npaht = \"/x\"\n", 2, "store.paht", "Known settings"),
        ("[stor]\npath = \"/x\"\n", 1, "[stor]", "Known sections"),
        ("[policy]\npin_length = 6\nmin_pin_length = 8\n", 2, "policy.pin_length", "at least 8"),
        ("[tenant]\nclient_secret = \"s3cr3t-value\"\n", 2, "tenant.client_secret", "file"),
        ("[tenant]\nclient_secret = [\"s3cr3t-value\"]\n", 2, "tenant.client_secret", "string"),
    ],
)
def test_a_bad_setting_names_itself_its_line_and_what_is_allowed(
    tmp_path: Path, toml: str, line: int, named: str, allowed: str
) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as err:
        load(path)
    detail = err.value.detail
    assert f"{path}:{line}:" in detail
    assert named in detail
    assert allowed in detail
    assert "s3cr3t-value" not in str(err.value)


def test_invalid_toml_and_a_missing_file_say_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text("[policy\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(path)
    with pytest.raises(ConfigError) as err:
        load(tmp_path / "absent.toml")
    assert "kiosk.toml.example" in err.value.next_step


def test_check_settings_exist_for_kiosk_check() -> None:
    s = parse('[graph]\ngroup = "Mailroom batch 7"\ncanary_upn = "canary@contoso.com"\n')
    assert s.graph.group == "Mailroom batch 7" and s.graph.canary_upn == "canary@contoso.com"


def test_pin_mailers_never_share_the_label_queue() -> None:
    with pytest.raises(ConfigError) as err:
        parse('[paper]\nlabel_queue = "labels"\nmailer_queue = "labels"\n')
    assert "kiosk.toml:3" in err.value.detail and "never share a printer" in err.value.detail
    settings = parse('[paper]\nlabel_queue = "labels"\nmailer_queue = "mailers"\n')
    assert settings.paper.mailer_queue == "mailers"


def test_the_cups_server_must_be_local() -> None:
    with pytest.raises(ConfigError) as err:
        parse('[paper]\ncups_server = "printserver.contoso.com:631"\n')
    assert "local socket path" in err.value.detail


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[graph]\ntimeout_seconds = nan\n", "graph.timeout_seconds"),
        ("[graph]\ntimeout_seconds = inf\n", "graph.timeout_seconds"),
        ("[graph]\ntimeout_seconds = -1\n", "graph.timeout_seconds"),
        ("[kiosk]\nidle_lock_minutes = nan\n", "kiosk.idle_lock_minutes"),
        ("[kiosk]\nidle_lock_minutes = -5\n", "kiosk.idle_lock_minutes"),
        ("[graph]\ncall_deadline_seconds = 1e9\n", "graph.call_deadline_seconds"),
        ("[policy]\nreset_window_seconds = -inf\n", "policy.reset_window_seconds"),
    ],
)
def test_nan_infinity_and_out_of_range_numbers_are_refused_by_name(text: str, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(text)
    assert key in err.value.detail


def test_a_5000_deep_array_is_refused_not_a_traceback() -> None:
    with pytest.raises(ConfigError, match="nested too deeply"):
        parse("[graph]\ngroup = " + "[" * 5000 + "]" * 5000 + "\n")


def test_every_number_setting_has_a_range() -> None:
    import dataclasses
    import typing

    from kiosk.config import SECTIONS

    missing = []
    for name, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if hints[f.name] in (int, float) and not f.metadata.get("check"):
                missing.append(f"{name}.{f.name}")
    assert missing == []


@pytest.mark.parametrize(
    ("mode", "seals", "shows"),
    [("sealed", True, False), ("show", False, True), ("both", True, True)],
)
def test_escrow_mode_says_whether_pins_are_sealed_and_shown(
    mode: str, seals: bool, shows: bool
) -> None:
    escrow = EscrowSettings(mode=mode)  # type: ignore[arg-type]
    assert (escrow.seals, escrow.shows) == (seals, shows)
