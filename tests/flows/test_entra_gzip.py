"""The fake tenant gzips answers as Graph does (when asked to), and our client reads them.

Over real HTTPS: the bytes on the wire are checked with urllib3's raw stream, and our real
Graph client (MSAL token provider + GraphClient) reads a gzipped, paged group.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable

import pytest
import requests

from kiosk.entra.fake.demo_tenant import make_demo_tenant
from kiosk.entra.fake.server import FakeTenant
from kiosk.entra.fake.wire import accepts_gzip
from tests.fixtures.tenant import graph_headers
from tests.flows.entra_rig import connect

MEMBERS = "/v1.0/groups/{gid}/transitiveMembers?$top=50"


def _session(tenant: FakeTenant) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(tenant.ca_file)
    return session


def _raw_get(
    tenant: FakeTenant, session: requests.Session, path: str, accept: str
) -> tuple[requests.Response, bytes]:
    headers = {**graph_headers(tenant, session), "Accept-Encoding": accept}
    resp = session.get(tenant.graph_url + path, headers=headers, stream=True, timeout=10)
    wire = resp.raw.read(decode_content=False)
    return resp, wire


def test_large_answer_is_gzipped_with_its_wire_length(
    fake_tenant_factory: Callable[..., FakeTenant],
) -> None:
    tenant = fake_tenant_factory(page_size=50, gzip_level=1)
    group = make_demo_tenant(tenant.state, 60, group_name="Wave")
    session = _session(tenant)
    path = MEMBERS.format(gid=group.id)

    zipped, wire = _raw_get(tenant, session, path, "gzip, deflate")
    assert zipped.status_code == 200
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert int(zipped.headers["Content-Length"]) == len(wire)

    plain, plain_wire = _raw_get(tenant, session, path, "identity")
    assert "Content-Encoding" not in plain.headers
    assert int(plain.headers["Content-Length"]) == len(plain_wire)
    assert len(wire) * 3 < len(plain_wire)  # worth compressing: 50 users shrink a lot
    page = json.loads(gzip.decompress(wire))
    assert len(page["value"]) == 50
    assert page["value"] == json.loads(plain_wire)["value"]


def test_small_answers_and_refused_gzip_stay_plain(
    fake_tenant_factory: Callable[..., FakeTenant],
) -> None:
    tenant = fake_tenant_factory(page_size=50, gzip_level=1)
    group = make_demo_tenant(tenant.state, 60, group_name="Wave")
    session = _session(tenant)
    small, _ = _raw_get(tenant, session, f"/v1.0/groups/{group.id}", "gzip")
    assert "Content-Encoding" not in small.headers  # under 1 KB
    refused, _ = _raw_get(tenant, session, MEMBERS.format(gid=group.id), "gzip;q=0, deflate")
    assert "Content-Encoding" not in refused.headers


def test_default_tenant_answers_plain_json(fake_tenant: FakeTenant) -> None:
    group = make_demo_tenant(fake_tenant.state, 60, group_name="Wave")
    resp, _ = _raw_get(fake_tenant, _session(fake_tenant), MEMBERS.format(gid=group.id), "gzip")
    assert resp.status_code == 200
    assert "Content-Encoding" not in resp.headers


def test_our_client_reads_a_gzipped_paged_group(
    fake_tenant_factory: Callable[..., FakeTenant],
) -> None:
    tenant = fake_tenant_factory(page_size=20, gzip_level=6)
    group = make_demo_tenant(tenant.state, 45, group_name="Wave")
    expected = {i for i in tenant.state.transitive_member_ids(group.id) if i in tenant.state.users}
    client = connect(tenant)
    users = list(client.graph.iter_group_users(group.id))
    assert {u.id for u in users} == expected
    assert all(u.user_principal_name for u in users)
    assert client.calls("members") == [200] * -(-len(expected) // 20)


def test_a_truncated_gzipped_page_is_read_again(
    fake_tenant_factory: Callable[..., FakeTenant],
) -> None:
    tenant = fake_tenant_factory(page_size=20, gzip_level=1)
    group = make_demo_tenant(tenant.state, 45, group_name="Wave")
    tenant.faults.schedule("truncated", "members", 2)
    client = connect(tenant)
    users = list(client.graph.iter_group_users(group.id))
    assert len({u.id for u in users}) == len(users) == len(
        [i for i in tenant.state.transitive_member_ids(group.id) if i in tenant.state.users]
    )
    assert len(client.calls("members")) == -(-len(users) // 20) + 1  # page 2 twice


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        ("gzip, deflate", True),
        ("deflate, gzip;q=0.5", True),
        ("*", True),
        ("x-gzip", True),
        ("GZIP", True),
        ("", False),
        ("identity", False),
        ("deflate, br", False),
        ("gzip;q=0", False),
        ("*;q=0", False),
        ("gzip;q=0, *", False),
        ("gzip;q=bad", False),
    ],
)
def test_accept_encoding_parsing(header: str, ok: bool) -> None:
    assert accepts_gzip(header) is ok
