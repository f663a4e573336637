"""Spring networks on a periodic square lattice with displaced nodes.

A network is built once by :func:`build_network` and then frozen: every array
on the returned :class:`Network` is read-only, so the dashboard, the spectrum
code and a script can share one instance without copying it.

The model follows ``docs/physics.md``: an L x L square lattice (lattice constant
a = 1) on a torus, every node moved off its site by exactly ``delta`` along a
uniformly random angle, springs either between lattice neighbours
(``"nearest"``) or between every pair closer than a + delta (``"cutoff"``),
with stiffness t = 1/r (``"inverse"``) or t = 1 (``"constant"``).
"""

from __future__ import annotations

import functools
import itertools
import math
import numbers
import reprlib
import threading
import weakref
from collections import Counter
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph

from . import parallel
from .limits import _check_memory

__all__ = ["CONNECTIONS", "MAX_SEEDS", "MAX_SIZE", "MIN_SIZE", "SPRINGS", "Network", "build_network",
           "build_networks"]

#: Valid values of ``connection``: lattice neighbours, or every pair closer than a + delta.
CONNECTIONS = ("nearest", "cutoff")
#: Valid values of ``spring``: stiffness t0 / r, or a constant t0.
SPRINGS = ("inverse", "constant")

#: Lattice constant a and spring constant t0 (docs/physics.md: both are 1).
LATTICE_CONSTANT = 1.0
SPRING_CONSTANT = 1.0
#: Slack on the cutoff so that at delta = 0 the lattice bonds (r = 1 exactly) are kept.
CUTOFF_TOLERANCE = 1e-9
#: Smallest grid: below 3 the right and left neighbours of a node coincide.
MIN_SIZE = 3
#: Largest grid: N = L**2 = 2**30 nodes would need about 0.5 TiB (the memory limit of
#: bpwidgets.core.limits refuses far smaller networks unless it is raised).
MAX_SIZE = 2**15
#: Most networks one call builds or averages: even at 9 nodes each, 10^5 networks and
#: their matrices take about half a GiB, and no average needs that many.
MAX_SEEDS = 100_000
#: Memory of a network while it is built, with its dynamical matrix, per node and per spring
#: (measured with tracemalloc: about 104 and 176 bytes; rounded up).
_BYTES_PER_NODE, _BYTES_PER_BOND = 128, 192


@dataclass(frozen=True, eq=False)
class Network:
    """A frozen spring network on an L x L periodic square lattice.

    Node ``i = ix * size + iy`` sits near lattice site ``(ix, iy)``. Bond ``b``
    joins ``bonds[b, 0]`` to ``bonds[b, 1]``; ``bond_vectors[b]`` is the
    minimum-image vector from the first node to the second, so a bond that
    crosses the periodic boundary is still short.

    Attributes
    ----------
    size : int
        Linear size L of the lattice; there are ``N = L**2`` nodes.
    delta : float
        Distance every node is displaced from its lattice site.
    connection : {"nearest", "cutoff"}
        How springs are placed.
    spring : {"inverse", "constant"}
        Spring law, t = 1/r or t = 1.
    seed : int or None
        Seed of the random displacement angles.
    positions : ndarray, shape (N, 2)
        Node positions, wrapped into the periodic cell ``[0, L)^2``.
    bonds : ndarray of int, shape (E, 2)
        Every spring once, as a pair of node indices.
    bond_vectors : ndarray, shape (E, 2)
        Minimum-image displacement from ``bonds[:, 0]`` to ``bonds[:, 1]``.
    lengths : ndarray, shape (E,)
        Spring lengths r.
    stiffness : ndarray, shape (E,)
        Spring constants t.
    coordination : ndarray of int, shape (N,)
        Number of springs at each node, Z.

    Examples
    --------
    >>> net = build_network(10, 0.2, connection="cutoff", spring="inverse", seed=1)
    >>> net.n_nodes, bool(net.n_bonds == net.coordination.sum() // 2)
    (100, True)
    >>> bool((net.lengths <= 1.2 + 1e-9).all())
    True
    """

    size: int
    delta: float
    connection: str
    spring: str
    seed: int | None
    positions: np.ndarray
    bonds: np.ndarray
    bond_vectors: np.ndarray
    lengths: np.ndarray
    stiffness: np.ndarray
    coordination: np.ndarray

    @property
    def n_nodes(self) -> int:
        """Number of nodes, N = L**2."""
        return self.size * self.size

    @property
    def n_bonds(self) -> int:
        """Number of springs, E."""
        return len(self.bonds)

    def dynamical_matrix(self) -> sp.csr_array:
        """Scalar dynamical matrix H (N x N, sparse, symmetric).

        ``H[i, j] = -t_ij`` for every spring and ``H[i, i] = sum_j t_ij``, so every
        row sums to zero and the uniform vector is a zero mode (unit masses).

        Returns
        -------
        scipy.sparse.csr_array
            The matrix, float64. It is built once per network and shared, so
            its arrays are read-only: copy it to modify it.

        Examples
        --------
        >>> net = build_network(4, 0.0, connection="nearest", spring="constant", seed=0)
        >>> H = net.dynamical_matrix()
        >>> H.shape, float(abs(H.sum(axis=1)).max())
        ((16, 16), 0.0)
        """
        return self._matrix

    def clusters(self) -> tuple:
        """Connected clusters of the springs: their number and each node's cluster.

        Every cluster carries one zero mode of the dynamical matrix (its uniform
        translation), so the count is the number of zero modes.

        Returns
        -------
        count : int
        labels : ndarray of int, shape (N,)
            Cluster of every node, ``0 .. count - 1``; read-only, computed once.

        Examples
        --------
        >>> net = build_network(10, 0.2, connection="nearest", spring="inverse", seed=0)
        >>> net.clusters()[0]
        1
        """
        return self._clusters

    @functools.cached_property
    def _clusters(self) -> tuple:
        count, labels = csgraph.connected_components(self._matrix, directed=False)
        labels.flags.writeable = False
        return int(count), labels

    @functools.cached_property
    def _matrix(self) -> sp.csr_array:
        matrix = _dynamical_matrix(self.bonds, self.stiffness, self.n_nodes)
        for array in (matrix.data, matrix.indices, matrix.indptr):
            array.flags.writeable = False
        return matrix

    def __repr__(self) -> str:
        return (
            f"Network(size={self.size}, delta={self.delta}, connection={self.connection!r}, "
            f"spring={self.spring!r}, seed={self.seed}, n_bonds={self.n_bonds}, "
            f"mean_coordination={self.coordination.mean():.3f})"
        )


def build_network(size, delta, *, connection, spring, seed=None) -> Network:
    """Build a spring network with every node displaced by ``delta``.

    Parameters
    ----------
    size : int
        Linear size L of the periodic square lattice (N = L**2 nodes), from
        ``MIN_SIZE`` = 3 to ``MAX_SIZE`` = 32768. Every spring must be its own
        minimum image: with ``connection="cutoff"`` L must exceed 2 (1 + delta)
        (springs are up to 1 + delta long), with ``"nearest"`` 2 (1 + 2 delta)
        (a lattice bond's ends move by up to delta each).
    delta : float
        Displacement of every node from its lattice site, ``0 <= delta < 1``.
    connection : {"nearest", "cutoff"}
        ``"nearest"``: the 2N springs of the square lattice, Z = 4 everywhere.
        ``"cutoff"``: a spring between every pair with distance r <= a + delta.
    spring : {"inverse", "constant"}
        Spring law: t = t0 / r or t = t0, with t0 = 1.
    seed : int, optional
        Seed of the random displacement angles; the same seed gives the same network.

    Returns
    -------
    Network
        The frozen network.

    Raises
    ------
    ValueError
        If an argument is outside the values listed above (a bool is not a
        size, a choice must be a ``str``), or if the network would need more
        memory than :func:`bpwidgets.core.limits.memory_limit`.

    Notes
    -----
    Node i moves to ``site_i + delta (cos theta_i, sin theta_i)`` with theta_i
    uniform in [0, 2 pi), drawn by ``numpy.random.default_rng(seed)``. Distances
    use the minimum image on the torus. The cutoff test is
    ``r <= a + delta + 1e-9`` so that delta = 0 gives the crystal in both modes.
    Building is vectorised over the lattice offsets that can hold a spring:
    a node moves at most delta, so sites further apart than 1 + 3 delta never do.

    Examples
    --------
    >>> net = build_network(60, 0.3, connection="cutoff", spring="inverse", seed=0)
    >>> net.n_nodes, round(float(net.coordination.mean()), 2)
    (3600, 4.34)
    """
    size, delta, connection, spring = _check_parameters(size, delta, connection, spring)
    if seed is not None:
        seed = _check_seed(seed)
    _check_network_memory(size, delta, connection, 1)
    return _build(size, delta, connection, spring, seed)


def _build(size, delta, connection, spring, seed) -> Network:
    """:func:`build_network` of parameters already checked."""
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0.0, 2.0 * np.pi, size * size)
    displacement = delta * np.column_stack([np.cos(theta), np.sin(theta)])
    if connection == "nearest":
        offsets = np.array([[1, 0], [0, 1]])
        cutoff = None
    else:
        cutoff = LATTICE_CONSTANT + delta + CUTOFF_TOLERANCE
        offsets = _candidate_offsets(reach=cutoff + 2 * delta)
    bonds, vectors = _find_bonds(size, displacement, offsets, cutoff)
    lengths = np.hypot(vectors[:, 0], vectors[:, 1])
    if spring == "inverse":
        stiffness = SPRING_CONSTANT / lengths
    else:
        stiffness = np.full(len(lengths), SPRING_CONSTANT)
    coordination = np.bincount(bonds.ravel(), minlength=size * size)

    ix, iy = np.divmod(np.arange(size * size), size)
    positions = np.mod(np.column_stack([ix, iy]) + displacement, size)
    arrays = dict(
        positions=positions,
        bonds=bonds,
        bond_vectors=vectors,
        lengths=lengths,
        stiffness=stiffness,
        coordination=coordination,
    )
    for array in arrays.values():
        array.flags.writeable = False
    network = Network(
        size=size, delta=delta, connection=connection, spring=spring, seed=seed, **arrays
    )
    with _built_lock:
        _built[id(network)] = network
    return network


#: The networks :func:`build_network` made from their parameters, by id (while they live).
#: The result store names a network by its parameters and seed: only these are named so, a
#: network made or changed by other means (``dataclasses.replace``) is another one.
_built = weakref.WeakValueDictionary()
_built_lock = threading.Lock()


def _built_from_parameters(network) -> bool:
    """Whether ``network`` is one :func:`build_network` made from its parameters."""
    with _built_lock:
        return _built.get(id(network)) is network


def build_networks(size, delta, *, connection, spring, seeds) -> list:
    """One network per seed, built side by side on all cores.

    Parameters
    ----------
    size, delta, connection, spring
        As for :func:`build_network`.
    seeds : iterable of int
        Network ``k`` is ``build_network(..., seed=seeds[k])``: at least one,
        each a non-negative integer, none twice.

    Returns
    -------
    list of Network

    Raises
    ------
    ValueError
        As :func:`build_network` does, for bad seeds, or if the networks
        together would need more memory than
        :func:`bpwidgets.core.limits.memory_limit`.

    Examples
    --------
    >>> nets = build_networks(20, 0.2, connection="cutoff", spring="inverse", seeds=range(3))
    >>> [net.seed for net in nets]
    [0, 1, 2]
    """
    size, delta, connection, spring = _check_parameters(size, delta, connection, spring)
    seeds = _check_seed_list(seeds)
    _check_network_memory(size, delta, connection, len(seeds))

    def build(seed):
        return _build(size, delta, connection, spring, seed)

    return parallel.each(build, seeds)


def _check_parameters(size, delta, connection, spring) -> tuple:
    """``(size, delta, connection, spring)`` checked and normalised, minimum images included.

    Every spring must be its own minimum image on the torus, so at most L/2 long:
    a "cutoff" spring is at most a + delta long, a "nearest" lattice bond at most
    a + 2 delta (each of its ends moves by up to delta).
    """
    size = _check_size(size)
    delta = _check_delta(delta)
    connection = _check_choice("connection", connection, CONNECTIONS)
    spring = _check_choice("spring", spring, SPRINGS)
    if connection == "cutoff":
        rule, longest = "1 + delta", LATTICE_CONSTANT + delta
        why = "the minimum image must be unique"
    else:
        rule, longest = "1 + 2 delta", LATTICE_CONSTANT + 2 * delta
        why = "a lattice bond's ends move by up to delta each; it must be its own minimum image"
    if not size > 2 * longest:
        raise ValueError(
            f"size must be larger than 2 ({rule}) = {2 * longest:g} for "
            f"connection={connection!r} ({why}); got size={size}"
        )
    return size, delta, connection, spring


def _network_bytes(size, delta, connection) -> int:
    """About the most memory one network needs while it is built, dynamical matrix included.

    With one node per unit area, a "cutoff" node has about pi (a + delta)^2
    neighbours (4 at least, the lattice's at delta = 0); a "nearest" node has 4.
    """
    bonds_per_node = 2.0
    if connection == "cutoff":
        bonds_per_node = max(2.0, math.pi * (LATTICE_CONSTANT + delta) ** 2 / 2)
    return int(size * size * (_BYTES_PER_NODE + _BYTES_PER_BOND * bonds_per_node))


def _check_network_memory(size, delta, connection, count) -> None:
    """Refuse ``count`` networks that would need more than the memory limit together."""
    request = f"size={size} ({size * size} nodes, connection={connection!r}, delta={delta:g})"
    if count > 1:
        request = f"seeds: {count} networks of {request}"
    _check_memory(request, count * _network_bytes(size, delta, connection))


def _check_size(size) -> int:
    allowed = f"a whole number from MIN_SIZE = {MIN_SIZE} to MAX_SIZE = {MAX_SIZE}"
    if isinstance(size, bool) or not isinstance(size, numbers.Real):  # a bool is not a size
        raise ValueError(f"size must be {allowed}; got {size!r}")
    if not (isinstance(size, numbers.Integral) or float(size).is_integer()):  # also NaN, inf
        raise ValueError(f"size must be {allowed}; got {size!r}")
    if not MIN_SIZE <= size <= MAX_SIZE:  # compared before int(): 1e300 is refused, not built
        raise ValueError(f"size must be {allowed}; got {size!r}")
    return int(size)


def _check_delta(delta) -> float:
    if isinstance(delta, bool) or not isinstance(delta, numbers.Real):
        raise ValueError(f"delta must be a number with 0 <= delta < 1; got {delta!r}")
    delta = float(delta)
    if not (0.0 <= delta < 1.0):  # also rejects NaN
        raise ValueError(f"delta must satisfy 0 <= delta < 1; got {delta}")
    return delta


def _check_choice(name, value, allowed) -> str:
    # Only a str: an array would pass ``in`` element-wise and be stored as an array.
    if not isinstance(value, str) or value not in allowed:
        valid = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name} must be one of {valid} (a str); got {reprlib.repr(value)}")
    return allowed[allowed.index(value)]


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer or None; got {seed!r}")
    return int(seed)


def _check_seed_list(seeds) -> tuple:
    """Seeds as a tuple of int: at least one, non-negative integers, none twice."""
    allowed = "a non-empty sequence of distinct non-negative integers"
    try:
        # Never list more than the limit: range(10**9) is refused, not materialised.
        listed = tuple(itertools.islice(seeds, MAX_SEEDS + 1))
    except TypeError:
        raise ValueError(f"seeds must be {allowed}; got {reprlib.repr(seeds)}") from None
    if len(listed) > MAX_SEEDS:
        raise ValueError(f"seeds must be at most MAX_SEEDS = {MAX_SEEDS} networks; "
                         f"got {reprlib.repr(seeds)}")
    seeds = listed
    if not seeds or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 0 for s in seeds
    ):
        raise ValueError(f"seeds must be {allowed}; got {reprlib.repr(seeds)}")
    seeds = tuple(int(s) for s in seeds)
    repeated = sorted(s for s, n in Counter(seeds).items() if n > 1)
    if repeated:
        raise ValueError(
            f"seeds must be distinct (a repeated seed counts its network twice); "
            f"got {reprlib.repr(repeated)} more than once"
        )
    return seeds


def _check_network(network, name="network") -> Network:
    """The network itself, or a TypeError naming the argument."""
    if not isinstance(network, Network):
        raise TypeError(
            f"{name} must be a bpwidgets.Network (from build_network or toy_network); "
            f"got {type(network).__name__} {reprlib.repr(network)}"
        )
    return network


def _candidate_offsets(reach: float) -> np.ndarray:
    """Lattice offsets (dx, dy) in one half-plane with |(dx, dy)| <= reach.

    Taking one of each pair +-(dx, dy) lists every spring once.
    """
    n = math.ceil(reach)
    dx, dy = np.meshgrid(np.arange(-n, n + 1), np.arange(-n, n + 1), indexing="ij")
    dx, dy = dx.ravel(), dy.ravel()
    upper_half = (dx > 0) | ((dx == 0) & (dy > 0))
    keep = upper_half & (np.hypot(dx, dy) <= reach)
    return np.column_stack([dx[keep], dy[keep]])


def _find_bonds(size, displacement, offsets, cutoff):
    """Springs from every node to the node at each lattice offset.

    With ``cutoff=None`` every candidate is a spring (the lattice bonds);
    otherwise only pairs with minimum-image distance <= cutoff are kept.
    Returns the bonds (E x 2) and their minimum-image vectors (E x 2).
    """
    n_nodes = size * size
    ix, iy = np.divmod(np.arange(n_nodes), size)
    bond_parts, vector_parts = [], []
    for dx, dy in offsets:
        j = ((ix + dx) % size) * size + (iy + dy) % size
        vectors = np.array([dx, dy], dtype=float) + displacement[j] - displacement
        # Minimum image: only matters when the offset reaches half-way round the torus.
        vectors -= size * np.round(vectors / size)
        i = np.arange(n_nodes)
        if cutoff is not None:
            keep = np.einsum("ij,ij->i", vectors, vectors) <= cutoff * cutoff
            i, j, vectors = i[keep], j[keep], vectors[keep]
        bond_parts.append(np.column_stack([i, j]))
        vector_parts.append(vectors)
    bonds = np.concatenate(bond_parts)
    vectors = np.concatenate(vector_parts)
    if 2 * np.abs(offsets).max() >= size:
        # On a small torus two offsets can reach the same pair of nodes: keep one.
        lo, hi = np.minimum(bonds[:, 0], bonds[:, 1]), np.maximum(bonds[:, 0], bonds[:, 1])
        _, first = np.unique(lo * n_nodes + hi, return_index=True)
        first = np.sort(first)
        bonds, vectors = bonds[first], vectors[first]
    return bonds, vectors


def _dynamical_matrix(bonds, stiffness, n_nodes) -> sp.csr_array:
    i, j = bonds[:, 0], bonds[:, 1]
    rows = np.concatenate([i, j, np.arange(n_nodes)])
    cols = np.concatenate([j, i, np.arange(n_nodes)])
    diagonal = np.bincount(i, stiffness, n_nodes) + np.bincount(j, stiffness, n_nodes)
    values = np.concatenate([-stiffness, -stiffness, diagonal])
    return sp.csr_array(sp.coo_array((values, (rows, cols)), shape=(n_nodes, n_nodes)))
