"""Where the modes live: each node's share of the vibrational modes in a frequency window.

``w_i = sum_k |u_k(i)|^2 / N`` over the modes k in a window, three ways:

* :func:`node_modes`: dense eigenvectors of a small network, kept for the
  chosen nodes, so every further window costs one sum with sharp edges;
* :func:`local_spectrum`: local Chebyshev moments ``e_i^T T_n(H~) e_i`` of the
  chosen nodes, deterministic and linear in N per node, so every further
  window costs one small product (edges smoothed by the Jackson kernel);
* a stochastic estimate of the window projector's diagonal for all nodes at
  once.

:func:`mode_weights` picks one by the network's size and the number of nodes.
"""

from __future__ import annotations

import numbers
import reprlib
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from .dos import _check_dense
from .kpm import (
    _BYTES_PER_VECTOR_ENTRY,
    _check_moments,
    _check_vectors,
    _doubled_moments,
    _jackson,
    _random_vectors,
)
from .limits import _check_memory
from .linalg import _chebyshev_vectors, _lanczos_bound, _Stack, _ThreadedMatrix, _within_bound
from .network import Network, _check_choice, _check_network

__all__ = [
    "LOCAL_MAX_NODES",
    "LOCAL_MOMENTS",
    "MODE_WEIGHTS_EXACT_MAX",
    "MODE_WEIGHTS_LOCAL_MAX",
    "LocalSpectrum",
    "NodeModes",
    "local_spectrum",
    "mode_weights",
    "node_modes",
]


#: Networks up to this many nodes get exact mode weights: dense eigenvectors cost ~0.5 s here.
MODE_WEIGHTS_EXACT_MAX = 1_024

#: Up to this many requested nodes, mode weights come from local moments (about 1 s at L = 60).
MODE_WEIGHTS_LOCAL_MAX = 1_000

#: Chebyshev moments of the local spectra: window edges smoothed over ~0.08 in omega.
LOCAL_MOMENTS = 64

#: Most nodes one local_spectrum call takes: its cost grows as nodes x N.
LOCAL_MAX_NODES = 10_000

#: Columns per block of unit vectors, bounding memory to about this many entries.
_LOCAL_BLOCK_ENTRIES = 2**24


@dataclass(frozen=True, eq=False)
class LocalSpectrum:
    """Chebyshev moments of chosen nodes' local densities of states.

    Built once per network by :func:`local_spectrum`; every frequency window's
    mode weights then cost one small matrix product.

    Attributes
    ----------
    nodes : ndarray of int, shape (M,)
        The nodes, in row order.
    moments : ndarray, shape (M, K)
        ``e_i^T T_n(H~) e_i`` over the non-zero modes, ``H~ = 2 H / scale - 1``.
    scale : float
        Upper bound of the eigenvalues used to rescale H.
    n_nodes : int
        Number of nodes N of the whole network.
    """

    nodes: np.ndarray
    moments: np.ndarray
    scale: float
    n_nodes: int

    def mode_weights(self, omega_min, omega_max) -> np.ndarray:
        """Each node's share of the modes with omega_min <= omega <= omega_max.

        The window's indicator is expanded in Chebyshev polynomials and damped
        by the Jackson kernel (Weisse et al., Eqs. (71), (85)), so its edges are
        smoothed over about ``pi sqrt(scale) / (2 K)`` in omega.

        Parameters
        ----------
        omega_min, omega_max : float
            The window, ``0 <= omega_min < omega_max``.

        Returns
        -------
        ndarray, shape (M,)
            ``sum_k |u_k(i)|^2 / N`` over the modes k in the window.

        Raises
        ------
        ValueError
            Unless both are finite numbers with ``0 <= omega_min < omega_max``.

        Examples
        --------
        >>> from bpwidgets import build_network
        >>> net = build_network(3, 0.0, connection="nearest", spring="constant", seed=0)
        >>> local_spectrum(net).mode_weights(1.0, 2.0).round(3)  # 4 of 9 modes, spread evenly
        array([0.049, 0.049, 0.049, 0.049, 0.049, 0.049, 0.049, 0.049, 0.049])
        """
        lo, hi = _check_window(omega_min, omega_max)
        coefficients = _window_coefficients(lo, hi, self.scale, self.moments.shape[1])
        return np.clip(self.moments @ coefficients, 0.0, None) / self.n_nodes


def _window_coefficients(lo, hi, scale, n_moments) -> np.ndarray:
    """Jackson-damped Chebyshev coefficients of the indicator of lo <= omega <= hi.

    In x = 2 omega^2 / scale - 1 = cos(theta): c_0 = (theta_lo - theta_hi) / pi and
    c_n = 2 (sin n theta_lo - sin n theta_hi) / (n pi) (Weisse et al., Eq. (85)).
    """
    theta_lo = np.arccos(np.clip(2.0 * lo**2 / scale - 1.0, -1.0, 1.0))
    theta_hi = np.arccos(np.clip(2.0 * hi**2 / scale - 1.0, -1.0, 1.0))
    n = np.arange(1, n_moments)
    coefficients = np.empty(n_moments)
    coefficients[0] = (theta_lo - theta_hi) / np.pi
    coefficients[1:] = 2.0 * (np.sin(n * theta_lo) - np.sin(n * theta_hi)) / (n * np.pi)
    return coefficients * _jackson(n_moments)


def local_spectrum(network: Network, *, nodes=None, moments=LOCAL_MOMENTS) -> LocalSpectrum:
    """Local Chebyshev moments of chosen nodes, for fast mode weights in any window.

    Deterministic: the moments ``e_i^T T_n(H~) e_i`` come from the Chebyshev
    recursion started at each node's unit vector, two moments per sparse
    product (Weisse et al., Eq. (34)); the zero mode of the node's cluster,
    which contributes ``(-1)^n / |cluster|``, is removed exactly.

    Parameters
    ----------
    network : Network
    nodes : array_like of int, optional
        The nodes (default: all). The cost grows as ``len(nodes) * N``; at most
        ``LOCAL_MAX_NODES``.
    moments : int, optional
        Number K of moments, from 8 to ``MAX_MOMENTS``.

    Returns
    -------
    LocalSpectrum

    Raises
    ------
    TypeError
        If ``network`` is not a :class:`~bpwidgets.Network`.
    ValueError
        For nodes outside the network or more than ``LOCAL_MAX_NODES`` of them,
        bad moments, or a request that would need more memory than
        :func:`bpwidgets.core.limits.memory_limit`.

    Examples
    --------
    >>> from bpwidgets import build_network
    >>> net = build_network(40, 0.3, connection="cutoff", spring="inverse", seed=0)
    >>> corner = local_spectrum(net, nodes=range(10))
    >>> corner.mode_weights(0.3, 0.7).shape
    (10,)
    """
    _check_network(network)
    chosen = _check_nodes(network, nodes)
    if chosen.size > LOCAL_MAX_NODES:
        raise ValueError(
            f"local_spectrum takes at most LOCAL_MAX_NODES = {LOCAL_MAX_NODES} nodes; "
            f"got {chosen.size}: pass the nodes you want to see"
        )
    n_moments = _check_moments(moments)
    _check_memory(f"nodes: {chosen.size} of a network of {network.n_nodes} nodes",
                  _local_bytes(network, chosen.size))
    stack = _Stack([network])
    _, labels = network.clusters()
    cluster_size = np.bincount(labels)[labels[chosen]]
    # The K moments need T_n(H~) e_i for n <= K/2, which reaches K/2 springs from node i:
    # the nodes that far from the chosen ones give the moments exactly (one spring more
    # than they need), and the rest of a large network never enters.
    near = _neighbourhood(network, chosen, n_moments // 2)
    if near.size < network.n_nodes:
        matrix = _ThreadedMatrix(network.dynamical_matrix()[near][:, near])
        starts = np.searchsorted(near, chosen)
    else:
        matrix, starts = stack.matrix, chosen
    block = max(1, _LOCAL_BLOCK_ENTRIES // matrix.shape[0])

    def moments_with(scale):
        return np.concatenate([
            _local_moments(matrix, starts[k : k + block], scale, n_moments)
            for k in range(0, starts.size, block)
        ])

    local, scale = _within_bound(moments_with, [stack], _lanczos_bound([stack]))
    local -= (-1.0) ** np.arange(n_moments) / cluster_size[:, None]
    return LocalSpectrum(nodes=chosen, moments=local, scale=scale, n_nodes=network.n_nodes)


def _local_bytes(network, n_chosen) -> int:
    """About the most memory :func:`local_spectrum` needs: one block of unit vectors
    (``_LOCAL_BLOCK_ENTRIES`` entries, or one column of N) in the recursion, and about
    five copies of the matrix (N + 2E entries) in double and single precision."""
    columns = min(n_chosen, max(1, _LOCAL_BLOCK_ENTRIES // network.n_nodes))
    entries = network.n_nodes + 2 * network.n_bonds
    return _BYTES_PER_VECTOR_ENTRY * network.n_nodes * columns + 40 * entries


def _neighbourhood(network, nodes, hops) -> np.ndarray:
    """Sorted indices of the nodes at most ``hops`` springs away from any of ``nodes``."""
    matrix = network.dynamical_matrix()
    springs = sp.csr_array((np.ones(matrix.nnz, np.float32), matrix.indices, matrix.indptr),
                           shape=matrix.shape)
    reached = np.zeros(network.n_nodes, bool)
    reached[nodes] = True
    frontier = reached
    for _ in range(hops):
        frontier = (springs @ frontier.astype(np.float32) > 0) & ~reached
        if not frontier.any():
            break
        reached |= frontier
    return np.flatnonzero(reached)


def _check_nodes(network, nodes) -> np.ndarray:
    try:
        chosen = np.arange(network.n_nodes) if nodes is None else np.asarray(nodes).ravel()
    except (TypeError, ValueError):
        chosen = np.array([None])
    if chosen.dtype.kind not in "iu" and chosen.size:
        raise ValueError(f"nodes must be integer node indices; got {reprlib.repr(nodes)}")
    chosen = chosen.astype(int)
    if chosen.size == 0 or chosen.min() < 0 or chosen.max() >= network.n_nodes:
        raise ValueError(f"nodes must be a non-empty set of indices 0 .. {network.n_nodes - 1}")
    return chosen


@dataclass(frozen=True, eq=False)
class NodeModes:
    """Exact modes seen from chosen nodes: a small network's answer to every window.

    Built once by :func:`node_modes`; every frequency window's mode weights then
    cost one sum, with sharp window edges.

    Attributes
    ----------
    nodes : ndarray of int, shape (M,)
        The nodes, in row order.
    frequencies : ndarray, shape (P,)
        The non-zero modes' frequencies, ascending.
    squares : ndarray, shape (M, P)
        ``|u_k(i)|^2`` of every chosen node i and non-zero mode k.
    n_nodes : int
        Number of nodes N of the whole network.
    """

    nodes: np.ndarray
    frequencies: np.ndarray
    squares: np.ndarray
    n_nodes: int

    def mode_weights(self, omega_min, omega_max) -> np.ndarray:
        """Each node's share of the modes with omega_min <= omega <= omega_max.

        Parameters
        ----------
        omega_min, omega_max : float
            The frequency window, ``0 <= omega_min < omega_max``.

        Returns
        -------
        ndarray, shape (M,)
            ``sum_k |u_k(i)|^2 / N`` over the non-zero modes k in the window.

        Raises
        ------
        ValueError
            Unless both are finite numbers with ``0 <= omega_min < omega_max``.

        Examples
        --------
        >>> from bpwidgets import build_network
        >>> net = build_network(3, 0.0, connection="nearest", spring="constant", seed=0)
        >>> node_modes(net, nodes=[0, 4]).mode_weights(1.0, 2.0).round(4)
        array([0.0494, 0.0494])
        """
        lo, hi = _check_window(omega_min, omega_max)
        inside = (self.frequencies >= lo) & (self.frequencies <= hi)
        return self.squares[:, inside].sum(axis=1) / self.n_nodes


def node_modes(network: Network, *, nodes=None) -> NodeModes:
    """Dense eigenvectors of a small network, kept for the chosen nodes.

    For one network and many frequency windows (the dashboard's brush): the
    diagonalisation is paid once, and each window then costs one sum.

    Parameters
    ----------
    network : Network
        At most ``EXACT_MAX_NODES`` nodes.
    nodes : array_like of int, optional
        The nodes (default: all).

    Returns
    -------
    NodeModes

    Raises
    ------
    TypeError
        If ``network`` is not a :class:`~bpwidgets.Network`.
    ValueError
        For a network past ``EXACT_MAX_NODES``, nodes outside it, or dense
        eigenvectors that would need more memory than
        :func:`bpwidgets.core.limits.memory_limit`.

    Examples
    --------
    >>> from bpwidgets import build_network
    >>> net = build_network(12, 0.3, connection="cutoff", spring="inverse", seed=0)
    >>> modes = node_modes(net, nodes=range(5))
    >>> modes.mode_weights(0.3, 0.7).shape, modes.mode_weights(1.0, 2.0).shape
    ((5,), (5,))
    """
    _check_network(network)
    chosen = _check_nodes(network, nodes)
    _check_dense(network.n_nodes, "exact mode weights", "use method='kpm'", eigenvectors=True,
                 extra_bytes=8 * chosen.size * network.n_nodes)
    n_zero, _ = network.clusters()
    values, modes = scipy.linalg.eigh(network.dynamical_matrix().toarray())
    # Zero modes (one per connected cluster) come first and are left out.
    frequencies = np.sqrt(np.clip(values[n_zero:], 0.0, None))
    return NodeModes(nodes=chosen, frequencies=frequencies,
                     squares=modes[chosen, n_zero:] ** 2, n_nodes=network.n_nodes)


def _local_moments(matrix, nodes, scale, n_moments):
    """Moments e_i^T T_n(H~) e_i of a block of nodes, by the doubled recursion.

    Single precision, as for the reduced DOS: the recursion is bound by memory
    traffic, and the moments come out good to about 1e-6, far finer than the
    colours they are drawn as.
    """
    n_rows = matrix.shape[0]
    start = np.zeros((n_rows, nodes.size), np.float32)
    start[nodes, np.arange(nodes.size)] = 1.0
    half = n_moments // 2
    squares, crosses = np.empty((nodes.size, half)), np.empty((nodes.size, half))
    vectors = _chebyshev_vectors(matrix, start, scale)
    current = next(vectors)
    for n in range(half):
        following = next(vectors)
        squares[:, n] = np.einsum("ij,ij->j", current, current)
        crosses[:, n] = np.einsum("ij,ij->j", following, current)
        current = following
    return _doubled_moments(squares, crosses)


def mode_weights(network: Network, omega_min, omega_max, *, nodes=None, method="auto",
                 moments=LOCAL_MOMENTS, vectors=64):
    """Each node's share of the vibrational modes with omega_min <= omega <= omega_max.

    Parameters
    ----------
    network : Network
    omega_min, omega_max : float
        The frequency window, ``0 <= omega_min < omega_max``.
    nodes : array_like of int, optional
        The nodes to report (default: all).
    method : {"auto", "exact", "kpm", "stochastic"}, optional
        ``"exact"``: dense eigenvectors (at most ``EXACT_MAX_NODES`` nodes);
        ``"kpm"``: :func:`local_spectrum`, the Jackson-smoothed window's
        projector on each node, deterministic, linear in N per node;
        ``"stochastic"``: the same projector's diagonal estimated from
        ``vectors`` random vectors for all nodes at once, linear in N but noisy
        (relative error about ``1 / sqrt(vectors * N * w_i)``); ``"auto"``:
        exact up to ``MODE_WEIGHTS_EXACT_MAX`` nodes, else kpm for up to
        ``MODE_WEIGHTS_LOCAL_MAX`` nodes, else stochastic. For one network and
        many windows, call :func:`local_spectrum` once and its ``mode_weights``
        per window.
    moments : int, optional
        Chebyshev moments of the ``"kpm"`` and ``"stochastic"`` methods, from 8
        to ``MAX_MOMENTS``.
    vectors : int, optional
        Random vectors of the ``"stochastic"`` method, from 1 to ``MAX_VECTORS``.

    Returns
    -------
    ndarray, shape (len(nodes),)
        ``w_i = sum_k |u_k(i)|^2 / N`` over the modes k in the window; over all
        nodes they sum to the fraction of modes in the window. Zero modes are
        left out.

    Raises
    ------
    TypeError
        If ``network`` is not a :class:`~bpwidgets.Network`.
    ValueError
        For a bad window, nodes, method, moments or vectors, or as the method
        chosen refuses (:func:`node_modes`, :func:`local_spectrum`; the
        stochastic method's N x vectors block past the memory limit).

    Examples
    --------
    >>> from bpwidgets import build_network
    >>> net = build_network(3, 0.0, connection="nearest", spring="constant", seed=0)
    >>> mode_weights(net, 1.0, 2.0).round(4)  # the four modes at sqrt(3), evenly spread
    array([0.0494, 0.0494, 0.0494, 0.0494, 0.0494, 0.0494, 0.0494, 0.0494, 0.0494])
    """
    _check_network(network)
    lo, hi = _check_window(omega_min, omega_max)
    if nodes is not None:
        nodes = _check_nodes(network, nodes)
    method = _check_choice("method", method, ("auto", "exact", "kpm", "stochastic"))
    n_moments = _check_moments(moments)
    vectors = _check_vectors(vectors)
    if method == "auto":
        n_chosen = network.n_nodes if nodes is None else np.size(nodes)
        if network.n_nodes <= MODE_WEIGHTS_EXACT_MAX:
            method = "exact"
        else:
            method = "kpm" if n_chosen <= MODE_WEIGHTS_LOCAL_MAX else "stochastic"
    if method == "kpm":
        return local_spectrum(network, nodes=nodes, moments=moments).mode_weights(lo, hi)
    if method == "exact":
        return node_modes(network, nodes=nodes).mode_weights(lo, hi)
    # float64 vectors: the start, the projection and the recursion's three.
    _check_memory(f"vectors={vectors} over a network of {network.n_nodes} nodes",
                  2 * _BYTES_PER_VECTOR_ENTRY * network.n_nodes * vectors)
    weights = _stochastic_mode_weights(network, lo, hi, vectors, n_moments)
    return weights if nodes is None else weights[nodes]


def _check_window(omega_min, omega_max):
    for name, value in (("omega_min", omega_min), ("omega_max", omega_max)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"{name} must be a number; got {reprlib.repr(value)}")
    lo, hi = float(omega_min), float(omega_max)
    if not (np.isfinite(lo) and np.isfinite(hi) and 0.0 <= lo < hi):
        raise ValueError(
            f"the window needs 0 <= omega_min < omega_max; got omega_min={omega_min}, "
            f"omega_max={omega_max}"
        )
    return lo, hi


def _stochastic_mode_weights(network, lo, hi, n_vectors, n_moments):
    """Diagonal of the smoothed window projector, E[v * P v] over Rademacher vectors."""
    stack = _Stack([network])
    start = _random_vectors([network], n_vectors)

    def projected_with(scale):
        coefficients = _window_coefficients(lo, hi, scale, n_moments)
        projected = np.zeros_like(start)
        for c, vectors in zip(coefficients, _chebyshev_vectors(stack.matrix, start, scale)):
            projected += c * vectors
        return projected

    # The smoothed projector has norm about 1 while the spectrum is within the bound.
    projected, _ = _within_bound(
        projected_with, [stack], _lanczos_bound([stack]),
        magnitude=lambda projected: np.linalg.norm(projected, axis=0)
        / np.linalg.norm(start, axis=0),
    )
    weights = np.einsum("ij,ij->i", start, projected) / n_vectors
    return np.clip(weights, 0.0, None) / network.n_nodes
