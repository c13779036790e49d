"""The cyclic garbage collector paused around one large build of acyclic data. Pure.

A response bundle of 10,000 records allocates a few million small dicts, lists and
strings, none of them in a cycle, and reference counting frees each as soon as it is
done with. But every few thousand allocations the collector runs, and each time an
older generation fills it walks everything the build has made so far, again: measured
on that bundle (bench/dsar_bundle.py), 0.5 s of 2.3 s building it and 0.1 s of 0.2 s
drawing its HTML page, for nothing collected. :func:`paused` turns the automatic
collection off for the length of such a build, and on again after (once the last of
any overlapping builds, in other threads, is done, and only if it was on before).
Cycles made meanwhile are collected then; memory does not grow with the pause, as
nothing the build drops is kept for the collector.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_builds = 0  # how many paused() blocks are running, in any thread
_resume = False  # whether the collector was on when the first of them began


@contextmanager
def paused() -> Iterator[None]:
    """Automatic garbage collection off while the block runs (nested, or in many
    threads at once: on again when the last one ends, if it was on when the first
    began)."""
    global _builds, _resume
    with _lock:
        if _builds == 0:
            _resume = gc.isenabled()
            gc.disable()
        _builds += 1
    try:
        yield
    finally:
        with _lock:
            _builds -= 1
            if _builds == 0 and _resume:
                gc.enable()
