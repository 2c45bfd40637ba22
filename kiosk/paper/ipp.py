"""A small IPP/1.1 client (RFC 8010/8011) for CUPS over its local socket or localhost.

Only what printing a PDF and following its job needs: Print-Job, Get-Job-Attributes,
Cancel-Job and Get-Printer-Attributes. The document goes from memory straight into the
request body, so the kiosk writes no file of its own. Requests go to CUPS's domain socket
(``/run/cups/cups.sock``) or to ``localhost:PORT``; a PIN mailer never crosses a network.
"""

from __future__ import annotations

import http.client
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kiosk.config_paper import local_server_problem
from kiosk.errors import KioskError

PRINT_JOB = 0x0002
CANCEL_JOB = 0x0008
GET_JOB_ATTRIBUTES = 0x0009
GET_PRINTER_ATTRIBUTES = 0x000B
CUPS_GET_PRINTERS = 0x4002

OPERATION, JOB, END, PRINTER = 0x01, 0x02, 0x03, 0x04
INTEGER, BOOLEAN, ENUM = 0x21, 0x22, 0x23
TEXT, NAME, KEYWORD, URI, CHARSET, LANGUAGE, MIME = 0x41, 0x42, 0x44, 0x45, 0x47, 0x48, 0x49

STATUS_NOT_FOUND = 0x0406
STATUS_NOT_ACCEPTING = 0x0506
MAX_RESPONSE = 1 << 20


class IppError(KioskError):
    """CUPS could not be reached, or answered with something that is not IPP."""

    title = "Printing system not reachable"
    next_step = "Check that CUPS is running (systemctl status cups) and paper.cups_server."


@dataclass(frozen=True)
class Response:
    status: int
    groups: list[tuple[int, dict[str, list[Any]]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status < 0x0100

    def first(self, name: str, default: Any = None) -> Any:
        """The first value of ``name`` in any group."""
        for _tag, attrs in self.groups:
            if attrs.get(name):
                return attrs[name][0]
        return default

    def values(self, name: str) -> list[Any]:
        for _tag, attrs in self.groups:
            if name in attrs:
                return attrs[name]
        return []


def _attr(tag: int, name: str, value: str | int | bool) -> bytes:
    if tag in (INTEGER, ENUM):
        data = struct.pack(">i", int(value))
    elif tag == BOOLEAN:
        data = b"\x01" if value else b"\x00"
    else:
        data = str(value).encode("utf-8")
    raw = name.encode("ascii")
    return struct.pack(">BH", tag, len(raw)) + raw + struct.pack(">H", len(data)) + data


def encode(
    operation: int, request_id: int, attributes: Iterable[tuple[int, str, str | int | bool]]
) -> bytes:
    """An IPP request header (charset, language, then ``attributes``) without a document."""
    out = bytearray(struct.pack(">BBHI", 1, 1, operation, request_id))
    out.append(OPERATION)
    out += _attr(CHARSET, "attributes-charset", "utf-8")
    out += _attr(LANGUAGE, "attributes-natural-language", "en")
    for tag, name, value in attributes:
        out += _attr(tag, name, value)
    out.append(END)
    return bytes(out)


def _value(tag: int, data: bytes) -> Any:
    if tag in (INTEGER, ENUM) and len(data) == 4:
        return struct.unpack(">i", data)[0]
    if tag == BOOLEAN and len(data) == 1:
        return data != b"\x00"
    if 0x40 <= tag <= 0x4F and tag not in (0x45, 0x46):
        return data.decode("utf-8", "replace")
    if tag in (0x45, 0x46):
        return data.decode("ascii", "replace")
    return data


def decode(body: bytes) -> Response:
    """Parse an IPP response; anything malformed raises :class:`IppError`."""
    try:
        _ver, status, _rid = struct.unpack_from(">HHI", body, 0)
        pos, groups = 8, []
        attrs: dict[str, list[Any]] | None = None
        last = ""
        while pos < len(body):
            tag = body[pos]
            pos += 1
            if tag == END:
                break
            if tag < 0x10:
                attrs = {}
                groups.append((tag, attrs))
                continue
            (nlen,) = struct.unpack_from(">H", body, pos)
            name = body[pos + 2 : pos + 2 + nlen].decode("ascii", "replace")
            pos += 2 + nlen
            (vlen,) = struct.unpack_from(">H", body, pos)
            data = body[pos + 2 : pos + 2 + vlen]
            pos += 2 + vlen
            if attrs is None or len(data) != vlen:
                raise ValueError("attribute outside a group, or cut short")
            last = name or last
            attrs.setdefault(last, []).append(_value(tag, data))
    except (struct.error, ValueError) as exc:
        raise IppError(f"CUPS answered something that is not IPP ({exc}).") from None
    return Response(status, groups)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class IppClient:
    """Sends IPP requests to one CUPS server (a socket path or ``localhost:PORT``)."""

    def __init__(self, server: str, *, timeout: float = 10.0) -> None:
        if local_server_problem(server):
            raise IppError(f"paper.cups_server = {server!r} is not local.", title="Bad setting")
        self.server = server
        self.timeout = timeout
        self._request_id = 0

    def _connection(self) -> http.client.HTTPConnection:
        if self.server.startswith("/"):
            return _UnixConnection(self.server, self.timeout)
        host, _, port = self.server.rpartition(":")
        return http.client.HTTPConnection(host.strip("[]"), int(port), timeout=self.timeout)

    def uri(self, queue: str) -> str:
        return f"ipp://localhost/printers/{queue}"

    def call(
        self,
        operation: int,
        resource: str,
        attributes: Iterable[tuple[int, str, str | int | bool]],
        document: bytes = b"",
    ) -> Response:
        """One request; connection trouble raises :class:`IppError` (CUPS not running)."""
        self._request_id += 1
        body = encode(operation, self._request_id, attributes) + document
        conn = self._connection()
        try:
            conn.request("POST", resource, body, {"Content-Type": "application/ipp"})
            resp = conn.getresponse()
            data = resp.read(MAX_RESPONSE + 1)
        except (OSError, http.client.HTTPException) as exc:
            raise IppError(
                f"CUPS at {self.server} is not answering ({type(exc).__name__})."
            ) from None
        finally:
            conn.close()
        if resp.status != 200:
            raise IppError(f"CUPS at {self.server} answered HTTP {resp.status}.")
        if len(data) > MAX_RESPONSE:
            raise IppError("CUPS's answer is too large.")
        return decode(data)

