"""Sweeps of the Boson peak over a grid of parameters, on Dask's distributed scheduler.

:func:`sweep` takes a value or a list for each parameter of the model (δ, L,
the connection rule, the spring law) and a set of seeds, computes every
network of the grid as a task of its own, one task per (parameter point,
seed), and returns an :class:`xarray.Dataset` over the swept parameters and
the seeds: each seed's reduced DOS, Debye level, mean and variance of Z and
zero modes, and each point's Boson peak with its error bars. The glass goes
the same way: ``connection="jammed"`` sweeps the contact networks of jammed
packings of N = L² soft disks over their ``pressure`` (in δ's place), one
task per (point, packing), the packings kept in the store with the parts.

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
--connection cutoff --spring inverse constant --seeds 10 --out sweep.nc``, or
for the glass ``--connection jammed --pressure 1e-4,1e-3,1e-2 --size 20``
(``--help`` lists the options).

The modules: :mod:`.grid` (the points, seeds and frequencies, checked),
:mod:`.cluster` (where the tasks run: ``BPWIDGETS_SCHEDULER``, the local
cluster), :mod:`.run` (:func:`sweep`: the store read, the tasks),
:mod:`.report` (progress, counts, failures), :mod:`.dataset` (the dataset,
netCDF and zarr) and :mod:`.cli` (the command line).

Examples
--------
>>> data = sweep(delta=[0.0, 0.3], size=40, seeds=3, client=False, store=False,
...              progress=False)
>>> dict(data.sizes)
{'delta': 2, 'seed': 3, 'omega': 401}
>>> data.peak_found.values.tolist(), int(data.attrs["computed"])
([False, True], 6)
"""

from .cli import main
from .cluster import (
    CLUSTER_KINDS,
    DEFAULT_CLUSTER_WORKERS,
    SCHEDULER_ENVIRONMENT,
    close_local_cluster,
    local_client,
    make_local_cluster,
)
from .dataset import failures, load, save
from .grid import (
    DEFAULT_DELTA,
    DEFAULT_OMEGA,
    DEFAULT_PRESSURE,
    GLASS_PARAMETERS,
    JAMMED,
    PARAMETERS,
    Point,
    sweep_points,
    value_range,
)
from .run import DEFAULT_RETRIES, sweep

__all__ = [
    "CLUSTER_KINDS",
    "DEFAULT_CLUSTER_WORKERS",
    "DEFAULT_DELTA",
    "DEFAULT_OMEGA",
    "DEFAULT_PRESSURE",
    "DEFAULT_RETRIES",
    "GLASS_PARAMETERS",
    "JAMMED",
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
