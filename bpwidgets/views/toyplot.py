"""Plot arrays for the nine-node toy model (paper Fig. 4, right): plain numpy, no widgets.

The toy model is the 3 x 3 periodic square lattice with constant springs and
springs added or removed. :func:`toy_response` gives every node's response
-Im G_ii(omega) beside the crystal's, and the poles, with the ones the change
created picked out; :func:`toy_view` gives the drawing of the network. The
bqplot panel (:mod:`bpwidgets.app.toy_panel`) and the matplotlib figures
(:mod:`bpwidgets.figures`) draw the same arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.toy import TOY_SIZE, local_dos, poles, toy_network

__all__ = [
    "DEFAULT_EPS",
    "NEW_POLE_TOLERANCE",
    "TOY_NODES",
    "TOY_OMEGA",
    "ToyResponse",
    "ToyView",
    "lattice_pairs",
    "new_poles",
    "node_label",
    "toy_response",
    "toy_view",
]

#: Number of nodes of the toy model.
TOY_NODES = TOY_SIZE**2
#: Frequency grid of the response curves: past the highest pole, sqrt(8) ~ 2.83 when
#: every node has five springs.
TOY_OMEGA = np.linspace(0.0, 3.2, 1601)
#: Broadening eps of G = [(omega^2 + i eps) I - H]^-1: peaks of width ~ eps / (2 omega),
#: narrow beside the gaps between poles (>= 0.2) yet wider than the grid step (0.002).
DEFAULT_EPS = 0.02
#: A pole further than this from every crystal pole is new (poles are exact to ~1e-12).
NEW_POLE_TOLERANCE = 1e-6


def node_label(node: int) -> str:
    """Name of a toy node: its number and lattice site, e.g. ``"4 (1, 1)"``."""
    ix, iy = divmod(int(node), TOY_SIZE)
    return f"{node} ({ix}, {iy})"


def lattice_pairs() -> set:
    """The crystal's 18 springs as sorted node pairs."""
    return {tuple(sorted(map(int, pair))) for pair in toy_network().bonds}


def new_poles(frequencies, reference) -> np.ndarray:
    """The frequencies farther than ``NEW_POLE_TOLERANCE`` from every reference pole."""
    frequencies = np.asarray(frequencies, dtype=float)
    reference = np.asarray(reference, dtype=float)
    if reference.size == 0:
        return frequencies
    distance = np.abs(frequencies[:, None] - reference[None, :]).min(axis=1)
    return frequencies[distance > NEW_POLE_TOLERANCE]


@dataclass(frozen=True)
class ToyResponse:
    """On-node response of a changed toy network and of the crystal.

    Attributes
    ----------
    omega : ndarray, shape (G,)
    response : ndarray, shape (G, 9)
        -Im G_ii(omega) of every node of the changed network.
    crystal : ndarray, shape (G, 9)
        The same for the crystal (all nine columns equal, by symmetry).
    poles, crystal_poles : ndarray
        Distinct non-zero frequencies of the two networks.
    new_poles : ndarray
        Poles of the changed network that the crystal does not have.
    new_pole_heights : ndarray
        Largest -Im G_ii over the nodes at each new pole: where to mark it.
    changed_nodes : tuple of int
        Nodes at either end of an added or removed spring.
    coordination : ndarray of int, shape (9,)
    added, removed : tuple of (int, int)
    eps : float
    """

    omega: np.ndarray
    response: np.ndarray
    crystal: np.ndarray
    poles: np.ndarray
    crystal_poles: np.ndarray
    new_poles: np.ndarray
    new_pole_heights: np.ndarray
    changed_nodes: tuple
    coordination: np.ndarray
    added: tuple
    removed: tuple
    eps: float


def toy_response(*, add=(), remove=(), eps=DEFAULT_EPS, omega=None) -> ToyResponse:
    """Response curves and poles of the toy model with springs added and removed.

    Parameters
    ----------
    add, remove : sequence of (int, int)
        Node pairs, as for :func:`bpwidgets.toy_network`.
    eps : float
        Broadening, > 0.
    omega : array_like, optional
        Frequencies; default ``TOY_OMEGA``.

    Returns
    -------
    ToyResponse

    Raises
    ------
    ValueError
        From :func:`bpwidgets.toy_network` for an invalid pair, or a bad eps.

    Examples
    --------
    >>> from bpwidgets import TOY_ADDED
    >>> toy_response(add=[TOY_ADDED]).new_poles.round(4)
    array([2.    , 2.6458])
    """
    added = tuple(tuple(sorted(map(int, p))) for p in add)
    removed = tuple(tuple(sorted(map(int, p))) for p in remove)
    network = toy_network(add=added, remove=removed)
    crystal = toy_network()
    grid = TOY_OMEGA if omega is None else np.asarray(omega, dtype=float)
    frequencies, reference = poles(network), poles(crystal)
    created = new_poles(frequencies, reference)
    heights = local_dos(network, created, eps=eps).max(axis=1) if created.size else np.zeros(0)
    changed = sorted({node for pair in added + removed for node in pair})
    return ToyResponse(
        omega=grid,
        response=local_dos(network, grid, eps=eps),
        crystal=local_dos(crystal, grid, eps=eps),
        poles=frequencies,
        crystal_poles=reference,
        new_poles=created,
        new_pole_heights=heights,
        changed_nodes=tuple(changed),
        coordination=np.asarray(network.coordination),
        added=added,
        removed=removed,
        eps=float(eps),
    )


@dataclass(frozen=True)
class ToyView:
    """What the toy network's drawing shows.

    Attributes
    ----------
    x, y : ndarray, shape (9,)
        Node positions (lattice sites, node ``i = ix * 3 + iy`` at ``(ix, iy)``).
    coordination : ndarray of int, shape (9,)
    springs, added, removed : (ndarray, ndarray)
        NaN-gapped polylines: the crystal springs still present, the added
        springs, and the removed ones (to draw as ghosts). A spring across the
        periodic boundary is drawn as two stubs, one out of each end to the
        cell's edge, so it never spans the cell.
    outline : (ndarray, ndarray)
        The periodic cell, from -0.5 to 2.5.
    """

    x: np.ndarray
    y: np.ndarray
    coordination: np.ndarray
    springs: tuple
    added: tuple
    removed: tuple
    outline: tuple


def toy_view(*, add=(), remove=()) -> ToyView:
    """Nodes, springs (kept, added, removed) and cell of the toy network as plot arrays.

    Examples
    --------
    >>> view = toy_view(remove=[(4, 1)])
    >>> int(np.isnan(view.removed[0]).sum())  # one segment, closed by one NaN gap
    1
    """
    network = toy_network(add=add, remove=remove)
    sites = network.positions
    present = {tuple(sorted(map(int, p))) for p in network.bonds}
    lattice = lattice_pairs()
    low, high = -0.5, TOY_SIZE - 0.5
    return ToyView(
        x=sites[:, 0].copy(),
        y=sites[:, 1].copy(),
        coordination=np.asarray(network.coordination),
        springs=_polyline(sites, sorted(present & lattice)),
        added=_polyline(sites, sorted(present - lattice)),
        removed=_polyline(sites, sorted(lattice - present)),
        outline=(np.array([low, high, high, low, low]), np.array([low, low, high, high, low])),
    )


def _polyline(sites, pairs):
    """Springs between sites as one NaN-gapped polyline; periodic ones as two stubs."""
    xs, ys = [], []
    for i, j in pairs:
        d = sites[j] - sites[i]
        wrapped = d - TOY_SIZE * np.round(d / TOY_SIZE)
        if np.allclose(wrapped, d):
            pieces = [(sites[i], sites[j])]
        else:
            # Half the minimum-image vector out of each end reaches the cell's edge.
            pieces = [(sites[i], sites[i] + wrapped / 2), (sites[j], sites[j] - wrapped / 2)]
        for start, end in pieces:
            xs += [start[0], end[0], np.nan]
            ys += [start[1], end[1], np.nan]
    return np.array(xs, dtype=float), np.array(ys, dtype=float)
