"""The package's one thread pool.

numpy and scipy release the GIL in their inner loops, so independent pieces
of array work (networks, stacks of networks, row blocks) run side by side on
all cores in plain threads.
"""

from __future__ import annotations

import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

_PREFIX = "bpwidgets-pool"


def cores() -> int:
    """Number of cores the work is spread over."""
    return os.cpu_count() or 1


@functools.lru_cache(maxsize=1)
def pool() -> ThreadPoolExecutor:
    """The shared pool, one thread per core, made on first use."""
    return ThreadPoolExecutor(max_workers=cores(), thread_name_prefix=_PREFIX)


def in_pool() -> bool:
    """Whether the calling thread is one of the pool's."""
    return threading.current_thread().name.startswith(_PREFIX)


def each(work, items) -> list:
    """``[work(item) for item in items]``, in the pool's threads when there are several.

    Called from a pool thread, it runs the items there, one after the other: a
    pool thread that waited on the pool could wait for ever once every thread
    waits.
    """
    items = list(items)
    if len(items) <= 1 or in_pool():
        return [work(item) for item in items]
    return list(pool().map(work, items))
