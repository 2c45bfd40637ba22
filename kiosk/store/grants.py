"""Least privilege in the fleet database: what each role may do, as SQL and as a check.

Three roles (names are the admin's choice):

- the **owner** (e.g. ``kiosk_owner``) owns the schema and runs migrations: an admin opens the
  database with it once per kiosk release (``kiosk fleet migrate``);
- a **station** (e.g. ``kiosk_station``, one login per station or one shared) reads and writes
  the queue, journal and inventory, and only *adds* sealed PINs and audit records: it can
  neither read other users' sealed PINs nor change or delete an audit record;
- the **helpdesk** reads sealed PINs (``kiosk escrow get``) and adds its audit records.
"""

from __future__ import annotations

from collections.abc import Mapping

STATION: Mapping[str, tuple[str, ...]] = {
    "kiosk_schema": ("SELECT",),
    "queue": ("SELECT", "INSERT", "UPDATE"),
    "enrollments": ("SELECT", "INSERT", "UPDATE"),
    "keys": ("SELECT", "INSERT", "UPDATE"),
    "stations": ("SELECT", "INSERT", "UPDATE"),
    "labels": ("SELECT", "INSERT", "UPDATE"),
    "addresses": ("SELECT", "INSERT", "UPDATE"),
    "escrow": ("INSERT",),
    "audit_records": ("SELECT", "INSERT"),
}
HELPDESK: Mapping[str, tuple[str, ...]] = {
    "kiosk_schema": ("SELECT",),
    "queue": ("SELECT",),
    "escrow": ("SELECT",),
    "stations": ("SELECT",),
    "enrollments": ("SELECT",),
    "audit_records": ("SELECT", "INSERT"),
}
FORBIDDEN: Mapping[str, tuple[str, ...]] = {
    "audit_records": ("UPDATE", "DELETE", "TRUNCATE"),
    "escrow": ("SELECT", "UPDATE", "DELETE", "TRUNCATE"),
}
"""What a station must not be able to do: rewrite the trail's copy, read or drop PINs."""


def grant_sql(role: str, grants: Mapping[str, tuple[str, ...]] = STATION) -> str:
    """The GRANT statements for ``role`` (run as the owner after each migration)."""
    if not role.replace("_", "").isalnum():
        raise ValueError("a role name of letters, digits and _")
    lines = [f"GRANT USAGE ON SCHEMA public TO {role};"]
    for table, privileges in grants.items():
        lines.append(f"GRANT {', '.join(privileges)} ON {table} TO {role};")
    return "\n".join(lines)
