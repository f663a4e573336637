"""Where a sweep's tasks run: a client, a cluster, a scheduler's address, or none.

``BPWIDGETS_SCHEDULER`` names a scheduler every sweep of the process
connects to when it is given no client, or forbids a cluster of the
process's own (``off``); otherwise the process starts one
:class:`distributed.LocalCluster`, on first use, shared by its later sweeps
and closed at exit (:func:`local_client`). Dask is imported inside the
functions, so importing this module starts nothing.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading

from ..core import parallel

__all__ = ["CLUSTER_KINDS", "DEFAULT_CLUSTER_WORKERS", "SCHEDULER_ENVIRONMENT",
           "close_local_cluster", "local_client", "make_local_cluster"]

#: Environment variable naming the scheduler every sweep of this process connects to
#: when no ``client`` is given (``tcp://host:8786``): a server's pages share one cluster.
#: ``off`` forbids a cluster of the process's own: a sweep then needs a ``client``.
SCHEDULER_ENVIRONMENT = "BPWIDGETS_SCHEDULER"
#: Values of ``BPWIDGETS_SCHEDULER`` that forbid starting a local cluster.
_NO_LOCAL_CLUSTER = ("off", "none", "false", "0")

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

#: This process's own local cluster, its client and its number of workers
#: (:func:`local_client`), under the lock.
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

    Raises
    ------
    ValueError
        For fewer than one worker.

    Examples
    --------
    >>> from distributed import Client
    >>> cluster = make_local_cluster(1)
    >>> with Client(cluster, set_as_default=False) as client:
    ...     print(client.submit(parallel.cores).result())  # threads of a worker's numpy work
    1
    >>> cluster.close()
    >>> make_local_cluster(0)
    Traceback (most recent call last):
    ...
    ValueError: workers must be a positive number; got 0
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
    """Refuse a ``client`` that is none of those ``sweep`` takes, before any work."""
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
