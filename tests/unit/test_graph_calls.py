"""Graph call collectors (kiosk.entra.calls) and how the audit trail keeps a call: scoped to
the thread that made it, nested, named without ids, allow-listed field by field."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from kiosk.audit import AuditTrail, verify
from kiosk.audit_chain import AuditFieldError, check_record
from kiosk.entra.calls import GraphCalls, call_name, merged, report
from kiosk.model.timing import Timing

USER = "/graph/v1.0/users/3c9edd64-1654-463f-9e31-d228a51d7039/authentication/fido2Methods"


def timing(path: str = USER, method: str = "POST", rid: str = "r1", attempt: int = 1) -> Timing:
    return Timing(method, path, 201, rid, "c1", 12.345, attempt)


def test_a_collector_sees_only_its_own_threads_calls_and_collectors_nest() -> None:
    mine, theirs = timing(rid="mine"), timing(rid="theirs")
    other_thread_saw: list[Timing] = []

    def elsewhere() -> None:
        with GraphCalls() as calls:
            report(theirs)
        other_thread_saw.extend(calls.calls)

    with GraphCalls() as outer:
        with GraphCalls() as inner:
            report(mine)
            thread = threading.Thread(target=elsewhere)
            thread.start()
            thread.join()
        report(timing(rid="after"))
    report(timing(rid="nobody listening"))
    assert inner.calls == [mine]
    assert [t.request_id for t in outer.calls] == ["mine", "after"]
    assert other_thread_saw == [theirs]
    assert outer.request_ids == ["mine", "after"]


def test_merged_keeps_order_and_drops_a_call_seen_twice() -> None:
    a, b, c = timing(rid="a"), timing(rid="b"), timing(rid="c")
    assert merged([a, b], [b, c]) == [a, b, c]


@pytest.mark.parametrize(
    ("method", "path", "name"),
    [
        ("GET", "/beta/users/u1/authentication/fido2Methods/creationOptions("
                "challengeTimeoutInMinutes=10)", "creation_options"),
        ("GET", "/v1.0/users/u1/authentication/fido2Methods/creationOptions", "creation_options"),
        ("POST", USER, "register"),
        ("GET", USER, "list_methods"),
        ("DELETE", USER + "/m1", "delete_method"),
        ("GET", "/v1.0/groups/g1/transitiveMembers/microsoft.graph.user", "group_members"),
        ("GET", "/v1.0/groups/g1/transitiveMembers", "group_members"),
        ("GET", "/v1.0/groups", "find_group"),
        ("GET", "/v1.0/users/alice%40contoso.example", "get_user"),
    ],
)
def test_calls_are_named_without_their_ids(method: str, path: str, name: str) -> None:
    assert call_name(method, path) == name


def test_the_trail_keeps_each_call_and_its_request_id(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "audit.jsonl")
    lost = Timing("POST", USER, 0, "", "c2", 30000.0, 1)
    trail.append("enrolled", upn="a@b.c", graph_calls=[timing(rid="r1"), lost],
                 graph_request_ids=["r0"])
    trail.close()
    (record,) = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert record["graph_request_ids"] == ["r0", "r1"]
    assert record["graph_calls"] == [
        {"call": "register", "status": 201, "request_id": "r1", "client_request_id": "c1",
         "ms": 12.3, "attempt": 1},
        {"call": "register", "status": 0, "client_request_id": "c2", "ms": 30000.0,
         "attempt": 1},
    ]
    assert USER not in (tmp_path / "audit.jsonl").read_text()  # no URL, no user path
    assert verify(tmp_path / "audit.jsonl").ok


@pytest.mark.parametrize(
    "graph_calls",
    [
        {"call": "register"},  # not a list
        [{"call": "register", "url": "https://graph/v1.0/users/x?$select=id"}],  # not allowed
        [{"call": "register", "request_id": {"nested": "object"}}],
        ["r1"],  # items must be objects
        [{"call": "register", "request_id": "token=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.sig"}],
    ],
)
def test_graph_calls_outside_the_allow_list_are_refused(graph_calls: object) -> None:
    with pytest.raises(AuditFieldError):
        check_record({"event": "enrolled", "graph_calls": graph_calls})


def test_a_hand_added_field_in_a_graph_call_fails_verification(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path) as trail:
        trail.append("enrolled", graph_calls=[timing()])
    text = path.read_text().replace('"attempt":1', '"attempt":1,"body":"x"')
    path.write_text(text)
    report_ = verify(path)
    assert not report_.ok
    assert any("graph_calls[0].body" in p for p in report_.problems)
