"""Small networks and their Green's functions: the paper's nine-node toy model (Fig. 4).

Nine nodes on a 3 x 3 periodic square lattice with constant springs have Z = 4
everywhere and a spectrum with only two poles besides zero, omega = sqrt(3)
and sqrt(6). Adding a spring (Z = 5 at both ends) or removing one (Z = 3)
brings two new poles: coordination fluctuations create new modes.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.linalg

from .dos import _check_dense
from .kpm import _check_omega, _check_positive
from .network import Network, _check_network, build_network

__all__ = [
    "TOY_ADDED",
    "TOY_REMOVED",
    "TOY_SIZE",
    "local_dos",
    "poles",
    "toy_network",
]

#: The toy model's lattice: 3 x 3 nodes, node i = ix * 3 + iy at site (ix, iy).
TOY_SIZE = 3
#: The paper's added spring: centre (1, 1) to top-left (0, 2).
TOY_ADDED = (4, 2)
#: The paper's removed spring: centre (1, 1) to left (0, 1).
TOY_REMOVED = (4, 1)
#: Frequencies closer than this are one pole (eigenvalues of a 9 x 9 matrix are far more exact).
POLE_TOLERANCE = 1e-8


def toy_network(*, add=(), remove=()) -> Network:
    """The 3 x 3 periodic toy network with constant springs, springs added or removed.

    Parameters
    ----------
    add : sequence of (int, int), optional
        Node pairs to join with a new spring (nodes 0..8, ``i = ix * 3 + iy``).
        The new spring takes the minimum-image vector between the two sites.
    remove : sequence of (int, int), optional
        Node pairs whose spring is removed.

    Returns
    -------
    Network
        ``connection="toy"``, ``spring="constant"``, ``delta=0``.

    Raises
    ------
    ValueError
        For ``add`` or ``remove`` that is not a sequence of pairs, a node
        outside 0..8, a pair of a node with itself, adding a spring that exists
        (or twice), or removing one that does not.

    Examples
    --------
    >>> net = toy_network(add=[TOY_ADDED])
    >>> net.coordination.reshape(3, 3)
    array([[4, 4, 5],
           [4, 5, 4],
           [4, 4, 4]])
    """
    remove, add = _check_pairs(remove, "remove"), _check_pairs(add, "add")
    lattice = build_network(TOY_SIZE, 0.0, connection="nearest", spring="constant", seed=0)
    bonds = [tuple(sorted(map(int, b))) for b in lattice.bonds]
    vectors = {pair: v for pair, v in zip(bonds, _pair_vectors(lattice.bonds, lattice))}
    for i, j in remove:
        if (i, j) not in vectors:
            raise ValueError(f"remove: there is no spring between nodes {i} and {j}")
        del vectors[(i, j)]
    for i, j in add:
        if (i, j) in vectors:
            raise ValueError(f"add: nodes {i} and {j} are already joined by a spring")
        vectors[(i, j)] = _site_vector(i, j)
    pairs = np.array(sorted(vectors), dtype=int).reshape(-1, 2)
    bond_vectors = np.array([vectors[tuple(p)] for p in pairs]).reshape(-1, 2)
    lengths = np.hypot(bond_vectors[:, 0], bond_vectors[:, 1])
    arrays = dict(
        positions=lattice.positions.copy(),
        bonds=pairs,
        bond_vectors=bond_vectors,
        lengths=lengths,
        stiffness=np.ones(len(pairs)),
        coordination=np.bincount(pairs.ravel(), minlength=TOY_SIZE**2),
    )
    for array in arrays.values():
        array.flags.writeable = False
    return Network(
        size=TOY_SIZE, delta=0.0, connection="toy", spring="constant", seed=None, **arrays
    )


def local_dos(network: Network, omega, *, eps) -> np.ndarray:
    """On-node response -Im G_ii(omega) of a small network, for every node.

    ``G(omega) = [(omega^2 + i eps) I - H]^-1`` (the paper's Eq. (1)). As
    eps -> 0, ``-Im G_ii -> pi sum_k |u_k(i)|^2 delta(omega^2 - lambda_k)``, so
    the node's reduced DOS is ``g_i(omega)/omega = (2/pi)(-Im G_ii)``: the paper
    drops that constant.

    Parameters
    ----------
    network : Network
        At most ``EXACT_MAX_NODES`` nodes (dense eigenvectors).
    omega : float or array_like
        Frequencies: finite, >= 0, a number or a 1D array of at most
        ``MAX_GRID_POINTS``.
    eps : float
        Broadening, finite and > 0.

    Returns
    -------
    ndarray
        Shape (N,) for a scalar omega, else (len(omega), N).

    Raises
    ------
    TypeError
        If ``network`` is not a :class:`~bpwidgets.Network`.
    ValueError
        For a negative or non-finite frequency, a bad ``eps``, a network past
        ``EXACT_MAX_NODES``, or a request that would need more memory than
        :func:`bpwidgets.core.limits.memory_limit`.

    Examples
    --------
    >>> net = toy_network()
    >>> bool(local_dos(net, 3 ** 0.5, eps=1e-3)[0] > 100 * local_dos(net, 2.0, eps=1e-3)[0])
    True
    """
    _check_network(network)
    scalar = np.ndim(omega) == 0
    frequencies = _check_omega([omega] if scalar else omega)
    eps = _check_positive("eps", eps)
    # The eigenvectors, then three (len(omega), N) arrays: the detuning, the Lorentzians
    # and the response.
    _check_dense(network.n_nodes, "local_dos", "it diagonalises densely", eigenvectors=True,
                 extra_bytes=24 * frequencies.size * network.n_nodes)
    eigenvalues, modes = scipy.linalg.eigh(network.dynamical_matrix().toarray())
    # -Im 1/(w^2 + i eps - lambda) = eps / ((w^2 - lambda)^2 + eps^2), weighted by |u_k(i)|^2.
    detuning = frequencies[:, None] ** 2 - eigenvalues[None, :]
    lorentzian = eps / (detuning**2 + eps**2)
    response = lorentzian @ (modes**2).T
    return response[0] if scalar else response


def poles(network: Network) -> np.ndarray:
    """Distinct non-zero vibrational frequencies of a small network: the poles of G.

    Parameters
    ----------
    network : Network

    Returns
    -------
    ndarray
        Ascending distinct frequencies sqrt(lambda_k) > 0.

    Raises
    ------
    TypeError
        If ``network`` is not a :class:`~bpwidgets.Network`.
    ValueError
        For a network past ``EXACT_MAX_NODES``, or a dense matrix that would need
        more memory than :func:`bpwidgets.core.limits.memory_limit`.

    Examples
    --------
    >>> poles(toy_network()).round(6)
    array([1.732051, 2.44949 ])
    """
    _check_network(network)
    _check_dense(network.n_nodes, "poles", "it diagonalises densely")
    eigenvalues = scipy.linalg.eigvalsh(network.dynamical_matrix().toarray())
    frequencies = np.sqrt(eigenvalues[eigenvalues > POLE_TOLERANCE])
    distinct = np.diff(frequencies, prepend=-np.inf) > POLE_TOLERANCE
    return frequencies[distinct]


def _check_pairs(pairs, name) -> list:
    try:
        pairs = list(pairs)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of node pairs (i, j); got {pairs!r}") from None
    return [_check_pair(p, name) for p in pairs]


def _check_pair(pair, name):
    try:
        i, j = (int(k) for k in pair)
        exact = all(isinstance(k, numbers.Integral) and not isinstance(k, bool) for k in pair)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: a spring is a pair of node numbers; got {pair!r}") from None
    n = TOY_SIZE**2
    if not exact or not (0 <= i < n and 0 <= j < n):
        raise ValueError(f"{name}: nodes are numbered 0 to {n - 1}; got {pair!r}")
    if i == j:
        raise ValueError(f"{name}: a spring joins two different nodes; got {i} with itself")
    return (min(i, j), max(i, j))


def _site_vector(i, j):
    """Minimum-image vector from site i to site j on the 3 x 3 torus."""
    d = np.array(divmod(j, TOY_SIZE), dtype=float) - np.array(divmod(i, TOY_SIZE), dtype=float)
    return d - TOY_SIZE * np.round(d / TOY_SIZE)


def _pair_vectors(bonds, network):
    """Bond vectors oriented from the lower to the higher node index."""
    flip = np.where(bonds[:, 0] < bonds[:, 1], 1.0, -1.0)
    return network.bond_vectors * flip[:, None]
