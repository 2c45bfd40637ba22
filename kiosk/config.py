"""kiosk.toml -> one typed, validated :class:`Settings` object.

Every setting is declared once, with its default and a one-line description, via
:func:`setting`. ``kiosk.toml.example`` is rendered from these declarations (see
:func:`render_example`), so documentation and code cannot drift apart. A bad value raises
:class:`~kiosk.errors.ConfigError` naming the setting, its line and what is allowed.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from kiosk.config_fields import Check, setting, span
from kiosk.config_fields import between as _between
from kiosk.config_paper import PaperSettings
from kiosk.config_store import StoreSettings
from kiosk.config_toml import (
    aaguids,
    https,
    line_of,
    loads_deep,
    located,
    nth_table_line,
    person_name,
    required,
    table_list,
    toml_value,
    type_ok,
)
from kiosk.errors import ConfigError

__all__ = [
    "SECTIONS", "Check", "EscrowSettings", "GraphSettings", "KioskSettings", "OperatorSettings",
    "PaperSettings", "PolicySettings", "Settings", "StoreSettings", "TenantSettings",
    "hidden_setting", "load", "parse", "render_example", "setting",
]


@dataclass(frozen=True)
class TenantSettings:
    """The Entra ID tenant and the app registration the kiosk signs in as."""

    tenant_id: str = setting("", "Directory (tenant) id or verified domain of the tenant.")
    client_id: str = setting("", "Application (client) id of the kiosk's app registration.")
    login_url: str = setting(
        "https://login.microsoftonline.com",
        "Entra ID login endpoint (national clouds differ).",
        https,
    )
    graph_url: str = setting(
        "https://graph.microsoft.com", "Microsoft Graph endpoint (national clouds differ).", https
    )
    certificate_file: str = setting(
        "", "PEM certificate of the app's certificate credential (preferred over a secret)."
    )
    private_key_file: str = setting("", "PEM private key for certificate_file; must be mode 0600.")
    pfx_file: str = setting(
        "", "PKCS#12 file holding certificate and key, instead of the two PEMs."
    )
    pfx_passphrase_file: str = setting("", "File holding the passphrase of pfx_file.")
    client_secret_file: str = setting(
        "", "File holding a client secret, if no certificate is used; must be mode 0600."
    )
    client_secret: str = setting(
        "",
        "Inline client secret: refused unless allow_inline_secret is true. Prefer a file.",
        secret=True,
    )
    allow_inline_secret: bool = setting(False, "Accept client_secret written inline (warned).")
    credentials_directory: str = setting(
        "", "Directory of systemd credentials (defaults to $CREDENTIALS_DIRECTORY when set)."
    )
    ca_bundle: str = setting(
        "", "Extra CA bundle to trust for login and Graph (only for a private test tenant)."
    )


@dataclass(frozen=True)
class GraphSettings:
    """How the kiosk talks to Microsoft Graph."""

    creation_options_api: Literal["beta", "v1.0"] = setting(
        "beta", "beta allows a chosen challenge timeout; v1.0 has a fixed 5-minute challenge."
    )
    challenge_timeout_minutes: int = setting(
        60, "Lifetime of a creation-options challenge (beta only).", _between(5, 43200)
    )
    timeout_seconds: float = setting(30.0, "Timeout of one login or Graph call.", span(1, 600))
    call_deadline_seconds: float = setting(
        300.0, "Longest one Graph call may take, retries and waits included.", span(5, 3600)
    )
    max_retries: int = setting(
        6, "Retries on 429, 503, 504 and connection errors.", _between(0, 20)
    )
    retry_after_cap_seconds: float = setting(60.0, "Longest Retry-After honoured.", span(0, 3600))
    prefetch: int = setting(
        3, "How many upcoming users get their creation options fetched ahead.", _between(0, 50)
    )
    group: str = setting(
        "", "Entra group (display name or object id) whose members are enrolled, if any."
    )
    canary_upn: str = setting(
        "", "A test user: `kiosk check` fetches creation options for it (nothing is registered)."
    )


@dataclass(frozen=True)
class PolicySettings:
    """Which keys are accepted and how they are set up."""

    allowed_aaguids: list[str] = setting(
        [], "Only these AAGUIDs are enrolled (empty: any).", aaguids
    )
    blocked_aaguids: list[str] = setting([], "These AAGUIDs are always refused.", aaguids)
    min_firmware: str = setting("", 'Refuse keys with older firmware, e.g. "5.4.3" (empty: any).')
    pin_policy: Literal["required", "optional"] = setting(
        "required", "required: refuse keys that cannot enforce min PIN length / force PIN change; "
        "optional: enroll them without and say so.")
    reset: Literal["never", "ask", "automatic"] = setting(
        "ask", "What to do with a key that already has a PIN or credentials."
    )
    reset_window_seconds: float = setting(
        10.0, "A reset is only accepted this long after the key is inserted.", span(1, 60)
    )
    refuse_used_serials: bool = setting(
        True, "Refuse a key whose serial is already enrolled to someone in the inventory."
    )
    min_pin_length: int = setting(6, "Minimum PIN length set on the key.", _between(4, 63))
    force_pin_change: bool = setting(True, "Force the user to change the PIN on first use.")
    pin_source: Literal["generated", "operator"] = setting(
        "generated", "generated: the kiosk makes a random PIN; operator: the operator types it."
    )
    pin_length: int = setting(
        8, "Length of generated PINs (never below min_pin_length).", _between(4, 63)
    )
    pin_alphabet: Literal["digits", "alphanumeric"] = setting("digits", "Generated PIN characters.")
    display_name_template: str = setting(
        "{model} {serial}", "Name of the method in Entra; 30 characters at most, serial kept."
    )
    keys_per_user: int = setting(1, "Keys per user by default (backups).", _between(1, 10))
    guests: Literal["allow", "ask", "refuse"] = setting(
        "ask", "B2B guest accounts (#EXT#): allow, ask the operator (name, home tenant) or refuse.")
    csv_max_rows: int = setting(
        100_000, "Most rows one CSV may hold; a larger file is refused.", _between(1, 10**7)
    )


@dataclass(frozen=True)
class EscrowSettings:
    """How a PIN is handed over."""

    mode: Literal["sealed", "show", "both"] = setting(
        "sealed",
        "sealed: encrypted to the helpdesk certificates; show: shown once on screen; both.",
    )
    recipients: list[str] = setting(
        [], "PEM certificates of the helpdesk; a sealed PIN opens with any of their keys."
    )
    directory: str = setting(
        "/var/lib/fido-kiosk/escrow", "Where sealed PINs (CMS files) are kept."
    )
    show_seconds: int = setting(
        60, "A PIN shown on screen clears itself after this many seconds.", _between(5, 3600)
    )

    @property
    def seals(self) -> bool:
        """PINs are sealed to the helpdesk (modes sealed and both)."""
        return self.mode in ("sealed", "both")

    @property
    def shows(self) -> bool:
        """PINs are shown once on screen, for a PIN mailer (modes show and both)."""
        return self.mode in ("show", "both")


@dataclass(frozen=True)
class OperatorSettings:
    """One person who may sign in: a [[kiosk.operators]] table."""

    name: str = setting("", "Name shown at sign-in and in the audit trail.", person_name)
    role: Literal["operator", "admin"] = setting(
        "operator", "operator: enrolls keys; admin: may also open the admin screen and exit."
    )
    pin_hash: str = setting(
        "", "scrypt hash of the PIN (from `kiosk operator add`).", required, secret=True
    )
    key_credential: str = setting(
        "", "The person's own FIDO2 key for sign-in (from `kiosk operator add --key`)."
    )


@dataclass(frozen=True)
class KioskSettings:
    """The kiosk itself."""

    idle_lock_minutes: float = setting(
        5.0, "Lock the kiosk after this long without a key press.", span(0.5, 240)
    )
    theme: Literal["default", "high-contrast"] = setting("default", "Colour theme.")
    glyphs: Literal["auto", "unicode", "console"] = setting(
        "auto",
        "Symbols: console = ASCII for the Linux text console; auto = console on TERM=linux.",
    )
    poll_interval_ms: int = setting(50, "How often the kiosk looks for keys.", _between(10, 2000))
    operators: list[OperatorSettings] = setting(
        [],
        "Who may sign in: [[kiosk.operators]] tables (name, role, pin_hash, key_credential).",
        secret=True,
    )
    operator_key_verification: bool = setting(
        True,
        "Sign-in with an operator's own key also needs that key's PIN; false: a touch suffices.",
    )


@dataclass(frozen=True)
class Settings:
    tenant: TenantSettings = field(default_factory=TenantSettings)
    graph: GraphSettings = field(default_factory=GraphSettings)
    policy: PolicySettings = field(default_factory=PolicySettings)
    escrow: EscrowSettings = field(default_factory=EscrowSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    kiosk: KioskSettings = field(default_factory=KioskSettings)
    paper: PaperSettings = field(default_factory=PaperSettings)
    source: str = "<defaults>"


SECTIONS: Mapping[str, type[Any]] = {
    f.name: f.default_factory  # type: ignore[misc]
    for f in dataclasses.fields(Settings)
    if f.name != "source"
}


SECRET_WORDS = ("secret", "hash", "passphrase", "password", "token")
"""A setting whose key holds one of these words holds a secret: never shown, never repeated."""


def hidden_setting(key: str) -> bool:
    """Settings whose value a message never repeats (secrets, PIN hashes, operator tables)."""
    return "operators" in key or any(word in key for word in SECRET_WORDS)


MIGRATED = {
    ("kiosk", "admin_pin_hash"): (
        "kiosk.admin_pin_hash (one shared admin PIN) is no longer read: admins are named "
        "operators now. Run `kiosk operator add NAME --admin` for each admin, paste its "
        '[[kiosk.operators]] table (role = "admin") and delete the admin_pin_hash line.'
    ),
}  # settings that were removed, with what to do instead (docs/admin-guide.md, upgrading)


def _build_tables(
    name: str, cls: type[Any], data: Any, text: str, *, where: str, at: str
) -> list[Any]:
    """``[[name]]`` tables (or an inline list of tables), each checked like a section."""
    if not isinstance(data, list):
        raise ConfigError(f"{at}: {name} = (value hidden) must be written as [[{name}]] tables.")
    out = []
    for index, item in enumerate(data):
        label = f"{name}[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{at}: {label} = (value hidden) must be a table ([[{name}]]).")
        line = nth_table_line(text, name, index, None)
        at = f"{where}:{line}" if line else where
        locate = lambda key, i=index: nth_table_line(text, name, i, key)  # noqa: E731
        out.append(_build_section(label, cls, item, text, where, locate=locate, hidden=True))
        needed = [f.name for f in dataclasses.fields(cls) if f.metadata["check"]]
        if missing := [key for key in needed if key not in item]:
            raise ConfigError(f"{at}: {label} has no {missing[0]}; every [[{name}]] needs one.")
    return out


def _build_section(
    name: str,
    cls: type[Any],
    data: Any,
    text: str,
    where: str,
    *,
    locate: Callable[[str], int | None] | None = None,
    hidden: bool = False,
) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: [{name}] must be a table.")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, raw_value in data.items():
        value = raw_value
        line = locate(key) if locate is not None else line_of(text, name, key)
        at = f"{where}:{line}" if line else where
        if (name, key) in MIGRATED:
            raise ConfigError(f"{at}: {MIGRATED[name, key]}")
        if key not in known:
            close = ", ".join(sorted(known))
            raise ConfigError(f"{at}: unknown setting {name}.{key}. Known settings: {close}.")
        tables = table_list(hints[key])
        if tables is not None:
            values[key] = _build_tables(
                f"{name}.{key}", tables, value, text, where=where, at=at
            )
            continue
        err = type_ok(value, hints[key])
        check = known[key].metadata.get("check")
        if err is None and check is not None:
            err = check(value)
        if err is not None:
            hide = hidden or hidden_setting(key) or not known[key].repr
            shown = "(value hidden)" if hide else repr(value)
            raise ConfigError(f"{at}: {name}.{key} = {shown} is not allowed; expected {err}.")
        if hints[key] is float and isinstance(value, int):
            value = float(value)
        values[key] = value
    return cls(**values)


def parse(text: str, where: str = "kiosk.toml") -> Settings:
    """Parse and validate the text of a kiosk.toml."""
    try:
        data = loads_deep(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML ({exc}).") from None
    except RecursionError:
        raise ConfigError(f"{where}: arrays or tables are nested too deeply.") from None
    sections: dict[str, Any] = {}
    for name, value in data.items():
        if name not in SECTIONS:
            at = located(where, line_of(text, name, None))
            raise ConfigError(
                f"{at}: unknown section [{name}]. Known sections: {', '.join(SECTIONS)}."
            )
        sections[name] = _build_section(name, SECTIONS[name], value, text, where)
    settings = Settings(**sections, source=where)
    _cross_checks(settings, text, where)
    return settings


def _cross_checks(s: Settings, text: str, where: str) -> None:
    if s.policy.pin_length < s.policy.min_pin_length:
        at = located(where, line_of(text, "policy", "pin_length"))
        raise ConfigError(
            f"{at}: policy.pin_length ({s.policy.pin_length}) is below policy.min_pin_length "
            f"({s.policy.min_pin_length}); expected at least {s.policy.min_pin_length}."
        )
    if s.paper.mailer_queue and s.paper.mailer_queue == s.paper.label_queue:
        at = located(where, line_of(text, "paper", "mailer_queue"))
        raise ConfigError(
            f"{at}: paper.mailer_queue is the label queue ({s.paper.label_queue!r}); a key and "
            "its PIN must never share a printer. Name another queue for the PIN mailers."
        )
    if s.tenant.client_secret and not s.tenant.allow_inline_secret:
        at = located(where, line_of(text, "tenant", "client_secret"))
        raise ConfigError(
            f"{at}: tenant.client_secret is written inline. Put the secret in a file named by "
            "tenant.client_secret_file (mode 0600) or a systemd credential, or set "
            "tenant.allow_inline_secret = true to accept the risk."
        )


def load(path: str | Path) -> Settings:
    """Read and validate kiosk.toml at ``path``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{p}: no such file.", next_step="Copy kiosk.toml.example to that path and edit it."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot be read ({exc.__class__.__name__}).") from None
    return parse(text, str(p))


def render_example() -> str:
    """The text of kiosk.toml.example: every setting, commented, with its default."""
    out = [
        "# kiosk.toml: configuration of fido-kiosk.",
        "# Every setting is shown with its default; uncomment and edit what you need.",
        "",
    ]
    for name, cls in SECTIONS.items():
        out.append(f"[{name}]")
        if cls.__doc__:
            out.append(f"# {cls.__doc__.strip()}")
        for f in dataclasses.fields(cls):
            out.append(f"# {f.metadata['doc']}")
            default: Any = f.default
            if default is dataclasses.MISSING:
                default = f.default_factory()  # type: ignore[operator]
            out.append(f"#{f.name} = {toml_value(default)}")
        out.append("")
    return "\n".join(out)
