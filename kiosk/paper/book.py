"""The address book of a batch: at import, each queued user's postal details (Graph's, with a
CSV's columns winning) are kept in the store with the batch's choice of address (home, office
or none), and every user whose labels could not be addressed is named before the batch starts
(:class:`kiosk.enroll.sources.PostalBook`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from kiosk.entra.models import User
from kiosk.paper.address import Address, AddressMode, problem
from kiosk.paper.text import clean
from kiosk.store.paper import Addresses


class AddressBook:
    def __init__(self, addresses: Addresses, mode: AddressMode, *, check: bool) -> None:
        self.addresses = addresses
        self.mode = mode
        self.check = check
        """Name missing addresses (labels or mailers are printed)."""

    def keep(
        self, users: Sequence[User], source: str, given: Mapping[str, Mapping[str, str]]
    ) -> list[tuple[User, str]]:
        lacking: list[tuple[User, str]] = []
        for user in users:
            address = Address.from_graph(user.postal)
            if given.get(user.id):
                address = replace(address, **{k: clean(v) for k, v in given[user.id].items()})
            self.addresses.put(user.id, self.mode, address.to_json(), source)
            why = problem(address, self.mode) if self.check else None
            if why:
                lacking.append((user, f"{why} for the shipping label ({self.mode} address)"))
        return lacking
