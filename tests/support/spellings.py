"""Identifiers spelt with digits of other scripts, which Python's ``\\d``,
``str.isdigit()`` and ``int()`` all take for 0-9 and the ledger must not."""

from __future__ import annotations

_FULL_WIDTH = str.maketrans({str(d): chr(0xFF10 + d) for d in range(10)})
_ARABIC_INDIC = str.maketrans({str(d): chr(0x0660 + d) for d in range(10)})


def full_width(text: str) -> str:
    """``text`` with its ASCII digits full-width (U+FF10-U+FF19)."""
    return text.translate(_FULL_WIDTH)


def arabic_indic(text: str) -> str:
    """``text`` with its ASCII digits Arabic-Indic (U+0660-U+0669)."""
    return text.translate(_ARABIC_INDIC)
