"""Long-running processes tune the garbage collector once start-up is done."""

from __future__ import annotations

import gc

from cli.processes import GC_YOUNG_THRESHOLD, settle_memory


def test_start_up_objects_are_frozen_and_young_collections_are_rarer() -> None:
    before = gc.get_threshold()
    try:
        settle_memory()
        assert gc.get_freeze_count() > 1_000  # the modules, at least
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, 10, 10)
        # Cycles are still collected.
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
