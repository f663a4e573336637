"""Running a sweep: the store read first, a task per missing network, the parts gathered.

:func:`sweep` checks the grid (:mod:`.grid`) and the client
(:mod:`.cluster`), reads the result store for every (point, seed), runs a
task (:func:`_network_task`) for each part not found, serially or on Dask,
and joins the parts into the dataset (:mod:`.dataset`). A part is a lattice
network's (:func:`bpwidgets.network_spectrum`) or, for the glass, a jammed
packing's contact network's (:mod:`bpwidgets.core.packings`). Dask is imported
inside the functions.
"""

from __future__ import annotations

import numbers
import sys
import time
import uuid
from dataclasses import dataclass

from ..core.analysis import DOS_MOMENTS
from ..core.dos import keep_network_spectrum, network_spectrum
from ..core.packings import (contact_dos_of, contact_networks, keep_contact_spectrum,
                              stored_contact_spectra)
from ..core.store import NUMERICS_VERSION, open_store
from .cluster import _check_client, _connected
from .dataset import _dataset
from .grid import DEFAULT_OMEGA, Point, _checked_grid, _checked_omega
from .report import _Progress, _Report

__all__ = ["DEFAULT_RETRIES", "sweep"]

#: A task that raises is run once more before it counts as failed (a full scratch
#: disk, a network file system's hiccup); one that fails twice is a bad point.
DEFAULT_RETRIES = 1


@dataclass(frozen=True)
class _TaskResult:
    """What a task sends back: the network's part, and whether it had to be computed."""

    spectrum: object
    computed: bool
    seconds: float


def _network_task(point: Point, seed: int, moments: int, vectors: int, store) -> _TaskResult:
    """One network's part of a point: looked up in the store, else computed and stored.

    A pure function of its arguments, run on a worker. ``store`` is a
    directory as the worker sees it (a plain string), a ``ResultStore``, or
    False: then the part is only computed, and the client stores what comes
    back. The store is read once for the part: a part not found is computed
    without a second look, then kept. The glass's packing is read from the
    store, or made and kept there, on the way.
    """
    started = time.perf_counter()
    opened = open_store(store)
    where = False if opened is None else opened  # None would mean the default store
    spectrum = _stored_part(point, seed, moments, vectors, where)
    computed = spectrum is None
    if computed:
        spectrum = _computed_part(point, seed, moments, vectors, where)
        _keep_part(spectrum, point, moments, vectors, where)
    return _TaskResult(spectrum, computed, time.perf_counter() - started)


def _stored_part(point: Point, seed: int, moments: int, vectors: int, store):
    """The stored part of (point, seed), or None; the store is read once, nothing is made."""
    if point.jammed:
        found = stored_contact_spectra(point.disks, pressure=point.pressure, spring=point.spring,
                                       seeds=[seed], moments=moments, vectors=vectors,
                                       store=store)
        return None if found is None else found[0]
    return network_spectrum(point.size, point.delta, seed=seed, moments=moments,
                            vectors=vectors, store=store, compute=False, **point.model())


def _computed_part(point: Point, seed: int, moments: int, vectors: int, store):
    """The part of (point, seed), computed without looking it up; the packing via ``store``."""
    if point.jammed:
        networks = contact_networks(point.disks, pressure=point.pressure, spring=point.spring,
                                    seeds=[seed], store=store)
        (spectrum,) = contact_dos_of(networks, moments=moments, vectors=vectors,
                                     store=False).spectra
        return spectrum
    return network_spectrum(point.size, point.delta, seed=seed, moments=moments,
                            vectors=vectors, store=False, **point.model())


def _keep_part(spectrum, point: Point, moments: int, vectors: int, store) -> bool:
    """Keep a part computed for (point, seed) where :func:`_stored_part` finds it."""
    if point.jammed:
        return keep_contact_spectrum(spectrum, point.disks, pressure=point.pressure,
                                     spring=point.spring, moments=moments, vectors=vectors,
                                     store=store)
    return keep_network_spectrum(spectrum, point.size, point.delta, moments=moments,
                                 vectors=vectors, store=store, **point.model())


def _store_directory(store, shared_store):
    """The store's directory as a plain string for the workers, or False for none."""
    if store is None or not shared_store:
        return False
    return str(store.directory)


def sweep(delta=None, size=60, connection="cutoff", spring="inverse", seeds=10, *,
          pressure=None, client=None, workers=None, store=None, shared_store=True,
          moments=DOS_MOMENTS, omega=None, progress=None, retries=DEFAULT_RETRIES):
    """The Boson peak and the reduced DOS over a grid of parameters and seeds, on Dask.

    A sweep is of the lattice model or of the glass: jammed packings of soft
    disks (``connection="jammed"``), whose contact networks stand in for the
    model's networks, swept over their ``pressure`` instead of δ.

    Parameters
    ----------
    delta, size, connection, spring : value or list of values
        The model's parameters (:func:`bpwidgets.build_network`); δ is 0.3
        when not given. A list is swept and becomes a dimension of the dataset;
        a single value is a scalar coordinate. ``connection="jammed"`` sweeps
        the glass: ``size`` L then means N = L² disks per packing (from
        ``MIN_DISKS`` to ``MAX_DISKS`` of :mod:`bpwidgets.core.jamming`), and
        ``spring`` is the contacts' law, as for the model.
    seeds : int or sequence of int, optional
        A count n (seeds 0 .. n-1) or the seeds, as for
        :func:`bpwidgets.reduced_dos`; the same at every point. A glass's seed
        is its packing's (:func:`bpwidgets.jammed_packing`).
    pressure : value or list of values, optional
        The glass's pressures, in epsilon / d^2, from ``MIN_PRESSURE`` to
        ``MAX_PRESSURE`` (1e-5 to 0.05); 1e-3 when not given. Only with
        ``connection="jammed"``, where δ may not be given.
    client : distributed.Client, cluster, str, None or False, optional
        Where the tasks run: a client; a cluster object (dask-jobqueue's,
        dask-kubernetes's, a LocalCluster); a scheduler's address; a kind of
        cluster of :data:`~bpwidgets.sweep.CLUSTER_KINDS` (``"slurm"``, ``"pbs"``,
        ``"kubernetes"``, ...), started for the sweep from the Dask
        configuration and stopped after it. None: the address in
        ``BPWIDGETS_SCHEDULER`` if set, else this process's local cluster
        (:func:`~bpwidgets.sweep.local_client`), unless ``BPWIDGETS_SCHEDULER=off`` forbids
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
        :data:`~bpwidgets.sweep.DEFAULT_OMEGA` (0 to 4 in steps of 0.01).
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
        Dimensions: the swept parameters in the order delta (the glass:
        pressure), size, connection, spring, then ``seed``, and ``omega`` for
        the curves.

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

        A glass's dataset has these too (``mean_z`` counts every disk, as
        :func:`bpwidgets.reduced_dos_of` does) and, as the dashboard shows
        them, ``rattlers`` (each seed's fraction of rattlers: disks without
        springs), ``held_mean_z`` (each seed's mean Z of the other disks),
        ``pooled_held_mean_z`` and ``pooled_held_mean_z_error`` (over every
        such disk of every seed, and the error over the seeds).

        A seed that failed is NaN in every variable of its own; a point with a
        failed seed is NaN in every variable of the point (``complete`` False),
        its other seeds' values are kept (their curves then from the seeds that
        came back). Where no peak is found, ``peak_*`` are NaN with
        ``complete`` True. The attributes count the ``tasks``, how many were
        ``computed``, read ``from_store``, ``failed`` and ``remaining``, and
        list the ``failures`` (a JSON list; :func:`~bpwidgets.sweep.failures` reads it);
        ``task_seconds`` adds up the computing tasks' own times, ``seconds``
        is the sweep's.

    Raises
    ------
    ValueError
        For a bad grid (an empty list, a value given twice, a point
        :func:`bpwidgets.build_network` or :func:`bpwidgets.reduced_dos` refuses,
        with their message; the model and the glass together, δ given to the
        glass or a pressure to the model, a pressure or a number of disks
        :func:`bpwidgets.jammed_packing` refuses), before anything is sent to a
        cluster.
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
    seeds=seeds, moments=moments, omega=omega)`` exactly; a glass's equal
    ``reduced_dos_of([jammed_packing(size**2, pressure=pressure,
    seed=s).network(spring) for s in seeds], moments=moments, omega=omega)``,
    and a glass's task keeps its packing in the store too
    (:mod:`bpwidgets.core.packings`, where the dashboard finds both). Workers of a cluster
    started elsewhere should do their numpy work in one thread each:
    ``BPWIDGETS_THREADS=1`` in their environment (README, "Sweeps").

    Examples
    --------
    >>> data = sweep(delta=0.3, size=20, connection=["nearest", "cutoff"], seeds=2,
    ...              client=False, store=False, progress=False)
    >>> data.peak_omega.dims, data.reduced_dos.dims
    (('connection',), ('connection', 'seed', 'omega'))
    >>> glass = sweep(connection="jammed", pressure=[1e-3, 1e-2], size=10, seeds=2,
    ...               client=False, store=False, progress=False)
    >>> glass.peak_omega.dims, glass.pressure.values.tolist()
    (('pressure',), [0.001, 0.01])
    """
    grid_omega = DEFAULT_OMEGA if omega is None else _checked_omega(omega)
    grid = _checked_grid(delta, size, connection, spring, seeds, moments, grid_omega.size,
                         pressure=pressure)
    _check_client(client)
    retries = _checked_count("retries", retries, minimum=0)
    store = open_store(store)
    started = time.perf_counter()
    points = dict(grid.points())
    tasks = [(index, seed) for index in points for seed in grid.seeds]
    parts, report = {}, _Report(total=len(tasks))
    for index, seed in tasks:
        point = points[index]
        found = None if store is None else _stored_part(point, seed, grid.moments,
                                                        grid.vectors(point), store)
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


def _checked_count(name, value, *, minimum) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer of at least {minimum}; got {value!r}")
    return int(value)


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
                    _keep_part(result.spectrum, point, grid.moments, grid.vectors(point), store)
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
