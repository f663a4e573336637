"""Speed of the jammed packings: making them, and the reduced DOS of their contact networks.

Run: ``.venv/bin/python benchmarks/bench_jamming.py`` (options: ``--sizes``,
``--pressure``, ``--seed``). Every size runs in a fresh process, so that its
peak memory (max RSS) is its own, and prints one row:

* the packing: wall and CPU seconds of ``jammed_packing(n, pressure=p)``, its
  FIRE steps, Z, rattlers, largest net force over the tolerance, largest
  overlap over p sigma^2, and the peak RSS over the process's RSS once the
  package is imported (the packing's own arrays are listed apart);
* its contact network (constant springs): the Debye level (the direct
  conductance solve) and the reduced DOS by the kernel polynomial method
  (``reduced_dos_of`` with its defaults, the result store off).

The full Hessian's reduced DOS is not timed: the package has no kernel
polynomial method for the 2N x 2N Hessian yet (the scalar contact network's
is the one ``reduced_dos_of`` computes).

The machine's load average is printed with the rows: on a shared machine the
wall times grow with it, the CPU times much less.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

os.environ.setdefault("BPWIDGETS_STORE", "off")  # time the computation, not the store

import numpy as np  # noqa: E402

from bpwidgets import debye_level, jammed_packing, reduced_dos_of  # noqa: E402
from bpwidgets.core.parallel import cores  # noqa: E402

#: The issue's target: 10 000 disks in about a minute on 2 cores.
TARGET_SECONDS = 60.0
TARGET_DISKS = 10_000


def _rss_mib() -> float:
    """This process's resident memory now, MiB (Linux /proc)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def one_size(n, pressure, seed):
    """Child process: make one packing, then its contact network's Debye level and DOS."""
    baseline = _rss_mib()
    wall, cpu = time.perf_counter(), time.process_time()
    packing = jammed_packing(n, pressure=pressure, seed=seed)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    arrays = sum(getattr(packing, name).nbytes for name in
                 ("positions", "radii", "contacts", "contact_vectors", "rattlers"))
    network = packing.network("constant")
    start = time.perf_counter()
    level = debye_level(network)
    debye_seconds = time.perf_counter() - start
    start = time.perf_counter()
    dos = reduced_dos_of([network])
    dos_seconds = time.perf_counter() - start
    print(json.dumps({
        "n": n, "wall": wall, "cpu": cpu, "steps": packing.fire_steps,
        "pressure": packing.pressure, "phi": packing.phi,
        "z": packing.mean_contact_number, "rattlers": len(packing.rattlers),
        "max_force": packing.max_force, "tolerance": packing.force_tolerance,
        "overlap": float((packing.overlaps / packing.radii[packing.contacts].sum(axis=1) ** 2).max()
                         / packing.pressure),
        "peak_mib": peak - baseline, "baseline_mib": baseline, "arrays_mib": arrays / 2**20,
        "debye": debye_seconds, "level": level, "dos": dos_seconds,
        "vectors": None if dos.spread_moments is None else int(dos.spread_moments.shape[1]),
        "load": os.getloadavg()[0],
    }))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 4_000, 10_000])
    parser.add_argument("--pressure", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.one:
        one_size(args.one, args.pressure, args.seed)
        return
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
          f"({cores()} usable), Python {platform.python_version()}, numpy {np.__version__}")
    print(f"Packings at p = {args.pressure:g}, seed {args.seed}; each size in a fresh process")
    print()
    print(f"  {'N':>7}{'wall s':>9}{'CPU s':>8}{'steps':>8}{'Z':>7}{'rattl.':>7}"
          f"{'F/tol':>7}{'overlap':>8}{'RSS MiB':>9}{'arrays':>8}{'Debye s':>9}{'DOS s':>7}"
          f"{'load':>6}")
    for n in args.sizes:
        output = subprocess.run(
            [sys.executable, __file__, "--one", str(n), "--pressure", str(args.pressure),
             "--seed", str(args.seed)],
            check=True, capture_output=True, text=True,
        ).stdout
        row = json.loads(output.strip().splitlines()[-1])
        print(f"  {n:>7,}{row['wall']:>9.1f}{row['cpu']:>8.1f}{row['steps']:>8}"
              f"{row['z']:>7.3f}{row['rattlers']:>7}{row['max_force'] / row['tolerance']:>7.2f}"
              f"{row['overlap']:>8.2f}{row['peak_mib']:>9.1f}{row['arrays_mib']:>8.2f}"
              f"{row['debye']:>9.3f}{row['dos']:>7.2f}{row['load']:>6.1f}", flush=True)
    print()
    print(f"  target: {TARGET_DISKS:,} disks in about {TARGET_SECONDS:.0f} s on 2 cores.")
    print("  F/tol: largest net force over the tolerance; overlap: largest delta / (p sigma^2);")
    print("  RSS MiB: peak over the RSS after imports; arrays: the packing's own, MiB;")
    print("  Debye s, DOS s: the contact network's Debye level and reduced DOS (KPM).")


if __name__ == "__main__":
    main()
