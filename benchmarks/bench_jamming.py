"""Speed of the jammed packings: making them, their elastic moduli and their reduced DOS.

Run: ``.venv/bin/python benchmarks/bench_jamming.py`` (options: ``--sizes``,
``--pressure``, ``--seed``). Every size runs in a fresh process, so that its
peak memory (max RSS) is its own, and prints one row:

* the packing: wall and CPU seconds of ``jammed_packing(n, pressure=p)``, its
  FIRE steps, Z, rattlers, largest net force over the tolerance, largest
  overlap over p sigma^2, and the peak RSS over the process's RSS once the
  package is imported (the packing's own arrays are listed apart);
* its contact network (constant springs), the N x N scalar matrix: the Debye
  level (the direct conductance solve) and the reduced DOS by the kernel
  polynomial method (``reduced_dos_of`` with its defaults, the result store off);
* the packing's full 2N x 2N Hessian, the vector matrix: its elastic moduli
  and Debye level (``elastic_moduli``, one sparse LU solve) and its reduced DOS
  (``vibrational_dos`` with its defaults), with the bulk and shear moduli;
* the peak RSS of the whole child (packing and spectra) over its RSS once the
  package is imported.

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

from bpwidgets import (  # noqa: E402
    debye_level,
    elastic_moduli,
    jammed_packing,
    reduced_dos_of,
    vibrational_dos,
)
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
    start = time.perf_counter()
    moduli = elastic_moduli(packing)
    moduli_seconds = time.perf_counter() - start
    start = time.perf_counter()
    vibrational_dos([packing])
    vector_dos_seconds = time.perf_counter() - start
    total = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
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
        "total_mib": total - baseline, "moduli": moduli_seconds, "bulk": moduli.bulk,
        "shear": moduli.shear, "vector_level": moduli.debye_level,
        "vector_dos": vector_dos_seconds,
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
          f"{'F/tol':>7}{'overlap':>8}{'RSS MiB':>9}{'arrays':>8}{'load':>6}")
    rows = []
    for n in args.sizes:
        output = subprocess.run(
            [sys.executable, __file__, "--one", str(n), "--pressure", str(args.pressure),
             "--seed", str(args.seed)],
            check=True, capture_output=True, text=True,
        ).stdout
        row = json.loads(output.strip().splitlines()[-1])
        rows.append(row)
        print(f"  {n:>7,}{row['wall']:>9.1f}{row['cpu']:>8.1f}{row['steps']:>8}"
              f"{row['z']:>7.3f}{row['rattlers']:>7}{row['max_force'] / row['tolerance']:>7.2f}"
              f"{row['overlap']:>8.2f}{row['peak_mib']:>9.1f}{row['arrays_mib']:>8.2f}"
              f"{row['load']:>6.1f}", flush=True)
    print()
    print(f"  {'N':>7}{'scalar: Debye s':>17}{'DOS s':>7}{'vector: moduli s':>18}{'B':>8}"
          f"{'G':>8}{'level':>8}{'DOS s':>7}{'RSS MiB':>9}")
    for row in rows:
        print(f"  {row['n']:>7,}{row['debye']:>17.3f}{row['dos']:>7.2f}{row['moduli']:>18.2f}"
              f"{row['bulk']:>8.4f}{row['shear']:>8.4f}{row['vector_level']:>8.2f}"
              f"{row['vector_dos']:>7.2f}{row['total_mib']:>9.1f}")
    print()
    print(f"  target: {TARGET_DISKS:,} disks in about {TARGET_SECONDS:.0f} s on 2 cores.")
    print("  F/tol: largest net force over the tolerance; overlap: largest delta / (p sigma^2);")
    print("  RSS MiB: peak over the RSS after imports, making the packing (first table) and")
    print("  the whole run (second); arrays: the packing's own, MiB; load: 1-minute average.")
    print("  scalar: the contact network (N x N, t = 1): Debye level and reduced DOS (KPM);")
    print("  vector: the full Hessian (2N x 2N): elastic_moduli (B, G in epsilon / d^2, the")
    print("  Debye level of g/omega) and vibrational_dos (KPM), each with its defaults.")

if __name__ == "__main__":
    main()
