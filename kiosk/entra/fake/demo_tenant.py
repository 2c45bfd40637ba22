"""A made-up directory for demos and tests: users with names, a nested group, a guest."""

from __future__ import annotations

import random
from collections.abc import Sequence

from kiosk.entra.fake.state import DirectoryGroup, DirectoryObject, DirectoryUser, TenantState

_FIRST = ("Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Radia")
_LAST = ("Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Perlman")


def make_demo_tenant(
    state: TenantState,
    n: int,
    *,
    seed: int = 0,
    group_name: str = "FIDO2 Rollout",
) -> DirectoryGroup:
    """Seed ``n`` users in a group with one nested group, a device and a service principal.

    Users are ``user0001@<domain>`` ... with made-up names; about one in five sits in the
    nested group ``<group_name> - Wave 2``; the last user (if n >= 3) is a B2B guest.
    """
    rng = random.Random(seed)  # noqa: S311 - names for a demo, not secrets
    direct: list[DirectoryUser] = []
    nested: list[DirectoryUser] = []
    for i in range(1, n + 1):
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        if n >= 3 and i == n:
            user = state.add_guest(f"guest{i:04d}@partner.example", name)
        else:
            user = state.add_user(f"user{i:04d}@{state.domain}", name)
        (nested if i % 5 == 0 else direct).append(user)
    wave2 = state.add_group(f"{group_name} - Wave 2", nested)
    extras: Sequence[DirectoryObject] = (
        state.add_device("KIOSK-MAILROOM-01"),
        state.add_service_principal("Mailroom Scanner"),
    )
    return state.add_group(group_name, [*direct, wave2, *extras])
