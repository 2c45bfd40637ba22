"""Graph's credential and method ids in each of its spellings: read right, never at the cost of
an ordinary base64url id that happens to end in a digit.

The spellings are written here from Microsoft's description (standard base64 with padding;
base64url without padding; base64url without padding plus one digit counting the removed
``=``), not with the fake tenant's encoder.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.entra.graph_data import find_registered
from kiosk.entra.models import Fido2Method
from kiosk.keys.creation import exclude_list
from kiosk.model.codec import credential_id_readings, id_matches, same_method_id
from kiosk.model.keys import CreatedCredential

SENT = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
AAGUID = "ee882879-721c-4913-9775-3dfcce97072a"


def standard(data: bytes) -> str:
    return base64.b64encode(data).decode()


def url_unpadded(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def url_padcount(data: bytes) -> str:
    padded = base64.urlsafe_b64encode(data).decode()
    bare = padded.rstrip("=")
    return bare + str(len(padded) - len(bare))


SPELLINGS = (standard, url_unpadded, url_padcount)
ids = st.binary(min_size=1, max_size=160)


def _excluded(spelled: str) -> list[bytes]:
    options = {"excludeCredentials": [{"type": "public-key", "id": spelled}]}
    return [bytes(d.id) for d in exclude_list(options)]


def _credential(cred_id: bytes) -> CreatedCredential:
    return CreatedCredential(
        credential_id=cred_id,
        client_data_json=b"{}",
        attestation_object=b"\xa0",
        aaguid=AAGUID,
        attestation_format="packed",
    )


@settings(max_examples=300)
@given(ids, st.sampled_from(SPELLINGS))
def test_the_exclude_list_always_holds_the_true_bytes(cred_id: bytes, spell: object) -> None:
    assert callable(spell)
    spelled = spell(cred_id)
    assert cred_id in _excluded(spelled)
    # at most one extra reading, and only when the text really reads both ways
    assert len(credential_id_readings(spelled)) <= 2


def ending_in_digit(data: bytes, digit: int) -> bytes:
    """``data`` changed in its last byte (and cut to fit) so its base64url ends in '0'-'2'."""
    if len(data) % 3 == 1:
        data = data[:-1] or b"\x00\x00\x00"
    if len(data) % 3 == 0:  # the last character is the low six bits of the last byte
        return data[:-1] + bytes([(data[-1] & 0xC0) | (52 + digit)])
    # two bytes in the last group: the last character is the low nibble shifted left by two,
    # so only '0' (52 = 0b110100) can end it
    return data[:-1] + bytes([(data[-1] & 0xF0) | 0x0D])


@settings(max_examples=300)
@given(st.builds(ending_in_digit, ids, st.integers(0, 2)))
def test_an_ordinary_base64url_id_ending_in_a_digit_keeps_its_own_reading(cred_id: bytes) -> None:
    spelled = url_unpadded(cred_id)
    assert spelled[-1] in "012"
    assert cred_id in credential_id_readings(spelled)
    assert cred_id in _excluded(spelled)
    assert id_matches(spelled, cred_id)


def test_the_padding_count_digit_is_not_read_as_data() -> None:
    # 31 bytes: 42 characters and one '=' removed -> '...1'; 32 bytes: 43 and one; 33: 44 and
    # none -> '...0'; 16 bytes: 22 and two -> '...2'
    for size in (16, 31, 32, 33, 64):
        cred_id = bytes(range(size))
        spelled = url_padcount(cred_id)
        assert spelled[-1] in "012"
        assert credential_id_readings(spelled)[0] == cred_id or cred_id in credential_id_readings(
            spelled
        )
        assert _excluded(spelled).count(cred_id) == 1


def test_text_that_is_no_id_in_any_spelling_reads_as_nothing() -> None:
    for junk in ("", "   ", "not base64!", "A", "abcde", "====", "ab=c"):
        assert credential_id_readings(junk) == ()
    assert _excluded("not base64!") == []


@settings(max_examples=200)
@given(ids, st.sampled_from(SPELLINGS), st.lists(ids, max_size=4))
def test_reconciliation_finds_a_lost_posts_method_by_id_in_every_spelling(
    cred_id: bytes, spell: object, others: list[bytes]
) -> None:
    assert callable(spell)
    methods = [
        Fido2Method(id=spell(o), display_name="someone else's key", aaguid=AAGUID, created=SENT)
        for o in others
        if o != cred_id
    ]
    # renamed by an admin, another AAGUID and no date: only the id can match it
    ours = Fido2Method(id=spell(cred_id), display_name="renamed", aaguid="0" * 32)
    found = find_registered([*methods, ours], _credential(cred_id), "YubiKey 5 1", SENT)
    assert found is ours
    assert find_registered(methods, _credential(cred_id), "YubiKey 5 1", SENT) is None


def test_an_id_match_beats_an_older_name_match() -> None:
    cred_id = bytes(range(48))
    by_name = Fido2Method(
        id="x", display_name="YubiKey 5 1", aaguid=AAGUID, created=SENT + timedelta(seconds=1)
    )
    by_id = Fido2Method(id=url_padcount(cred_id), display_name="YubiKey 5 1", aaguid=AAGUID)
    assert find_registered([by_name, by_id], _credential(cred_id), "YubiKey 5 1", SENT) is by_id



@settings(max_examples=200)
@given(ids, st.sampled_from(SPELLINGS), st.sampled_from(SPELLINGS))
def test_a_stored_method_id_matches_graphs_list_in_any_spelling(
    cred_id: bytes, stored: object, listed: object,
) -> None:
    assert callable(stored) and callable(listed)
    assert same_method_id(stored(cred_id), listed(cred_id))


def test_another_key_of_the_user_never_matches() -> None:
    mine, theirs = bytes(range(32)), bytes(range(1, 33))
    for stored in SPELLINGS:
        for listed in SPELLINGS:
            assert not same_method_id(stored(mine), listed(theirs))
