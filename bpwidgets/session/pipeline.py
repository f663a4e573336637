"""The staged compute pipeline: parameters -> networks -> spectra -> Boson peak.

The dashboard's state is a :class:`Request`: the model parameters plus the omega
window brushed on the DOS panel. :func:`compute_stages` turns a request into
:class:`Snapshot` objects of plain results (networks, reduced DOS, Boson peak,
histogram, mode weights) without touching a widget: first a quick preview, then
the full average. :class:`~bpwidgets.session.worker.LatestWorker` runs it off
the page's thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..core import parallel
from ..core.analysis import DOS_MOMENTS, boson_peak_of, coordination_histogram
from ..core.network import build_network, build_networks
from ..core.dos import reduced_dos_of, stored_spectra
from ..core.result import ReducedDOS, standard_error
from ..core.kpm import default_vectors
from ..core.modes import MODE_WEIGHTS_EXACT_MAX, local_spectrum, node_modes
from .schema import Parameters

__all__ = [
    "FULL_VIEW_MAX_SIZE",
    "WINDOW_SIZE",
    "Request",
    "Snapshot",
    "compute",
    "compute_stages",
    "drawn_nodes",
    "preview_seeds",
]

#: Largest grid shown whole; larger grids show their bottom-left corner (the paper's
#: Fig. 1 inset). Every node is an SVG element: 40 x 40 keeps a redraw near 0.1 s.
FULL_VIEW_MAX_SIZE = 40
#: Side of the corner window shown for larger grids, in lattice constants.
WINDOW_SIZE = 30


def drawn_nodes(size: int, *, full_max_size=FULL_VIEW_MAX_SIZE, window=WINDOW_SIZE):
    """Indices of the nodes on show: all of them, or those of the bottom-left corner.

    The mode weights are computed for these nodes, and the network panel draws them.

    Examples
    --------
    >>> len(drawn_nodes(20)), len(drawn_nodes(100))
    (400, 900)
    """
    if size <= full_max_size:
        return np.arange(size * size)
    ix, iy = np.divmod(np.arange(size * size), size)
    return np.flatnonzero((ix < window) & (iy < window))


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
    networks : tuple of bpwidgets.Network
        Every seed's network, or only the first when the result came from the
        store; the first is the one drawn (:attr:`network`).
    nodes : ndarray of int
        The drawn nodes (:func:`drawn_nodes`).
    dos : bpwidgets.ReducedDOS or None
        Reduced DOS of the seeds averaged so far and their mean.
    peak : bpwidgets.BosonPeak or None
    coordination : ndarray of int
        Coordination numbers present (histogram bins).
    fractions : ndarray
        Fraction of nodes with each coordination number, pooled over the seeds.
    mean_coordination : float
    mean_coordination_error : float
        Its standard error over the seeds (NaN with one seed).
    weights : ndarray or None
        The drawn nodes' share of the modes in the brushed window.
    complete : bool
        False for the quick preview whose DOS averages the first few seeds only
        (:func:`preview_seeds`).
    local : bpwidgets.NodeModes or bpwidgets.LocalSpectrum or None
        The drawn nodes' exact modes (small networks) or local moments, kept so
        that every further brush on the same network costs one small product.
    """

    request: Request
    networks: tuple
    nodes: np.ndarray
    dos: object
    peak: object
    coordination: np.ndarray
    fractions: np.ndarray
    mean_coordination: float
    mean_coordination_error: float
    weights: np.ndarray | None = field(default=None)
    complete: bool = True
    local: object = field(default=None)

    @property
    def network(self):
        """The first seed's network, the one drawn."""
        return self.networks[0]


def compute(request: Request, previous: Snapshot | None = None) -> Snapshot:
    """Compute everything a request shows (the last of :func:`compute_stages`)."""
    for snapshot in compute_stages(request, previous):
        pass
    return snapshot


def compute_stages(request: Request, previous: Snapshot | None = None):
    """Compute a request in stages: a quick preview, then the full result.

    With more seeds than cores the first snapshot has the final networks and
    histogram but the DOS of the first few seeds only (``complete=False``,
    :func:`preview_seeds`), so the panels follow a slider within a fraction of
    the full cost; the second has the DOS averaged over all seeds. With an
    omega window brushed, both carry the drawn network's mode weights. The
    worker drops the second stage when a newer request is waiting.

    Parameters
    ----------
    request : Request
    previous : Snapshot, optional
        The latest result, read when the job runs. With the same parameters its
        networks, DOS and local spectra are reused: a complete one costs only
        the new window's mode weights, a preview only the rest of the average.
        Otherwise a request whose every seed is in the result store
        (:mod:`bpwidgets.core.store`) gives one complete snapshot at once.

    Yields
    ------
    Snapshot

    Raises
    ------
    ValueError
        From the core, when it refuses the parameters.
    """
    p = request.parameters
    # The preview's seeds get the random vectors each seed gets in the full
    # average, not the many they would get by default: it must be cheap.
    vectors = default_vectors(p.size * p.size * p.n_seeds, networks=p.n_seeds)
    if previous is not None and previous.request.parameters == p:
        snapshot = replace(previous, request=request, weights=None)
    elif (spectra := stored_spectra(p.size, p.delta, seeds=p.seeds, moments=DOS_MOMENTS,
                                    vectors=vectors, **p.model())) is not None:
        snapshot = _from_store(request, spectra)
    else:
        networks = tuple(build_networks(p.size, p.delta, seeds=p.seeds, **p.model()))
        coordination, fractions, mean = coordination_histogram(
            [n.coordination for n in networks]
        )
        snapshot = Snapshot(
            request=request, networks=networks, nodes=drawn_nodes(p.size), dos=None,
            peak=None, coordination=coordination, fractions=fractions,
            mean_coordination=mean, complete=False,
            mean_coordination_error=float(standard_error(
                [n.coordination.mean() for n in networks])),
        )
    if request.window is not None:
        # The drawn network's mode weights do not depend on the average: the preview
        # shows them too, rather than colouring by Z until the average is done.
        snapshot = _with_weights(snapshot, request.window)
    if snapshot.complete:
        yield snapshot
        return
    networks = snapshot.networks
    dos = snapshot.dos
    if dos is None:
        dos = reduced_dos_of(networks[: preview_seeds(len(networks))],
                             moments=DOS_MOMENTS, vectors=vectors)
    if len(dos.seeds) < len(networks):
        # A reused preview is shown again at once, with the new window's weights.
        yield _with_dos(snapshot, dos, complete=False)
        dos = _average(networks, dos, vectors)
    yield _with_dos(snapshot, dos, complete=True)


def _from_store(request, spectra):
    """The complete snapshot of a request whose every seed is in the result store.

    Only the drawn network is built; the DOS, the histogram and the mean Z come
    from the stored parts, and equal what computing them gives.
    """
    p = request.parameters
    network = build_network(p.size, p.delta, seed=p.seeds[0], **p.model())
    width = max(s.coordination_counts.size for s in spectra)
    counts = sum(np.pad(s.coordination_counts, (0, width - s.coordination_counts.size))
                 for s in spectra)
    coordination = np.flatnonzero(counts)
    snapshot = Snapshot(
        request=request, networks=(network,), nodes=drawn_nodes(p.size), dos=None, peak=None,
        coordination=coordination, fractions=counts[coordination] / counts.sum(),
        mean_coordination=float(np.arange(width) @ counts / counts.sum()), complete=True,
        mean_coordination_error=float(standard_error([s.mean_coordination for s in spectra])),
    )
    return _with_dos(snapshot, ReducedDOS.from_spectra(spectra), complete=True)


def _with_weights(snapshot, window):
    """The snapshot with the drawn nodes' share of the modes in ``window``.

    Small networks get exact eigenvectors, larger ones the local moments of the
    drawn nodes. Either is computed on the first brush and kept on the snapshot,
    so that every further brush on the same networks costs one small sum.
    """
    network, nodes = snapshot.network, snapshot.nodes
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
    return min(n_seeds, parallel.cores())


def _average(networks, first, vectors):
    """The reduced DOS of all ``networks``, given ``first``, that of the first few alone.

    The preview's seeds are not computed again. Every seed's part has its moments
    rescaled by its own bound; they are joined by converting them exactly to the
    widest (:meth:`ReducedDOS.from_spectra`), as a result read from the store is.
    """
    rest = reduced_dos_of(networks[len(first.seeds):], moments=DOS_MOMENTS, vectors=vectors)
    return ReducedDOS.from_spectra(first.spectra + rest.spectra)


def _with_dos(snapshot, dos, *, complete):
    """The snapshot with a reduced DOS and its Boson peak."""
    peak = boson_peak_of(dos, snapshot.network.size)
    return replace(snapshot, dos=dos, peak=peak, complete=complete)
