"""What the log shows of an event: personal fields as salted commitments, nothing that
links two events of one person, and an opening only for whom a commitment stands for."""

from __future__ import annotations

import hashlib
import json

from hypothesis import given
from hypothesis import strategies as st

from ledger.transparency.disclosure import PERSONAL, Discloser, personal_values

DISCLOSER = Discloser(bytes(range(32)))
ALEX, SAM = "a1" * 32, "b2" * 32  # two citizens' pseudonyms
ACCESS = json.dumps(
    {
        "source": "urn:ledger:service:dwp:uc",
        "organisation": "DWP",
        "subject_keys": [ALEX, SAM],
        "official_key": "c3" * 32,
        "purpose": {"code": "uc-claim", "text": "to process a claim"},
        "break_glass": False,
        "envelope_sealed": "c2VhbGVk",
        "submission": None,
    }
).encode()


def test_personal_fields_become_commitments_and_the_rest_stays() -> None:
    shown = json.loads(DISCLOSER.disclosable("event/1", ACCESS))

    assert shown["organisation"] == "DWP" and shown["purpose"]["code"] == "uc-claim"
    assert all(c.startswith("commit:") for c in shown["subject_keys"])
    assert shown["official_key"].startswith("commit:")
    assert shown["envelope_sealed"].startswith("commit:")
    for secret in (ALEX, SAM, "c3" * 32, "c2VhbGVk"):
        assert secret not in DISCLOSER.disclosable("event/1", ACCESS).decode()


def test_the_same_person_in_two_events_is_not_linked() -> None:
    first = json.loads(DISCLOSER.disclosable("event/1", ACCESS))["subject_keys"][0]
    second = json.loads(DISCLOSER.disclosable("event/2", ACCESS))["subject_keys"][0]
    assert first != second


def test_the_form_is_canonical_and_stable() -> None:
    once = DISCLOSER.disclosable("event/1", ACCESS)
    reordered = json.dumps(dict(reversed(list(json.loads(ACCESS).items())))).encode()
    assert DISCLOSER.disclosable("event/1", reordered) == once
    assert once == json.dumps(json.loads(once), sort_keys=True, separators=(",", ":")).encode()


def test_an_opening_shows_only_that_the_commitment_stands_for_its_person() -> None:
    shown = json.loads(DISCLOSER.disclosable("event/1", ACCESS))
    (opening,) = DISCLOSER.openings("event/1", ACCESS, {SAM})

    assert opening.pointer == "/subject_keys/1" and opening.value == SAM
    digest = hashlib.sha256(opening.salt + SAM.encode()).hexdigest()
    assert shown["subject_keys"][1] == "commit:" + digest == opening.commitment()
    assert DISCLOSER.openings("event/1", ACCESS, {"someone else"}) == []


def test_another_key_makes_other_commitments() -> None:
    other = Discloser(bytes(32))
    assert other.disclosable("event/1", ACCESS) != DISCLOSER.disclosable("event/1", ACCESS)


secrets = st.text("0123456789abcdef", min_size=24, max_size=24).map(lambda t: "p" + t)
leaves = st.none() | st.booleans() | st.integers() | st.text(max_size=8)


def tree(personal: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """JSON values where every member named as personal holds a value of ``personal``."""
    return st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(["a", "b"]), inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(sorted(PERSONAL)),
                personal | st.lists(personal, max_size=3),
                max_size=2,
            )
        ),
        max_leaves=12,
    )


@given(st.data())
def test_no_personal_value_survives_at_any_depth(data: st.DataObject) -> None:
    state = data.draw(tree(secrets))
    shown = DISCLOSER.disclosable("e/1", json.dumps(state).encode()).decode()
    placed = [s for s in json.dumps(state).split('"') if s.startswith("p") and len(s) == 25]

    assert all(secret not in shown for secret in placed)
    assert shown.count("commit:") == len(placed)


def test_numbers_beyond_64_bits_are_kept_exactly() -> None:
    shown = DISCLOSER.disclosable("e/1", b'{"n": 123456789012345678901234567890, "x": 1.5}')
    assert shown == b'{"n":123456789012345678901234567890,"x":1.5}'


def test_a_personal_number_beyond_64_bits_is_read_exactly() -> None:
    state = b'{"official_key": 123456789012345678901234567890, "big": 1e400, "subject_key": "a"}'
    found = personal_values(state)

    assert found == [("/official_key", "123456789012345678901234567890"), ("/subject_key", "a")]


# Nested personal fields, an escaped member name, a float (the exact path) elsewhere.
NESTED = (
    b'{"a":{"subject_keys":["x",{"k":[1,null,"y"]}],"b":[{"official_key":7}],'
    b'"c/d~e":{"explanation":"why"}},"f":2.5}'
)


def test_the_disclosable_form_is_byte_for_byte_as_pinned() -> None:
    # SHA-256 values computed before the walk was made faster (main at 1c9a88d): every
    # sealed leaf commits to these bytes, so they may never change.
    assert (
        hashlib.sha256(DISCLOSER.disclosable("event/1", ACCESS)).hexdigest()
        == "5cc76fc11bf4db0a7fdfff165641a6deb025fac579b5058b575c651e5cd451e6"
    )
    assert (
        hashlib.sha256(DISCLOSER.disclosable("event/2", NESTED)).hexdigest()
        == "128e90d024be1a7005c1ed05e81917f3dd8ef5e2660640da911950040242da80"
    )
    assert personal_values(NESTED) == [
        ("/a/subject_keys/0", "x"),
        ("/a/subject_keys/1/k/0", "1"),
        ("/a/subject_keys/1/k/2", "y"),
        ("/a/b/0/official_key", "7"),
        ("/a/c~1d~0e/explanation", "why"),
    ]


numbers = (
    st.integers() | st.integers(2**64, 2**80) | st.floats(allow_nan=False, allow_infinity=False)
)


@given(st.data())
def test_reading_a_state_once_gives_its_form_and_its_personal_values(
    data: st.DataObject,
) -> None:
    state = json.dumps(data.draw(tree(secrets | numbers | st.none()))).encode()
    content, personal, _ = DISCLOSER.disclosed("e/1", state)

    assert content == DISCLOSER.disclosable("e/1", state)
    assert personal == personal_values(state)
