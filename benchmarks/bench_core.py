"""Speed of the compute core: fast reduced DOS against dense diagonalisation, and scaling in N.

Run: ``.venv/bin/python benchmarks/bench_core.py`` (or ``make bench``). It prints
three tables:

1. the paper's setting (L = 60, 10 seeds, cutoff, delta = 0.3, 1/r springs):
   the fast reduced DOS against dense diagonalisation of the same 10 networks,
   both measured in this run, and their ratio;
2. the dashboard's interactive tier: one seed at L = 300;
3. scaling: one seed at L = 100, 300, 1000, each in a fresh process so that
   its peak memory (max RSS) is its own, with time per node.

Times are medians of repeated runs (the dense baseline runs once per network).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

from bpwidgets import build_network, exact_frequencies, reduced_dos
from bpwidgets.core.parallel import cores

PAPER = dict(connection="cutoff", spring="inverse")
#: Issue 2's targets, printed beside the measurements.
TARGET_PAPER_SECONDS = 0.3
TARGET_SPEEDUP = 100
TARGET_INTERACTIVE_SECONDS = 1.0
TARGET_LARGE_SECONDS = 60.0
TARGET_LARGE_MEMORY_GIB = 2.0


def _median_time(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{model}, {os.cpu_count()} cores ({cores()} usable), "
            f"Python {platform.python_version()}, numpy {np.__version__}")


def paper_setting(repeats):
    networks = [build_network(60, 0.3, seed=s, **PAPER) for s in range(10)]
    start = time.perf_counter()
    for network in networks:
        exact_frequencies(network)
    dense = time.perf_counter() - start
    reduced_dos(60, 0.3, seeds=10, **PAPER)  # warm-up: imports, caches
    fast = _median_time(lambda: reduced_dos(60, 0.3, seeds=10, **PAPER), repeats)
    print("Paper's setting: L = 60, 10 seeds, cutoff, delta = 0.3, 1/r springs")
    print(f"  {'method':<44}{'seconds':>10}")
    print(f"  {'dense diagonalisation of the 10 networks':<44}{dense:>10.2f}")
    print(f"  {'fast reduced DOS (KPM, median of %d)' % repeats:<44}{fast:>10.3f}")
    print(f"  speed-up {dense / fast:.0f}x (target >= {TARGET_SPEEDUP}x); "
          f"fast {fast:.3f} s (target <= {TARGET_PAPER_SECONDS} s)")
    print()


def interactive_tier(repeats):
    reduced_dos(300, 0.3, seeds=1, **PAPER)
    fast = _median_time(lambda: reduced_dos(300, 0.3, seeds=1, **PAPER), repeats)
    print("Interactive tier: L = 300, one seed")
    print(f"  fast reduced DOS {fast:.3f} s (median of {repeats}; target <= "
          f"{TARGET_INTERACTIVE_SECONDS} s)")
    print()


def one_size(size):
    """Child process: time one L x L reduced DOS and report its own peak memory."""
    start = time.perf_counter()
    reduced_dos(size, 0.3, seeds=1, **PAPER)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"size": size, "seconds": seconds, "peak_gib": peak_kib / 2**20}))


def scaling(sizes):
    print("Scaling: one seed, cutoff, delta = 0.3, 1/r springs (each size in a fresh process)")
    print(f"  {'L':>6}{'nodes':>11}{'seconds':>10}{'us/node':>10}{'peak GiB':>10}")
    for size in sizes:
        output = subprocess.run(
            [sys.executable, __file__, "--one", str(size)],
            check=True, capture_output=True, text=True,
        ).stdout
        row = json.loads(output.strip().splitlines()[-1])
        nodes = size * size
        print(f"  {size:>6}{nodes:>11,}{row['seconds']:>10.2f}"
              f"{1e6 * row['seconds'] / nodes:>10.2f}{row['peak_gib']:>10.2f}")
    print(f"  targets at L = 1000: <= {TARGET_LARGE_SECONDS:.0f} s, "
          f"<= {TARGET_LARGE_MEMORY_GIB} GiB")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    args = parser.parse_args()
    if args.one:
        one_size(args.one)
        return
    print(f"Machine: {_machine()}")
    print()
    paper_setting(args.repeats)
    interactive_tier(args.repeats)
    scaling(args.sizes)


if __name__ == "__main__":
    main()
