"""A configured secret is never repeated: not by a configuration error, not by the admin's
"config" screen, not by `kiosk check` (which signs in with it for real)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.config import KioskSettings, OperatorSettings, Settings, TenantSettings, parse
from kiosk.entra.fake.server import FakeTenant
from kiosk.errors import ConfigError
from kiosk.operators.pin_hash import hash_pin
from kiosk.tui.screens.admin import effective_config

SECRET = "inline~Secret~7Qz_51c0d3"
HASH = hash_pin("582947")


@pytest.mark.parametrize(
    ("section", "line"),
    [
        ("tenant", f"client_secret = [\"{SECRET}\"]"),
        ("kiosk.operators", f"pin_hash = [\"{HASH}\"]"),
        ("kiosk", f"operators = \"{HASH}\""),
        ("kiosk", f"operators = [\"{HASH}\"]"),
    ],
)
def test_a_refused_secret_setting_is_named_but_its_value_is_not_shown(
    section: str, line: str
) -> None:
    with pytest.raises(ConfigError) as info:
        head = f"[[{section}]]\nname = \"Ada\"" if "." in section else f"[{section}]"
        parse(f"{head}\n{line}\n", "kiosk.toml")
    text = f"{info.value} {info.value!r}"
    where = "kiosk.toml:3" if "." in section else "kiosk.toml:2"
    assert line.split(" =", maxsplit=1)[0] in text and where in text
    assert SECRET not in text and HASH not in text and "hidden" in text


def test_an_inline_secret_without_permission_is_refused_without_echo() -> None:
    with pytest.raises(ConfigError) as info:
        parse(f'[tenant]\nclient_secret = "{SECRET}"\n', "kiosk.toml")
    assert "allow_inline_secret" in str(info.value)
    assert SECRET not in str(info.value)


def test_broken_toml_around_a_secret_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        parse(f'[tenant]\nclient_secret = "{SECRET}\n', "kiosk.toml")
    assert "not valid TOML" in str(info.value) and SECRET not in str(info.value)


def test_the_admin_config_screen_masks_every_secret() -> None:
    settings = Settings(
        tenant=TenantSettings(
            client_secret=SECRET, allow_inline_secret=True, client_secret_file="/run/s",
            pfx_passphrase_file="/run/p",
        ),
        kiosk=KioskSettings(
            operators=[OperatorSettings("Ada", "admin", HASH + "ada"),
                       OperatorSettings("Bob", pin_hash=HASH + "bob")],
        ),
    )
    lines = effective_config(settings)
    text = "\n".join(lines)
    assert SECRET not in text and HASH not in text
    assert "tenant.client_secret = •••••• (set)" in lines
    assert "Ada" in text  # the rest is still shown


def test_kiosk_check_signs_in_with_an_inline_secret_and_never_prints_it(
    fake_tenant: FakeTenant, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    config = tmp_path / "kiosk.toml"
    tenant = fake_tenant.kiosk_toml("secret").replace(
        f'client_secret_file = "{fake_tenant.client_secret_file}"',
        f'client_secret = "{fake_tenant.client_secret}"\nallow_inline_secret = true',
    )
    assert fake_tenant.client_secret in tenant
    config.write_text(
        tenant
        + f'[store]\npath = "{state}/kiosk.db"\naudit_path = "{state}/audit.jsonl"\n'
        + f'manifest_directory = "{state}/manifests"\nmds_blob = "{state}/mds3.jwt"\n'
        + f'[escrow]\nmode = "show"\ndirectory = "{state}/escrow"\n'
        + f'[kiosk]\noperators = [{{name = "Ada", role = "admin", pin_hash = "{HASH}"}}]\n'
    )
    config.chmod(0o640)
    main(["check", "--config", str(config)])
    out = capsys.readouterr()
    text = out.out + out.err
    assert "a client secret from kiosk.toml (inline)" in text
    assert fake_tenant.tokens.issued_tokens(), "kiosk check signed in"
    for secret in [fake_tenant.client_secret, HASH, *fake_tenant.tokens.issued_tokens()]:
        assert secret not in text


def test_settings_repr_leaves_secrets_and_hashes_out() -> None:
    """A traceback or a log line that shows the settings must not show the secret."""
    settings = Settings(
        tenant=TenantSettings(client_secret=SECRET, allow_inline_secret=True, tenant_id="t1"),
        kiosk=KioskSettings(operators=[OperatorSettings("Ada", "admin", HASH)]),
    )
    text = repr(settings)
    assert SECRET not in text and HASH not in text
    assert "tenant_id='t1'" in text and "allow_inline_secret=True" in text
    assert settings.tenant.client_secret == SECRET  # hidden from repr, not lost
