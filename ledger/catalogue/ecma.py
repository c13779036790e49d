"""JSON Schema's regular expressions as ECMA-262 means them, in Python's ``re``.

A schema's ``pattern`` is an ECMA-262 regular expression. Python reads the catalogue's
patterns the same way but for one thing: its ``$`` also matches before a final newline,
so ``^[A-Z0-9-]{2,32}$`` would let ``"DWP\\n"`` through, and an identifier, a code or a
reference with a trailing newline would be taken for another. Here ``$`` is the end of
the text, as in ECMA-262 (without the multiline flag). Both the reference validator and
the compiled fast path (``ledger.catalogue.prefilter``) search with these.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any

from jsonschema import ValidationError


@cache
def ecma_regex(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled with ``$`` (outside a character class) meaning the end."""
    out: list[str] = []
    escaped = in_class = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "$":
            char = r"\Z"
        out.append(char)
    return re.compile("".join(out))


def pattern_keyword(
    validator: Any, pattern: str, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    """jsonschema's ``pattern`` keyword, searching with :func:`ecma_regex`."""
    if validator.is_type(instance, "string") and not ecma_regex(pattern).search(instance):
        yield ValidationError(f"does not match {pattern!r}")
