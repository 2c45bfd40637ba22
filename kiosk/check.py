"""`kiosk check`: a preflight an admin runs before the first batch. Each failure comes with its fix.

Checks, in order (a check that depends on an earlier failed one is skipped, and says so):

1. configuration: kiosk.toml parses and validates, names operators and at least one admin
   (readable PIN hashes and key credentials), and is not writable by others.
2. secret files: the app credential's files are private and the credential loads (not expired).
3. helpdesk certificates: sealed PIN escrow has usable recipients.
4. state directories: the database, audit, escrow and manifest directories are writable;
   files in and out: the inbox, the outbox and the USB stick's mount point
   (:mod:`kiosk.check_files`).
5. clock: the local clock agrees with the ``Date`` of the login (token) endpoint.
6. token: the app signs in and gets a Graph token.
7. Graph permissions: the group is readable; creation options come for the canary user; which
   passkey permission the app uses (and whether a narrower one would do).
8. passkey policy: the tenant's FIDO2 policy lets the group enroll the kiosk's key models.
9. HID devices: FIDO hidraw devices can be opened read-write by this user.
10. MDS blob: present, signed and not out of date.
11. audit trail: the hash chain verifies.
12. printing: the label and mailer queues are ready and CUPS keeps no PIN
    (:mod:`kiosk.check_paper`).
13. fleet (store.url set): connection over verified TLS, schema version, grants, clock
    (:mod:`kiosk.check_fleet`).
14. restarts: the kiosk is not crash-looping; console lockdown: Ctrl+Alt+Del, SysRq and other
    consoles are off (on a kiosk only; see :mod:`kiosk.check_console`).

Network checks live in :mod:`kiosk.check_tenant`.
"""

from __future__ import annotations

import os
import pwd
import stat
from datetime import date
from pathlib import Path

from kiosk.check_context import CheckContext, CheckResult, fail
from kiosk.check_paper import check_printing
from kiosk.check_tenant import check_clock, check_graph, check_passkey_policy, check_token
from kiosk.errors import KioskError

FIDO_USAGE_PAGE = b"\x06\xd0\xf1"
"""HID report descriptor item: Usage Page (2 bytes) 0xF1D0, the FIDO Alliance page."""
EXPIRY_WARNING_DAYS = 30


def check_configuration(ctx: CheckContext) -> CheckResult:
    from kiosk.config import load
    from kiosk.operators.sign_in import admins, check_sign_in, people

    try:
        ctx.settings = load(ctx.config_path)
        check_sign_in(ctx.settings)  # `kiosk run` refuses to start without operators
    except KioskError as exc:
        return fail("configuration", exc)
    mode = stat.S_IMODE(ctx.config_path.stat().st_mode)
    if mode & 0o022:
        return CheckResult(
            "configuration", "fail",
            f"{ctx.config_path} is valid but can be changed by group or others (mode {mode:04o}).",
            f"Run: chown root:fido-kiosk {ctx.config_path} && chmod 0640 {ctx.config_path}",
        )
    settings = ctx.settings
    who = f"may sign in: {len(people(settings))}, admins among them: {len(admins(settings))}"
    return CheckResult("configuration", "ok", f"{ctx.config_path} is valid; {who}.")


def check_secret_files(ctx: CheckContext) -> CheckResult:
    from kiosk.entra.secrets import (
        CertificateCredential,
        check_private_file,
        credentials_directory,
        load_credential,
    )

    assert ctx.settings is not None  # noqa: S101 - checked by the caller
    tenant = ctx.settings.tenant
    cred_dir = credentials_directory(tenant, ctx.env)
    names = {
        "private key": tenant.private_key_file,
        "PKCS#12": tenant.pfx_file,
        "PKCS#12 passphrase": tenant.pfx_passphrase_file,
        "client secret": tenant.client_secret_file,
    }
    checked: list[str] = []
    try:
        for what, name in names.items():
            if name:
                path = Path(name)
                if not path.is_absolute() and cred_dir is not None:
                    path = cred_dir / path
                check_private_file(path, what)
                checked.append(str(path))
        credential = load_credential(tenant, ctx.env, ctx.now())
    except KioskError as exc:
        return fail("secret files", exc)
    ctx.credential = credential
    files = f" ({', '.join(checked)} private)" if checked else ""
    if isinstance(credential, CertificateCredential):
        days = credential.days_left(ctx.now())
        detail = (
            f"certificate {credential.subject}, thumbprint {credential.thumbprint_sha1}, valid "
            f"{int(days)} more days, from {credential.source}{files}."
        )
        if days < EXPIRY_WARNING_DAYS:
            return CheckResult(
                "secret files", "warn", detail,
                "Make a new certificate, upload it to the app registration and install it "
                "before this one expires.",
            )
        return CheckResult("secret files", "ok", detail)
    return CheckResult(
        "secret files", "warn",
        f"a client secret from {credential.source}{files}.",
        "Prefer a certificate credential: a secret is a password anyone holding it can use.",
    )


def check_helpdesk(ctx: CheckContext) -> CheckResult:
    from kiosk.enroll.escrow import fingerprint, load_recipients

    assert ctx.settings is not None  # noqa: S101 - checked by the caller
    escrow = ctx.settings.escrow
    if not escrow.seals:
        return CheckResult(
            "helpdesk certificates", "skip", "escrow.mode is show: PINs are not sealed."
        )
    try:
        certs = load_recipients(escrow.recipients, now=ctx.now())
    except KioskError as exc:
        return fail("helpdesk certificates", exc)
    for name in escrow.recipients:
        for path in (Path(name), Path(name).parent):
            st = path.stat()
            if st.st_mode & 0o022 or st.st_uid not in (0, os.geteuid()):
                return CheckResult(
                    "helpdesk certificates", "fail",
                    f"{path} can be changed by someone other than root (mode "
                    f"{stat.S_IMODE(st.st_mode):04o}, owner uid {st.st_uid}): whoever replaces "
                    "the certificate can read every PIN sealed after that.",
                    f"Run: chown root:root {path} && chmod go-w {path}",
                )
    soonest = min(c.not_valid_after_utc for c in certs)
    days = (soonest - ctx.now()).days
    detail = (
        f"{len(certs)} certificate(s) ({', '.join(fingerprint(c)[:16] for c in certs)}); the "
        f"first expires {soonest:%Y-%m-%d}."
    )
    if days < EXPIRY_WARNING_DAYS:
        return CheckResult(
            "helpdesk certificates", "warn", detail + f" That is in {days} days.",
            "Get the helpdesk's next certificate and add it to escrow.recipients now.",
        )
    return CheckResult("helpdesk certificates", "ok", detail)


def check_directories(ctx: CheckContext) -> CheckResult:
    assert ctx.settings is not None  # noqa: S101 - checked by the caller
    store = ctx.settings.store
    wanted = {
        Path(store.path).parent: False,
        Path(store.audit_path).parent: False,
        Path(ctx.settings.escrow.directory): True,
        Path(store.manifest_directory): False,
    }
    for directory, private in wanted.items():
        if not directory.is_dir():
            return CheckResult(
                "state directories", "fail", f"{directory} does not exist.",
                "Run: systemd-tmpfiles --create /etc/tmpfiles.d/fido-kiosk.conf (or create it "
                "owned by the kiosk user, mode 0700).",
            )
        if not os.access(directory, os.W_OK | os.X_OK):
            return CheckResult(
                "state directories", "fail", f"{directory} is not writable by this user.",
                f"Run: chown -R fido-kiosk:fido-kiosk {directory} (and run kiosk check as the "
                "kiosk user: sudo -u fido-kiosk kiosk check).",
            )
        mode = stat.S_IMODE(directory.stat().st_mode)
        if private and mode & 0o077:
            return CheckResult(
                "state directories", "fail",
                f"{directory} holds sealed PINs but others may list it (mode {mode:04o}).",
                f"Run: chmod 0700 {directory}",
            )
    records = sorted({Path(store.path).parent, Path(store.audit_path).parent})
    for directory in records:
        mode = stat.S_IMODE(directory.stat().st_mode)
        if mode & 0o007:
            return CheckResult(
                "state directories", "warn",
                f"{directory} holds the database and audit trail (who got which key) and "
                f"anyone on the machine may read it (mode {mode:04o}).",
                f"Run: chmod 0700 {directory}",
            )
    return CheckResult(
        "state directories", "ok", ", ".join(str(d) for d in wanted) + " are writable."
    )


def _fido_nodes(ctx: CheckContext) -> list[Path]:
    nodes = []
    if not ctx.hidraw_class.is_dir():
        return []
    for entry in sorted(ctx.hidraw_class.iterdir()):
        try:
            descriptor = (entry / "device" / "report_descriptor").read_bytes()
        except OSError:
            continue
        if FIDO_USAGE_PAGE in descriptor:
            nodes.append(ctx.dev / entry.name)
    return nodes


def _identity(ctx: CheckContext) -> tuple[str, int, frozenset[int]] | None:
    """(name, uid, groups) whose access to keys matters: the kiosk user when run as root."""
    if ctx.identity is not None:
        return ctx.identity
    if os.geteuid() != 0:
        name = pwd.getpwuid(os.geteuid()).pw_name if _known(os.geteuid()) else str(os.geteuid())
        return name, os.geteuid(), frozenset([os.getegid(), *os.getgroups()])
    try:
        entry = pwd.getpwnam(ctx.kiosk_user)
    except KeyError:
        return None
    groups = os.getgrouplist(ctx.kiosk_user, entry.pw_gid)
    return ctx.kiosk_user, entry.pw_uid, frozenset(groups)


def _known(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def _can_read_write(path: Path, uid: int, groups: frozenset[int]) -> bool:
    """Unix permission bits as the kernel applies them (ACLs aside); root may do anything."""
    try:
        st = path.stat()
    except OSError:
        return False
    if uid == 0:
        return True
    if st.st_uid == uid:
        bits = (st.st_mode >> 6) & 0o6
    elif st.st_gid in groups:
        bits = (st.st_mode >> 3) & 0o6
    else:
        bits = st.st_mode & 0o6
    return bits == 0o6


def check_hid(ctx: CheckContext) -> CheckResult:
    who = _identity(ctx)
    if who is None:
        return CheckResult(
            "HID devices", "fail", f"the kiosk user {ctx.kiosk_user} does not exist.",
            "Run: systemd-sysusers /etc/sysusers.d/fido-kiosk.conf (see docs/install.md).",
        )
    name, uid, groups = who
    nodes = _fido_nodes(ctx)
    if not nodes:
        return CheckResult(
            "HID devices", "warn", "no FIDO security key is plugged in, so access was not tested.",
            "Plug a key in and run `kiosk check` again.",
        )
    closed = [n for n in nodes if not _can_read_write(n, uid, groups)]
    if closed:
        return CheckResult(
            "HID devices", "fail",
            f"{', '.join(map(str, closed))}: a FIDO key that {name} cannot open read-write.",
            "Install systemd/70-fido-kiosk.rules as /etc/udev/rules.d/70-fido-kiosk.rules, run "
            "`udevadm control --reload && udevadm trigger --subsystem-match=hidraw`, and make "
            f"sure {name} is in the group fido-kiosk.",
        )
    return CheckResult(
        "HID devices", "ok", f"{', '.join(map(str, nodes))} can be opened by {name}."
    )


def check_mds(ctx: CheckContext) -> CheckResult:
    from kiosk.keys.mds import MdsCatalog

    assert ctx.settings is not None  # noqa: S101 - checked by the caller
    path = ctx.settings.store.mds_blob
    try:
        catalog = MdsCatalog.load(path, ctx.mds_root)
    except KioskError as exc:
        return fail("MDS blob", exc)
    today: date = ctx.now().date()
    line = catalog.freshness(today) + "."
    if catalog.is_stale(today):
        return CheckResult(
            "MDS blob", "fail", line,
            f"Download a fresh blob from https://mds3.fidoalliance.org/ and place it at {path}.",
        )
    return CheckResult("MDS blob", "ok", line)


def check_audit(ctx: CheckContext) -> CheckResult:
    from kiosk.audit import verify

    assert ctx.settings is not None  # noqa: S101 - checked by the caller
    path = Path(ctx.settings.store.audit_path)
    if not path.exists():
        return CheckResult(
            "audit trail", "ok", f"{path} does not exist yet; the first enrollment creates it."
        )
    report = verify(path)
    if not report.ok:
        shown = "; ".join(report.problems[:3])
        more = f" (and {len(report.problems) - 3} more)" if len(report.problems) > 3 else ""
        return CheckResult(
            "audit trail", "fail", f"{path}: {shown}{more}",
            f"Keep a copy of {path}, do not enroll, and investigate with `kiosk audit verify "
            f"{path}`; start a new trail only after the old one is archived.",
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o022:
        return CheckResult(
            "audit trail", "fail",
            f"{path} verifies ({report.records} records) but others may write it "
            f"(mode {mode:04o}).",
            f"Run: chmod 0600 {path}",
        )
    return CheckResult("audit trail", "ok", f"{path} verifies ({report.records} records).")


def run_checks(ctx: CheckContext) -> list[CheckResult]:
    """Every check, in order; later checks are skipped when what they need failed."""
    from kiosk.check_console import check_console, check_restarts

    results = [check_configuration(ctx)]
    if results[0].status == "fail":
        names = ("secret files", "helpdesk certificates", "state directories",
                 "files in and out", "clock", "token",
                 "Graph permissions", "passkey policy", "HID devices", "MDS blob", "audit trail",
                 "printing", "restarts")
        return results + [
            CheckResult(n, "skip", "not checked: the configuration is not valid.") for n in names
        ] + [check_console(ctx)]
    secret = check_secret_files(ctx)
    from kiosk.check_files import check_files

    results += [secret, check_helpdesk(ctx), check_directories(ctx), check_files(ctx),
                check_clock(ctx)]
    if secret.status == "fail":
        results += [
            CheckResult("token", "skip", "not checked: no usable app credential."),
            CheckResult("Graph permissions", "skip", "not checked: no usable app credential."),
            CheckResult("passkey policy", "skip", "not checked: no usable app credential."),
        ]
    else:
        token_result, tokens = check_token(ctx)
        results.append(token_result)
        if tokens is None:
            results += [
                CheckResult(n, "skip", "not checked: no token for Graph.")
                for n in ("Graph permissions", "passkey policy")
            ]
        else:
            results += [check_graph(ctx, tokens), check_passkey_policy(ctx, tokens)]
    from kiosk.check_fleet import check_fleet

    results += [
        check_hid(ctx), check_mds(ctx), check_audit(ctx), check_printing(ctx), *check_fleet(ctx),
        check_restarts(ctx),
    ]
    return [*results, check_console(ctx)]
