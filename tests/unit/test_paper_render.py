"""Labels and mailers from hostile strings: whatever Graph, a CSV or a key says, rendering
never fails, the PDF names no person in its metadata, and what is printed is cleaned."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.paper.address import Address, problem
from kiosk.paper.ipp import IppError, decode
from kiosk.paper.label import LabelData, render_label
from kiosk.paper.mailer import MailerData, render_mailer
from kiosk.paper.stocks import STOCKS
from kiosk.paper.text import clean

anything = st.text(max_size=300)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=anything, upn=anything, street=anything, model=anything,
       serial=st.one_of(st.none(), anything), stock=st.sampled_from(sorted(STOCKS)))
def test_any_label_renders(name: str, upn: str, street: str, model: str, serial: str | None,
                           stock: str) -> None:
    data = LabelData(name, upn, (street, street), model, serial, "K000001-00000000", "b", "d")
    pdf = render_label(data, STOCKS[stock])  # type: ignore[index]
    assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=anything, pin=st.text(alphabet="0123456789", min_size=4, max_size=63),
       helpdesk=anything)
def test_any_mailer_renders_without_naming_anyone_in_its_metadata(
    name: str, pin: str, helpdesk: str
) -> None:
    pdf = render_mailer(MailerData(name, "a@b.example", (), pin, True, helpdesk, "d"))
    assert pdf.startswith(b"%PDF")
    assert b"/Title (Security key letter)" in pdf and b"a@b.example" not in pdf.split(b"stream")[0]


def test_clean_removes_controls_and_bidi_and_bounds() -> None:
    assert clean("Ma\u202ellory\x1b[31m\x00\ud800 x\r\ny") == "Mallory[31m x y"
    assert len(clean("x" * 1000)) == 80 and clean("x" * 1000).endswith("\u2026")
    assert clean(None) == ""


def test_an_address_names_what_a_label_lacks() -> None:
    graph = {"streetAddress": "1 Main St\u202e", "city": "Town", "postalCode": None}
    address = Address.from_graph(graph)
    assert address.street == "1 Main St"
    assert problem(address, "home") == "address incomplete: no postal code, country"
    assert problem(address, "office") == "no office location"
    assert problem(address, "none") is None
    assert problem(Address(), "home") == "no address"


@pytest.mark.parametrize("body", [b"", b"\x01\x01", b"\x01\x01\x00\x00\x00\x00\x00\x01\x01\x21"
                                  b"\x00\x05ab", b"\x01\x01\x00\x00\x00\x00\x00\x01\x21\x00\x01a"
                                  b"\x00\x04\x00\x00\x00\x01\x03"])
def test_a_malformed_ipp_answer_is_refused(body: bytes) -> None:
    with pytest.raises(IppError):
        decode(body)


def test_a_serial_code128_cannot_carry_gets_no_barcode() -> None:
    import subprocess
    import tempfile
    from pathlib import Path

    data = LabelData("N", "n@b.example", (), "M", "SN-\u00e91", "K000001-00000000", "b", "d")
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "l.pdf"
        pdf.write_bytes(render_label(data, STOCKS["4x6"]))
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, check=True,
                              text=True).stdout
    assert "no barcode: the serial is not plain ASCII" in text and "SN-\u00e91" in text
