"""`kiosk fake-tenant` runs alone and tells a person everything needed to point a client at it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from kiosk.config import parse


def test_fake_tenant_command_prints_a_working_configuration(tmp_path: Path) -> None:
    state_dir = tmp_path / "tenant"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "fake-tenant", "--users", "3", "--state-dir",
         str(state_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, f"exited early: {proc.stderr.read() if proc.stderr else ''}"
            lines.append(line)
            if line.startswith("private_key_file"):
                break
        text = "".join(lines)
        toml = text[text.index("[tenant]"):]
        settings = parse(toml, "snippet")
        tenant = settings.tenant
        assert Path(tenant.ca_bundle) == state_dir / "ca.pem"
        assert "demo secret" in text and "client secret" in text
        assert "user0001@" in text
        session = requests.Session()
        session.trust_env = False
        session.verify = tenant.ca_bundle
        doc = session.get(
            f"{tenant.login_url}/{tenant.tenant_id}/v2.0/.well-known/openid-configuration",
            timeout=10,
        ).json()
        assert doc["token_endpoint"].startswith(tenant.login_url)
        token = session.post(
            doc["token_endpoint"],
            data={
                "grant_type": "client_credentials",
                "client_id": tenant.client_id,
                "client_secret": (state_dir / "client-secret").read_text(),
                "scope": "https://graph.microsoft.com/.default",
            },
            timeout=10,
        )
        assert token.status_code == 200
        assert (state_dir / "app-key.pem").stat().st_mode & 0o077 == 0
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0


def test_a_bad_fault_spec_is_refused_with_the_way_to_write_it(capsys) -> None:
    from kiosk.cli import main

    assert main(["fake-tenant", "--fault", "503@nowhere:1"]) == 2
    err = capsys.readouterr().err
    assert "unknown route 'nowhere'" in err and "KIND@ROUTE" in err


def test_a_stop_sent_the_moment_the_configuration_is_read_ends_the_tenant_cleanly(
    tmp_path: Path,
) -> None:
    # A script (or a test) that stops the tenant as soon as it has read what it needs sends
    # Ctrl+C right after the print; that ended with status 130 (a KeyboardInterrupt before the
    # tenant's wait) and without stopping the servers.
    for run in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-m", "kiosk", "fake-tenant", "--users", "0", "--state-dir",
             str(tmp_path / f"tenant{run}")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            assert first.startswith("fake tenant running"), first
        finally:
            proc.send_signal(signal.SIGINT)
            _out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
