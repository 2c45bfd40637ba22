"""Parse a CSV of users to enroll. Pure parsing: the engine resolves the UPNs against Graph.

- The UPN column is found by its header: ``upn``, ``userPrincipalName``, ``email`` or
  ``username`` (case-insensitive, spaces/underscores/dashes ignored; in that order of
  preference). Without such a header, a file with a single column of UPN-like values is read
  as UPNs, first line included.
- An optional ``keys`` column (``keys``, ``key count``, ``keys per user``) asks for that many keys
  for the user (1 to 10); empty means the default.
- Optional address columns for shipping labels (``street``/``streetAddress``, ``city``,
  ``state``, ``postal code``/``zip``, ``country``, ``office``/``officeLocation``, ``company``,
  ``department``): where given, they win over what Entra holds for the user.
- UTF-8 with or without a BOM; ``;``, ``,`` or tab as delimiter (sniffed from the header line);
  quotes; blank lines skipped.
- Every other bad row is reported as an :class:`~kiosk.model.queue.ImportProblem` with its line
  number and the reason (invalid UPN, duplicate, bad key count): none is silently dropped.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from kiosk.errors import KioskError
from kiosk.model.queue import ImportProblem

MAX_UPN = 113
MAX_LOCAL = 64
MAX_DOMAIN = 48
MAX_KEYS = 10
MAX_ROWS = 100_000
"""Most rows one CSV may hold (policy.csv_max_rows); a larger file is refused, not queued."""
MAX_LINE = 1 << 20
PROGRESS_EVERY = 1000

UPN_HEADERS = ("upn", "userprincipalname", "email", "emailaddress", "mail", "username")
KEYS_HEADERS = ("keys", "keycount", "keysperuser", "numberofkeys")
POSTAL_HEADERS = {
    "street": "street", "streetaddress": "street", "address": "street", "city": "city",
    "state": "state", "postalcode": "postal_code", "zip": "postal_code",
    "zipcode": "postal_code", "postcode": "postal_code", "country": "country",
    "office": "office", "officelocation": "office", "company": "company",
    "companyname": "company", "department": "department",
}
"""Header (normalised) -> the address field it fills (:class:`kiosk.paper.address.Address`)."""
MAX_POSTAL_CELL = 256

_LOCAL_OK = re.compile(r"^[A-Za-z0-9'._!#^~-]+$")
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


class CsvRow(NamedTuple):
    line: int
    """Line in the file where the row starts (1-based)."""
    upn: str
    keys: int | None = None
    """Keys wanted for this user, when the file says; None means the default."""
    postal: tuple[tuple[str, str], ...] = ()
    """(address field, value) from the file's address columns, non-empty cells only."""


class CsvImportError(KioskError):
    """The file as a whole cannot be read (not the rows in it)."""

    title = "Cannot read the CSV file"
    next_step = (
        "Save the file as CSV UTF-8 with a header row naming the UPN column "
        "(upn, userPrincipalName, email or username) and import it again."
    )


class ImportCancelled(CsvImportError):
    """The operator stopped the import; nothing was queued."""

    title = "Import cancelled"
    next_step = "Import the file again when you are ready."


def _norm_header(cell: str) -> str:
    return re.sub(r"[\s_\-]", "", cell.strip().lstrip("\ufeff")).casefold()


def upn_problem(upn: str) -> str | None:
    """Why ``upn`` cannot be a user principal name, or None."""
    if not upn:
        return "the UPN is empty"
    if any(ch.isspace() for ch in upn):
        return "a UPN cannot contain spaces"
    if len(upn) > MAX_UPN:
        return f"the UPN is {len(upn)} characters long; at most {MAX_UPN} are allowed"
    if upn.count("@") != 1:
        return "a UPN has exactly one @" if "@" in upn else "a UPN needs an @ (name@domain)"
    local, domain = upn.split("@")
    if not local:
        return "nothing before the @"
    if len(local) > MAX_LOCAL:
        return f"{len(local)} characters before the @; at most {MAX_LOCAL} are allowed"
    bad = sorted({ch for ch in local if not _LOCAL_OK.match(ch)})
    if bad:
        return f"the character {bad[0]!r} is not allowed in a UPN"
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return "a UPN cannot start or end with a dot before the @, or have two dots in a row"
    if not domain:
        return "nothing after the @"
    if len(domain) > MAX_DOMAIN:
        return f"{len(domain)} characters after the @; at most {MAX_DOMAIN} are allowed"
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return "the part after the @ is not a domain name (like contoso.com)"
    return None


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: 0 for d in (",", ";", "\t")}
    quoted = False
    for ch in first_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


@contextmanager
def _open_lines(source: str | Path) -> Iterator[Iterator[str]]:
    """The CSV's lines, read and decoded as they are parsed, never whole into memory."""
    if isinstance(source, str):
        yield iter(io.StringIO(source.lstrip("\ufeff"), newline=""))
        return
    try:
        stream = Path(source).open("rb")  # noqa: SIM115 - closed by the with below
    except FileNotFoundError:
        raise CsvImportError(f"{source}: no such file.") from None
    except OSError as exc:
        raise CsvImportError(f"{source}: cannot be read ({exc.strerror}).") from None
    with stream:
        yield _decoded(iter(lambda: stream.readline(MAX_LINE), b""), source)


def _decoded(raw: Iterator[bytes], source: Path) -> Iterator[str]:
    for number, line in enumerate(raw, 1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            raise CsvImportError(f"{source}: line {number} is not UTF-8 text.") from None
        yield text.lstrip("\ufeff") if number == 1 else text


def _first_line(lines: Iterator[str]) -> tuple[str | None, Iterator[str]]:
    """The first non-empty line, and all the lines again (that one and those before it too)."""
    before: list[str] = []
    for line in lines:
        before.append(line)
        if line.strip():
            return line, itertools.chain(before, lines)
    return None, iter(before)


def _keys_value(cell: str) -> tuple[int | None, str | None]:
    text = cell.strip()
    if not text:
        return None, None
    if not text.isdigit() or not 1 <= int(text) <= MAX_KEYS:
        return None, f"the keys column must be a whole number from 1 to {MAX_KEYS}"
    return int(text), None


def _columns(cells: list[str], line: int) -> tuple[int, int | None, dict[str, int], bool]:
    """From the first row: the UPN, keys and address columns, and whether it is a header."""
    names = [_norm_header(c) for c in cells]
    keys_col = next((names.index(k) for k in KEYS_HEADERS if k in names), None)
    postal_cols = {POSTAL_HEADERS[n]: i for i, n in enumerate(names) if n in POSTAL_HEADERS}
    for wanted in UPN_HEADERS:
        if wanted in names:
            return names.index(wanted), keys_col, postal_cols, True
    if len(cells) == 1 and "@" in cells[0]:
        return 0, None, {}, False  # a single column of UPNs without a header: data
    found = ", ".join(repr(c.strip()) for c in cells[:5])
    raise CsvImportError(
        f"line {line}: no UPN column; the first row is {found}. Expected a header "
        "named upn, userPrincipalName, email or username, or a single column of UPNs."
    )


def parse_upn_csv(
    source: str | Path,
    *,
    max_rows: int = MAX_ROWS,
    progress: Callable[[int], bool] | None = None,
) -> tuple[list[CsvRow], list[ImportProblem]]:
    """Rows to queue, and every problem found, each with its line number.

    ``source`` is a :class:`~pathlib.Path` to read (streamed, never read whole), or the text of
    the file itself (a ``str``). More than ``max_rows`` rows refuse the file; ``progress`` is
    told the rows read so far every thousand rows and cancels the import by returning False.
    Raises :class:`CsvImportError` only when the file as a whole cannot be used.
    """
    with _open_lines(source) as lines:
        return _parse(lines, max_rows, progress)


def _parse(
    all_lines: Iterator[str], max_rows: int, progress: Callable[[int], bool] | None
) -> tuple[list[CsvRow], list[ImportProblem]]:
    first, lines = _first_line(all_lines)
    if first is None:
        raise CsvImportError("the file has no rows.")
    reader = csv.reader(lines, delimiter=_sniff_delimiter(first))
    rows: list[CsvRow] = []
    problems: list[ImportProblem] = []
    seen: dict[str, int] = {}
    upn_col: int | None = None
    keys_col: int | None = None
    postal_cols: dict[str, int] = {}
    header_done = False
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise CsvImportError(f"line {start}: {exc}.") from None
        counted = len(rows) + len(problems)
        if counted >= max_rows:
            raise CsvImportError(
                f"line {start}: more than {max_rows:,} rows; nothing was queued.",
                next_step="Split the file, or raise policy.csv_max_rows if a batch this large "
                "is meant.",
            )
        if progress and counted and counted % PROGRESS_EVERY == 0 and not progress(counted):
            raise ImportCancelled(f"cancelled at line {start}; nothing was queued.")
        if not any(c.strip() for c in cells):
            continue
        if not header_done:
            header_done = True
            upn_col, keys_col, postal_cols, is_header = _columns(cells, start)
            if is_header:
                continue
        assert upn_col is not None  # noqa: S101 - set with the header
        if upn_col >= len(cells):
            problems.append(ImportProblem(start, ",".join(cells), "the row has no UPN column"))
            continue
        upn = cells[upn_col].strip()
        problem = upn_problem(upn)
        keys: int | None = None
        if problem is None and keys_col is not None and keys_col < len(cells):
            keys, problem = _keys_value(cells[keys_col])
        if problem is None and upn.casefold() in seen:
            problem = f"duplicate of line {seen[upn.casefold()]}"
        if problem is not None:
            problems.append(ImportProblem(start, upn or ",".join(cells), problem))
            continue
        seen[upn.casefold()] = start
        postal = tuple(
            (name, cells[i].strip()[:MAX_POSTAL_CELL]) for name, i in postal_cols.items()
            if i < len(cells) and cells[i].strip()
        )
        rows.append(CsvRow(start, upn, keys, postal))
    return rows, problems
