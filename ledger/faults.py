"""How a fault is told in logs and health reports: its kind and where it happened, never
its message. Pure.

An exception's message may quote the data that caused it (a KeyError names the key, a
database error quotes the value it refused), and the ledger's data is people's: so a
fault of the ledger's own is logged by type and by the lines of code it went through,
which is what a maintainer needs, and no value.
"""

from __future__ import annotations

import traceback

# Frames of the traceback named, innermost last.
FRAMES = 4


def describe(exc: BaseException) -> str:
    """``KeyError at ledger/catalogue/facts.py:42 in _data_accessed <- ...``."""
    frames = traceback.extract_tb(exc.__traceback__)[-FRAMES:]
    where = " <- ".join(
        f"{_short(frame.filename)}:{frame.lineno} in {frame.name}" for frame in reversed(frames)
    )
    cause = exc.__cause__ or exc.__context__
    caused = f" (from {type(cause).__name__})" if cause is not None else ""
    return f"{type(exc).__name__}{caused} at {where or 'an unknown place'}"


def _short(filename: str) -> str:
    """The path from the project's (or a library's) package down."""
    parts = filename.replace("\\", "/").split("/")
    for anchor in ("site-packages", "main", "work"):
        if anchor in parts:
            return "/".join(parts[parts.index(anchor) + 1 :])
    return "/".join(parts[-3:])
