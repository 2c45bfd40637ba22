"""CSV import: the UPN column by header, every bad row reported by line, none dropped silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.enroll.csv_source import CsvImportError, CsvRow, parse_upn_csv

BAD_FILE = (
    "\ufeffName;UserPrincipalName;Department;Keys\r\n"  # 1: header, BOM, ; delimiter
    "Alice;alice@contoso.com;Sales;\r\n"  # 2 ok
    "\r\n"  # 3 blank: skipped
    "Bob;bob smith@contoso.com;Sales;\r\n"  # 4 space
    "Carol;carol.contoso.com;IT;\r\n"  # 5 no @
    'Dan;"dan@contoso.com";"IT; Ops";2\r\n'  # 6 ok, quoted, backup key
    "Alice again;ALICE@contoso.com;Sales;\r\n"  # 7 duplicate of 2 (case-insensitive)
    "Eve;" + "e" * 70 + "@contoso.com;IT;\r\n"  # 8 too long before @
    "Frank;frank@contoso;IT;\r\n"  # 9 not a domain
    "Grace;;IT;\r\n"  # 10 empty UPN
    "Heidi;heidi@contoso.com;IT;eleven\r\n"  # 11 bad key count
    "Ivan;ivan@@contoso.com;IT;\r\n"  # 12 two @
    "Judy\r\n"  # 13 short row
    '"Multi\nline";mallory@contoso.com;IT;\r\n'  # 14-15: one quoted row over two lines
    "Ken;=cmd|calc!A0@contoso.com;IT;\r\n"  # 16 formula-like, bad characters
    ";;;\r\n"  # 17 empty cells only: a blank row
    "Liam;liam@contoso.com;IT;11\r\n"  # 18 too many keys
    "Mia;  mia@contoso.com  ;IT;1\r\n"  # 19 ok, whitespace trimmed
)


def test_every_bad_row_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_bytes(BAD_FILE.encode("utf-8"))
    rows, problems = parse_upn_csv(path)
    assert rows == [
        CsvRow(2, "alice@contoso.com", None, (("department", "Sales"),)),
        CsvRow(6, "dan@contoso.com", 2, (("department", "IT; Ops"),)),
        CsvRow(14, "mallory@contoso.com", None, (("department", "IT"),)),
        CsvRow(19, "mia@contoso.com", 1, (("department", "IT"),)),
    ]
    by_line = {p.line: p.reason for p in problems}
    assert sorted(by_line) == [4, 5, 7, 8, 9, 10, 11, 12, 13, 16, 18]
    assert "spaces" in by_line[4]
    assert "needs an @" in by_line[5]
    assert by_line[7] == "duplicate of line 2"
    assert "64" in by_line[8]
    assert "domain" in by_line[9]
    assert "empty" in by_line[10]
    assert "keys column" in by_line[11] and "keys column" in by_line[18]
    assert "exactly one @" in by_line[12]
    assert "no UPN column" in by_line[13]
    assert "not allowed" in by_line[16]
    # Nothing vanished: every non-blank data row is either queued or reported.
    assert len(rows) + len(problems) == 15


@pytest.mark.parametrize("header", ["upn", "UPN", "userPrincipalName", "Email", "user_name"])
def test_the_upn_column_is_found_by_its_header(header: str) -> None:
    rows, problems = parse_upn_csv(f"id,{header}\n1,a@contoso.com\n2,b@contoso.com\n")
    assert [r.upn for r in rows] == ["a@contoso.com", "b@contoso.com"]
    assert [r.line for r in rows] == [2, 3]
    assert problems == []


def test_upn_header_is_preferred_over_email() -> None:
    rows, _ = parse_upn_csv("email,upn\nalice@mail.example.com,alice@contoso.com\n")
    assert rows == [CsvRow(2, "alice@contoso.com")]


def test_a_single_column_without_header_is_read_whole() -> None:
    rows, problems = parse_upn_csv("a@contoso.com\n\nb@contoso.com\nnot a upn\n")
    assert [(r.line, r.upn) for r in rows] == [(1, "a@contoso.com"), (3, "b@contoso.com")]
    assert [(p.line, p.value) for p in problems] == [(4, "not a upn")]


def test_guest_upns_are_accepted() -> None:
    rows, problems = parse_upn_csv("upn\nbob_fabrikam.com#EXT#@contoso.onmicrosoft.com\n")
    assert problems == [] and len(rows) == 1


def test_a_file_without_a_upn_column_is_refused_with_what_was_found() -> None:
    with pytest.raises(CsvImportError) as err:
        parse_upn_csv("name,department\nAlice,Sales\n")
    assert "line 1" in err.value.detail and "'name'" in err.value.detail
    assert "userPrincipalName" in err.value.next_step


def test_an_empty_file_and_a_non_utf8_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CsvImportError, match="no rows"):
        parse_upn_csv("\n\n")
    path = tmp_path / "latin1.csv"
    path.write_bytes("upn\nalice@contoso.com\nJos\u00e9@contoso.com\n".encode("latin-1"))
    with pytest.raises(CsvImportError, match="line 3 is not UTF-8"):
        parse_upn_csv(path)
    with pytest.raises(CsvImportError, match="no such file"):
        parse_upn_csv(tmp_path / "missing.csv")


def test_address_columns_are_read_for_the_labels() -> None:
    rows, problems = parse_upn_csv(
        "upn,Street Address,ZIP,City,Country,Office\r\n"
        "ann@contoso.com,1 Main Street,12345,Springfield,US,\r\n"
        "bo@contoso.com,,,,,Building 2\r\n"
        "cy@contoso.com,\"" + "x" * 400 + "\",,,,\r\n"
    )
    assert problems == []
    assert dict(rows[0].postal) == {
        "street": "1 Main Street", "postal_code": "12345", "city": "Springfield", "country": "US"
    }
    assert dict(rows[1].postal) == {"office": "Building 2"}  # empty cells are not values
    assert len(dict(rows[2].postal)["street"]) == 256  # bounded where it enters


def test_a_file_over_the_row_cap_is_refused_and_nothing_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w") as out:
        out.write("upn\n")
        for i in range(2500):
            out.write(f"user{i}@contoso.com\n")
    with pytest.raises(CsvImportError, match="more than 2,000 rows") as err:
        parse_upn_csv(path, max_rows=2000)
    assert "csv_max_rows" in err.value.next_step
    rows, problems = parse_upn_csv(path, max_rows=2500)
    assert len(rows) == 2500 and problems == []


PEAK_BYTES = 40_000_000


@pytest.mark.slow
def test_a_large_file_is_streamed_not_read_whole(tmp_path: Path) -> None:
    import tracemalloc

    path = tmp_path / "million.csv"
    with path.open("w") as out:
        out.write("upn\n")
        for i in range(400_000):
            out.write(f"user{i}@contoso.com\n")
    tracemalloc.start()
    try:
        with pytest.raises(CsvImportError, match="more than 100,000 rows"):
            parse_upn_csv(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert path.stat().st_size > 9_000_000
    # The 100,000 rows kept until the cap, not the file and its 400,000 rows.
    assert peak < PEAK_BYTES, peak


def test_progress_is_told_and_can_cancel(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text("upn\n" + "".join(f"u{i}@contoso.com\n" for i in range(3500)))
    seen: list[int] = []
    parse_upn_csv(path, progress=lambda n: seen.append(n) is None)
    assert seen == [1000, 2000, 3000]
    with pytest.raises(CsvImportError, match="cancelled at line"):
        parse_upn_csv(path, progress=lambda n: n < 2000)


def test_a_pem_file_chosen_by_mistake_is_named(tmp_path: Path) -> None:
    path = tmp_path / "helpdesk.pem"
    path.write_bytes(b"-----BEGIN CERTIFICATE-----\nMIIB\xff\xfe\n-----END CERTIFICATE-----\n")
    with pytest.raises(CsvImportError, match="no UPN column"):
        parse_upn_csv(path)
