"""Stiff modes above the bulk: found locally, counted exactly, deflated from the KPM.

With 1/r springs two nodes can come arbitrarily close once delta nears 0.5
(a spring of length 0.0017, t ~ 580, at delta = 0.5 and L = 60). Such a spring
carries a mode localised on its two ends, at omega ~ sqrt(2 t), far above the
extended modes of the bulk (which end near omega ~ 3.5). One such mode sets the
Chebyshev bound, and the resolution of the whole curve, about
``pi omega_max / (2 K)`` (docs/physics.md, "Computing the DOS fast").

This module finds them per network and treats them exactly (docs/physics.md,
"Modes above the bulk"):

* :func:`_bulk_edge`: the edge ``E = OUTLIER_EDGE * median(H_ii)`` above which
  a mode counts as an outlier. The median diagonal is the typical node's total
  stiffness; a handful of stiff springs does not move it.
* :func:`_find_outliers`: the eigenpairs above E, from small dense problems.
  An eigenvector ``u`` with eigenvalue ``lambda > E`` peaks at a node i with
  ``H_ii >= lambda / 2 > E / 2`` (Gershgorin: ``(lambda - H_ii) |u_i| <=
  sum_j t_ij |u_j| <= H_ii |u_i|``), so only the clusters of such nodes are
  searched, each with the nodes one spring away; the Ritz pairs are accepted
  when their residual is small.
* :class:`_Deflation`: projects the networks' vectors onto the complement of
  the outliers' vectors, ``P = 1 - V V^T``, before and after every product, so
  that the Lanczos bound and the Chebyshev moments are the bulk's;
  :func:`_bulk_bounds` gives each network's bound with its outliers deflated.

Every network is searched and projected on its own: its outliers and bound do
not depend on the networks stacked with it.

Examples
--------
>>> from bpwidgets import build_network
>>> net = build_network(60, 0.5, connection="cutoff", spring="inverse", seed=0)
>>> matrix = net.dynamical_matrix()
>>> found = _find_outliers(matrix, _bulk_edge(matrix.diagonal()))
>>> found.count, round(float(np.sqrt(found.edge)), 2), round(float(found.frequencies[-1]), 1)
(148, 4.13, 34.3)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph

from .linalg import _upper_bounds

__all__ = ["OUTLIER_EDGE", "OUTLIER_TRIGGER"]


#: A mode counts as an outlier above ``E = OUTLIER_EDGE * median(H_ii)``. The extended
#: modes end below it: the Lanczos bound over the median diagonal is 2 for the crystal and
#: at most 2.4 for constant springs and for 1/r springs up to delta = 0.3 (L = 10 to 300).
#: How the bound compares: at delta = 0.5 (1/r, cutoff) the deflated bound is about E,
#: omega_max ~ 4.2 against 3.3 at delta = 0.3, so the resolution pi omega_max / (2 K) is
#: within a factor 1.34 of delta = 0.3's at every size (10 to 300) and seed count (1 to
#: 20) of the dashboard (1.39 with lattice springs); without deflation it was 2 to 11.
OUTLIER_EDGE = 2.5

#: Outliers are looked for only in a network whose Lanczos bound exceeds ``OUTLIER_TRIGGER * E``
#: (2.75 median(H_ii)): below that, deflating could gain at most 5 % in resolution. The
#: paper's delta = 0.3 (at most 2.4) never pays for the search.
OUTLIER_TRIGGER = 1.1

#: A cluster of nodes with ``H_ii > E / 2`` is searched when the top eigenvalue of its
#: own block exceeds this fraction of E (the nodes around it raise it by ~ 0.01 E).
_CORE_MARGIN = 0.9

#: A Ritz pair (theta, v) with residual ``rho = |H v - theta v|`` is deflated only when
#: ``rho**2 / (theta - E / 2) <= _MAX_SHIFT * E``: projecting v out then moves no eigenvalue
#: below E / 2 (omega < 2.9 at delta = 0.5, the whole Boson-peak range) by more than that,
#: second order in rho, while theta is within rho of an exact eigenvalue. A pair too poorly
#: converged stays in the bulk. Measured against dense diagonalisation (L = 40): the
#: eigenvalues below omega = 3 move by at most 5e-4 (1/r cutoff) and 5e-3 (1/r nearest).
_MAX_SHIFT = 1e-3


@dataclass(frozen=True, eq=False)
class _Outliers:
    """The modes of one network above its bulk edge.

    Attributes
    ----------
    edge : float
        The bulk edge E, an eigenvalue (omega^2): every outlier lies above it.
    eigenvalues : ndarray, shape (m,)
        Ritz values of the outliers, ascending.
    vectors : scipy.sparse.csr_array, shape (N, m)
        Their orthonormal vectors, each local and with zero sum (orthogonal to
        every zero mode).
    """

    edge: float
    eigenvalues: np.ndarray
    vectors: sp.csr_array

    @property
    def count(self) -> int:
        """Number of outliers m."""
        return len(self.eigenvalues)

    @property
    def frequencies(self) -> np.ndarray:
        """Their frequencies ``sqrt(eigenvalues)``, ascending."""
        return np.sqrt(self.eigenvalues)


def _bulk_edge(diagonal) -> float:
    """The bulk edge ``E = OUTLIER_EDGE * median(H_ii)`` of one network's diagonal."""
    return float(OUTLIER_EDGE * np.median(diagonal))


def _none_found(n_nodes, edge) -> _Outliers:
    return _Outliers(edge=float(edge), eigenvalues=np.zeros(0), vectors=sp.csr_array((n_nodes, 0)))


def _find_outliers(matrix, edge) -> _Outliers:
    """The eigenpairs of one network's dynamical matrix above ``edge``, found locally.

    1. Cores: the connected clusters of nodes with ``H_ii > edge / 2``, where
       every mode above the edge peaks (Gershgorin). Those whose own block's top
       eigenvalue exceeds ``_CORE_MARGIN * edge`` are searched.
    2. Each core's region, the core and the nodes one spring away, is solved
       densely: the eigenpairs of its block restricted to vectors of zero sum
       (so every vector is orthogonal to every zero mode) above the edge. Two
       regions share at most a few nodes (other cores are two springs away).
    3. A pair is kept when its residual ``rho = |H v - theta v|`` is small
       enough that deflating it moves no eigenvalue below ``edge / 2`` by more
       than ``_MAX_SHIFT * edge`` (``rho**2 / (theta - edge / 2)``, second order).
    4. The kept vectors, which overlap only in their tails, are made
       orthonormal (:func:`_orthonormal`).

    Parameters
    ----------
    matrix : scipy.sparse array, shape (N, N)
        The dynamical matrix H.
    edge : float
        The bulk edge E (:func:`_bulk_edge`).

    Returns
    -------
    _Outliers
    """
    matrix = sp.csr_array(matrix)
    n_nodes = matrix.shape[0]
    candidates = np.flatnonzero(matrix.diagonal() > 0.5 * edge)
    if candidates.size == 0:
        return _none_found(n_nodes, edge)
    n_cores, core_of = csgraph.connected_components(
        matrix[candidates][:, candidates], directed=False
    )
    cores = _blocks_of(candidates, core_of, n_cores)
    cores = [core for core, top in zip(cores, _block_tops(matrix, cores))
             if top > _CORE_MARGIN * edge]
    if not cores:
        return _none_found(n_nodes, edge)
    values, vectors = _block_pairs_above(matrix, _neighbourhoods(matrix, cores), edge)
    if values.size == 0:
        return _none_found(n_nodes, edge)
    rho = _residuals(matrix, vectors, values)
    kept = np.flatnonzero(rho**2 <= _MAX_SHIFT * edge * (values - 0.5 * edge))
    if kept.size == 0:
        return _none_found(n_nodes, edge)
    vectors = _orthonormal(vectors[:, kept])
    # Rayleigh quotients of the orthonormal vectors (Loewdin moved them by F / 2 < 3e-3).
    values = np.asarray(vectors.multiply(matrix @ vectors).sum(axis=0)).ravel()
    order = np.argsort(values, kind="stable")
    return _Outliers(edge=float(edge), eigenvalues=values[order],
                     vectors=sp.csr_array(vectors[:, order]))


def _exact_counterparts(exact, found) -> np.ndarray:
    """Mask of the exact frequencies (ascending) nearest the ``found`` ones, one each.

    What ``method="exact"`` leaves out of its moments: the exact modes that the
    KPM deflates, taken from the top down, each the nearest one not taken yet.
    """
    mask = np.zeros(exact.size, bool)
    for omega in found[::-1]:
        candidates = np.flatnonzero(~mask & (exact > 0))
        mask[candidates[np.argmin(np.abs(exact[candidates] - omega))]] = True
    return mask


def _residuals(matrix, vectors, values) -> np.ndarray:
    """``|H v_k - theta_k v_k|`` for every column of ``vectors``."""
    residual = matrix @ vectors - vectors @ sp.diags_array(values)
    return np.sqrt(np.asarray(residual.multiply(residual).sum(axis=0))).ravel()


#: Largest deviation of the deflated vectors' Gram matrix from the identity.
_ORTHONORMAL_TOLERANCE = 1e-10


def _orthonormal(vectors) -> sp.csc_array:
    """Nearly orthonormal sparse columns made orthonormal, staying sparse (Loewdin).

    With ``G = V^T V = 1 + F``, ``V G^(-1/2) ~ V (1 - F/2 + 3 F^2 / 8)`` leaves an
    error of order ``F^3``; repeated until ``|V^T V - 1| <= _ORTHONORMAL_TOLERANCE``.
    F is non-zero only between vectors whose regions share nodes, and its
    entries are products of two tails (below 1e-2 measured), so one or two
    rounds suffice and each vector gains only its neighbours' small terms.
    """
    vectors = sp.csc_array(vectors)
    for _ in range(8):
        overlap = sp.csr_array(vectors.T @ vectors) - sp.eye_array(vectors.shape[1])
        overlap.eliminate_zeros()
        if overlap.nnz == 0 or np.abs(overlap.data).max() <= _ORTHONORMAL_TOLERANCE:
            break
        correction = -0.5 * overlap + 0.375 * (overlap @ overlap)
        vectors = sp.csc_array(vectors + vectors @ correction)
    return vectors


def _neighbourhoods(matrix, cores) -> list:
    """Every core with the nodes one spring away (its rows' columns), ascending."""
    nodes = np.concatenate(cores)
    label = np.repeat(np.arange(len(cores)), [core.size for core in cores])
    first, count = matrix.indptr[nodes], np.diff(matrix.indptr)[nodes]
    entries = np.repeat(first - np.cumsum(count) + count, count) + np.arange(count.sum())
    neighbours, owner = matrix.indices[entries], np.repeat(label, count)
    # The diagonal is stored, so every core node is among its own row's columns.
    order = np.lexsort((neighbours, owner))
    neighbours, owner = neighbours[order], owner[order]
    new = np.ones(neighbours.size, bool)
    new[1:] = (np.diff(neighbours) != 0) | (np.diff(owner) != 0)
    return _blocks_of(neighbours[new], owner[new], len(cores))


def _blocks_of(nodes, labels, n_blocks) -> list:
    """The nodes of every block, ascending, in block order."""
    order = np.lexsort((nodes, labels))
    bounds = np.searchsorted(labels[order], np.arange(n_blocks + 1))
    return [nodes[order[a:b]] for a, b in zip(bounds[:-1], bounds[1:])]


def _batched_blocks(matrix, blocks, *, zero_sum):
    """``(members, nodes, dense)`` batches: the blocks ``H[b][:, b]`` of one size, dense.

    ``members`` are the blocks' indices and ``nodes`` (blocks x size) their
    nodes. Springs between blocks are
    ignored. With ``zero_sum`` a block is restricted to vectors of zero sum,
    ``Q H Q`` with ``Q = 1 - 1 1^T / p`` (its other eigenvalue is 0, with the vector 1).
    """
    sizes = np.array([b.size for b in blocks])
    by_size = np.argsort(sizes, kind="stable")
    blocks = [blocks[b] for b in by_size]
    sizes = sizes[by_size]
    ordered = np.concatenate(blocks)
    first = np.cumsum(sizes) - sizes
    block_of = np.repeat(np.arange(len(blocks)), sizes)
    local = np.arange(ordered.size) - first[block_of]
    sub = matrix[ordered][:, ordered].tocoo()
    same = block_of[sub.row] == block_of[sub.col]
    # Entries sorted by block, so the blocks of one size own one run of them.
    order = np.argsort(sub.row[same], kind="stable")
    rows, columns, data = sub.row[same][order], sub.col[same][order], sub.data[same][order]
    entry_block = block_of[rows]
    sizes_present, starts = np.unique(sizes, return_index=True)
    stops = np.append(starts[1:], len(blocks))
    for size, a, b in zip(sizes_present, starts, stops):
        lo, hi = np.searchsorted(entry_block, [a, b])
        dense = np.zeros((b - a, size, size))
        dense[entry_block[lo:hi] - a, local[rows[lo:hi]], local[columns[lo:hi]]] = data[lo:hi]
        if zero_sum:
            sums = dense.mean(axis=2)
            dense += sums.mean(axis=1)[:, None, None] - sums[:, :, None] - sums[:, None, :]
        nodes = ordered[first[a:b, None] + np.arange(size)]
        yield by_size[a:b], nodes, dense


def _block_tops(matrix, blocks) -> np.ndarray:
    """The top eigenvalue of every block ``H[b][:, b]``, in the blocks' order."""
    tops = np.empty(len(blocks))
    for members, _, dense in _batched_blocks(matrix, blocks, zero_sum=False):
        tops[members] = np.linalg.eigvalsh(dense)[:, -1]
    return tops


def _block_pairs_above(matrix, blocks, threshold) -> tuple:
    """All the blocks' zero-sum eigenpairs above ``threshold`` > 0, as one sparse set.

    Returns
    -------
    values : ndarray, shape (m,)
    vectors : scipy.sparse.csc_array, shape (N, m)
        Each column a block's eigenvector, on that block's nodes.
    """
    values, rows, columns, entries = [], [], [], []
    count = 0
    for _, nodes, dense in _batched_blocks(matrix, blocks, zero_sum=True):
        thetas, vectors = np.linalg.eigh(dense)
        block, which = np.nonzero(thetas > threshold)
        values.append(thetas[block, which])
        rows.append(nodes[block].ravel())
        entries.append(vectors[block, :, which].ravel())
        columns.append(np.repeat(count + np.arange(block.size), nodes.shape[1]))
        count += block.size
    vectors = sp.csc_array(
        (np.concatenate(entries), (np.concatenate(rows), np.concatenate(columns))),
        shape=(matrix.shape[0], count),
    )
    return np.concatenate(values), vectors


class _Deflation:
    """The projection ``P = 1 - V V^T`` off the outliers of every network of a stack.

    ``V`` is block-diagonal, one block of columns per network (none for a
    network without outliers), so projecting a network's rows uses only its
    own outliers, and leaves the rows of the others exactly as they are.
    """

    def __init__(self, found, block_rows):
        rows, columns, entries = [], [], []
        offset = 0
        for b, outliers in enumerate(found):
            if outliers is None or outliers.count == 0:
                continue
            block = outliers.vectors.tocoo()
            rows.append(block.row + b * block_rows)
            columns.append(block.col + offset)
            entries.append(block.data)
            offset += outliers.count
        shape = (len(found) * block_rows, offset)
        vectors = sp.csr_array(
            (np.concatenate(entries) if entries else np.zeros(0),
             (np.concatenate(rows) if rows else np.zeros(0, int),
              np.concatenate(columns) if columns else np.zeros(0, int))),
            shape=shape,
        )
        self.count = offset
        self.counts = np.array([0 if o is None else o.count for o in found])
        self._pairs = {
            np.dtype(dtype): (vectors.astype(dtype), sp.csr_array(vectors.T).astype(dtype))
            for dtype in (np.float64, np.float32)
        }

    def project(self, x):
        """``x - V (V^T x)`` in the type of ``x``, for stacked vectors of any shape."""
        vectors, transposed = self._pairs[np.dtype(x.dtype)]
        flat = x.reshape(vectors.shape[0], -1)
        return (flat - vectors @ (transposed @ flat)).reshape(x.shape)


def _bulk_bounds(stack) -> tuple:
    """Each network's bound with its outliers deflated, the outliers and the stack's projection.

    Outliers are looked for in a network whose top eigenvalue exceeds
    ``OUTLIER_TRIGGER`` times its bulk edge. The top is known to exceed it when a
    spring's two-node vector ``(e_i - e_j) / sqrt(2)`` already does, its Rayleigh
    quotient ``(H_ii + H_jj) / 2 + t_ij`` being a lower bound of the top;
    otherwise the network's Lanczos bound
    (:func:`bpwidgets.core.linalg._upper_bounds`) decides, as it bounds the
    spectrum anyway. Where outliers are found, the Lanczos run is that of the
    deflated matrix ``P H P``, which is the plain run for the other networks.

    Returns
    -------
    bounds : ndarray, shape (n_blocks,)
        Upper bound of each network's spectrum without its outliers.
    found : list of _Outliers
        Each network's outliers (none where none was looked for or found).
    deflation : _Deflation or None
        The projection off all of them; None when there are none.
    """
    diagonals = stack.diagonal.reshape(stack.n_blocks, stack.block_rows)
    edges = np.array([_bulk_edge(d) for d in diagonals])
    dimers = np.array([_top_dimer(n, d) for n, d in zip(stack.networks, diagonals)])
    bounds = None
    if np.any(dimers <= OUTLIER_TRIGGER * edges):
        bounds = _upper_bounds(stack)
        dimers = np.maximum(dimers, bounds)
    found = [
        _find_outliers(network.dynamical_matrix(), edge)
        if top > OUTLIER_TRIGGER * edge else _none_found(network.n_nodes, edge)
        for network, top, edge in zip(stack.networks, dimers, edges)
    ]
    if not any(outliers.count for outliers in found):
        return (_upper_bounds(stack) if bounds is None else bounds), found, None
    deflation = _Deflation(found, stack.block_rows)
    return _upper_bounds(stack, project=deflation.project), found, deflation


def _top_dimer(network, diagonal) -> float:
    """The largest Rayleigh quotient ``(H_ii + H_jj) / 2 + t_ij`` of a spring's two ends."""
    if network.n_bonds == 0:
        return 0.0
    i, j = network.bonds.T
    return float(np.max(0.5 * (diagonal[i] + diagonal[j]) + network.stiffness))
