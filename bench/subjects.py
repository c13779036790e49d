"""Per-identifier cost on the intake's hot path: ``SubjectId.parse`` (spelling check,
canonical form, scheme check) and then ``Pseudonymiser.subject_key`` (HMAC-SHA256), for
each scheme and a few spellings. Best of several runs, in microseconds.

    python bench/subjects.py
"""

from __future__ import annotations

import sys
import timeit
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import report_quiet  # noqa: E402
from ledger.subjects import Pseudonymiser, SubjectId  # noqa: E402

SPELLINGS = [
    ("nhs-number", "9434765919"),
    ("nhs-number", "943 476 5919"),
    ("nino", "AB123456C"),
    ("nino", "ab 12 34 56 c"),
    ("one-login", "urn:fdc:gov.uk:2022:abcdefghij0123456789"),
    ("local", "LEEDS:CT-0001"),
]


def best_microseconds(
    statement: Callable[[], object], number: int = 100_000, repeat: int = 7
) -> float:
    return min(timeit.repeat(statement, number=number, repeat=repeat)) / number * 1e6


def main() -> int:
    report_quiet()
    pseudonymiser = Pseudonymiser(b"k" * 32)
    print(f"{'scheme':11} {'spelling':44} {'parse':>8} {'+ key':>8}")
    for scheme, value in SPELLINGS:
        parse = best_microseconds(lambda: SubjectId.parse(scheme, value))  # noqa: B023
        both = best_microseconds(
            lambda: pseudonymiser.subject_key(SubjectId.parse(scheme, value))  # noqa: B023
        )
        print(f"{scheme:11} {value!r:44} {parse:6.2f}us {both:6.2f}us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
