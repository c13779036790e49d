"""Portal sessions are sealed cookies: unreadable and unalterable by their holder, ended
after a stretch without a visit, and every form's token is checked."""

from __future__ import annotations

from portal.session import SessionSealer, csrf_matches, csrf_token

KEY = bytes(range(32))


def test_a_session_opens_as_it_was_sealed() -> None:
    sealer = SessionSealer(KEY, lifetime_seconds=1800)

    sealed = sealer.seal({"subject": "nhs-number:9434765919", "name": "Alex"}, now=1000)

    assert sealer.open(sealed, now=1500) == (
        {"subject": "nhs-number:9434765919", "name": "Alex"},
        False,
    )
    assert "9434765919" not in sealed  # encrypted, not only signed


def test_an_altered_or_foreign_cookie_is_an_empty_session() -> None:
    sealer = SessionSealer(KEY, lifetime_seconds=1800)
    sealed = sealer.seal({"subject": "nhs-number:9434765919"}, now=1000)
    altered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]

    assert sealer.open(altered, now=1000) == ({}, False)
    assert SessionSealer(bytes(32), 1800).open(sealed, now=1000) == ({}, False)
    assert sealer.open("not a cookie at all", now=1000) == ({}, False)


def test_a_signed_in_session_ends_after_its_lifetime_without_a_visit() -> None:
    sealer = SessionSealer(KEY, lifetime_seconds=1800)
    signed_in = sealer.seal({"subject": "nino:AB123456C"}, now=1000)
    anonymous = sealer.seal({"csrf": "x"}, now=1000)

    assert sealer.open(signed_in, now=2800) == ({"subject": "nino:AB123456C"}, False)
    assert sealer.open(signed_in, now=2801) == ({}, True)  # "your session has ended"
    assert sealer.open(anonymous, now=2801) == ({}, False)  # nothing to say


def test_a_form_token_is_made_once_and_must_match_exactly() -> None:
    session: dict[str, object] = {}
    token = csrf_token(session)

    assert csrf_token(session) == token and len(token) >= 40
    assert csrf_matches(session, token)
    assert not csrf_matches(session, None)
    assert not csrf_matches(session, "")
    assert not csrf_matches(session, token[:-1])
    assert not csrf_matches({}, token)
