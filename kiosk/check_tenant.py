"""The network half of `kiosk check`: clock against the login endpoint, token, Graph permissions.

The clock is compared with the ``Date`` header of the tenant's login endpoint (the host of the
token endpoint): its OpenID configuration document, which a GET may fetch without signing in.
"""

from __future__ import annotations

from datetime import UTC
from email.utils import parsedate_to_datetime
from pathlib import Path

import requests

from kiosk.check_context import CheckContext, CheckResult, fail
from kiosk.entra import permissions
from kiosk.entra.auth import TokenProvider, authority_url
from kiosk.entra.errors import GraphNotFoundError, GraphPermissionError
from kiosk.entra.http import RetryPolicy, make_session, network_error
from kiosk.entra.passkey_policy import assess
from kiosk.errors import KioskError

DISCOVERY = "/v2.0/.well-known/openid-configuration"
SKEW_WARN_SECONDS = 60.0
SKEW_FAIL_SECONDS = 300.0
"""Entra accepts tokens and client assertions within five minutes of its own clock."""
CLOCK_FIX = (
    "Turn on time synchronisation (`timedatectl set-ntp true`, systemd-timesyncd or chrony), "
    "check `timedatectl status` shows 'System clock synchronized: yes', then run kiosk check again."
)
PERMISSIONS = (
    "UserAuthMethod-Passkey.ReadWrite.All (or the broader "
    "UserAuthenticationMethod.ReadWrite.All), User.Read.All and GroupMember.Read.All"
)

NEEDED = {
    "group": "GroupMember.Read.All",
    "user": "User.Read.All",
    "options": "UserAuthMethod-Passkey.ReadWrite.All (or UserAuthenticationMethod.ReadWrite.All)",
}
"""The permission each Graph step of the check needs."""


def check_clock(ctx: CheckContext) -> CheckResult:
    assert ctx.settings is not None  # noqa: S101 - checked by the caller
    tenant = ctx.settings.tenant
    if not tenant.tenant_id:
        return CheckResult("clock", "skip", "not checked: tenant.tenant_id is not set.")
    url = authority_url(tenant.login_url, tenant.tenant_id) + DISCOVERY
    try:
        with make_session(tenant, ctx.settings.graph) as session:
            before = ctx.now()
            resp = session.get(url, allow_redirects=False)
            after = ctx.now()
            resp.close()
    except requests.RequestException as exc:
        return fail("clock", network_error(exc, "Reaching the login endpoint"))
    except KioskError as exc:
        return fail("clock", exc)
    header = resp.headers.get("Date", "")
    try:
        server = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return CheckResult(
            "clock", "warn", f"{tenant.login_url} sent no usable Date header, so the clock "
            "was not compared.", CLOCK_FIX,
        )
    if server.tzinfo is None:
        server = server.replace(tzinfo=UTC)
    local = before + (after - before) / 2
    skew = (local - server).total_seconds()
    slack = (after - before).total_seconds() / 2 + 1.0  # Date has whole seconds
    off = max(0.0, abs(skew) - slack)
    direction = "ahead of" if skew > 0 else "behind"
    detail = f"the kiosk's clock is {abs(skew):.0f} s {direction} {tenant.login_url}."
    if off > SKEW_FAIL_SECONDS:
        return CheckResult(
            "clock", "fail",
            detail + " Sign-in and creation-option challenges fail beyond 5 minutes.", CLOCK_FIX,
        )
    if off > SKEW_WARN_SECONDS:
        return CheckResult("clock", "warn", detail, CLOCK_FIX)
    return CheckResult("clock", "ok", detail)


def check_token(ctx: CheckContext) -> tuple[CheckResult, TokenProvider | None]:
    assert ctx.settings is not None  # noqa: S101 - checked by the caller
    settings = ctx.settings
    if ctx.credential is None:
        return CheckResult("token", "skip", "not checked: no usable app credential."), None
    try:
        session = make_session(settings.tenant, settings.graph)
        tokens = TokenProvider(
            settings, ctx.credential, session,
            policy=RetryPolicy(max_retries=1, base_delay=0.5, retry_after_cap=5.0),
        )
        tokens.token()
    except KioskError as exc:
        return fail("token", exc), None
    kind = "certificate" if tokens.uses_certificate else "client secret"
    return (
        CheckResult(
            "token", "ok",
            f"signed in to tenant {settings.tenant.tenant_id} with the {kind}; got a token "
            f"for {tokens.scope}.",
        ),
        tokens,
    )


def _graph_failure(exc: KioskError, step: str, setting: str) -> tuple[str, str]:
    """(detail, fix) for a failed Graph step of the check."""
    if isinstance(exc, GraphNotFoundError):
        if step == "group":
            return (
                f"graph.group: {exc.detail}",
                "Set graph.group to the group's exact display name or its object id.",
            )
        return (
            f"graph.canary_upn: {exc.detail}",
            "Set graph.canary_upn to an existing test user of the tenant.",
        )
    if isinstance(exc, GraphPermissionError):
        needed = NEEDED[step]
        return (
            f"{setting}: {exc.detail} The app lacks the Graph application permission {needed}.",
            f"In Entra ID, App registrations > the kiosk app > API permissions: add the "
            f"application permission {needed} and grant admin consent; then run kiosk check "
            "again.",
        )
    return f"{setting}: {exc.detail}", exc.next_step


def check_graph(ctx: CheckContext, tokens: TokenProvider) -> CheckResult:
    from kiosk.entra.graph import GraphClient

    assert ctx.settings is not None  # noqa: S101 - checked by the caller
    graph = ctx.settings.graph
    if not graph.group and not graph.canary_upn:
        return CheckResult(
            "Graph permissions", "warn",
            "not tested: neither graph.group nor graph.canary_upn is set.",
            "Set graph.canary_upn to a test user (and graph.group to the batch's group) so that "
            f"kiosk check can prove the app has {PERMISSIONS}.",
        )
    client = GraphClient(
        ctx.settings, tokens, tokens.session,
        policy=RetryPolicy(max_retries=1, base_delay=0.5, retry_after_cap=5.0),
    )
    done: list[str] = []
    failed: list[tuple[str, str]] = []
    if graph.group:
        step = "group"
        try:
            group = client.find_group(graph.group)
            members = client.iter_group_users(group.id)
            first = next(members, None)
            closing = getattr(members, "close", None)
            if closing is not None:
                closing()  # one page is proof enough; stop any paging under way
            done.append(
                f"group {group.display_name!r} and its members are readable"
                + ("" if first else " (it has no user members)")
            )
        except KioskError as exc:
            failed.append(_graph_failure(exc, step, "graph.group"))
    if graph.canary_upn:
        step = "user"
        try:
            user = client.get_user(graph.canary_upn)
            step = "options"
            options = client.creation_options(user.id)
            done.append(
                f"creation options for {user.user_principal_name} came (rp {options.rp_id}); "
                "nothing was registered"
            )
        except KioskError as exc:
            failed.append(_graph_failure(exc, step, "graph.canary_upn"))
    if failed:
        return CheckResult(
            "Graph permissions", "fail",
            " ".join(d for d, _ in failed) + (f" (Fine: {'; '.join(done)}.)" if done else ""),
            " ".join(f for _, f in failed),
        )
    # Either passkey permission is accepted; the detail names the narrower one.
    note = permissions.methods_note(_roles(tokens)) if graph.canary_upn else ""
    parts = [*done, note] if note else done
    return CheckResult("Graph permissions", "ok", "; ".join(parts) + ".")


def _roles(tokens: TokenProvider) -> frozenset[str] | None:
    try:
        return permissions.token_roles(tokens.token())
    except KioskError:
        return None


def _stock_aaguids(ctx: CheckContext) -> tuple[list[str], str]:
    """The AAGUIDs the kiosk would enroll, and where they come from."""
    assert ctx.settings is not None  # noqa: S101 - checked by the caller
    allowed = list(ctx.settings.policy.allowed_aaguids)
    if allowed:
        return allowed, "policy.allowed_aaguids"
    db = Path(ctx.settings.store.path)
    if not db.exists():
        return [], ""
    from kiosk.store import Store

    try:
        store = Store(db)
    except KioskError:
        return [], ""
    try:
        return sorted({e.aaguid for e in store.inventory.all()}), "the key inventory"
    finally:
        store.close()


def _in_metadata(ctx: CheckContext, aaguids: list[str]) -> list[str]:
    from kiosk.keys.mds import MdsCatalog

    assert ctx.settings is not None  # noqa: S101 - checked by the caller
    try:
        catalog = MdsCatalog.load(ctx.settings.store.mds_blob, ctx.mds_root)
    except KioskError:
        return []
    return [a for a in aaguids if catalog.entry(a) is not None]


def check_passkey_policy(ctx: CheckContext, tokens: TokenProvider) -> CheckResult:
    """The tenant's passkey (FIDO2) policy against the group and the kiosk's key models."""
    from kiosk.entra.graph import GraphClient

    assert ctx.settings is not None  # noqa: S101 - checked by the caller
    name = "passkey policy"
    client = GraphClient(
        ctx.settings, tokens, tokens.session,
        policy=RetryPolicy(max_retries=1, base_delay=0.5, retry_after_cap=5.0),
    )
    aaguids, source = _stock_aaguids(ctx)
    try:
        verdict = assess(client, ctx.settings.graph.group, aaguids, _in_metadata(ctx, aaguids))
    except GraphPermissionError:
        return CheckResult(
            name, "warn",
            f"not read: the app lacks {permissions.POLICY_READ} (or {permissions.POLICY_READ_ALL}"
            "), so kiosk check cannot tell whether the tenant's passkey policy lets these keys "
            "register. Enrollment works without it.",
            f"To have it checked: add the application permission {permissions.POLICY_READ} "
            "to the kiosk app and grant admin consent.",
        )
    except KioskError as exc:
        return CheckResult(name, "warn", f"not read: {exc.detail}", exc.next_step)
    fix = (
        "In the Entra admin center: Protection > Authentication methods > Passkey (FIDO2): "
        "enable it for the group, allow self-service set up, and allow the kiosk's key models "
        "(AAGUIDs) in the key restrictions of the passkey profile the group uses."
    )
    if verdict.problems:
        return CheckResult(name, "fail", " ".join(verdict.problems), fix)
    fine = "; ".join(verdict.fine) or "nothing in it blocks enrollment"
    if source:
        fine += f" (key models from {source})"
    if verdict.warnings:
        return CheckResult(name, "warn", " ".join(verdict.warnings) + f" ({fine}.)", fix)
    return CheckResult(name, "ok", fine + ".")
