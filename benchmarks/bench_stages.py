"""Kernel time of a dashboard update, without a browser.

Runs the dashboard's computation (``bpwidgets.session.pipeline.compute_stages``) for
delta = 0.30, 0.31, ..., as a slider sweep would, and prints the time from the
request to the preview and to the complete average. Comparing it with
``bench_browser.py`` separates the kernel's work from the browser's.

Usage::

    python benchmarks/bench_stages.py [--size 200] [--seeds 10] [--moves 6]
"""

from __future__ import annotations

import argparse
import statistics
import time

from bpwidgets.session.pipeline import Request, compute_stages
from bpwidgets.session.schema import Parameters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200, help="grid size L (default 200)")
    parser.add_argument("--seeds", type=int, default=10, help="seeds averaged (default 10)")
    parser.add_argument("--moves", type=int, default=6, help="delta values (default 6)")
    options = parser.parse_args()

    list(compute_stages(Request(Parameters(size=options.size, n_seeds=options.seeds))))  # warm-up
    previews, completes = [], []
    for k in range(options.moves):
        parameters = Parameters(size=options.size, delta=0.30 + 0.01 * k, n_seeds=options.seeds)
        start = time.perf_counter()
        stages = []
        for _ in compute_stages(Request(parameters)):
            stages.append(time.perf_counter() - start)
        previews.append(stages[0])
        completes.append(stages[-1])
    print(f"Kernel time per update, L = {options.size}, {options.seeds} seeds, "
          f"{options.moves} delta values from 0.30")
    for name, times in (("preview", previews), ("complete", completes)):
        print(f"  {name:<9} median {statistics.median(times):.3f} s "
              f"(min {min(times):.3f}, max {max(times):.3f})")


if __name__ == "__main__":
    main()
