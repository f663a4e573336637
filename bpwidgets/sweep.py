"""Sweeps of the Boson peak over a grid of parameters, on Dask's distributed scheduler.

:func:`sweep` takes a value or a list for each parameter of the model (δ, L,
the connection rule, the spring law) and a set of seeds, computes every
network of the grid as a task of its own, one task per (parameter point,
seed), and returns an :class:`xarray.Dataset` over the swept parameters and
the seeds: each seed's reduced DOS, Debye level, mean and variance of Z and
zero modes, and each point's Boson peak with its error bars.

Each task is a pure function of its inputs: it looks its network's part up in
the shared result store (:mod:`bpwidgets.core.store`) and, if it is missing,
builds the network, computes its part (:func:`bpwidgets.network_spectrum`) and
stores it. The part goes back to the client, which joins each point's seeds
exactly as :func:`bpwidgets.reduced_dos` does
(:meth:`~bpwidgets.ReducedDOS.from_spectra`, :func:`~bpwidgets.boson_peak_of`),
so a point's numbers equal ``reduced_dos`` of the same seeds, bit for bit.
What is stored already is never sent: an interrupted sweep resumes where it
stopped and a repeated one costs the reading of the store.

Where the tasks run (``client=``): a :class:`distributed.Client`, a cluster
object (``dask_jobqueue.SLURMCluster``, ``dask_kubernetes.KubeCluster``, ...),
a scheduler's address, or a kind of cluster (``"slurm"``, ``"pbs"``,
``"kubernetes"``, ...) set up by Dask's configuration files alone; else the
address in ``BPWIDGETS_SCHEDULER``; else a
:class:`distributed.LocalCluster` on this machine, one single-threaded worker
per usable core, started once per process and shared by its later sweeps.
``client=False`` runs the same tasks in this process, one after the other.

A worker killed during a sweep loses nothing: the scheduler runs its tasks
again elsewhere. A task that fails (a bad point) is reported with its
parameters and its error; the others finish, and the dataset marks the missing
values with NaN (``done``, ``complete``), never with zeros. A bad grid is
refused before anything is sent.

From a terminal: ``python -m bpwidgets.sweep --delta 0:0.5:0.02 --size 200
--connection cutoff --spring inverse constant --seeds 10 --out sweep.nc``
(``--help`` lists the options).

Examples
--------
>>> data = sweep(delta=[0.0, 0.3], size=40, seeds=3, client=False, store=False,
...              progress=False)
>>> dict(data.sizes)
{'delta': 2, 'seed': 3, 'omega': 401}
>>> data.peak_found.values.tolist(), int(data.attrs["computed"])
([False, True], 6)
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import itertools
import json
import logging
import math
import numbers
import os
import reprlib
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__
from .core import parallel
from .core.analysis import DOS_MOMENTS, boson_peak_of
from .core.dos import keep_network_spectrum, network_spectrum
from .core.kpm import MAX_GRID_POINTS, default_vectors
from .core.limits import format_bytes, memory_limit
from .core.network import CONNECTIONS, MAX_SEEDS, SPRINGS
from .core.result import ReducedDOS
from .core.store import NUMERICS_VERSION, STORE_ENVIRONMENT, open_store

__all__ = [
    "CLUSTER_KINDS",
    "DEFAULT_CLUSTER_WORKERS",
    "DEFAULT_OMEGA",
    "DEFAULT_RETRIES",
    "PARAMETERS",
    "SCHEDULER_ENVIRONMENT",
    "Point",
    "close_local_cluster",
    "failures",
    "load",
    "local_client",
    "main",
    "make_local_cluster",
    "save",
    "sweep",
    "sweep_points",
    "value_range",
]

#: The model's parameters a sweep runs over, in the order of the dataset's dimensions.
PARAMETERS = ("delta", "size", "connection", "spring")

#: Environment variable naming the scheduler every sweep of this process connects to
#: when no ``client`` is given (``tcp://host:8786``): a server's pages share one cluster.
#: ``off`` forbids a cluster of the process's own: a sweep then needs a ``client``.
SCHEDULER_ENVIRONMENT = "BPWIDGETS_SCHEDULER"
#: Values of ``BPWIDGETS_SCHEDULER`` that forbid starting a local cluster.
_NO_LOCAL_CLUSTER = ("off", "none", "false", "0")

#: The frequency grid of the curves: 0 to 4 in steps of 0.01. It holds the bulk of every
#: network up to delta = 0.45 (the top of the bulk is about 4.0 there with cutoff and 1/r
#: springs, 4.15 at delta = 0.49) and resolves the Boson peak: the kernel's width is
#: about 0.07 at 64 moments.
DEFAULT_OMEGA = np.round(np.linspace(0.0, 4.0, 401), 10)

#: Cluster managers a sweep starts from Dask's configuration alone (``client="slurm"``, the
#: command line's ``--cluster slurm``): queue, cores, memory, walltime and the workers'
#: environment come from the Dask configuration files (``~/.config/dask/jobqueue.yaml``,
#: ``kubernetes.yaml``). Each is ``module:class``; the module is installed separately.
CLUSTER_KINDS = {
    "slurm": "dask_jobqueue:SLURMCluster",
    "pbs": "dask_jobqueue:PBSCluster",
    "sge": "dask_jobqueue:SGECluster",
    "lsf": "dask_jobqueue:LSFCluster",
    "htcondor": "dask_jobqueue:HTCondorCluster",
    "kubernetes": "dask_kubernetes.operator:KubeCluster",
}
#: Workers a cluster started by its kind is scaled to when ``workers`` is not given.
DEFAULT_CLUSTER_WORKERS = 10

#: A task that raises is run once more before it counts as failed (a full scratch
#: disk, a network file system's hiccup); one that fails twice is a bad point.
DEFAULT_RETRIES = 1

#: Largest part of the memory limit the dataset may take on the client: it holds
#: every seed's curve, points x seeds x omega doubles, besides the parts.
_DATASET_SHARE = 0.5
#: Decimals a grid value of :func:`value_range` is rounded to: 0.1 * 3 must be the 0.3
#: the dashboard asks for, or the store's keys (exact floats) would differ.
_RANGE_DECIMALS = 10
#: Characters of the terminal progress bar, and the fewest seconds between two redraws
#: (small tasks finish by the hundred a second; the last one is always drawn).
_BAR_WIDTH = 30
_BAR_INTERVAL = 0.2
#: Failures listed in the summary line (all of them are in the dataset's attributes).
_FAILURES_SHOWN = 5

_log = logging.getLogger("bpwidgets")


# --------------------------------------------------------------------------- the grid


@dataclass(frozen=True)
class Point:
    """One point of a sweep's grid: the model's parameters, all seeds apart.

    Examples
    --------
    >>> Point(delta=0.3, size=60, connection="cutoff", spring="inverse").label
    'delta=0.3, size=60, connection=cutoff, spring=inverse'
    """

    delta: float
    size: int
    connection: str
    spring: str

    @property
    def label(self) -> str:
        """The parameters as ``name=value`` pairs, for messages."""
        return ", ".join(f"{name}={getattr(self, name)}" for name in PARAMETERS)

    def model(self) -> dict:
        """``connection`` and ``spring``, as keyword arguments of the core's functions."""
        return dict(connection=self.connection, spring=self.spring)


@dataclass(frozen=True)
class _Grid:
    """A checked grid: every parameter's values, which were given as lists, the seeds."""

    values: dict
    swept: tuple
    seeds: tuple
    moments: int

    @property
    def shape(self) -> tuple:
        return tuple(len(self.values[name]) for name in PARAMETERS)

    def points(self):
        """``(index, Point)`` of every point, the last parameter varying fastest."""
        for index in itertools.product(*(range(n) for n in self.shape)):
            values = [self.values[name][k] for name, k in zip(PARAMETERS, index)]
            yield index, Point(*values)

    def vectors(self, point: Point) -> int:
        """Random vectors per seed: those ``reduced_dos`` gives this point's seeds."""
        n_seeds = len(self.seeds)
        return default_vectors(point.size * point.size * n_seeds, networks=n_seeds)


def value_range(start, stop, step) -> tuple:
    """Values from ``start`` to ``stop`` inclusive in steps of ``step``, as the dashboard has them.

    Every value is rounded to 10 decimals, so that 3 steps of 0.1 give the
    0.3 a slider gives (and the result store's key of 0.3).

    Parameters
    ----------
    start, stop, step : float
        ``step`` positive; ``stop`` is included when it lies on the grid
        (within a millionth of a step).

    Returns
    -------
    tuple of float

    Raises
    ------
    ValueError
        For a step that is not positive and finite, or ``stop < start``.

    Examples
    --------
    >>> value_range(0, 0.1, 0.025)
    (0.0, 0.025, 0.05, 0.075, 0.1)
    >>> value_range(0.1, 0.35, 0.1)
    (0.1, 0.2, 0.3)
    """
    start, stop, step = (float(v) for v in (start, stop, step))
    if not (math.isfinite(step) and step > 0):
        raise ValueError(f"a range's step must be positive; got {step}")
    if not (math.isfinite(start) and math.isfinite(stop) and stop >= start):
        raise ValueError(f"a range must run upwards; got {start} to {stop}")
    count = math.floor((stop - start) / step + 1e-6) + 1
    return tuple(round(start + k * step, _RANGE_DECIMALS) for k in range(count))


def sweep_points(delta=0.3, size=60, connection="cutoff", spring="inverse", seeds=10, *,
                 moments=DOS_MOMENTS) -> list:
    """Every point of a sweep's grid, checked as :func:`sweep` checks it, without computing.

    Parameters
    ----------
    delta, size, connection, spring, seeds, moments
        As for :func:`sweep`.

    Returns
    -------
    list of Point
        In the dataset's order, the last parameter varying fastest.

    Raises
    ------
    ValueError
        For an empty list, a value given twice, or any point that
        :func:`bpwidgets.build_network` or :func:`bpwidgets.reduced_dos` refuses,
        with their message.

    Examples
    --------
    >>> [p.delta for p in sweep_points(delta=[0.1, 0.2], size=30, seeds=2)]
    [0.1, 0.2]
    >>> sweep_points(delta=0.6, size=3, connection="cutoff")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: size must be larger than 2 (1 + delta) = 3.2 for connection='cutoff' ...
    """
    grid = _checked_grid(delta, size, connection, spring, seeds, moments)
    return [point for _, point in grid.points()]


def _checked_grid(delta, size, connection, spring, seeds, moments,
                  n_omega=DEFAULT_OMEGA.size) -> _Grid:
    """The grid, every point checked by the core before anything is computed or sent."""
    given = dict(delta=delta, size=size, connection=connection, spring=spring)
    values, swept = {}, []
    for name in PARAMETERS:
        listed, is_list = _values(name, given[name])
        values[name] = listed
        if is_list:
            swept.append(name)
    seeds = _checked_seeds(seeds)
    grid = _Grid(values=values, swept=tuple(swept), seeds=seeds, moments=moments)
    n_points = math.prod(grid.shape)
    # The client holds every seed's curve: points x seeds x omega doubles, and a few more.
    needed = 8 * n_points * len(seeds) * (n_omega + 8)
    if needed > _DATASET_SHARE * memory_limit():
        raise ValueError(
            f"a sweep of {n_points} points x {len(seeds)} seeds needs about "
            f"{format_bytes(needed)} for its dataset, more than half the memory limit "
            f"({format_bytes(memory_limit())}); sweep fewer points or seeds"
        )
    for _, point in grid.points():
        try:
            vectors = grid.vectors(point)
        except ValueError:  # not a size: the core says so in build_network's words below
            vectors = None
        # The core's own checks, with its messages: build_network's for the parameters,
        # reduced_dos's for the moments and the memory one task needs.
        network_spectrum(point.size, point.delta, seed=seeds[0], moments=moments,
                         vectors=vectors, store=False, compute=False, **point.model())
    # Normalise the values as the core does (a size of 60.0 is 60) once they passed.
    values["size"] = tuple(int(v) for v in values["size"])
    values["delta"] = tuple(float(v) for v in values["delta"])
    return _Grid(values=values, swept=tuple(swept), seeds=seeds, moments=moments)


def _values(name, value) -> tuple:
    """``(values, given as a list)`` of one parameter: a value, or a non-empty list of them."""
    if isinstance(value, (str, bytes)) or np.ndim(value) == 0:
        return (value.item() if isinstance(value, np.generic) else value,), False
    try:
        listed = tuple(v.item() if isinstance(v, np.generic) else v for v in value)
    except TypeError:
        raise ValueError(f"{name} must be a value or a list of values; "
                         f"got {reprlib.repr(value)}") from None
    if not listed:
        raise ValueError(f"{name} must be a value or a non-empty list of values; got an empty "
                         "list, which would make an empty sweep")
    try:
        repeated = sorted({v for v in listed if listed.count(v) > 1}, key=str)
    except TypeError:  # an unhashable value: a list inside the list
        raise ValueError(f"{name} must be a value or a list of values; "
                         f"got {reprlib.repr(value)}") from None
    if repeated:
        raise ValueError(f"{name} lists {reprlib.repr(repeated)} more than once: each value "
                         "must be swept once")
    return listed, True


def _checked_seeds(seeds) -> tuple:
    """A count n as seeds 0 .. n-1, else the seeds: distinct non-negative integers."""
    allowed = "a positive count or a list of distinct non-negative integers"
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        if not 0 < seeds <= MAX_SEEDS:
            raise ValueError(f"seeds must be {allowed}, at most MAX_SEEDS = {MAX_SEEDS}; "
                             f"got {seeds}")
        return tuple(range(int(seeds)))
    try:
        listed = tuple(itertools.islice(seeds, MAX_SEEDS + 1))
    except TypeError:
        raise ValueError(f"seeds must be {allowed}; got {reprlib.repr(seeds)}") from None
    if (not listed or len(listed) > MAX_SEEDS or len(set(listed)) < len(listed)
            or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 0
                       for s in listed)):
        raise ValueError(f"seeds must be {allowed} (at most MAX_SEEDS = {MAX_SEEDS}); "
                         f"got {reprlib.repr(seeds)}")
    return tuple(int(s) for s in listed)


# --------------------------------------------------------------------------- the task


@dataclass(frozen=True)
class _TaskResult:
    """What a task sends back: the network's part, and whether it had to be computed."""

    spectrum: object
    computed: bool
    seconds: float


def _network_task(point: Point, seed: int, moments: int, vectors: int, store) -> _TaskResult:
    """One network's part of a point: looked up in the store, else computed and stored.

    A pure function of its arguments, run on a worker. ``store`` is a
    directory as the worker sees it (a plain string), or False: then the part
    is only computed, and the client stores what comes back.
    """
    started = time.perf_counter()
    arguments = dict(seed=seed, moments=moments, vectors=vectors, store=store, **point.model())
    spectrum = network_spectrum(point.size, point.delta, compute=False, **arguments)
    computed = spectrum is None
    if computed:
        spectrum = network_spectrum(point.size, point.delta, **arguments)
    return _TaskResult(spectrum, computed, time.perf_counter() - started)


# --------------------------------------------------------------------------- the cluster


_local_lock = threading.Lock()
_local = {}


def make_local_cluster(workers=None, *, env=None):
    """A new :class:`distributed.LocalCluster` of single-threaded worker processes.

    Each worker runs one task at a time and does its numpy and scipy work in
    one thread (``BPWIDGETS_THREADS=1``; Dask sets ``OMP_NUM_THREADS=1`` and
    its kin), so that n workers on n cores do not oversubscribe them.

    Parameters
    ----------
    workers : int, optional
        Worker processes; default one per core this process may use
        (:func:`bpwidgets.core.parallel.cores`).
    env : dict, optional
        Further environment variables of the workers.

    Returns
    -------
    distributed.LocalCluster
        Close it when done (``cluster.close()``).
    """
    from distributed import LocalCluster

    n_workers = parallel.cores() if workers is None else int(workers)
    if n_workers < 1:
        raise ValueError(f"workers must be a positive number; got {workers!r}")
    environment = {parallel.THREADS_VARIABLE: "1", **{k: str(v) for k, v in (env or {}).items()}}
    return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                        env=environment, dashboard_address=_dashboard_address(),
                        silence_logs=logging.ERROR)


def _dashboard_address() -> str:
    """Any free port for Dask's dashboard: another cluster on this machine may hold 8787."""
    return ":0"


def local_client(workers=None):
    """The client of this process's own local cluster, started on first use and then shared.

    Every sweep of the process without a ``client`` (and without
    ``BPWIDGETS_SCHEDULER``) uses it, so a notebook that sweeps ten times
    starts one cluster. Asking for another number of workers starts a new one.
    It is closed when the process exits, or by :func:`close_local_cluster`.

    Parameters
    ----------
    workers : int, optional
        As for :func:`make_local_cluster`; default: keep the running cluster.

    Returns
    -------
    distributed.Client
    """
    from distributed import Client

    with _local_lock:
        running = _local.get("client")
        if running is not None and (workers is None or workers == _local["workers"]):
            return running
        _close_local()
        cluster = make_local_cluster(workers)
        _local.update(cluster=cluster, client=Client(cluster, set_as_default=False),
                      workers=len(cluster.workers))
        return _local["client"]


def close_local_cluster() -> None:
    """Close this process's local cluster (:func:`local_client`), if one is running."""
    with _local_lock:
        _close_local()


def _close_local():
    client, cluster = _local.pop("client", None), _local.pop("cluster", None)
    _local.pop("workers", None)
    if client is not None:
        client.close()
    if cluster is not None:
        cluster.close()


atexit.register(close_local_cluster)


@contextlib.contextmanager
def _connected(client, workers):
    """The :class:`distributed.Client` a sweep submits to, closed after it if opened for it."""
    from distributed import Client

    if isinstance(client, Client):
        yield client
        return
    if client is None:
        address = os.environ.get(SCHEDULER_ENVIRONMENT, "").strip()
        if not address:
            yield local_client(workers)
            return
        client = address
    cluster = None
    if isinstance(client, str) and client in CLUSTER_KINDS:
        # Started for this sweep, from the Dask configuration, and stopped after it.
        cluster = _cluster_of_kind(client)
        cluster.scale(DEFAULT_CLUSTER_WORKERS if workers is None else int(workers))
        client = cluster
    # An address, or a cluster object (dask-jobqueue's, dask-kubernetes's, a LocalCluster).
    opened = Client(client, set_as_default=False)
    try:
        yield opened
    finally:
        opened.close()
        if cluster is not None:
            cluster.close()


def _cluster_of_kind(kind: str):
    """A new cluster of one of :data:`CLUSTER_KINDS`, configured by Dask's configuration."""
    import importlib

    module_name, _, class_name = CLUSTER_KINDS[kind].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        package = module_name.split(".")[0].replace("_", "-")
        raise ImportError(f"client={kind!r} needs the package {package} "
                          f"(pip install {package}): {error}") from error
    return getattr(module, class_name)()


def _check_client(client) -> None:
    """Refuse a ``client`` that is none of those :func:`sweep` takes, before any work."""
    if client is None:
        setting = os.environ.get(SCHEDULER_ENVIRONMENT, "").strip()
        if setting.lower() in _NO_LOCAL_CLUSTER and setting:
            raise RuntimeError(
                f"{SCHEDULER_ENVIRONMENT}={setting}: this process may not start a cluster of "
                "its own (a page of a shared server must not start one per visitor); give "
                "client= a scheduler's address or a Client"
            )
        return
    if client is False:
        return
    if isinstance(client, str):
        if client in CLUSTER_KINDS or ":" in client:
            return  # a kind of cluster, or an address: tcp://host:8786, host:8786
        raise ValueError(f"client must be a scheduler's address (tcp://host:8786) or a kind of "
                         f"cluster ({', '.join(CLUSTER_KINDS)}); got {client!r}")
    if hasattr(client, "submit") and hasattr(client, "scheduler_info"):
        return  # a distributed.Client
    if hasattr(client, "scheduler_address"):
        return  # a cluster object
    raise TypeError(f"client must be a distributed.Client, a cluster, a scheduler's address, "
                    f"a kind of cluster, None or False; got {type(client).__name__}")


def _store_directory(store, shared_store):
    """The store's directory as a plain string for the workers, or False for none."""
    if store is None or not shared_store:
        return False
    return str(store.directory)


# --------------------------------------------------------------------------- progress


class _Progress:
    """Progress as the sweep goes: Dask's widget in a notebook, a bar in a terminal.

    ``setting`` is :func:`sweep`'s ``progress``. In a notebook the widget
    follows the submitted tasks; where there are none to follow (a serial
    sweep) the bar is drawn instead.
    """

    def __init__(self, setting, total, stream=None):
        self.total, self.done, self.failed = total, 0, 0
        self.stream = sys.stderr if stream is None else stream
        self.callback = setting if callable(setting) else None
        self.widget = False
        if self.callback is not None:
            self.mode = "callback"
        elif setting is False:
            self.mode = None
        elif _in_kernel():
            self.mode = "widget"
        elif setting is True or getattr(self.stream, "isatty", lambda: False)():
            self.mode = "bar"
        else:
            self.mode = None
        self.started = time.perf_counter()
        self.drawn = -math.inf

    @property
    def shown(self) -> bool:
        """Whether anything is shown (then a summary line follows the sweep)."""
        return self.mode in ("widget", "bar")

    def watch(self, futures, client) -> None:
        """Show Dask's progress widget for the submitted tasks, in a notebook."""
        if self.mode == "widget" and futures:
            from distributed import progress
            from IPython.display import display

            display(progress(futures, notebook=True, multi=False,
                             scheduler=client.scheduler.address, loop=client.loop))
            self.widget = True

    def update(self, failed: bool) -> None:
        """One more task finished (or failed)."""
        self.done += not failed
        self.failed += failed
        if self.callback is not None:
            self.callback(self.done, self.failed, self.total)
        elif self.mode == "bar" or (self.mode == "widget" and not self.widget):
            self._bar()

    def _bar(self):
        finished = self.done + self.failed
        now = time.perf_counter()
        if finished < self.total and now - self.drawn < _BAR_INTERVAL:
            return
        self.drawn = now
        filled = _BAR_WIDTH * finished // max(self.total, 1)
        end = "\n" if finished == self.total else ""
        failed = f", {self.failed} failed" if self.failed else ""
        self.stream.write(f"\r[{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] "
                          f"{finished}/{self.total} tasks{failed}, "
                          f"{time.perf_counter() - self.started:.0f} s{end}")
        self.stream.flush()


def _in_kernel() -> bool:
    """Whether this runs in a Jupyter kernel (where Dask's widget can show)."""
    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    return getattr(get_ipython(), "kernel", None) is not None


# --------------------------------------------------------------------------- the sweep


def sweep(delta=0.3, size=60, connection="cutoff", spring="inverse", seeds=10, *,
          client=None, workers=None, store=None, shared_store=True, moments=DOS_MOMENTS,
          omega=None, progress=None, retries=DEFAULT_RETRIES):
    """The Boson peak and the reduced DOS over a grid of parameters and seeds, on Dask.

    Parameters
    ----------
    delta, size, connection, spring : value or list of values
        The model's parameters (:func:`bpwidgets.build_network`). A list is
        swept and becomes a dimension of the dataset; a single value is a
        scalar coordinate.
    seeds : int or sequence of int, optional
        A count n (seeds 0 .. n-1) or the seeds, as for
        :func:`bpwidgets.reduced_dos`; the same at every point.
    client : distributed.Client, cluster, str, None or False, optional
        Where the tasks run: a client; a cluster object (dask-jobqueue's,
        dask-kubernetes's, a LocalCluster); a scheduler's address; a kind of
        cluster of :data:`CLUSTER_KINDS` (``"slurm"``, ``"pbs"``,
        ``"kubernetes"``, ...), started for the sweep from the Dask
        configuration and stopped after it. None: the address in
        ``BPWIDGETS_SCHEDULER`` if set, else this process's local cluster
        (:func:`local_client`), unless ``BPWIDGETS_SCHEDULER=off`` forbids
        it. False: in this process, one task after the other, without Dask.
    workers : int, optional
        Workers of the local cluster, when one is started (default: one per
        core), or of a cluster started by its kind (default
        ``DEFAULT_CLUSTER_WORKERS``).
    store : None, False, str, Path or ResultStore, optional
        The result store, as for :func:`bpwidgets.reduced_dos`: by default
        ``BPWIDGETS_STORE`` or the user's cache directory; False for none.
        The client reads it first, and sends only the tasks not found.
    shared_store : bool, optional
        Whether the workers see the store's directory (always so on this
        machine; on a cluster when the store lives on a shared file system).
        Then each task reads and writes the store itself, so that what a
        worker finished is kept even if the client stops; otherwise the tasks
        only compute and the client stores what comes back.
    moments : int, optional
        Chebyshev moments per network; the dashboard's ``DOS_MOMENTS`` by
        default, so that its results and a sweep's are the same entries of the
        store.
    omega : array_like, optional
        The frequency grid of the curves and of the peak's search; default
        :data:`DEFAULT_OMEGA` (0 to 4 in steps of 0.01).
    progress : None, bool or callable, optional
        None: Dask's progress widget in a notebook, a bar on a terminal's
        stderr, nothing elsewhere. True: the widget or a bar always; False:
        nothing. A callable is called as ``progress(done, failed, total)`` after
        every task.
    retries : int, optional
        Further runs of a task that raises before it counts as failed.

    Returns
    -------
    xarray.Dataset
        Dimensions: the swept parameters in the order delta, size,
        connection, spring, then ``seed``, and ``omega`` for the curves.

        ============================  ============  ======================================
        variable                      per           meaning
        ============================  ============  ======================================
        ``reduced_dos``               point, seed,  g(ω)/ω of each seed
                                      omega
        ``debye_level``               point, seed   each seed's Debye level 1/(2π σ)
        ``mean_z``, ``var_z``         point, seed   mean and variance of Z over its nodes
        ``zero_modes``                point, seed   fraction of zero modes
        ``done``                      point, seed   whether that seed's result came back
        ``reduced_dos_mean``,         point, omega  mean over the seeds and its standard
        ``reduced_dos_error``                       error (``ReducedDOS.mean_error``)
        ``debye_level_mean``,         point         the seeds' mean Debye level, its error
        ``debye_level_error``
        ``pooled_mean_z``,            point         mean Z over every node of every seed,
        ``pooled_mean_z_error``,                    its error, and the variance of Z over
        ``pooled_var_z``                            them all
        ``peak_found``                point         whether a Boson peak was found
        ``peak_omega``,               point         its position (``boson_peak_of``) and
        ``peak_omega_error``                        jackknife error
        ``peak_excess``,              point         its height above the Debye level,
        ``peak_excess_error``                       relative, and error
        ``peak_reduced_dos``          point         g/ω at the peak
        ``complete``                  point         whether every seed came back
        ``vectors``                   point         random vectors per seed
        ============================  ============  ======================================

        A seed that failed is NaN in every variable of its own; a point with a
        failed seed is NaN in every variable of the point (``complete`` False),
        its other seeds' values are kept (their curves then from the seeds that
        came back). Where no peak is found, ``peak_*`` are NaN with
        ``complete`` True. The attributes count the ``tasks``, how many were
        ``computed``, read ``from_store``, ``failed`` and ``remaining``, and
        list the ``failures`` (a JSON list; :func:`failures` reads it);
        ``task_seconds`` adds up the computing tasks' own times, ``seconds``
        is the sweep's.

    Raises
    ------
    ValueError
        For a bad grid (an empty list, a value given twice, a point
        :func:`bpwidgets.build_network` or :func:`bpwidgets.reduced_dos` refuses,
        with their message), before anything is sent to a cluster.
    TypeError
        For a ``client`` of another kind (a ValueError for a string that is
        neither an address nor a kind of cluster).
    ImportError
        For a kind of cluster whose package is not installed.
    RuntimeError
        Without a ``client`` where ``BPWIDGETS_SCHEDULER=off`` forbids a local
        cluster.

    Notes
    -----
    One task per (point, seed), each a pure function of its inputs. Each seed
    gets the random vectors :func:`bpwidgets.reduced_dos` gives it when the
    point's seeds are computed together, so its part is the same entry of the
    result store, and a point's numbers equal ``reduced_dos(size, delta,
    seeds=seeds, moments=moments, omega=omega)`` exactly. Workers of a cluster
    started elsewhere should do their numpy work in one thread each:
    ``BPWIDGETS_THREADS=1`` in their environment (README, "Sweeps").

    Examples
    --------
    >>> data = sweep(delta=0.3, size=20, connection=["nearest", "cutoff"], seeds=2,
    ...              client=False, store=False, progress=False)
    >>> data.peak_omega.dims, data.reduced_dos.dims
    (('connection',), ('connection', 'seed', 'omega'))
    """
    grid_omega = DEFAULT_OMEGA if omega is None else _checked_omega(omega)
    grid = _checked_grid(delta, size, connection, spring, seeds, moments, grid_omega.size)
    _check_client(client)
    retries = _checked_count("retries", retries, minimum=0)
    store = open_store(store)
    started = time.perf_counter()
    points = dict(grid.points())
    tasks = [(index, seed) for index in points for seed in grid.seeds]
    parts, report = {}, _Report(total=len(tasks))
    for index, seed in tasks:
        point = points[index]
        found = None if store is None else network_spectrum(
            point.size, point.delta, seed=seed, moments=grid.moments,
            vectors=grid.vectors(point), store=store, compute=False, **point.model())
        if found is not None:
            parts[index, seed] = found
    report.from_store = len(parts)
    missing = [task for task in tasks if task not in parts]
    engine = "store"
    if missing:
        tracker = _Progress(progress, len(missing))
        if client is False:
            engine = "serial"
            _run_serially(missing, points, grid, store, parts, report, tracker)
        else:
            with _connected(client, workers) as connected:
                engine = connected.scheduler.address
                _run_on(connected, missing, points, grid, store, shared_store, retries, parts,
                        report, tracker)
    dataset = _dataset(grid, points, grid_omega, parts)
    seconds = time.perf_counter() - started
    dataset.attrs.update(report.attributes(), engine=engine, seconds=round(seconds, 3))
    if missing and tracker.shown:
        print(report.summary(seconds),
              file=sys.stdout if tracker.mode == "widget" else tracker.stream)
    return dataset


def _checked_omega(omega) -> np.ndarray:
    """The frequency grid: ascending finite frequencies >= 0, at most ``MAX_GRID_POINTS``."""
    try:
        grid = np.asarray(omega, dtype=float)
    except (TypeError, ValueError):
        grid = np.empty(0)
    if (grid.ndim != 1 or not 3 <= grid.size <= MAX_GRID_POINTS
            or not np.all(np.isfinite(grid)) or grid.min() < 0 or np.any(np.diff(grid) <= 0)):
        raise ValueError(f"omega must be 3 to MAX_GRID_POINTS = {MAX_GRID_POINTS} ascending "
                         f"finite frequencies >= 0; got {reprlib.repr(omega)}")
    return grid


def _checked_count(name, value, *, minimum) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer of at least {minimum}; got {value!r}")
    return int(value)


@dataclass
class _Report:
    """Counts of a sweep's tasks, and every failure with its parameters and error."""

    total: int
    from_store: int = 0
    computed: int = 0
    failed: int = 0
    seconds_computing: float = 0.0

    def __post_init__(self):
        self.failures = []

    def finished(self, result: _TaskResult) -> None:
        if result.computed:
            self.computed += 1
            self.seconds_computing += result.seconds
        else:
            self.from_store += 1  # another process stored it meanwhile

    def failure(self, point: Point, seed: int, error) -> None:
        self.failed += 1
        text = f"{type(error).__name__}: {error}"
        self.failures.append(dict(delta=point.delta, size=point.size,
                                  connection=point.connection, spring=point.spring,
                                  seed=int(seed), error=text))
        _log.warning("sweep: the network %s, seed=%d failed: %s", point.label, seed, text)

    @property
    def remaining(self) -> int:
        return self.total - self.from_store - self.computed - self.failed

    def attributes(self) -> dict:
        return dict(tasks=self.total, computed=self.computed, from_store=self.from_store,
                    failed=self.failed, remaining=self.remaining,
                    task_seconds=round(self.seconds_computing, 3),
                    failures=json.dumps(self.failures))

    def summary(self, seconds) -> str:
        """``sweep: 800 tasks: 790 computed, 8 from the store, 2 failed, 0 remaining; 71.3 s``."""
        text = (f"sweep: {self.total} tasks: {self.computed} computed, {self.from_store} from "
                f"the store, {self.failed} failed, {self.remaining} remaining; {seconds:.1f} s")
        for failure in self.failures[:_FAILURES_SHOWN]:
            where = ", ".join(f"{k}={v}" for k, v in failure.items() if k != "error")
            text += f"\n  failed: {where}: {failure['error']}"
        if len(self.failures) > _FAILURES_SHOWN:
            text += f"\n  ... and {len(self.failures) - _FAILURES_SHOWN} more (attrs['failures'])"
        return text


def _run_serially(missing, points, grid, store, parts, report, tracker) -> None:
    """Every missing task in this process, one after the other (``client=False``)."""
    directory = False if store is None else store
    for index, seed in missing:
        point = points[index]
        try:
            result = _network_task(point, seed, grid.moments, grid.vectors(point), directory)
        except Exception as error:  # a bad point is reported; the others go on
            report.failure(point, seed, error)
            tracker.update(failed=True)
            continue
        parts[index, seed] = result.spectrum
        report.finished(result)
        tracker.update(failed=False)


def _run_on(client, missing, points, grid, store, shared_store, retries, parts, report,
            tracker) -> None:
    """Submit every missing task to the cluster, and gather the parts as they come back."""
    from dask.base import tokenize
    from distributed import as_completed

    directory = _store_directory(store, shared_store)
    # Keys of their own for this sweep's tasks: a sweep interrupted a moment ago may still
    # hold its cancelled futures, and a new task under one of their keys would be
    # cancelled with them. The store, not the scheduler, shares work between sweeps.
    this_sweep = uuid.uuid4().hex
    futures = {}
    for index, seed in missing:
        point = points[index]
        arguments = (point, seed, grid.moments, grid.vectors(point), directory)
        key = f"bpwidgets_network-{tokenize(*arguments, NUMERICS_VERSION, this_sweep)}"
        future = client.submit(_network_task, *arguments, key=key, pure=True, retries=retries)
        futures[future] = (index, seed)
    tracker.watch(list(futures), client)
    keep = store is not None and directory is False
    try:
        for future in as_completed(list(futures), loop=client.loop):
            index, seed = futures[future]
            point = points[index]
            if future.status == "finished":
                try:
                    result = future.result()
                except Exception as error:  # lost between finishing and being fetched
                    report.failure(point, seed, error)
                    tracker.update(failed=True)
                    continue
                parts[index, seed] = result.spectrum
                report.finished(result)
                if keep and result.computed:
                    keep_network_spectrum(result.spectrum, point.size, point.delta,
                                          moments=grid.moments, vectors=grid.vectors(point),
                                          store=store, **point.model())
                tracker.update(failed=False)
            else:
                error = _future_error(future)
                report.failure(point, seed, error)
                tracker.update(failed=True)
            future.release()
    except BaseException:
        # Interrupted: what the workers finished is stored; cancel what is still queued.
        client.cancel(list(futures))
        raise


def _future_error(future):
    """The exception of a failed or cancelled future, never raising itself."""
    try:
        error = future.exception()
    except BaseException as cancelled:  # CancelledError: the cluster let it go
        return cancelled
    return error if error is not None else RuntimeError(f"task {future.status}")


# --------------------------------------------------------------------------- the dataset


def _dataset(grid: _Grid, points: dict, omega: np.ndarray, parts: dict):
    """Assemble the dataset: each point's seeds joined as reduced_dos joins them."""
    import xarray as xr

    shape, n_seeds = grid.shape, len(grid.seeds)
    seed_shape = shape + (n_seeds,)
    curves = np.full(seed_shape + (omega.size,), np.nan)
    per_seed = {name: np.full(seed_shape, np.nan)
                for name in ("debye_level", "mean_z", "var_z", "zero_modes")}
    done = np.zeros(seed_shape, dtype=bool)
    mean_curve = np.full(shape + (omega.size,), np.nan)
    mean_error = np.full(shape + (omega.size,), np.nan)
    per_point = {name: np.full(shape, np.nan) for name in (
        "debye_level_mean", "debye_level_error", "pooled_mean_z", "pooled_mean_z_error",
        "pooled_var_z", "peak_omega", "peak_omega_error", "peak_excess", "peak_excess_error",
        "peak_reduced_dos")}
    found = np.zeros(shape, dtype=bool)
    complete = np.zeros(shape, dtype=bool)
    vectors = np.zeros(shape, dtype=np.int64)
    for index, point in points.items():
        vectors[index] = grid.vectors(point)
        present = [(k, parts[index, s]) for k, s in enumerate(grid.seeds) if (index, s) in parts]
        if not present:
            continue
        rows = [k for k, _ in present]
        spectra = [spectrum for _, spectrum in present]
        dos = ReducedDOS.from_spectra(spectra, omega=omega)
        done[index][rows] = True
        curves[index][rows] = dos.per_seed
        per_seed["debye_level"][index][rows] = dos.debye_levels
        per_seed["zero_modes"][index][rows] = dos.zero_modes
        means, squares = zip(*(_z_moments(s) for s in spectra))
        per_seed["mean_z"][index][rows] = means
        per_seed["var_z"][index][rows] = np.array(squares) - np.array(means) ** 2
        if len(present) < n_seeds:
            continue  # the point is missing: its seeds' values are kept, its own are NaN
        complete[index] = True
        mean_curve[index] = dos.mean
        mean_error[index] = dos.mean_error
        values = per_point  # the point's own numbers, as reduced_dos and boson_peak_of give them
        values["debye_level_mean"][index] = dos.debye_level
        values["debye_level_error"][index] = dos.debye_level_error
        values["pooled_mean_z"][index] = float(np.mean(means))
        values["pooled_mean_z_error"][index] = dos.mean_coordination_error
        values["pooled_var_z"][index] = float(np.mean(squares) - np.mean(means) ** 2)
        peak = boson_peak_of(dos, point.size)
        if peak is not None:
            found[index] = True
            values["peak_omega"][index] = peak.omega
            values["peak_omega_error"][index] = peak.omega_error
            values["peak_excess"][index] = peak.excess
            values["peak_excess_error"][index] = peak.excess_error
            values["peak_reduced_dos"][index] = peak.reduced_dos
    point_dims, seed_dims = PARAMETERS, PARAMETERS + ("seed",)
    variables = {
        "reduced_dos": (seed_dims + ("omega",), curves),
        **{name: (seed_dims, array) for name, array in per_seed.items()},
        "done": (seed_dims, done),
        "reduced_dos_mean": (point_dims + ("omega",), mean_curve),
        "reduced_dos_error": (point_dims + ("omega",), mean_error),
        **{name: (point_dims, array) for name, array in per_point.items()},
        "peak_found": (point_dims, found),
        "complete": (point_dims, complete),
        "vectors": (point_dims, vectors),
    }
    coords = {name: np.array(grid.values[name]) for name in PARAMETERS}
    coords.update(seed=np.array(grid.seeds, dtype=np.int64), omega=omega)
    dataset = xr.Dataset(
        {name: (dims, array, {"description": _DESCRIPTIONS[name]})
         for name, (dims, array) in variables.items()},
        coords=coords,
        attrs=dict(title="Boson peak sweep of 2D spring networks (bpwidgets)",
                   bpwidgets_version=__version__, numerics_version=NUMERICS_VERSION,
                   method="kpm", moments=grid.moments),
    )
    for name, text in _COORDINATE_DESCRIPTIONS.items():
        dataset[name].attrs["description"] = text
    fixed = {name: 0 for name in PARAMETERS if name not in grid.swept}
    return dataset.isel(fixed)


def _z_moments(spectrum) -> tuple:
    """Mean of Z and of Z squared over a network's nodes, from its coordination counts."""
    counts = np.asarray(spectrum.coordination_counts, dtype=float)
    z = np.arange(counts.size)
    return float(z @ counts / spectrum.n_nodes), float(z**2 @ counts / spectrum.n_nodes)


_DESCRIPTIONS = {
    "reduced_dos": "g(omega)/omega of each seed, per node",
    "debye_level": "each seed's Debye level 1/(2 pi sigma_eff)",
    "mean_z": "each seed's mean number of springs per node",
    "var_z": "variance of the number of springs per node over each seed's nodes",
    "zero_modes": "each seed's fraction of zero modes (connected clusters / N)",
    "done": "whether the seed's result came back (False: NaN in every variable of the seed)",
    "reduced_dos_mean": "g(omega)/omega averaged over the seeds",
    "reduced_dos_error": "standard error of the mean g(omega)/omega",
    "debye_level_mean": "the seeds' mean Debye level",
    "debye_level_error": "standard error of the mean Debye level",
    "pooled_mean_z": "mean Z over every node of every seed",
    "pooled_mean_z_error": "standard error of the mean Z over the seeds",
    "pooled_var_z": "variance of Z over every node of every seed",
    "peak_omega": "Boson peak position (NaN: no peak found, or the point is incomplete)",
    "peak_omega_error": "jackknife standard error of the peak position",
    "peak_excess": "Boson peak height above the Debye level, relative",
    "peak_excess_error": "jackknife standard error of the peak's excess",
    "peak_reduced_dos": "g(omega)/omega at the Boson peak",
    "peak_found": "whether a Boson peak was found (a complete point only)",
    "complete": "whether every seed of the point came back (False: the point is missing)",
    "vectors": "random vectors per seed of the kernel polynomial method",
}
_COORDINATE_DESCRIPTIONS = {
    "delta": "displacement of every node from its lattice site, in lattice constants",
    "size": "linear size L of the periodic L x L lattice",
    "connection": "springs between lattice neighbours, or every pair closer than a + delta",
    "spring": "spring law: stiffness 1/r (inverse) or 1 (constant)",
    "seed": "seed of the random network",
    "omega": "frequency",
}


# --------------------------------------------------------------------------- files


def save(dataset, path) -> Path:
    """Write a sweep's dataset to netCDF (``.nc``) or zarr (``.zarr``).

    netCDF goes through h5netcdf or netCDF4 when one is installed, else
    scipy's netCDF3 writer, which needs nothing more. zarr needs the ``zarr``
    package.

    Parameters
    ----------
    dataset : xarray.Dataset
    path : str or Path
        A file name ending in ``.nc`` (or ``.nc4``, ``.cdf``), or ``.zarr``.

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        For another suffix.

    Examples
    --------
    >>> import tempfile
    >>> data = sweep(delta=[0.1, 0.3], size=20, seeds=2, client=False, store=False,
    ...              progress=False)
    >>> path = save(data, Path(tempfile.mkdtemp()) / "sweep.nc")
    >>> load(path).identical(data)
    True
    """
    path = Path(path)
    if path.suffix == ".zarr":
        dataset.to_zarr(path, mode="w")
    elif path.suffix in _NETCDF_SUFFIXES:
        dataset.to_netcdf(path, engine=_netcdf_engine())
    else:
        raise ValueError(f"a sweep is saved as netCDF ({', '.join(_NETCDF_SUFFIXES)}) or zarr "
                         f"(.zarr); got {path.name!r}")
    return path


def load(path):
    """A sweep's dataset saved by :func:`save`, read whole into memory (the file is closed).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    xarray.Dataset
    """
    import xarray as xr

    path = Path(path)
    if path.suffix == ".zarr":
        return xr.open_zarr(path).load()
    with xr.open_dataset(path, engine=_netcdf_engine()) as dataset:
        return dataset.load()


def failures(dataset) -> list:
    """The failed tasks of a sweep: dicts of the parameters, the seed and the error.

    Examples
    --------
    >>> failures(sweep(delta=0.2, size=20, seeds=1, client=False, store=False, progress=False))
    []
    """
    return json.loads(dataset.attrs.get("failures", "[]"))


_NETCDF_SUFFIXES = (".nc", ".nc4", ".cdf")


def _netcdf_engine() -> str:
    import importlib.util

    for module, engine in (("h5netcdf", "h5netcdf"), ("netCDF4", "netcdf4")):
        if importlib.util.find_spec(module) is not None:
            return engine
    return "scipy"


# --------------------------------------------------------------------------- command line


def _parameter_values(text: str, kind) -> list:
    """One command-line value: a number, or ``start:stop:step`` (stop included)."""
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
        description="Sweep the Boson peak of spring networks over a grid of parameters, on "
                    "Dask, and save the dataset to netCDF (.nc) or zarr (.zarr). A value "
                    "start:stop:step is a range with the stop included.",
    )
    parser.add_argument("--delta", nargs="+", default=["0.3"], metavar="VALUE",
                        help="displacements delta, values or start:stop:step (default 0.3)")
    parser.add_argument("--size", nargs="+", default=["60"], metavar="L",
                        help="grid sizes L, values or start:stop:step (default 60)")
    parser.add_argument("--connection", nargs="+", default=["cutoff"], choices=CONNECTIONS,
                        help="connection rules (default cutoff)")
    parser.add_argument("--spring", nargs="+", default=["inverse"], choices=SPRINGS,
                        help="spring laws (default inverse)")
    parser.add_argument("--seeds", type=int, default=10, metavar="N",
                        help="random networks per point (default 10)")
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
        deltas = [v for text in options.delta for v in _parameter_values(text, float)]
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
        delta=_one_or_list(deltas), size=_one_or_list(sizes),
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
    """A single value stays a value (a scalar coordinate); several are swept."""
    return values[0] if len(values) == 1 else values


if __name__ == "__main__":
    # Run as bpwidgets.sweep, not __main__: the tasks are pickled by reference to it.
    from bpwidgets.sweep import main as _main

    sys.exit(_main())
