"""Operator-facing errors.

Every failure the operator can meet is a :class:`KioskError`: a short *title*, a *detail* that
says what happened, and a *next_step* that says what to do about it. Messages never carry a
secret (PIN, client secret, token, key material); code that builds one must pass only
non-secret facts.
"""

from __future__ import annotations


class KioskError(Exception):
    """An error with a title and a next step, fit to show an operator or an admin."""

    title: str = "Something went wrong"
    next_step: str = "Try again. If it happens again, call the kiosk administrator."

    def __init__(
        self,
        detail: str,
        *,
        title: str | None = None,
        next_step: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if title is not None:
            self.title = title
        if next_step is not None:
            self.next_step = next_step

    def __str__(self) -> str:
        return f"{self.title}: {self.detail} {self.next_step}".strip()


class ConfigError(KioskError):
    """The configuration is invalid; the detail names the setting (and line) and what is allowed."""

    title = "Configuration error"
    next_step = "Fix the setting in kiosk.toml and start the kiosk again."


class SecretFileError(ConfigError):
    """A secret or key file is missing, unreadable or too open."""

    title = "Secret file problem"
