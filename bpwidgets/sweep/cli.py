"""The command line, ``python -m bpwidgets.sweep``: parse, sweep, save, report.

``--help`` lists the options; a value ``start:stop:step`` is a range with the
stop included (:func:`~bpwidgets.sweep.value_range`), and values may be given
apart or joined by commas (``--pressure 1e-4,1e-3``). ``--connection jammed``
sweeps the glass over ``--pressure`` instead of ``--delta``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.analysis import DOS_MOMENTS
from ..core.network import CONNECTIONS, SPRINGS
from ..core.store import STORE_ENVIRONMENT
from .cluster import CLUSTER_KINDS, DEFAULT_CLUSTER_WORKERS, SCHEDULER_ENVIRONMENT
from .dataset import _NETCDF_SUFFIXES, failures, save
from .grid import DEFAULT_DELTA, DEFAULT_PRESSURE, JAMMED, sweep_points, value_range
from .report import _Progress, _Report
from .run import sweep

__all__ = ["main"]


def _parameter_values(text: str, kind) -> list:
    """One command-line value: numbers or ``start:stop:step`` ranges, joined by commas.

    Examples
    --------
    >>> _parameter_values("1e-4,1e-3", float), _parameter_values("20:40:10,60", int)
    ([0.0001, 0.001], [20, 30, 40, 60])
    """
    if "," in text:
        return [v for part in text.split(",") for v in _parameter_values(part, kind)]
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise argparse.ArgumentTypeError(f"a range is start:stop:step; got {text!r}")
        try:
            values = value_range(*(float(p) for p in parts))
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return [kind(round(v)) if kind is int else v for v in values]
    try:
        return [kind(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a {kind.__name__}: {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bpwidgets.sweep",
        description="Sweep the Boson peak of spring networks (or of the contact networks of "
                    "jammed disks, --connection jammed) over a grid of parameters, on Dask, "
                    "and save the dataset to netCDF (.nc) or zarr (.zarr). A value "
                    "start:stop:step is a range with the stop included; values may be "
                    "joined by commas.",
    )
    parser.add_argument("--delta", nargs="+", metavar="VALUE",
                        help="displacements delta, values or start:stop:step (default "
                             f"{DEFAULT_DELTA}; not with --connection {JAMMED})")
    parser.add_argument("--pressure", nargs="+", metavar="P",
                        help=f"pressures of the jammed disks, with --connection {JAMMED} "
                             f"(default {DEFAULT_PRESSURE:g}), in epsilon / d^2")
    parser.add_argument("--size", nargs="+", default=["60"], metavar="L",
                        help="grid sizes L, values or start:stop:step (default 60); jammed "
                             "disks: N = L^2 disks")
    parser.add_argument("--connection", nargs="+", default=["cutoff"],
                        choices=CONNECTIONS + (JAMMED,),
                        help=f"connection rules, or {JAMMED} for jammed disks (default cutoff)")
    parser.add_argument("--spring", nargs="+", default=["inverse"], choices=SPRINGS,
                        help="spring laws (default inverse)")
    parser.add_argument("--seeds", type=int, default=10, metavar="N",
                        help="random networks (or packings) per point (default 10)")
    parser.add_argument("--first-seed", type=int, default=0, metavar="S",
                        help="seed of the first network; the others follow (default 0)")
    parser.add_argument("--moments", type=int, default=DOS_MOMENTS, metavar="K",
                        help=f"Chebyshev moments (default {DOS_MOMENTS}, the dashboard's)")
    parser.add_argument("--out", required=True, metavar="PATH",
                        help="where the dataset goes: a .nc or .zarr path")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help=f"a Dask scheduler to run on (default: ${SCHEDULER_ENVIRONMENT}, "
                             "else a local cluster)")
    parser.add_argument("--cluster", choices=tuple(CLUSTER_KINDS),
                        help="start a cluster of this kind for the sweep, set up by the Dask "
                             "configuration files (dask-jobqueue, dask-kubernetes)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="workers of the local cluster (default: one per core) or of "
                             f"--cluster (default {DEFAULT_CLUSTER_WORKERS})")
    parser.add_argument("--serial", action="store_true",
                        help="run in this process, without Dask")
    parser.add_argument("--store", metavar="DIR",
                        help=f"the result store's directory, or 'off' (default: "
                             f"${STORE_ENVIRONMENT}, else the user's cache)")
    parser.add_argument("--no-shared-store", action="store_true",
                        help="the workers cannot see the store: they only compute, and "
                             "this process stores what comes back")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv=None) -> int:
    """``python -m bpwidgets.sweep``: run a sweep and save it; 1 if some task failed.

    Examples
    --------
    >>> import contextlib, io, tempfile
    >>> from bpwidgets.sweep import load
    >>> out = Path(tempfile.mkdtemp()) / "sweep.nc"
    >>> with contextlib.redirect_stdout(io.StringIO()) as printed:
    ...     code = main(["--delta", "0.1:0.3:0.1", "--size", "20", "--seeds", "2", "--serial",
    ...                  "--store", "off", "--quiet", "--out", str(out)])
    >>> code
    0
    >>> print(printed.getvalue().splitlines()[0][:40])
    sweep: 6 tasks: 6 computed, 0 from the s
    >>> load(out).sizes["delta"]
    3
    """
    parser = _parser()
    options = parser.parse_args(argv)
    try:
        deltas = [v for text in options.delta or () for v in _parameter_values(text, float)]
        pressures = [v for text in options.pressure or ()
                     for v in _parameter_values(text, float)]
        sizes = [v for text in options.size for v in _parameter_values(text, int)]
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    out = Path(options.out)
    if out.suffix not in _NETCDF_SUFFIXES + (".zarr",):
        parser.error(f"--out must end in .nc or .zarr; got {options.out!r}")
    if options.seeds < 1 or options.first_seed < 0:
        parser.error("--seeds must be positive and --first-seed not negative")
    if sum(map(bool, (options.serial, options.scheduler, options.cluster))) > 1:
        parser.error("give at most one of --serial, --scheduler and --cluster")
    client = False if options.serial else options.scheduler or options.cluster
    arguments = dict(
        delta=_one_or_list(deltas), pressure=_one_or_list(pressures), size=_one_or_list(sizes),
        connection=_one_or_list(list(dict.fromkeys(options.connection))),
        spring=_one_or_list(list(dict.fromkeys(options.spring))),
        seeds=list(range(options.first_seed, options.first_seed + options.seeds)),
    )
    try:
        sweep_points(moments=options.moments, **arguments)
    except ValueError as error:
        parser.error(str(error))
    bar = []

    def show(done, failed, total):
        if not options.quiet:
            if not bar:
                bar.append(_Progress(True, total))
                bar[0].mode = "bar"  # a terminal's bar, even when called from a notebook
            bar[0].done, bar[0].failed = done, failed
            bar[0]._bar()

    try:
        data = sweep(**arguments, client=client, workers=options.workers,
                     store=options.store, shared_store=not options.no_shared_store,
                     moments=options.moments, progress=show)
    except KeyboardInterrupt:
        print("sweep: interrupted; what was finished is in the result store, and the same "
              "command resumes from there", file=sys.stderr)
        return 130
    save(data, out)
    summary = _Report(total=data.attrs["tasks"], from_store=data.attrs["from_store"],
                      computed=data.attrs["computed"], failed=data.attrs["failed"])
    summary.failures = failures(data)
    print(summary.summary(data.attrs["seconds"]))
    print(f"sweep: saved to {out}")
    return 1 if data.attrs["failed"] else 0


def _one_or_list(values):
    """A single value stays a value (a scalar coordinate); several are swept; none is None."""
    if not values:
        return None
    return values[0] if len(values) == 1 else values
