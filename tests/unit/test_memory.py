"""A sweep's memory: the GC pause (off inside, back as it was after, however nested) and release."""
from __future__ import annotations

import gc

import pytest

from simulator.memory import PROMOTE_ABOVE, RELEASE_PIECE, paused_gc, release


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_paused_inside_and_back_after_nested_pauses(collector_on):
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still runs
    assert gc.isenabled()


def test_back_after_an_error(collector_on):
    with pytest.raises(RuntimeError):
        with paused_gc():
            raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_someone_turned_off_stays_off(collector_on):
    gc.disable()
    with paused_gc():
        pass
    assert not gc.isenabled()


def test_a_big_pause_leaves_its_objects_out_of_the_young_generation(collector_on):
    with paused_gc():
        kept = [[i] for i in range(2 * PROMOTE_ABOVE)]
        assert gc.get_count()[0] > PROMOTE_ABOVE
    # Handed to the oldest generation: no young pass scans them (that one would have left
    # them in the middle generation), and nothing stays frozen.
    assert any(o is kept for o in gc.get_objects(generation=2))
    assert gc.get_freeze_count() == 0


def test_a_small_pause_leaves_the_generations_alone(collector_on):
    gc.collect()
    with paused_gc():
        kept = [[i] for i in range(100)]
    assert not any(o is kept for o in gc.get_objects(generation=2))


def test_release_empties_the_list_and_frees_what_only_it_held():
    import weakref

    class Item:
        pass

    items = [Item() for _ in range(2 * RELEASE_PIECE + 1)]
    watched = weakref.ref(items[0]), weakref.ref(items[-1])
    kept = items[RELEASE_PIECE]
    release(items)
    assert items == []
    assert [w() for w in watched] == [None, None]
    assert isinstance(kept, Item)  # still held elsewhere: untouched
