"""Exceptions from requests and MSAL are never chained into the kiosk's own errors.

A requests exception carries the request (with its ``Authorization: Bearer`` header) and often
the URL; an MSAL error carries Entra's ``error_description``. ``raise KioskError(...) from exc``
would print them in every traceback; the kiosk raises ``from None`` and builds its message
from non-secret facts (status, reason class, redacted text). This checks the source for it, so
that a new handler cannot slip back, and checks that the rule really applies to real errors.
"""

from __future__ import annotations

import ast
import traceback
from pathlib import Path

import pytest
import requests

import kiosk
from kiosk.config import GraphSettings, Settings, TenantSettings
from kiosk.entra.graph import GraphClient
from kiosk.errors import KioskError

KIOSK = Path(kiosk.__file__).parent
RISKY = ("requests", "RequestException", "SSLError", "HTTPError", "ConnectionError", "Msal")


def _risky_handler(handler: ast.ExceptHandler) -> bool:
    return handler.type is not None and any(word in ast.unparse(handler.type) for word in RISKY)


def chained_handlers() -> list[str]:
    found = []
    for path in sorted(KIOSK.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.ExceptHandler) and _risky_handler(node) and node.name):
                continue
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.Raise)
                    and isinstance(inner.cause, ast.Name)
                    and inner.cause.id == node.name
                ):
                    found.append(f"{path.relative_to(KIOSK.parent)}:{inner.lineno}")
    return found


def test_no_requests_or_msal_exception_is_chained_into_ours() -> None:
    assert chained_handlers() == []


def test_the_source_check_sees_handlers_at_all() -> None:
    """The check is not vacuous: the kiosk does catch requests and MSAL exceptions."""
    handlers = [
        node
        for path in sorted(KIOSK.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ExceptHandler) and _risky_handler(node)
    ]
    assert len(handlers) >= 5


class _Token:
    def token(self, *, force_refresh: bool = False) -> str:
        return "bearer-token-that-must-not-show"


def test_a_failed_graph_call_does_not_carry_the_token_into_its_traceback() -> None:
    """Nothing listens on the port: requests' ConnectionError holds the request with its bearer
    header; the operator's error does not chain it, so its traceback cannot show it."""
    settings = Settings(
        tenant=TenantSettings(graph_url="https://127.0.0.1:9", ca_bundle=""),
        graph=GraphSettings(timeout_seconds=2, max_retries=0),
    )
    client = GraphClient(settings, _Token(), sleep=lambda _s: None)
    with pytest.raises(KioskError) as info:
        client.get_user("alice@contoso.com")
    err = info.value
    text = "".join(traceback.format_exception(err)) + repr(err)
    assert "bearer-token-that-must-not-show" not in text
    assert not isinstance(err.__cause__, requests.RequestException)
    assert err.__suppress_context__
