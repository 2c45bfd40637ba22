"""GraphClient.get_users over the fake tenant's $batch endpoint (real HTTPS, real MSAL).

Only ``sleep`` is injected (see tests/flows/entra_rig.py): what a retry would have waited is
checked instead of waited.
"""

from __future__ import annotations

from kiosk.entra.calls import GraphCalls
from kiosk.entra.errors import GraphNotFoundError, GraphThrottledError
from kiosk.entra.fake.server import FakeTenant
from kiosk.entra.models import User
from tests.flows.entra_rig import Client


def _users(tenant: FakeTenant, n: int) -> list[str]:
    domain = tenant.state.domain
    return [
        tenant.state.add_user(f"person{i:03d}@{domain}", f"Person {i}").user_principal_name
        for i in range(n)
    ]


def test_45_users_take_3_batches_and_each_lookup_keeps_its_request_id(
    tenant: FakeTenant, client: Client
) -> None:
    upns = _users(tenant, 45)
    with GraphCalls() as seen:
        found = client.graph.get_users(upns)
    assert client.calls("batch") == [200, 200, 200]
    assert client.calls("user") == [200] * 45
    assert list(found) == upns
    for upn, user in found.items():
        assert isinstance(user, User) and user.user_principal_name == upn
        assert user.id == tenant.state.find_user(upn).id  # type: ignore[union-attr]
    lookups = [t for t in seen.calls if "/users/" in t.path]
    issued = {i.request_id: i for i in tenant.issued if i.route == "user"}
    assert len(lookups) == 45
    # Each lookup is recorded with the request id the tenant gave that lookup, under the
    # path it would have had alone, and the client request id of its batch.
    assert {t.request_id for t in lookups} == set(issued)
    for t in lookups:
        assert t.path == issued[t.request_id].path and t.status == 200
    batches = [t for t in seen.calls if t.path.endswith("/$batch")]
    assert len(batches) == 3
    assert {t.client_request_id for t in lookups} == {t.client_request_id for t in batches}


def test_unknown_users_are_not_found_once_and_guests_resolve(
    tenant: FakeTenant, client: Client
) -> None:
    upns = _users(tenant, 3)
    guest = tenant.state.add_guest("bob@fabrikam.example", "Bob").user_principal_name
    odd = tenant.state.add_user(f"o'neil/x@{tenant.state.domain}", "Pat").user_principal_name
    found = client.graph.get_users([*upns, "ghost@contoso.onmicrosoft.com", guest, odd])
    ghost = found["ghost@contoso.onmicrosoft.com"]
    assert isinstance(ghost, GraphNotFoundError)
    assert "Looking up user ghost@contoso.onmicrosoft.com" in ghost.detail
    bob, pat = found[guest], found[odd]
    assert isinstance(bob, User) and bob.display_name == "Bob"
    assert isinstance(pat, User) and pat.display_name == "Pat"
    assert sorted(client.calls("user")) == [200] * 5 + [404]  # the 404 was never retried
    assert client.calls("batch") == [200]
    assert client.slept == []
    paths = [i.path for i in tenant.issued if i.route == "user"]
    assert any("%23EXT%23" in p for p in paths) and any("%2Fx" in p for p in paths)


def test_throttled_lookups_alone_are_sent_again_after_their_retry_after(
    tenant: FakeTenant, client: Client
) -> None:
    upns = _users(tenant, 20)
    tenant.faults.schedule("429", "user", 4, 9, retry_after=7)
    with GraphCalls() as seen:
        found = client.graph.get_users(upns)
    assert all(isinstance(u, User) for u in found.values())
    assert client.calls("batch") == [200, 200]
    assert sorted(client.calls("user")) == [200] * 20 + [429] * 2
    assert client.slept == [7.0]
    again = [t for t in seen.calls if "/users/" in t.path and t.attempt == 2]
    assert len(again) == 2 and all(t.status == 200 for t in again)


def test_a_lookup_throttled_every_time_gives_up_after_the_retries(
    tenant: FakeTenant, client: Client
) -> None:
    (upn,) = _users(tenant, 1)
    tenant.faults.randomly("429", "user", 1.0, retry_after=120)
    found = client.graph.get_users([upn])
    err = found[upn]
    assert isinstance(err, GraphThrottledError)
    assert "after 4 attempts" in err.detail  # max_retries = 3
    assert client.calls("user") == [429] * 4
    assert client.slept == [60.0] * 3  # Retry-After capped by the retry policy


def test_a_server_error_for_one_lookup_is_retried(tenant: FakeTenant, client: Client) -> None:
    upns = _users(tenant, 2)
    tenant.faults.schedule("503", "user", 1, retry_after=None)
    found = client.graph.get_users(upns)
    assert all(isinstance(u, User) for u in found.values())
    assert sorted(client.calls("user")) == [200, 200, 503]
    assert len(client.slept) == 1 and 0 <= client.slept[0] <= 0.5  # backoff, no Retry-After


def test_a_whole_batch_refused_with_503_is_sent_again(tenant: FakeTenant, client: Client) -> None:
    upns = _users(tenant, 5)
    tenant.faults.schedule("503", "batch", 1, retry_after=2)
    found = client.graph.get_users(upns)
    assert all(isinstance(u, User) for u in found.values())
    assert client.calls("batch") == [503, 200]
    assert client.calls("user") == [200] * 5  # the refused batch reached no lookup
    assert client.slept == [2.0]


def test_a_batch_that_fails_for_good_fails_its_lookups_and_stops_the_rest(
    tenant: FakeTenant, client: Client
) -> None:
    upns = _users(tenant, 100)  # 5 batches, 4 in flight
    tenant.faults.randomly("403", "batch", 1.0)
    found = client.graph.get_users(upns)
    assert all("Insufficient privileges" in str(found[u]) for u in upns)
    # The fifth batch is never sent: the one that failed first stopped it.
    assert 1 <= len(client.calls("batch")) <= 4
    assert client.calls("user") == []


def test_a_batch_refused_once_fails_only_its_own_lookups(
    tenant: FakeTenant, client: Client
) -> None:
    upns = _users(tenant, 10)
    tenant.faults.schedule("403", "batch", 1)
    first = client.graph.get_users(upns)
    again = client.graph.get_users(upns)
    assert not any(isinstance(r, User) for r in first.values())
    assert all(isinstance(r, User) for r in again.values())
    assert client.calls("batch") == [403, 200]


def test_an_expired_token_gets_one_fresh_token(tenant: FakeTenant, client: Client) -> None:
    upns = _users(tenant, 3)
    client.graph.get_users(upns[:1])
    tenant.expire_tokens()
    found = client.graph.get_users(upns)
    assert all(isinstance(u, User) for u in found.values())
    assert client.calls("batch") == [200, 401, 200]


def test_without_batching_the_results_are_the_same(tenant: FakeTenant, client: Client) -> None:
    upns = [*_users(tenant, 23), "ghost@contoso.onmicrosoft.com"]
    batched = client.graph.get_users(upns)
    client.graph.batching = False
    single = client.graph.get_users(upns)
    assert client.calls("batch") == [200, 200]
    assert len(client.calls("user")) == 48
    assert {k: v for k, v in single.items() if isinstance(v, User)} == {
        k: v for k, v in batched.items() if isinstance(v, User)
    }
    assert isinstance(single[upns[-1]], GraphNotFoundError)
    assert isinstance(batched[upns[-1]], GraphNotFoundError)


def test_audit_names_of_batched_calls() -> None:
    from kiosk.entra.calls import call_name

    assert call_name("POST", "/graph/v1.0/$batch") == "batch"
    assert call_name("GET", "/graph/v1.0/users/a%40b.example") == "get_user"


def test_lookups_refused_401_inside_a_batch_go_again_with_a_fresh_token(
    tenant: FakeTenant, client: Client
) -> None:
    upns = _users(tenant, 4)
    tenant.faults.schedule("expire_token", "user", 2)  # tokens die between steps 1 and 2
    found = client.graph.get_users(upns)
    assert all(isinstance(u, User) for u in found.values())
    assert client.calls("batch") == [200, 200]
    assert client.calls("user") == [200, 401, 401, 401, 200, 200, 200]
    assert client.slept == []


def test_progress_that_says_stop_sends_no_more_batches(
    tenant: FakeTenant, client: Client
) -> None:
    upns = _users(tenant, 200)  # 10 batches, 4 at a time
    told: list[int] = []

    def progress(done: int) -> bool:
        told.append(done)
        return done < 20

    found = client.graph.get_users(upns, progress=progress)
    assert told == [20]  # the first batch answered said stop: told no more
    sent = client.calls("batch")
    assert 1 <= len(sent) <= 4 < 10  # the four sent at once, none after the first answer
    assert len(found) == 20 * len(sent)  # the batches sent are kept whole, the rest left out
    assert all(isinstance(found[upn], User) for upn in found)


def test_progress_that_says_stop_sends_no_more_single_lookups(
    tenant: FakeTenant, client: Client
) -> None:
    upns = _users(tenant, 60)
    client.graph.batching = False
    found = client.graph.get_users(upns, progress=lambda done: done < 3)
    sent = client.calls("user")
    assert 3 <= len(sent) <= 3 + 7 < 60  # eight at a time; none started after the third answer
    assert len(found) == len(sent)
