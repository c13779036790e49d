"""Typed subject identifiers are validated, and stored only as keyed pseudonyms."""

from __future__ import annotations

import pytest

from ledger.subjects import InvalidIdentifier, Pseudonymiser, SubjectId, nhs_number_is_valid
from tests.support.spellings import arabic_indic, full_width


@pytest.mark.parametrize("number", ["9434765919", "4010232137", "9990000026"])
def test_a_valid_nhs_number_passes_its_modulus_11_check(number: str) -> None:
    assert nhs_number_is_valid(number)


@pytest.mark.parametrize("number", ["9434765918", "943476591", "94347659190", "943476591X"])
def test_a_wrong_check_digit_or_length_is_refused(number: str) -> None:
    with pytest.raises(InvalidIdentifier):
        SubjectId.parse("nhs-number", number)


def test_nhs_numbers_are_normalised_before_pseudonymising() -> None:
    assert SubjectId.parse("nhs-number", "943 476 5919") == SubjectId.parse(
        "nhs-number", "9434765919"
    )


@pytest.mark.parametrize("nino", ["AB123456C", "ab 12 34 56 c", "JG103759A"])
def test_a_well_formed_nino_is_accepted(nino: str) -> None:
    assert SubjectId.parse("nino", nino).value == nino.replace(" ", "").upper()


@pytest.mark.parametrize("nino", ["DA123456C", "AO123456C", "GB123456A", "AB123456E", "AB12345C"])
def test_a_nino_with_a_forbidden_prefix_or_suffix_is_refused(nino: str) -> None:
    with pytest.raises(InvalidIdentifier):
        SubjectId.parse("nino", nino)


def test_one_login_subjects_and_local_references_have_their_own_formats() -> None:
    assert SubjectId.parse("one-login", "urn:fdc:gov.uk:2022:abcdefghij0123")
    with pytest.raises(InvalidIdentifier):
        SubjectId.parse("one-login", "someone@example.com")
    assert SubjectId.parse("local", "LEEDS:CT-0001")
    with pytest.raises(InvalidIdentifier):
        SubjectId.parse("local", " spaces are not allowed")
    with pytest.raises(InvalidIdentifier):
        SubjectId.parse("passport", "123456789")


def test_every_accepted_spelling_of_a_nino_is_one_pseudonym() -> None:
    pseudonymiser = Pseudonymiser(b"k" * 32)
    spellings = ["AB123456C", "AB 12 34 56 C", "ab123456c", "ab 12 34 56 c", "Ab 123456c"]

    keys = {pseudonymiser.subject_key(SubjectId.parse("nino", s)) for s in spellings}

    assert keys == {pseudonymiser.subject_key(SubjectId("nino", "AB123456C"))}


@pytest.mark.parametrize(
    ("scheme", "spelling"),
    [
        ("nino", "AB123456C\n"),  # Python's $ matches before a final newline
        ("nino", full_width("AB123456C")),  # Python's \d matches any digit
        ("nino", arabic_indic("AB123456C")),
        ("nino", "\u017fA123456C"),  # long s, which str.upper() turns into S
        ("nino", " AB123456C"),
        ("nino", "AB 12 34 56 C\t"),
        ("nino", "AB\u200b123456C"),  # zero-width space
        ("nhs-number", "9434765919\n"),
        ("nhs-number", full_width("943 476 5919")),
        ("nhs-number", "943  476 5919"),
        ("one-login", "urn:fdc:gov.uk:2022:abcdefghij0123\n"),
        ("one-login", arabic_indic("urn:fdc:gov.uk:2022:abcdefghij0123")),
        ("local", "LEEDS:CT-0001\n"),
        ("local", full_width("LEEDS:CT-0001")),
        ("local", "LEEDS:CT-\u04270001"),  # Cyrillic Che
        ("local", "leeds:CT-0001"),  # organisation codes are registered upper case
        ("local", "CT-0001"),  # and a local reference names its organisation
    ],
)
def test_a_spelling_outside_the_contract_is_refused_not_taken_for_another_person(
    scheme: str, spelling: str
) -> None:
    with pytest.raises(InvalidIdentifier) as refused:
        SubjectId.parse(scheme, spelling)
    assert spelling.strip() not in str(refused.value)


def test_a_pseudonym_is_stable_keyed_and_reveals_nothing() -> None:
    alex = SubjectId.parse("nhs-number", "9434765919")
    one, other = Pseudonymiser(b"k" * 32), Pseudonymiser(b"j" * 32)
    assert one.subject_key(alex) == one.subject_key(alex)
    assert one.subject_key(alex) != other.subject_key(alex)
    assert "9434765919" not in one.subject_key(alex)
    # The same value under another scheme is another person.
    assert one.subject_key(alex) != one.subject_key(SubjectId("local", "9434765919"))


def test_a_short_pseudonym_key_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Pseudonymiser(b"short")


def _textbook_nhs_check(digits: str) -> bool:
    """NHS Digital's definition, step by step: weights 10..2 on the first nine digits,
    remainder mod 11, 11 minus it (11 becomes 0, 10 is never issued)."""
    total = sum(int(d) * (10 - i) for i, d in enumerate(digits[:9]))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def test_the_nhs_check_agrees_with_the_textbook_on_every_kind_of_number() -> None:
    import random

    draw = random.Random(20261125)
    numbers = ["".join(draw.choice("0123456789") for _ in range(10)) for _ in range(20_000)]
    numbers += ["0000000000", "9999999999", "0000000019"]
    assert {nhs_number_is_valid(n) for n in numbers} == {True, False}
    for number in numbers:
        assert nhs_number_is_valid(number) == _textbook_nhs_check(number), number


def test_digits_of_other_scripts_are_not_an_nhs_number() -> None:
    # Arabic-Indic digits of 9434765919: str.isdigit() says yes, the NHS says no.
    assert not nhs_number_is_valid("\u0669\u0664\u0663\u0664\u0667\u0666\u0665\u0669\u0661\u0669")


def test_pseudonyms_are_hmac_sha256_of_the_scheme_and_value() -> None:
    import hashlib
    import hmac

    for key in (b"k" * 32, bytes(range(64)), bytes(range(100))):  # short, block, long
        pseudonymiser = Pseudonymiser(key)
        subject = SubjectId.parse("nhs-number", "943 476 5919")
        expected = hmac.new(key, b"nhs-number:9434765919", hashlib.sha256).hexdigest()
        assert pseudonymiser.subject_key(subject) == expected
        expected = hmac.new(key, "official:staff-é".encode(), hashlib.sha256).hexdigest()
        assert pseudonymiser.opaque("official", "staff-é") == expected
