"""A recipient's postal details, as Graph holds them (``streetAddress``, ``city``, ``state``,
``postalCode``, ``country``, ``officeLocation``, ``companyName``, ``department``) or as a CSV
gives them, and what a label prints of them for the batch's choice:

- ``home``: the street address (street, postal code and city, country; state when given);
- ``office``: internal mail by office location (office, department, company);
- ``none``: the name and UPN only.

Every field is cleaned (:func:`kiosk.paper.text.clean`) where it enters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from kiosk.paper.text import clean

AddressMode = Literal["home", "office", "none"]
MODES: tuple[AddressMode, ...] = ("home", "office", "none")

GRAPH_FIELDS: Mapping[str, str] = {
    "street": "streetAddress",
    "city": "city",
    "state": "state",
    "postal_code": "postalCode",
    "country": "country",
    "office": "officeLocation",
    "company": "companyName",
    "department": "department",
}
"""Our field -> the Graph user property it is read from."""

NEEDED: Mapping[AddressMode, tuple[str, ...]] = {
    "home": ("street", "postal_code", "city", "country"),
    "office": ("office",),
    "none": (),
}
"""What a label cannot do without, per mode."""

_WORDS = {"street": "street", "postal_code": "postal code", "city": "city",
          "country": "country", "office": "office location"}


@dataclass(frozen=True)
class Address:
    street: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = ""
    office: str = ""
    company: str = ""
    department: str = ""

    @classmethod
    def from_graph(cls, body: Mapping[str, Any]) -> Address:
        """From a Graph user object (fields absent or null are empty)."""
        return cls(**{ours: clean(body.get(theirs)) for ours, theirs in GRAPH_FIELDS.items()})

    @classmethod
    def from_fields(cls, values: Mapping[str, object]) -> Address:
        """From our own field names (a CSV's columns, the store's JSON); others ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: clean(v) for k, v in values.items() if k in names})

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | None) -> Address:
        if not text:
            return cls()
        data = json.loads(text)
        return cls.from_fields(data if isinstance(data, dict) else {})

    def missing(self, mode: AddressMode) -> list[str]:
        """The fields a label in ``mode`` needs and this address lacks, in words."""
        return [_WORDS[name] for name in NEEDED[mode] if not getattr(self, name)]

    def lines(self, mode: AddressMode) -> list[str]:
        """The address block of a label in ``mode`` (without the name)."""
        if mode == "home":
            town = " ".join(x for x in (self.postal_code, self.city) if x)
            return [x for x in (self.street, town, self.state, self.country) if x]
        if mode == "office":
            first = f"Internal mail: {self.office}" if self.office else "Internal mail"
            return [x for x in (first, self.department, self.company) if x]
        return []


def problem(address: Address, mode: AddressMode) -> str | None:
    """Why a label in ``mode`` cannot be addressed, or None."""
    gone = address.missing(mode)
    if not gone:
        return None
    if len(gone) == len(NEEDED[mode]):
        return "no office location" if mode == "office" else "no address"
    return "address incomplete: no " + ", ".join(gone)
