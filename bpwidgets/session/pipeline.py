"""The staged compute pipeline: parameters -> networks -> spectra -> Boson peak.

The dashboard's state is a :class:`Request`: the model parameters plus the omega
window brushed on the DOS panel. :func:`compute_stages` turns a request into
:class:`Snapshot` objects of plain results (networks, reduced DOS, Boson peak,
histogram, mode weights) without touching a widget: first a quick preview, then
the full average. :class:`~bpwidgets.session.worker.LatestWorker` runs it off
the page's thread.

Jammed disks (``connection="jammed"``) take the same path with packings in
place of lattice networks (:mod:`bpwidgets.core.packings`): they are made one
after the other, each announced by a :class:`Progress`, the first shown with
its DOS as soon as it exists, and read from the result store when kept there.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..core import parallel
from ..core.analysis import DOS_MOMENTS, boson_peak_of, coordination_histogram
from ..core.network import build_network, build_networks
from ..core.dos import reduced_dos_of, stored_spectra
from ..core.jamming import ContactNetwork
from ..core.packings import (contact_dos_of, contact_networks, held_counts,
                              stored_contact_spectra)
from ..core.result import ReducedDOS, standard_error
from ..core.kpm import seed_vectors
from ..core.modes import MODE_WEIGHTS_EXACT_MAX, local_spectrum, node_modes
from .schema import Parameters

__all__ = [
    "FULL_VIEW_MAX_SIZE",
    "JAMMED_MAX_DISKS",
    "WINDOW_SIZE",
    "Progress",
    "Request",
    "Snapshot",
    "check_jammed",
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
#: Most disks of a packing the page makes: 10^4 disks take about 30 s per packing at
#: p = 1e-3 and 75 s at 1e-4 (core/jamming.py, MAX_DISKS), so ten seeds are minutes
#: already; L = 100 on the grid slider.
JAMMED_MAX_DISKS = 10_000


def drawn_nodes(size, *, full_max_size=FULL_VIEW_MAX_SIZE, window=WINDOW_SIZE):
    """Indices of the nodes on show: all of them, or those of the bottom-left corner.

    The mode weights are computed for these nodes, and the network panel draws them.

    Parameters
    ----------
    size : int or bpwidgets.Network
        The grid size L, or a network. A lattice network is drawn as its grid;
        a jammed packing's contact network whole up to ``full_max_size ** 2``
        disks (as many as the largest grid drawn whole), else its disks whose
        centres lie in the bottom-left ``window`` x ``window`` square.
    full_max_size, window : int
        Largest grid drawn whole; side of the corner window, in mean spacings.

    Examples
    --------
    >>> len(drawn_nodes(20)), len(drawn_nodes(100))
    (400, 900)
    """
    if isinstance(size, ContactNetwork):
        if size.n_nodes <= full_max_size * full_max_size:
            return np.arange(size.n_nodes)
        x, y = size.positions[:, 0], size.positions[:, 1]
        return np.flatnonzero((x < window) & (y < window))
    if hasattr(size, "positions"):  # a lattice network: drawn as its grid
        size = size.size
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
class Progress:
    """A staged job's news between two results: item ``index`` of ``total`` is under way.

    Jammed disks announce each packing before it is made, so that the page says
    what it waits for ("Making packing 3 of 10 …"); ``index - 1`` are made. The
    news carries its request: the session shows none of a request no longer asked for.

    Examples
    --------
    >>> Progress(Request(Parameters(connection="jammed")), 3, 10).text
    'Making packing 3 of 10 …'
    """

    request: Request
    index: int
    total: int
    what: str = "packing"

    @property
    def text(self) -> str:
        """``"Making packing 3 of 10 …"``."""
        return f"Making {self.what} {self.index} of {self.total} …"


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
    rattler_fraction : float
        Jammed disks: the fraction of disks that are rattlers, pooled over the
        seeds (the histogram and the mean Z are those of the other disks); 0 for
        the lattice.
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
    rattler_fraction: float = 0.0

    @property
    def network(self):
        """The first seed's network, the one drawn."""
        return self.networks[0]


def compute(request: Request, previous: Snapshot | None = None) -> Snapshot:
    """Compute everything a request shows (the last of :func:`compute_stages`)."""
    for stage in compute_stages(request, previous):
        if isinstance(stage, Snapshot):
            snapshot = stage
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
    Snapshot or Progress
        Jammed disks announce every packing before it is made (:class:`Progress`).

    Raises
    ------
    ValueError
        From the core, when it refuses the parameters; for jammed disks of more
        than ``JAMMED_MAX_DISKS``, before anything is made.
    """
    p = request.parameters
    if p.jammed:
        yield from _jammed_stages(request, previous)
        return
    # The preview's seeds get the random vectors each seed gets in the full
    # average, not the many they would get by default: it must be cheap.
    vectors = seed_vectors(p.size * p.size, p.n_seeds)
    if previous is not None and previous.request.parameters == p:
        snapshot = replace(previous, request=request, weights=None)
    elif (spectra := stored_spectra(p.size, p.delta, seeds=p.seeds, moments=DOS_MOMENTS,
                                    vectors=vectors, **p.model())) is not None:
        snapshot = _from_store(request, spectra)
    else:
        networks = tuple(build_networks(p.size, p.delta, seeds=p.seeds, **p.model()))
        snapshot = _built(request, networks)
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


def _built(request, networks):
    """The snapshot of networks just built, without a DOS yet: histogram and mean Z.

    A jammed packing's histogram and mean Z are those of its disks that are not
    rattlers (which have no springs in its contact network).
    """
    held = [_held(n) for n in networks]
    coordination, fractions, mean = coordination_histogram(held)
    total = sum(n.n_nodes for n in networks)
    return Snapshot(
        request=request, networks=tuple(networks), nodes=drawn_nodes(networks[0]), dos=None,
        peak=None, coordination=coordination, fractions=fractions, mean_coordination=mean,
        complete=False, mean_coordination_error=float(standard_error([z.mean() for z in held])),
        rattler_fraction=(total - sum(z.size for z in held)) / total,
    )


def _held(network):
    """Coordination numbers of a network's nodes that are held: a packing's non-rattlers."""
    if isinstance(network, ContactNetwork):
        return np.delete(network.coordination, network.rattlers)
    return network.coordination


def _from_store(request, spectra, network=None):
    """The complete snapshot of a request whose every seed is in the result store.

    Only the drawn network is built (or, for jammed disks, given); the DOS, the
    histogram and the mean Z come from the stored parts, and equal what
    computing them gives. A packing's rattlers are its nodes without springs.
    """
    p = request.parameters
    if network is None:
        network = build_network(p.size, p.delta, seed=p.seeds[0], **p.model())
    width = max(s.coordination_counts.size for s in spectra)
    per_seed = [held_counts(s) if p.jammed else s.coordination_counts for s in spectra]
    per_seed = [np.pad(c, (0, width - c.size)) for c in per_seed]
    counts = sum(per_seed)
    rattlers = sum(s.n_nodes for s in spectra) - int(counts.sum())  # none on the lattice
    coordination = np.flatnonzero(counts)
    means = ([s.mean_coordination for s in spectra] if not p.jammed
             else [np.arange(width) @ c / c.sum() for c in per_seed])
    snapshot = Snapshot(
        request=request, networks=(network,), nodes=drawn_nodes(network), dos=None, peak=None,
        coordination=coordination, fractions=counts[coordination] / counts.sum(),
        mean_coordination=float(np.arange(width) @ counts / counts.sum()), complete=True,
        mean_coordination_error=float(standard_error(means)),
        rattler_fraction=rattlers / (rattlers + counts.sum()),
    )
    return _with_dos(snapshot, ReducedDOS.from_spectra(spectra), complete=True)


def _jammed_stages(request, previous):
    """:func:`compute_stages` for jammed disks: packings made one by one, then the average.

    Each packing is announced (:class:`Progress`) before it is made or read
    from the store; after the first, a preview shows its network, histogram and
    DOS; after the last, the complete result. A previous result with the same
    parameters is continued, not made again. Every packing starts at a stage
    boundary, so the worker stops a superseded job before its next packing
    (a packing under way is finished: FIRE cannot be interrupted).
    """
    p = request.parameters
    n = check_jammed(p)
    vectors = seed_vectors(n, p.n_seeds)
    dos = local = None
    if previous is not None and previous.request.parameters == p:
        snapshot = replace(previous, request=request, weights=None)
        networks, dos, local = list(snapshot.networks), snapshot.dos, snapshot.local
    elif (spectra := stored_contact_spectra(
            n, pressure=p.pressure, spring=p.spring, seeds=p.seeds, moments=DOS_MOMENTS,
            vectors=vectors)) is not None:
        network = contact_networks(n, pressure=p.pressure, spring=p.spring,
                                   seeds=p.seeds[:1])[0]
        snapshot, networks = _from_store(request, spectra, network), [network]
    else:
        snapshot, networks = None, []
    if snapshot is not None and snapshot.complete:
        yield _with_weights(snapshot, request.window) if request.window else snapshot
        return
    for seed in p.seeds[len(networks):]:
        yield Progress(request, len(networks) + 1, p.n_seeds)
        networks += contact_networks(n, pressure=p.pressure, spring=p.spring, seeds=[seed])
        if dos is None:  # the first packing: its network, histogram and DOS at once
            dos = contact_dos_of(networks, moments=DOS_MOMENTS, vectors=vectors)
            if len(networks) < p.n_seeds:
                preview = _jammed_snapshot(request, networks, dos, local, complete=False)
                local = preview.local
                yield preview
    if len(dos.seeds) < len(networks):
        rest = contact_dos_of(networks[len(dos.seeds):], moments=DOS_MOMENTS, vectors=vectors)
        dos = ReducedDOS.from_spectra(dos.spectra + rest.spectra)
    yield _jammed_snapshot(request, networks, dos, local, complete=True)


def _jammed_snapshot(request, networks, dos, local, *, complete):
    """The snapshot of packings' contact networks with their DOS (and the window's weights).

    ``local``: the drawn network's modes or local moments if known (kept from a
    preview of the same first packing), so that its weights are not computed again.
    """
    snapshot = replace(_with_dos(_built(request, networks), dos, complete=complete), local=local)
    return _with_weights(snapshot, request.window) if request.window else snapshot


def check_jammed(parameters) -> int:
    """The number of disks of jammed-disk parameters, or ValueError past what the page makes.

    Examples
    --------
    >>> check_jammed(Parameters(connection="jammed", size=60))
    3600
    >>> check_jammed(Parameters(connection="jammed", size=110))
    Traceback (most recent call last):
    ...
    ValueError: jammed disks: at most 10000 disks (L = 100) here; a packing of N = 12100
    disks would take minutes. Choose L ≤ 100.
    """
    n = parameters.n_disks
    if n > JAMMED_MAX_DISKS:
        side = int(np.sqrt(JAMMED_MAX_DISKS))
        raise ValueError(
            f"jammed disks: at most {JAMMED_MAX_DISKS} disks (L = {side}) here; a packing of "
            f"N = {n} disks would take minutes. Choose L ≤ {side}.")
    return n


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
    peak = boson_peak_of(dos, snapshot.network)
    return replace(snapshot, dos=dos, peak=peak, complete=complete)
