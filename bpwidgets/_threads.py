"""The package's one thread pool.

numpy and scipy release the GIL in their inner loops, so independent pieces
of array work (networks, stacks of networks, row blocks) run side by side on
all cores in plain threads.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor


def cores() -> int:
    """Number of cores the work is spread over."""
    return os.cpu_count() or 1


@functools.lru_cache(maxsize=1)
def pool() -> ThreadPoolExecutor:
    """The shared pool, one thread per core, made on first use."""
    return ThreadPoolExecutor(max_workers=cores(), thread_name_prefix="bpwidgets")


def each(work, items) -> list:
    """``[work(item) for item in items]``, in the pool's threads when there are several.

    ``work`` must not itself wait on the pool: with every thread busy waiting,
    nothing would be left to run what it waits for.
    """
    items = list(items)
    if len(items) <= 1:
        return [work(item) for item in items]
    return list(pool().map(work, items))
