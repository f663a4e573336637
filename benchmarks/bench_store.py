"""What the result store saves: a δ move computed against one read from the store.

Measures, in one run and on one machine:

* the kernel's computation of a δ move (``compute_stages``, to the complete
  average) with the store off, and with every seed already stored;
* the same move through a whole ``Dashboard`` without a browser (the
  computation plus every panel's new data), both ways;
* ``python -m bpwidgets.warm`` for the lecture grid into an empty store, and
  again into the filled one.

Every figure is a median over the δ values; the ratios are against the
computed move measured in the same run. The store is a temporary directory.

Usage::

    python benchmarks/bench_store.py [--size 60] [--seeds 10] [--moves 10] [--no-warm]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def median_time(action, values) -> float:
    times = []
    for value in values:
        start = time.perf_counter()
        action(value)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=60, help="grid size L (default 60)")
    parser.add_argument("--seeds", type=int, default=10, help="seeds (default 10)")
    parser.add_argument("--moves", type=int, default=10, help="δ values (default 10)")
    parser.add_argument("--no-warm", action="store_true", help="skip timing the warm command")
    options = parser.parse_args()

    directory = tempfile.mkdtemp(prefix="bpwidgets-store-")
    os.environ["BPWIDGETS_STORE"] = directory
    from bpwidgets.app import Dashboard
    from bpwidgets.session.pipeline import Request, compute_stages
    from bpwidgets.session.schema import Parameters

    deltas = [round(0.20 + 0.01 * k, 6) for k in range(options.moves)]

    def move(delta):
        list(compute_stages(Request(Parameters(size=options.size, delta=delta,
                                               n_seeds=options.seeds))))

    dashboard = Dashboard(size=options.size, n_seeds=options.seeds, delta=0.1, background=False)

    def dashboard_move(delta):
        dashboard.controls.delta.value = delta
        assert dashboard.session.snapshot.request.parameters.delta == delta

    rows = []
    os.environ["BPWIDGETS_STORE"] = "off"
    move(0.1)  # first-call set-up
    rows.append(("δ move, computed (store off)", median_time(move, deltas)))
    rows.append(("dashboard δ move, computed", median_time(dashboard_move, deltas[::-1])))
    os.environ["BPWIDGETS_STORE"] = directory
    for delta in deltas:
        move(delta)  # fill the store
    rows.append(("δ move, every seed stored", median_time(move, deltas)))
    rows.append(("dashboard δ move, every seed stored", median_time(dashboard_move, deltas[::-1])))

    baseline = rows[0][1]
    print(f"Kernel time of a δ move, L = {options.size}, {options.seeds} seeds, "
          f"median of {options.moves} δ values")
    print("| case | median | speed-up against the computed move |")
    print("| --- | --- | --- |")
    for name, seconds in rows:
        print(f"| {name} | {seconds * 1e3:.1f} ms | {baseline / seconds:.1f}× |")

    if options.no_warm:
        return
    empty = tempfile.mkdtemp(prefix="bpwidgets-warm-")
    print("\npython -m bpwidgets.warm (the lecture grid)")
    for label in ("into an empty store", "again, all stored"):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bpwidgets.warm", "--quiet", "--store", empty],
                       check=True, cwd=ROOT)
        print(f"  {label}: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
