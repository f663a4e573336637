"""Threaded sparse linear algebra shared by the spectra and the Debye level.

numpy and scipy release the GIL in their inner loops, so the products of the
dynamical matrix run on every core in the package's thread pool
(:mod:`bpwidgets.core.parallel`):

* :class:`_ThreadedMatrix`: a CSR matrix whose products run one block of rows
  per thread, with results identical to ``matrix @ x``;
* :class:`_Stack`: networks of one size stacked into one block-diagonal
  matrix, and :func:`_stacks`, which splits networks into one stack per core;
  every computation on a stack is still done per network;
* :func:`_chebyshev_vectors`: the one Chebyshev recursion ``T_n(H~) v`` that the
  density of states, the local spectra and the mode weights all run;
* :func:`_upper_bounds`: the upper bound of each network's spectrum from a
  short Lanczos run, and :func:`_within_bound`, which falls back to the safe
  Gershgorin bound when the spectrum exceeds it.

Examples
--------
>>> from bpwidgets import build_network
>>> crystal = build_network(16, 0.0, connection="nearest", spring="constant", seed=0)
>>> stack = _Stack([crystal])
>>> float(stack.gershgorin_bounds()[0]), 8.0 <= _lanczos_bound([stack]) <= 8.0 * SCALE_SAFETY
(8.0, True)
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from . import parallel
from .network import Network, _check_network

__all__ = [
    "ESCAPE_MAGNITUDE",
    "LANCZOS_SEED",
    "LANCZOS_STEPS",
    "SCALE_SAFETY",
]


#: Lanczos steps for the upper spectral bound, and the safety factor applied to it.
LANCZOS_STEPS = 40
SCALE_SAFETY = 1.02

#: Largest magnitude of a Chebyshev moment (or of anything computed from ``T_n(H~)``)
#: taken to mean the spectrum lay within the bound: past 1.5 an eigenvalue escaped it and
#: ``|T_n|`` grows with n (docs/physics.md, "Computing the DOS fast").
ESCAPE_MAGNITUDE = 1.5

#: Seed of the Lanczos start vector: results are reproducible run to run.
LANCZOS_SEED = 0

#: Rows per thread below which a sparse product is not worth splitting.
_MIN_ROWS_PER_THREAD = 4_096


class _ThreadedMatrix:
    """A CSR matrix whose products run on all cores, one block of rows per thread.

    scipy's sparse products are single-threaded but release the GIL, so row
    blocks multiply in parallel; the results are identical to ``matrix @ x``.
    With ``threads=1`` everything runs in the calling thread. By default the
    parallel policy decides (:func:`bpwidgets.core.parallel.threads`): every
    core, or one block when the matrix is made inside a pool thread.
    """

    def __init__(self, matrix, *, threads=None):
        matrix = sp.csr_array(matrix)
        n_rows = matrix.shape[0]
        threads = parallel.threads(threads)
        n_threads = max(1, min(threads, n_rows // _MIN_ROWS_PER_THREAD))
        edges = np.linspace(0, n_rows, n_threads + 1).astype(int)
        self.shape = matrix.shape
        self.dtype = matrix.dtype
        self._copies = {}
        self._blocks = [(a, b, matrix[a:b]) for a, b in zip(edges[:-1], edges[1:])]

    def _with_blocks(self, blocks) -> "_ThreadedMatrix":
        """A matrix of the same shape made of other row blocks ``(start, stop, rows)``."""
        other = object.__new__(_ThreadedMatrix)
        other.shape, other.dtype, other._copies = self.shape, blocks[0][2].dtype, {}
        other._blocks = blocks
        return other

    def astype(self, dtype) -> "_ThreadedMatrix":
        """The same matrix and row blocks with entries of another type (made once)."""
        dtype = np.dtype(dtype)
        if dtype == self.dtype:
            return self
        if dtype not in self._copies:
            self._copies[dtype] = self._with_blocks(
                [(a, b, rows.astype(dtype)) for a, b, rows in self._blocks]
            )
        return self._copies[dtype]

    def _each_block(self, work):
        """Run ``work(start, stop, rows)`` for every row block, on the thread pool.

        From inside a pool thread the blocks run one after the other there: a pool
        thread waiting on the pool could wait for ever once every thread waits
        (:func:`bpwidgets.core.parallel.each` decides).
        """
        parallel.each(lambda block: work(*block), self._blocks)

    def __matmul__(self, x):
        out = np.empty((self.shape[0],) + x.shape[1:], np.result_type(self.dtype, x.dtype))

        def multiply(start, stop, rows):
            out[start:stop] = rows @ x

        self._each_block(multiply)
        return out

    def times_minus(self, x, y):
        """``self @ x - y``, each row block finished in its own thread."""
        out = np.empty((self.shape[0],) + x.shape[1:], np.result_type(self.dtype, x.dtype))

        def multiply(start, stop, rows):
            out[start:stop] = rows @ x
            out[start:stop] -= y[start:stop]

        self._each_block(multiply)
        return out

    def affine(self, a, b) -> "_ThreadedMatrix":
        """``a * self + b * I`` (square matrices), with the same row blocks and type.

        ``a`` is a number or one factor per row (``diag(a) self + b I``): a stack
        of networks is then rescaled block by block, each by its own bound.
        """
        row_factors = np.ndim(a) > 0
        if row_factors:
            a = np.asarray(a, dtype=self.dtype)
        blocks = []
        for start, stop, rows in self._blocks:
            entry_rows = np.repeat(np.arange(start, stop), np.diff(rows.indptr))
            on_diagonal = rows.indices == entry_rows
            factor = a[entry_rows] if row_factors else rows.dtype.type(a)
            # One stored diagonal entry per row (no duplicates): shift those in place.
            if rows.has_canonical_format and np.count_nonzero(on_diagonal) == stop - start:
                shifted = sp.csr_array(
                    (rows.data * factor, rows.indices, rows.indptr), shape=rows.shape
                )
                shifted.data[on_diagonal] += rows.dtype.type(b)
            else:  # a row without a stored diagonal entry
                eye = sp.eye_array(stop - start, self.shape[1], k=start, dtype=rows.dtype)
                scaled = (sp.diags_array(a[start:stop]) @ rows if row_factors else a * rows)
                shifted = sp.csr_array(scaled + b * eye, dtype=rows.dtype)
            blocks.append((start, stop, shifted))
        return self._with_blocks(blocks)


def _chebyshev_vectors(matrix, start, scale, project=None):
    """``T_0(H~) v, T_1(H~) v, T_2(H~) v, ...`` without end, ``H~ = 2 H / scale - 1``.

    The one Chebyshev recursion of the package: ``matrix`` is H as a
    :class:`_ThreadedMatrix`, ``start`` holds v (one vector per column), and the
    products run in the type of ``start``; ``scale`` is a number or one per row
    (each network of a stack by its own). ``H~`` maps [0, scale] onto [-1, 1],
    with lambda = 0 at x = -1. With ``project`` (a projection P commuting with H,
    ``start`` already in its range) every new vector is projected again, so the
    recursion is that of ``P H P`` and rounding cannot regrow the components
    projected out (docs/physics.md, "Modes above the bulk").
    """
    # T_n+1 = 2 H~ T_n - T_n-1, with 2 H~ = 4 H / scale - 2 folded into one matrix.
    twice = matrix.astype(start.dtype).affine(4.0 / np.asarray(scale, dtype=float), -2.0)
    previous, current = start, 0.5 * (twice @ start)
    if project is not None:
        current = project(current)
    yield previous
    while True:
        yield current
        previous, current = current, twice.times_minus(current, previous)
        if project is not None:
            current = project(current)


class _Stack:
    """Networks of one size stacked into one block-diagonal matrix.

    Every computation on a stack is done per network (its own Lanczos run, its
    own conjugate-gradient steps, its own moments), so results do not depend on
    how networks are grouped into stacks; stacking only shares the sparse
    products and the array operations. Blocks have ``L**2`` rows each, so a
    per-network reduction is a reshape.
    """

    def __init__(self, networks, *, threads=None):
        self.networks = list(networks)
        _check_networks(self.networks)
        self.size = self.networks[0].size
        self.block_rows = self.networks[0].n_nodes
        self.n_blocks = len(self.networks)
        stacked = sp.block_diag([n.dynamical_matrix() for n in self.networks], format="csr")
        self.diagonal = stacked.diagonal()
        self.matrix = _ThreadedMatrix(stacked, threads=threads)

    def gershgorin_bounds(self) -> np.ndarray:
        """Each network's bound 2 max(H_ii): safe, since every row's off-diagonal entries
        sum to -H_ii, so no eigenvalue exceeds it."""
        return 2.0 * self.diagonal.reshape(self.n_blocks, self.block_rows).max(axis=1)


def _stacks(networks) -> list:
    """The networks split into stacks of whole networks, one per core, in order.

    A lone stack (one network, one core, or called from inside the pool)
    multiplies on every core the policy allows; several stacks each run in one
    thread, side by side (:func:`bpwidgets.core.parallel.each`).
    """
    n_stacks = min(len(networks), parallel.threads())
    edges = np.linspace(0, len(networks), n_stacks + 1).round().astype(int)
    groups = [networks[a:b] for a, b in zip(edges[:-1], edges[1:])]
    if n_stacks == 1:
        return [_Stack(networks)]
    # Stacks made for parallel work are made, and multiply, in a pool thread: the policy
    # gives them one block each, so they never wait on the pool.
    return parallel.each(_Stack, groups)


def _check_networks(networks) -> list:
    """The networks as a list: at least one, each a Network, all of one size."""
    if isinstance(networks, Network):
        raise TypeError("networks must be a sequence of bpwidgets.Network; got one Network: "
                        "pass [network]")
    try:
        networks = list(networks)
    except TypeError:
        raise TypeError(f"networks must be a sequence of bpwidgets.Network; got "
                        f"{type(networks).__name__}") from None
    if not networks:
        raise ValueError("networks must be a non-empty sequence of bpwidgets.Network; got none")
    for k, network in enumerate(networks):
        _check_network(network, f"networks[{k}]")
    sizes = {n.size for n in networks}
    if len(sizes) > 1:
        raise ValueError(f"networks must all have the same size; got sizes {sorted(sizes)}")
    return networks


def _row_dots(a, b) -> np.ndarray:
    """``a[k] . b[k]`` for every row k of two single-precision 2D arrays, as doubles.

    One BLAS dot per row, several times faster than an einsum summing in double.
    BLAS adds in single precision: the rounding error is of order
    ``eps sqrt(n)`` of the sum of ``|a_i b_i|`` (measured below 1e-6 of the
    result for a million terms), which the iterations that use it absorb: the
    Lanczos bound keeps a 2 % margin and the conductance solve stops at a 1e-3
    residual. The moments, which are results, are summed pairwise instead.
    """
    return np.array([x @ y for x, y in zip(a, b)], dtype=np.float64)


# --------------------------------------------------------------------------- spectral bound


def _upper_bounds(stack, project=None) -> np.ndarray:
    """Upper bound of each network's spectrum: top Ritz value of a short Lanczos run, plus margin.

    The Gershgorin bound 2 max(H_ii) is safe but loose, which would waste
    resolution; Lanczos converges fast at the top of the spectrum. Every
    network runs its own recurrence, from the same start vector, side by side.
    With ``project`` (a projection P of the stacked vectors that commutes with H,
    acting on each network's rows alone) the run is that of ``P H P``: the
    bound of the spectrum left once the outliers are deflated
    (:func:`bpwidgets.core.outliers._bulk_bounds`).
    """
    n_blocks, n = stack.n_blocks, stack.block_rows
    steps = min(LANCZOS_STEPS, n)
    # Single precision halves the memory traffic; the bound keeps a 2 % margin anyway.
    matrix = stack.matrix.astype(np.float32)
    start = np.random.default_rng(LANCZOS_SEED).standard_normal(n, dtype=np.float32)
    v = np.tile(start / np.linalg.norm(start), (n_blocks, 1))
    if project is not None:
        projected = project(v)
        # Renormalise only the rows the projection moved: the others run exactly as without.
        moved = np.any(projected != v, axis=1)
        v = projected
        v[moved] /= np.sqrt(_row_dots(v[moved], v[moved])).astype(np.float32)[:, None]
    v_previous = np.zeros_like(v)
    alpha, beta = np.zeros((n_blocks, steps)), np.zeros((n_blocks, steps))
    ran = np.full(n_blocks, steps)  # steps each network's recurrence ran
    for k in range(steps):
        w = (matrix @ v.ravel()).reshape(v.shape)
        if project is not None:
            w = project(w)
        alpha[:, k] = _row_dots(v, w)
        w -= alpha[:, k, None].astype(np.float32) * v
        if k:
            w -= beta[:, k - 1, None].astype(np.float32) * v_previous
        beta[:, k] = np.sqrt(_row_dots(w, w))
        # A recurrence that has spanned its invariant subspace stops (and its block idles).
        ended = (ran == steps) & (beta[:, k] < 1e-6 * np.maximum(np.abs(alpha[:, k]), 1.0))
        ran[ended] = k + 1
        if np.all(ran <= k + 1):
            break
        inverse = np.divide(1.0, beta[:, k], out=np.zeros(n_blocks), where=ran == steps)
        w *= inverse.astype(np.float32)[:, None]  # an ended block's vectors become zero
        v_previous, v = v, w
    bounds = np.empty(n_blocks)
    for b, m in enumerate(ran):
        ritz, vectors = scipy.linalg.eigh_tridiagonal(alpha[b, :m], beta[b, : m - 1])
        bounds[b] = SCALE_SAFETY * (ritz[-1] + abs(beta[b, m - 1] * vectors[-1, -1]))
    return np.minimum(bounds, stack.gershgorin_bounds())


def _within_bound(compute, stacks, scale, magnitude=np.abs):
    """``compute(scale)`` and the bound it used, redone with a safe bound if needed.

    Everything computed from ``T_n(H~)`` stays of order 1 while the spectrum lies
    within [0, scale]; an eigenvalue above the bound makes ``|T_n|`` grow past
    x = 1, in single precision up to overflow (NaN). If any ``magnitude`` of the
    result exceeds ``ESCAPE_MAGNITUDE`` it is computed again with the networks' Gershgorin
    bound, which no eigenvalue exceeds.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        result = compute(scale)
        if np.all(magnitude(result) <= ESCAPE_MAGNITUDE):
            return result, scale
    scale = _safe_bound(stacks)
    return compute(scale), scale


def _lanczos_bound(stacks) -> float:
    """The largest of the stacks' networks' Lanczos bounds (:func:`_upper_bounds`)."""
    return float(max(parallel.each(lambda stack: _upper_bounds(stack).max(), stacks)))


def _safe_bound(stacks) -> float:
    """The Gershgorin bound of all the stacks' networks: above every eigenvalue."""
    return float(max(stack.gershgorin_bounds().max() for stack in stacks))
