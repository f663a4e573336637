"""What the dashboard computes, and the worker thread that computes it.

The dashboard's state is a :class:`Request`: the model parameters plus the omega
window brushed on the DOS panel. :func:`compute` turns a request into a
:class:`Snapshot` of plain results (networks, reduced DOS, histogram, mode
weights) without touching a widget. :class:`LatestWorker` runs that on one
background thread with a single "latest request wins" slot, so a burst of slider
moves costs one computation, not a backlog.
"""

from __future__ import annotations

import inspect
import threading
from dataclasses import dataclass, field, replace

import numpy as np

from .. import _threads, build_networks, local_spectrum, reduced_dos_of
from ..spectrum import MODE_WEIGHTS_EXACT_MAX, ReducedDOS, default_vectors, node_modes
from .plotdata import (
    FINITE_SIZE_MODES,
    boson_peak,
    coordination_histogram,
    lowest_frequency,
    network_view,
)

__all__ = [
    "BUSY_DELAY",
    "DOS_MOMENTS",
    "LatestWorker",
    "Parameters",
    "Request",
    "Snapshot",
    "compute",
    "compute_stages",
    "preview_seeds",
]

#: Work that takes longer than this (seconds) shows the busy indicator.
BUSY_DELAY = 0.3
#: Chebyshev moments of the reduced DOS. Resolution ~ pi omega_max / (2 K) ~ 0.07 at
#: K = 64: it smooths the finite-size comb of a 60 x 60 cell (spacing ~ 2 pi / L ~ 0.1)
#: yet resolves the Boson peak near omega = 0.5, and costs half the default's recursion.
DOS_MOMENTS = 64


@dataclass(frozen=True)
class Parameters:
    """The model parameters the controls set.

    Attributes
    ----------
    size : int
        Linear grid size L.
    delta : float
        Displacement of every node from its lattice site.
    connection : {"nearest", "cutoff"}
    spring : {"inverse", "constant"}
    n_seeds : int
        Number of random networks averaged.
    first_seed : int
        Seed of the first network; the others follow consecutively.
    """

    size: int = 60
    delta: float = 0.3
    connection: str = "cutoff"
    spring: str = "inverse"
    n_seeds: int = 10
    first_seed: int = 0

    @property
    def seeds(self) -> tuple:
        """Seeds of the averaged networks."""
        return tuple(range(self.first_seed, self.first_seed + self.n_seeds))

    def model(self) -> dict:
        """Keyword arguments shared by ``build_network`` and ``reduced_dos``."""
        return dict(connection=self.connection, spring=self.spring)


@dataclass(frozen=True)
class Request:
    """Everything the panels show: parameters and the brushed omega window (or None)."""

    parameters: Parameters
    window: tuple | None = None


@dataclass(frozen=True)
class Snapshot:
    """Results for one request, ready to be drawn.

    Attributes
    ----------
    request : Request
    network : bpwidgets.Network
        The first seed's network, the one drawn.
    view : plotdata.NetworkView
    dos : bpwidgets.spectrum.ReducedDOS
        Reduced DOS of every seed and their mean.
    peak : plotdata.BosonPeak or None
    coordination : ndarray of int
        Coordination numbers present (histogram bins).
    fractions : ndarray
        Fraction of nodes with each coordination number, pooled over the seeds.
    mean_coordination : float
    weights : ndarray or None
        The drawn nodes' (``view.nodes``) share of the modes in the brushed window.
    complete : bool
        False for the quick preview whose DOS averages the first few seeds only
        (:func:`preview_seeds`).
    local : bpwidgets.spectrum.NodeModes or bpwidgets.LocalSpectrum or None
        The drawn nodes' exact modes (small networks) or local moments, kept so
        that every further brush on the same network costs one small product.
    """

    request: Request
    network: object
    view: object
    dos: object
    peak: object
    coordination: np.ndarray
    fractions: np.ndarray
    mean_coordination: float
    weights: np.ndarray | None = field(default=None)
    complete: bool = True
    local: object = field(default=None)


def compute(request: Request, previous: Snapshot | None = None) -> Snapshot:
    """Compute everything a request shows (the last of :func:`compute_stages`)."""
    for snapshot in compute_stages(request, previous):
        pass
    return snapshot


def compute_stages(request: Request, previous: Snapshot | None = None):
    """Compute a request in stages: a quick preview, then the full result.

    With more seeds than cores the first snapshot has the final network,
    histogram and view but the DOS of the first few seeds only
    (``complete=False``, :func:`preview_seeds`), so the panels follow a slider
    within a fraction of the full cost; the second has the DOS averaged over
    all seeds. With an omega window brushed, both carry the drawn network's
    mode weights. The worker drops the second stage when a newer request is
    waiting.

    Parameters
    ----------
    request : Request
    previous : Snapshot, optional
        The last result. When only the brushed window changed, its networks and
        DOS are reused and only the mode weights are computed.

    Yields
    ------
    Snapshot

    Raises
    ------
    ValueError
        From the core, when it refuses the parameters.
    """
    p = request.parameters
    if previous is not None and previous.complete and previous.request.parameters == p:
        snapshot = replace(previous, request=request, weights=None)
        if request.window is not None:
            snapshot = _with_weights(snapshot, request.window)
        yield snapshot
    else:
        networks = build_networks(p.size, p.delta, seeds=p.seeds, **p.model())
        coordination, fractions, mean = coordination_histogram(
            [n.coordination for n in networks]
        )
        snapshot = Snapshot(
            request=request,
            network=networks[0],
            view=network_view(networks[0]),
            dos=None,
            peak=None,
            coordination=coordination,
            fractions=fractions,
            mean_coordination=mean,
        )
        if request.window is not None:
            # The drawn network's mode weights do not depend on the average: the preview
            # shows them too, rather than colouring by Z until the average is done.
            snapshot = _with_weights(snapshot, request.window)
        # The preview's seeds get the random vectors each seed gets in the full
        # average, not the many they would get by default: it must be cheap.
        vectors = default_vectors(networks[0].n_nodes * len(networks))
        first = networks[: preview_seeds(len(networks))]
        dos = reduced_dos_of(first, moments=DOS_MOMENTS, vectors=vectors)
        if len(first) < len(networks):
            yield _with_dos(snapshot, dos, complete=False)
            dos = _average(networks, dos, vectors)
        yield _with_dos(snapshot, dos, complete=True)


def _with_weights(snapshot, window):
    """The snapshot with the drawn nodes' share of the modes in ``window``.

    Small networks get exact eigenvectors, larger ones the local moments of the
    drawn nodes. Either is computed on the first brush and kept on the snapshot,
    so that every further brush on the same networks costs one small sum.
    """
    network, nodes = snapshot.network, snapshot.view.nodes
    local = snapshot.local
    if local is None:
        if network.n_nodes <= MODE_WEIGHTS_EXACT_MAX:
            local = node_modes(network, nodes=nodes)
        else:
            local = local_spectrum(network, nodes=nodes)
    return replace(snapshot, weights=local.mode_weights(*window), local=local)


def preview_seeds(n_seeds) -> int:
    """How many seeds the quick preview averages: one per core, at most ``n_seeds``.

    Each runs in its own thread, so the preview costs about what one seed
    costs, and with the default 10 seeds on 2 cores the other 8 split evenly
    over the cores.
    """
    return min(n_seeds, _threads.cores())


def _average(networks, first, vectors):
    """The reduced DOS of all ``networks``, given ``first``, that of the first few alone.

    The preview's seeds are not computed again. The others are computed together with
    their own bound; whichever part has the narrower bound has its moments
    converted exactly to the wider one (:meth:`ReducedDOS.rescaled`), which lies
    above every spectrum, and the parts are joined.
    """
    rest = reduced_dos_of(networks[len(first.seeds):], moments=DOS_MOMENTS, vectors=vectors)
    wider = first if first.scale >= rest.scale else rest
    return ReducedDOS.join([
        part if part is wider else part.rescaled(wider.scale, omega=wider.omega)
        for part in (first, rest)
    ])


def _with_dos(snapshot, dos, *, complete):
    """The snapshot with a reduced DOS and its Boson peak."""
    peak = boson_peak(
        dos.omega, dos.mean, dos.debye_level,
        omega_min=FINITE_SIZE_MODES * lowest_frequency(snapshot.network.size),
    )
    return replace(snapshot, dos=dos, peak=peak, complete=complete)


class LatestWorker:
    """One background thread with a single "latest request wins" slot.

    ``submit`` replaces any job still waiting, so a burst of requests costs one
    computation after the one under way. A finished result is delivered even if a
    newer job is waiting (it is newer than what the page shows, which keeps a long
    slider drag visibly moving), but the later stages of a staged job are dropped.

    Parameters
    ----------
    on_busy : callable
        Called (on a timer thread) when a job runs longer than ``busy_delay``.
    busy_delay : float
        Seconds before ``on_busy``.
    background : bool
        False runs every job synchronously inside ``submit`` (for tests and scripts).
    """

    def __init__(self, *, on_busy=None, busy_delay=BUSY_DELAY, background=True):
        self._on_busy = on_busy
        self._busy_delay = busy_delay
        self._background = background
        self._condition = threading.Condition()
        self._pending = None
        self._running = False
        self._closed = False
        self._thread = None
        if background:
            self._thread = threading.Thread(target=self._loop, name="bpwidgets-worker", daemon=True)
            self._thread.start()

    def submit(self, job, deliver):
        """Run ``deliver(outcome)`` with ``outcome = job()`` or the exception it raised.

        A job may return a generator: each item it yields is delivered, and the
        rest is dropped as soon as a newer job waits (its stages are stale).
        The callback runs on the worker thread and must not raise.
        """
        if not self._background:
            self.run_now(job, deliver)
            return
        with self._condition:
            self._pending = (job, deliver)
            self._condition.notify_all()

    def run_now(self, job, deliver):
        """Run a job synchronously on the calling thread, with the same error handling."""
        self._run(job, deliver)

    def wait(self, timeout=None) -> bool:
        """Block until no job is waiting or running; False on timeout."""
        with self._condition:
            return self._condition.wait_for(
                lambda: self._pending is None and not self._running, timeout
            )

    def close(self):
        """Stop the thread after the job under way; waiting jobs are dropped."""
        with self._condition:
            self._closed = True
            self._pending = None
            self._condition.notify_all()

    def _loop(self):
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._pending is not None or self._closed)
                if self._closed:
                    return
                job, deliver = self._pending
                self._pending = None
                self._running = True
            try:
                self._run(job, deliver)
            finally:
                with self._condition:
                    self._running = False
                    self._condition.notify_all()

    def _run(self, job, deliver):
        timer = None
        if self._on_busy is not None and self._background:
            timer = threading.Timer(self._busy_delay, self._on_busy)
            timer.daemon = True
            timer.start()
        try:
            outcome = job()
            if inspect.isgenerator(outcome):
                stages = outcome
                for outcome in stages:
                    self._stop_timer(timer)
                    deliver(outcome)
                    if self._superseded():
                        stages.close()
                        break
                return
        except Exception as error:  # shown on the page by ``deliver``, never re-raised
            outcome = error
        finally:
            self._stop_timer(timer)
        deliver(outcome)

    @staticmethod
    def _stop_timer(timer):
        if timer is not None:
            # Join so a busy message being written cannot land after the result.
            timer.cancel()
            timer.join()

    def _superseded(self) -> bool:
        with self._condition:
            return self._pending is not None
