"""The package's one thread pool, and the one policy for where parallel work runs.

numpy and scipy release the GIL in their inner loops, so independent pieces
of array work (networks, stacks of networks, row blocks, FFTs) run side by
side on all cores in plain threads. Every module of the core asks this one
for its decisions instead of making its own:

* :func:`cores`: how many cores this process may really use: the CPU affinity,
  limited by the container's CPU quota (cgroup v2 or v1), or the
  ``BPWIDGETS_THREADS`` environment variable; never the host's count alone,
  which on Binder or in a class server would oversubscribe the threads;
* :func:`may_fan_out`: whether work started in the calling thread may spread
  over the pool; not from inside a pool thread (a pool thread that waited on
  the pool could wait for ever once every thread waits), and not on one core;
* :func:`threads`: how many threads such work spreads over (1 where it may not
  fan out), :func:`fft_workers` the ``workers=`` of :mod:`scipy.fft`, and
  :func:`each` runs a function over items in the pool or, where work may not
  fan out, one after the other in the calling thread.

``tests/test_parallel.py`` feeds the quota reading fake cgroup files and runs
work from inside the pool.
"""

from __future__ import annotations

import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

__all__ = [
    "CGROUP_ROOT",
    "PROC_CGROUP",
    "THREADS_VARIABLE",
    "cgroup_cpu_limit",
    "cores",
    "count_cores",
    "each",
    "fft_workers",
    "in_pool",
    "may_fan_out",
    "pool",
    "reset_cores",
    "threads",
]

#: Environment variable that sets the number of threads outright (a positive integer).
THREADS_VARIABLE = "BPWIDGETS_THREADS"
#: Where the cgroup file systems are mounted (v2 unified, or one directory per v1 controller).
CGROUP_ROOT = "/sys/fs/cgroup"
#: The calling process's cgroups, one line ``id:controllers:path`` per hierarchy.
PROC_CGROUP = "/proc/self/cgroup"
#: Directories of the cgroup v1 cpu controller under the root, as distributions mount it.
_V1_CPU_MOUNTS = ("cpu", "cpu,cpuacct", "cpuacct,cpu")

_PREFIX = "bpwidgets-pool"


# --------------------------------------------------------------------------- how many cores


def _read(path) -> str | None:
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError):
        return None


def _own_cgroups(proc_cgroup) -> dict:
    """The process's cgroup path per hierarchy: ``""`` for v2, each controller's name for v1."""
    paths = {}
    for line in (_read(proc_cgroup) or "").splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if not controllers:
            paths[""] = path
        for controller in controllers.split(","):
            if controller:
                paths[controller] = path
    return paths


def _chain(base, relative) -> list:
    """``base / relative`` and each of its parents up to ``base``: every level's limit applies."""
    parts = [part for part in (relative or "").split("/") if part and part not in (".", "..")]
    return [Path(base).joinpath(*parts[:k]) for k in range(len(parts), -1, -1)]


def _ceil_ratio(quota, period) -> int | None:
    """``ceil(quota / period)`` in integers, or None when either is not positive (no quota)."""
    if quota <= 0 or period <= 0:
        return None
    return -(-quota // period)


def _v2_limit(directory) -> int | None:
    """Cores allowed by ``cpu.max`` (``"max 100000"`` or ``"200000 100000"``) in a directory."""
    fields = (_read(Path(directory) / "cpu.max") or "").split()
    if not fields or fields[0] == "max":
        return None
    try:
        quota = int(fields[0])
        period = int(fields[1]) if len(fields) > 1 else 100_000
    except ValueError:
        return None
    return _ceil_ratio(quota, period)


def _v1_limit(directory) -> int | None:
    """Cores allowed by ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (quota -1: none)."""
    quota = _read(Path(directory) / "cpu.cfs_quota_us")
    period = _read(Path(directory) / "cpu.cfs_period_us")
    try:
        return _ceil_ratio(int(quota), int(period))
    except (TypeError, ValueError):
        return None


def cgroup_cpu_limit(root=CGROUP_ROOT, proc_cgroup=PROC_CGROUP) -> int | None:
    """Cores the container's CPU quota allows, rounded up; None when there is no quota.

    Reads cgroup v2 (``root/cpu.max``) and cgroup v1 (``root/cpu/cpu.cfs_quota_us``
    and ``cpu.cfs_period_us``, also under ``cpu,cpuacct``), in the process's own
    cgroup as ``proc_cgroup`` names it and in every parent up to the root (inside
    a container the root is usually the container's own cgroup); the tightest
    quota wins. Missing or unreadable files mean no quota.

    Parameters
    ----------
    root : str or path-like, optional
        Where the cgroup file systems are mounted.
    proc_cgroup : str or path-like, optional
        The process's cgroup list (``/proc/self/cgroup``).

    Returns
    -------
    int or None
        ``ceil(quota / period)``, at least 1: a quota of 1.5 cores gives 2.
    """
    own = _own_cgroups(proc_cgroup)
    limits = [_v2_limit(directory) for directory in _chain(root, own.get(""))]
    for mount in _V1_CPU_MOUNTS:
        limits += [_v1_limit(directory) for directory in _chain(Path(root) / mount, own.get("cpu"))]
    limits = [limit for limit in limits if limit is not None]
    return min(limits) if limits else None


def _affinity() -> int:
    """Cores the scheduler lets this process run on (all of them where it cannot say)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _threads_from(value) -> int:
    try:
        count = int(value.strip())
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError(f"{THREADS_VARIABLE} must be a positive integer; got {value!r}")
    return count


def count_cores(*, environ=None, affinity=None, cgroup_root=CGROUP_ROOT,
                proc_cgroup=PROC_CGROUP) -> int:
    """Cores this process may use, worked out afresh (:func:`cores` keeps the answer).

    ``BPWIDGETS_THREADS``, when set, is the answer. Otherwise the cores in the
    process's CPU affinity, limited by the CPU quota (:func:`cgroup_cpu_limit`),
    at least 1.

    Parameters
    ----------
    environ : mapping, optional
        The environment (default ``os.environ``).
    affinity : int, optional
        Cores in the CPU affinity (default: ``len(os.sched_getaffinity(0))``).
    cgroup_root, proc_cgroup : str or path-like, optional
        As for :func:`cgroup_cpu_limit`.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If ``BPWIDGETS_THREADS`` is set to anything but a positive integer.
    """
    environ = os.environ if environ is None else environ
    value = environ.get(THREADS_VARIABLE, "")
    if value.strip():
        return _threads_from(value)
    available = _affinity() if affinity is None else int(affinity)
    limit = cgroup_cpu_limit(cgroup_root, proc_cgroup)
    if limit is not None:
        available = min(available, limit)
    return max(1, available)


@functools.lru_cache(maxsize=1)
def _counted() -> int:
    return count_cores()


def cores() -> int:
    """Cores the work is spread over: :func:`count_cores`, worked out once and kept.

    Cheap after the first call, which is when a bad ``BPWIDGETS_THREADS`` raises.
    """
    return _counted()


def reset_cores() -> None:
    """Forget the kept :func:`cores` (tests; a changed ``BPWIDGETS_THREADS``).

    The pool, once made, keeps the size it was made with.
    """
    _counted.cache_clear()


# --------------------------------------------------------------------------- where work runs


@functools.lru_cache(maxsize=1)
def pool() -> ThreadPoolExecutor:
    """The shared pool, one thread per usable core, made on first use."""
    return ThreadPoolExecutor(max_workers=_counted(), thread_name_prefix=_PREFIX)


def in_pool() -> bool:
    """Whether the calling thread is one of the pool's."""
    return threading.current_thread().name.startswith(_PREFIX)


def may_fan_out() -> bool:
    """Whether work started in the calling thread may spread over the pool.

    Not from a pool thread: it could wait for ever on a pool whose every thread
    waits. Not on one core either, where there is nothing to gain.
    """
    return not in_pool() and cores() > 1


def threads(requested=None) -> int:
    """Threads that work started here spreads over: 1 where it may not fan out.

    Elsewhere ``requested`` if given, else :func:`cores`.
    """
    if not may_fan_out():
        return 1
    return int(requested) if requested else cores()


def fft_workers() -> int:
    """``workers=`` for :mod:`scipy.fft` here: 1 inside the pool, :func:`cores` outside.

    Never ``-1``, which scipy reads as every core the host has.
    """
    return threads()


def each(work, items) -> list:
    """``[work(item) for item in items]``, in the pool's threads when there are several.

    Where work may not fan out (:func:`may_fan_out`), for instance called from a
    pool thread, the items run in the calling thread, one after the other.
    """
    items = list(items)
    if len(items) <= 1 or not may_fan_out():
        return [work(item) for item in items]
    return list(pool().map(work, items))
