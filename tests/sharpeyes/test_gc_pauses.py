"""GC pauses are measured into the runtime's registry, and start-up objects can be frozen."""

from __future__ import annotations

import gc

from prometheus_client import CollectorRegistry

from sharpeyes.gc_pauses import GcPauses, freeze_startup_objects


def test_collections_are_observed_by_generation() -> None:
    registry = CollectorRegistry()
    pauses = GcPauses(registry)
    pauses.install()
    try:
        gc.collect(0)
        gc.collect(2)
    finally:
        pauses.uninstall()
    for generation in ("0", "2"):
        count = registry.get_sample_value("sharpeyes_gc_pause_seconds_count", {"generation": generation})
        assert count is not None and count >= 1
    gc.collect(2)  # after uninstall: not counted any more
    assert registry.get_sample_value("sharpeyes_gc_pause_seconds_count", {"generation": "2"}) == count


def test_freeze_moves_live_objects_out_of_collections() -> None:
    before = gc.get_freeze_count()
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()
