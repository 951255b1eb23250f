"""The process's memory: a check sweep's (the cyclic garbage collector paused for
its length, its big lists freed a piece at a time), and freed memory handed back
to the system after anything large (a sweep's lists, a 40 MB request).

A sweep holds a few objects per configuration until it ends (identities, lookups,
results: ~1,000,000 at 100,000 configurations) and frees them by reference
counting; it makes no reference cycles. While it runs, the collector's passes
over that growing heap find nothing, yet took ~10% of a 100,000-configuration
sweep's CPU and, each full pass holding the GIL for a few hundred milliseconds,
stalled every request served meanwhile. Paused, the collector runs again as
soon as the last sweep ends (garbage other threads made meanwhile waits until
then, which is seconds).

When the pause leaves many objects in the youngest generation (a big sweep's
leftovers, its results: the first young pass would scan them all, ~0.5 s
holding the GIL at 100,000 configurations), they are handed to the oldest
generation instead: gc.freeze() then gc.unfreeze() moves every tracked object
there without scanning any (done only when nothing else has frozen objects).
Cycles among them are collected by the next full pass, as any old garbage is.
A small pause (a scheduler tick with nothing due) leaves the generations alone.

Process-wide (the collector is), so nested and concurrent pauses are counted:
the collector comes back as it was once the last of them ends.

Freeing is the other long stretch: dropping a list of 100,000 identities or
results frees a million objects in one C call, holding the GIL for ~30-90 ms;
`release` empties such a list a few thousand at a time, between which other
threads get their turn. Once a list that large is gone, the memory glibc keeps
for reuse is handed back (`give_memory_back`): after a 100,000-configuration
sweep the process stayed ~200 MB larger than before it.

glibc serves blocks above MMAP_THRESHOLD_BYTES with mmap, which goes back to the
system the moment the block is freed; left alone, glibc raises that threshold
(up to 32 MB) each time such a block is freed, after which a large request
body's copies came from the heap and stayed there.
"""
from __future__ import annotations

import ctypes
import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["give_memory_back", "paused_gc", "release"]

MMAP_THRESHOLD_BYTES = 1024 * 1024
# A list `release` frees is followed by `give_memory_back` from this length on.
GIVE_BACK_AFTER_ITEMS = 10_000


def _glibc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to tune or give back this way
        return None


_LIBC = _glibc()
if _LIBC is not None:
    _LIBC.mallopt(-3, MMAP_THRESHOLD_BYTES)  # M_MMAP_THRESHOLD, fixed


def give_memory_back() -> None:
    """Hand the memory glibc keeps for reuse back to the system (malloc_trim)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)

# Items `release` frees at a time (~1 ms each piece).
RELEASE_PIECE = 2_000
# Young objects above which the pause's end moves them to the oldest generation
# (a young pass over this many takes a few ms).
PROMOTE_ABOVE = 50_000

_lock = threading.Lock()
_pauses = 0
_was_enabled = False


@contextmanager
def paused_gc() -> Iterator[None]:
    global _pauses, _was_enabled
    with _lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0:
                if gc.get_count()[0] > PROMOTE_ABOVE and gc.get_freeze_count() == 0:
                    gc.freeze()
                    gc.unfreeze()
                if _was_enabled:
                    gc.enable()


def release(items: list) -> None:
    """Empty `items` from the end, RELEASE_PIECE at a time: what only it held is freed
    in steps short enough for other threads to run in between."""
    large = len(items) >= GIVE_BACK_AFTER_ITEMS
    while items:
        del items[-RELEASE_PIECE:]
    if large:
        give_memory_back()
