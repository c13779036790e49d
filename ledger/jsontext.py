"""Limits on the JSON text the ledger accepts, checked before and after parsing. Pure.

Nesting is bounded (:data:`MAX_DEPTH`) before anything recursive sees the text: a
record nested a few hundred levels deep would otherwise exhaust Python's recursion in
canonicalisation or validation and take the process down. Strings may not hold U+0000
(PostgreSQL text cannot store it) or an unpaired surrogate (not Unicode; it cannot be
encoded as UTF-8).
"""

from __future__ import annotations

import re
from typing import Any

# The catalogue's deepest event nests 6 levels; this leaves room and keeps every
# recursive step (canonical JSON, schema validation) far from Python's limit.
MAX_DEPTH = 32

# A JSON string (with escapes), or a bracket outside strings. Unrolled, and with the
# closing quote optional, the scan never goes back over what it read: an unterminated
# string runs to the end of the text (which the parser then refuses) instead of being
# tried again from every quote inside it, which took time quadratic in the text's size.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)
_OPENERS = frozenset(b"[{")


def too_deep(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether ``raw`` nests objects and arrays deeper than ``limit`` (outside strings).

    The common case costs one pass that drops the openers (a third of the time two
    ``bytes.count`` take): with no more of them than the limit, the text cannot nest
    deeper. Malformed text is measured as it stands (the parser refuses it afterwards)."""
    if len(raw) - len(raw.translate(None, b"[{")) <= limit:
        return False
    depth = 0
    for token in _TOKENS.finditer(raw):
        text = token.group()
        if len(text) != 1:
            continue  # a string
        if text[0] in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def bad_text(value: Any) -> str | None:
    """Why a parsed JSON value cannot be stored, or None: a string (member names
    included) holding U+0000 or an unpaired surrogate. Iterative: depth is bounded
    already, but this needs no recursion at all."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return "a string holds the character U+0000, which the ledger cannot store"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "a string holds an unpaired surrogate, which is not Unicode text"
    return None
