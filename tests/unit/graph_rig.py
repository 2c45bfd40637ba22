"""A scripted transport for the Graph client's unit tests (below the session: our code runs)."""

from __future__ import annotations

import json
from typing import Any

import requests
from requests.adapters import BaseAdapter

TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJraW9zayJ9.c2lnbmF0dXJlLXRleHQ"


def graph_body(code: str, message: str, rid: str = "inner-rid") -> bytes:
    return json.dumps(
        {
            "error": {
                "code": code,
                "message": message,
                "innerError": {"request-id": rid, "client-request-id": "c1"},
            }
        }
    ).encode()


Step = int | tuple[int, dict[str, str]] | type[Exception] | Exception


class ScriptedAdapter(BaseAdapter):
    """A transport that answers from a script and records what was sent."""

    def __init__(self, steps: list[Step]) -> None:
        super().__init__()
        self.steps = list(steps)
        self.sent: list[requests.PreparedRequest] = []
        self.kwargs: list[dict[str, Any]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append(request)
        self.kwargs.append(kwargs)
        step = self.steps.pop(0)
        if isinstance(step, type) and issubclass(step, Exception):
            raise step("scripted failure")
        if isinstance(step, Exception):
            raise step
        status, headers = step if isinstance(step, tuple) else (step, {})
        resp = requests.Response()
        resp.status_code = status
        resp.request = request
        resp.url = str(request.url)
        resp.headers.update({"request-id": f"rid-{len(self.sent)}", **headers})
        if status >= 400:
            resp._content = graph_body(f"Code{status}", f"Message {status}.")
        else:
            resp._content = b'{"ok": true}'
        resp.headers.setdefault("Content-Type", "application/json")
        return resp

    def close(self) -> None:
        pass


class Tokens:
    def __init__(self) -> None:
        self.calls: list[bool] = []

    def token(self, *, force_refresh: bool = False) -> str:
        self.calls.append(force_refresh)
        return TOKEN + str(len(self.calls))
