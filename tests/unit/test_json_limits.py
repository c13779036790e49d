"""The nesting limit is measured right, and in time linear in the text, whatever it is."""

from __future__ import annotations

import time

from ledger.jsontext import MAX_DEPTH, too_deep


def test_nesting_past_the_limit_is_found_and_nesting_up_to_it_is_not() -> None:
    assert too_deep(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
    assert not too_deep(b'{"a":' * MAX_DEPTH + b"1" + b"}" * MAX_DEPTH)


def test_brackets_inside_strings_are_not_nesting() -> None:
    text = b'["' + b"[{" * 100 + b'\\"[{", "\\\\", "' + b"[" * 100 + b'"]'
    assert not too_deep(text)


def test_a_text_of_unterminated_strings_is_measured_in_linear_time() -> None:
    # Every quote here opens a string that never closes: a scanner that tries each one
    # again to the end takes time quadratic in the size (~12 s for these 64 KB, the
    # default event limit, on the machines this was found on).
    text = b'"' + b'\\"' * 32_000 + b"[" * (MAX_DEPTH + 8)
    started = time.perf_counter()
    too_deep(text)
    assert time.perf_counter() - started < 0.5
