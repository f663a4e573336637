"""Sweeps on Dask: parallel efficiency, a repeated sweep from the store, memory per task.

Measures, in one run and on one machine:

* the same sweep (by default 20 δ × 2 connection rules × 10 seeds at L = 200,
  1/r springs: 400 networks) on a local cluster of 1 worker and one of
  2 workers, each time into an empty result store, the two alternating
  ``--repeat`` times: the best and the median seconds, networks per second,
  the parallel efficiency T(1) / (n T(n)) of the best times, and the tasks'
  own computing time added up (it grows when the workers slow each other
  down, e.g. by sharing the memory bus);
* the sweep repeated with its store filled: seconds, and how many times faster
  than the best first sweep on the most workers;
* the memory of one task: the peak of numpy's and Python's allocations while
  the grid's largest network is computed (tracemalloc, in this process), and
  the workers' peak resident size;
* one point at L = 1000 (one seed) on the cluster: seconds and the worker's
  peak resident size.

Both clusters are started before any timing and stay up, idle when not in
use. Each worker runs one task at a time in one thread. Other processes on the
machine slow the runs down unevenly, which is why the best of several
alternating runs is reported: the load average is printed before each run.

Usage::

    python benchmarks/bench_sweep.py [--size 200] [--deltas 20] [--seeds 10]
                                      [--workers 2] [--repeat 3] [--large 1000] [--no-large]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import tracemalloc


def _peak_rss() -> int:
    """This process's peak resident size, in bytes (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def traced_task_memory(point, seed, moments, vectors) -> int:
    """Peak bytes allocated while one network's part is built and computed (no store)."""
    from bpwidgets.sweep.run import _network_task

    tracemalloc.start()
    try:
        _network_task(point, seed, moments, vectors, False)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200, help="grid size L (default 200)")
    parser.add_argument("--deltas", type=int, default=20,
                        help="δ values, 0.025 apart from 0.025 (default 20)")
    parser.add_argument("--seeds", type=int, default=10, help="seeds per point (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="most workers (default 2)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="alternating runs per cluster; the best counts (default 3)")
    parser.add_argument("--large", type=int, default=1000, help="size of the one large point")
    parser.add_argument("--no-large", action="store_true", help="skip the large point")
    options = parser.parse_args()

    from distributed import Client

    from bpwidgets.core.analysis import DOS_MOMENTS
    from bpwidgets.core.limits import format_bytes
    from bpwidgets.sweep import Point, make_local_cluster, sweep, value_range

    deltas = value_range(0.025, 0.025 * options.deltas, 0.025)
    grid = dict(delta=list(deltas), size=options.size, connection=["nearest", "cutoff"],
                spring="inverse", seeds=options.seeds)
    n_tasks = len(deltas) * 2 * options.seeds
    counts = sorted({1, options.workers})
    clusters, starts = {}, {}
    for workers in counts:
        started = time.perf_counter()
        cluster = make_local_cluster(workers)
        client = Client(cluster, set_as_default=False)
        client.wait_for_workers(workers)
        clusters[workers] = (cluster, client)
        starts[workers] = time.perf_counter() - started

    seconds = {workers: [] for workers in counts}
    task_seconds = {workers: [] for workers in counts}
    loads = {workers: [] for workers in counts}
    last_store = None
    for _ in range(options.repeat):
        for workers in counts:
            client = clusters[workers][1]
            store = tempfile.mkdtemp(prefix="bpwidgets-bench-sweep-")
            loads[workers].append(_load())
            started = time.perf_counter()
            data = sweep(**grid, client=client, store=store, progress=False)
            seconds[workers].append(time.perf_counter() - started)
            task_seconds[workers].append(data.attrs["task_seconds"])
            assert data.attrs["computed"] == n_tasks and data.attrs["failed"] == 0
            if workers == counts[-1]:
                last_store = store

    rows = []
    best_one = min(seconds[1])
    for workers in counts:
        cluster, client = clusters[workers]
        best = min(seconds[workers])
        worker_rss = max(client.run(_peak_rss).values())
        rows.append((
            f"first sweep, {workers} worker{'s' if workers > 1 else ''}",
            f"{best:.1f} (median {statistics.median(seconds[workers]):.1f})",
            f"{n_tasks / best:.2f}",
            f"{100 * best_one / (workers * best):.0f} %",
            f"tasks' own time {min(task_seconds[workers]):.0f} s; load before the runs "
            f"{', '.join(loads[workers])}; cluster start {starts[workers]:.1f} s; "
            f"worker peak RSS {format_bytes(worker_rss)}",
        ))

    started = time.perf_counter()
    again = sweep(**grid, client=False, store=last_store, progress=False)
    repeated = time.perf_counter() - started
    assert again.attrs["from_store"] == n_tasks
    best_many = min(seconds[counts[-1]])
    rows.append(("repeated sweep, from the store", f"{repeated:.2f}",
                 f"{n_tasks / repeated:.0f}", "-",
                 f"{best_many / repeated:.0f}x faster than the best first sweep on "
                 f"{counts[-1]} workers; no cluster needed"))

    heaviest = Point(delta=deltas[-1], size=options.size, connection="cutoff", spring="inverse")
    vectors = int(again.vectors.sel(delta=deltas[-1], connection="cutoff"))
    traced = traced_task_memory(heaviest, 0, DOS_MOMENTS, vectors)
    rows.append((f"memory of one task (L = {options.size}, δ = {deltas[-1]}, cutoff)", "-", "-",
                 "-", f"{format_bytes(traced)} allocated at the peak (tracemalloc)"))

    if not options.no_large:
        client = clusters[counts[-1]][1]
        load = _load()
        started = time.perf_counter()
        large = sweep(delta=0.3, size=options.large, connection="cutoff", spring="inverse",
                      seeds=1, client=client, store=tempfile.mkdtemp(), progress=False)
        large_seconds = time.perf_counter() - started
        assert large.attrs["computed"] == 1
        large_rss = max(client.run(_peak_rss).values())
        rows.append((f"one point, L = {options.large}, 1 seed, δ = 0.3, cutoff",
                     f"{large_seconds:.1f}", "-", "-",
                     f"one task, one thread; worker peak RSS {format_bytes(large_rss)}; "
                     f"load before {load}"))
    for cluster, client in clusters.values():
        client.close()
        cluster.close()

    print(f"sweep of {len(deltas)} δ × 2 connection rules × {options.seeds} seeds at "
          f"L = {options.size} ({n_tasks} networks), best of {options.repeat} alternating "
          f"runs; {os.cpu_count()} cores")
    print()
    print("| run | seconds | networks/s | parallel efficiency | notes |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
