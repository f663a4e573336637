"""Vibrational spectra of spring networks: exact, fast (KPM), and Debye levels.

The quantity of interest is the Debye-reduced density of states g(omega)/omega,
normalised per node (the integral of g over omega is 1). In two dimensions
Debye's law is g ~ omega, so g/omega tends to a constant, the Debye level, at
low frequency; an excess over it is the Boson peak.

Two ways to get it:

* ``method="exact"``: dense diagonalisation, O(N^3). The oracle for tests.
* ``method="kpm"``: the kernel polynomial method (Weisse et al., Rev. Mod.
  Phys. 78, 275 (2006)), O(K R nnz) for K Chebyshev moments and R random
  vectors. Seeds are stacked into block-diagonal matrices, one per core, so
  that a single sparse product advances several seeds at once and the cores
  work side by side; every seed is still computed on its own.
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass, replace

import numpy as np
import scipy.fft
import scipy.linalg
import scipy.sparse as sp
import scipy.special

from . import _threads
from .network import Network, build_networks

__all__ = [
    "CRYSTAL_DEBYE_LEVEL",
    "EXACT_MAX_NODES",
    "LocalSpectrum",
    "NodeModes",
    "ReducedDOS",
    "crystal_reduced_dos",
    "debye_level",
    "default_vectors",
    "exact_frequencies",
    "local_spectrum",
    "mode_weights",
    "node_modes",
    "reduced_dos",
    "reduced_dos_of",
    "spectrum_bound",
    "stiffness_tensor",
]

#: Debye level of the crystal with t = 1: g/omega -> 1 / (2 pi t) as omega -> 0.
CRYSTAL_DEBYE_LEVEL = 1.0 / (2.0 * np.pi)
#: Largest network diagonalised densely: 10^4 nodes is an 800 MB matrix and minutes of work.
EXACT_MAX_NODES = 10_000
#: Default number of Chebyshev moments: resolution about pi omega_max / (2K) ~ 0.04.
DEFAULT_MOMENTS = 128
#: Default random vectors: enough that nodes x vectors over all seeds reaches this many samples.
#: The stochastic trace error of a smoothed density falls as 1 / sqrt(N R).
DEFAULT_SAMPLES = 300_000
#: Lanczos steps for the upper spectral bound, and the safety factor applied to it.
LANCZOS_STEPS = 40
SCALE_SAFETY = 1.02
#: Seed of the Lanczos start vector: results are reproducible run to run.
LANCZOS_SEED = 0
#: Jacobi weight (1 - x)^alpha (1 + x)^beta of the edge-exact reconstruction (PHYSICS.md):
#: beta = 0 keeps a density that is constant at lambda = 0 (the 2D Debye edge) unbiased.
JACOBI_ALPHA, JACOBI_BETA = 0.5, 0.0
#: Default frequency grid: points from 0 to the top of the spectrum.
DEFAULT_GRID_POINTS = 401
#: Networks up to this many nodes get exact mode weights: dense eigenvectors cost ~0.5 s here.
MODE_WEIGHTS_EXACT_MAX = 1_024
#: Up to this many requested nodes, mode weights come from local moments (about 1 s at L = 60).
MODE_WEIGHTS_LOCAL_MAX = 1_000


#: Rows per thread below which a sparse product is not worth splitting.
_MIN_ROWS_PER_THREAD = 4_096


class _ThreadedMatrix:
    """A CSR matrix whose products run on all cores, one block of rows per thread.

    scipy's sparse products are single-threaded but release the GIL, so row
    blocks multiply in parallel; the results are identical to ``matrix @ x``.
    With ``threads=1`` everything runs in the calling thread.
    """

    def __init__(self, matrix, *, threads=None):
        matrix = sp.csr_array(matrix)
        n_rows = matrix.shape[0]
        threads = threads or _threads.cores()
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
        thread waiting on the pool could wait for ever once every thread waits.
        """
        if len(self._blocks) == 1 or _threads.in_pool():
            for block in self._blocks:
                work(*block)
            return
        for future in [_threads.pool().submit(work, *block) for block in self._blocks]:
            future.result()

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
        """``a * self + b * I`` (square matrices), with the same row blocks and type."""
        blocks = []
        for start, stop, rows in self._blocks:
            entry_rows = np.repeat(np.arange(start, stop), np.diff(rows.indptr))
            on_diagonal = rows.indices == entry_rows
            # One stored diagonal entry per row (no duplicates): shift those in place.
            if rows.has_canonical_format and np.count_nonzero(on_diagonal) == stop - start:
                shifted = sp.csr_array(
                    (rows.data * rows.dtype.type(a), rows.indices, rows.indptr), shape=rows.shape
                )
                shifted.data[on_diagonal] += rows.dtype.type(b)
            else:  # a row without a stored diagonal entry
                eye = sp.eye_array(stop - start, self.shape[1], k=start, dtype=rows.dtype)
                shifted = sp.csr_array(a * rows + b * eye, dtype=rows.dtype)
            blocks.append((start, stop, shifted))
        return self._with_blocks(blocks)


def _chebyshev_vectors(matrix, start, scale):
    """``T_0(H~) v, T_1(H~) v, T_2(H~) v, ...`` without end, ``H~ = 2 H / scale - 1``.

    The one Chebyshev recursion of this module: ``matrix`` is H as a
    :class:`_ThreadedMatrix`, ``start`` holds v (one vector per column), and the
    products run in the type of ``start``. ``H~`` maps [0, scale] onto [-1, 1],
    with lambda = 0 at x = -1.
    """
    # T_n+1 = 2 H~ T_n - T_n-1, with 2 H~ = 4 H / scale - 2 folded into one matrix.
    twice = matrix.astype(start.dtype).affine(4.0 / scale, -2.0)
    previous, current = start, 0.5 * (twice @ start)
    yield previous
    while True:
        yield current
        previous, current = current, twice.times_minus(current, previous)


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
        self.threads = threads or _threads.cores()
        self.matrix = _ThreadedMatrix(stacked, threads=self.threads)

    def gershgorin_bounds(self) -> np.ndarray:
        """Each network's bound 2 max(H_ii): safe, since every row's off-diagonal entries
        sum to -H_ii, so no eigenvalue exceeds it."""
        return 2.0 * self.diagonal.reshape(self.n_blocks, self.block_rows).max(axis=1)


def _stacks(networks) -> list:
    """The networks split into stacks of whole networks, one per core, in order.

    A lone stack (one network, or one core) multiplies on every core; several
    stacks each run in one thread, side by side (:func:`bpwidgets._threads.each`).
    """
    n_stacks = min(len(networks), _threads.cores())
    edges = np.linspace(0, len(networks), n_stacks + 1).round().astype(int)
    groups = [networks[a:b] for a, b in zip(edges[:-1], edges[1:])]
    if n_stacks == 1:
        return [_Stack(networks)]
    # Stacks made for parallel work multiply in their own thread: they never wait on the pool.
    return _threads.each(lambda group: _Stack(group, threads=1), groups)


def _check_networks(networks) -> None:
    if not networks or not all(isinstance(n, Network) for n in networks):
        raise ValueError("networks must be a non-empty sequence of Network")
    sizes = {n.size for n in networks}
    if len(sizes) > 1:
        raise ValueError(f"networks must all have the same size; got sizes {sorted(sizes)}")


# --------------------------------------------------------------------------- exact


def exact_frequencies(network: Network) -> np.ndarray:
    """All N vibrational frequencies of a network, ascending, by dense diagonalisation.

    Parameters
    ----------
    network : Network
        At most ``EXACT_MAX_NODES`` nodes.

    Returns
    -------
    ndarray, shape (N,)
        omega_k = sqrt(lambda_k) over the eigenvalues of the dynamical matrix.
        The zero modes, one per connected cluster, are exactly 0.

    Raises
    ------
    ValueError
        If the network is larger than ``EXACT_MAX_NODES``: use
        ``reduced_dos(..., method="kpm")`` there.

    Examples
    --------
    >>> from bpwidgets import build_network
    >>> net = build_network(3, 0.0, connection="nearest", spring="constant", seed=0)
    >>> exact_frequencies(net).round(3)
    array([0.   , 1.732, 1.732, 1.732, 1.732, 2.449, 2.449, 2.449, 2.449])
    """
    if network.n_nodes > EXACT_MAX_NODES:
        raise ValueError(
            f"network has {network.n_nodes} nodes: exact diagonalisation is limited to "
            f"EXACT_MAX_NODES = {EXACT_MAX_NODES}; use the fast method, "
            "reduced_dos(..., method='kpm')"
        )
    matrix = network.dynamical_matrix()
    eigenvalues = scipy.linalg.eigvalsh(matrix.toarray())
    # Round-off leaves the zero modes at +-1e-15: set them, one per cluster, to zero.
    n_zero, _ = network.clusters()
    eigenvalues[:n_zero] = 0.0
    return np.sqrt(np.clip(eigenvalues, 0.0, None))


def crystal_reduced_dos(omega, t: float = 1.0) -> np.ndarray:
    """Closed form g(omega)/omega of the infinite square-lattice crystal.

    With omega^2 = 2 t (2 - cos kx - cos ky), per node
    ``g/omega = K(m) / (pi^2 t)``, ``m = 1 - (1 - omega^2 / 4t)^2``, K the complete
    elliptic integral of the first kind. Zero outside the band
    ``0 <= omega <= 2 sqrt(2 t)``; infinite (Van Hove) at omega = 2 sqrt(t).

    Parameters
    ----------
    omega : array_like
        Frequencies.
    t : float, optional
        Spring constant of every bond.

    Returns
    -------
    ndarray
        g(omega)/omega, same shape as ``omega``.

    Examples
    --------
    >>> round(float(crystal_reduced_dos(1e-6) * 2 * np.pi), 9)  # the Debye level 1/(2 pi t)
    1.0
    """
    omega = np.asarray(omega, dtype=float)
    m = 1.0 - (1.0 - omega**2 / (4.0 * t)) ** 2
    inside = (omega >= 0) & (omega <= 2.0 * np.sqrt(2.0 * t))
    with np.errstate(invalid="ignore"):
        level = scipy.special.ellipk(np.where(inside, m, 0.0)) / (np.pi**2 * t)
    return np.where(inside, level, 0.0)


# --------------------------------------------------------------------------- Debye level


def stiffness_tensor(network: Network) -> np.ndarray:
    """Macroscopic stiffness of a network: its 2 x 2 effective conductance tensor.

    Every spring is read as a conductor of conductance t_ij. A unit potential
    gradient E across the periodic cell drives currents; the dissipated power
    per unit area is ``E^T sigma E``.

    Parameters
    ----------
    network : Network

    Returns
    -------
    ndarray, shape (2, 2)
        sigma, symmetric; the identity for the crystal with t = 1.

    Notes
    -----
    With node potentials ``V_i = E . r_i + u_i`` and u periodic, Kirchhoff's law
    at every node reads ``H u = b`` with ``b_i = sum_j t_ij E . d_ij`` (d_ij the
    minimum-image bond vector from i to j): one sparse solve per direction.
    Then ``sigma_ab = (1 / L^2) sum_bonds t (d_a + du^a)(d_b + du^b)``.
    Every cluster is solved; a finite cluster that does not wrap around the
    torus simply carries no current.

    Examples
    --------
    >>> from bpwidgets import build_network
    >>> net = build_network(8, 0.0, connection="nearest", spring="constant", seed=0)
    >>> stiffness_tensor(net).round(12)
    array([[1., 0.],
           [0., 1.]])
    """
    return _stiffness_tensors(_Stack([network]))[0]


def debye_level(network: Network) -> float:
    """Debye level of a network: the low-frequency limit of g(omega)/omega.

    ``1 / (2 pi sigma_eff)`` with ``sigma_eff = sqrt(det sigma)`` the macroscopic
    stiffness from :func:`stiffness_tensor`: in 2D with one node (unit mass) per
    unit area, the number of modes below omega per node is
    ``omega^2 / (4 pi sqrt(det sigma))``.

    Parameters
    ----------
    network : Network

    Returns
    -------
    float
        The Debye level; ``1 / (2 pi)`` for the crystal with t = 1.

    Examples
    --------
    >>> from bpwidgets import build_network
    >>> net = build_network(8, 0.0, connection="nearest", spring="constant", seed=0)
    >>> round(debye_level(net) * 2 * np.pi, 12)
    1.0
    """
    return float(_debye_levels(_Stack([network]))[0])


def _debye_levels(stack) -> np.ndarray:
    tensors = _stiffness_tensors(stack)
    return 1.0 / (2.0 * np.pi * np.sqrt(np.linalg.det(tensors)))


#: Relative residual at which the conductance solve stops. sigma is quadratic in the error,
#: so it is then good to a few 1e-7 (the tests check 1e-5 against a sparse LU solve).
CONDUCTANCE_TOLERANCE = 1e-3
#: Iteration cap of that solve: far above what the lattice preconditioner needs (tens).
CONDUCTANCE_MAX_ITERATIONS = 5_000
#: Damping w of the Jacobi smoothing steps, w / H_ii, around the lattice solve. Below 1, so
#: the smoothing converges on its own (every eigenvalue of H / H_ii is at most 2).
SMOOTHING_WEIGHT = 0.6


def _stiffness_tensors(stack) -> np.ndarray:
    """Stiffness tensors of a stack of networks, each solved on its own.

    Conjugate gradients, preconditioned by the crystal's Laplacian, which the
    FFT inverts exactly on the L x L torus, between two Jacobi smoothing steps
    (:func:`_lattice_pcg`). The networks are perturbations of that lattice, so
    the iteration count stays small and flat in L, where a sparse LU
    factorisation grows like N^1.5.
    """
    rhs = np.concatenate([_gradient_source(n) for n in stack.networks])
    potentials = _lattice_pcg(stack, rhs)
    tensors = np.empty((stack.n_blocks, 2, 2))
    for k, network in enumerate(stack.networks):
        u = potentials[k * network.n_nodes : (k + 1) * network.n_nodes]
        bonds, t = network.bonds, network.stiffness
        drop = network.bond_vectors + u[bonds[:, 1]] - u[bonds[:, 0]]
        tensors[k] = (drop * t[:, None]).T @ drop / network.n_nodes
    return tensors


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


def _gradient_source(network) -> np.ndarray:
    """b_i = sum_j t_ij d_ij for a unit gradient along x (column 0) and y (column 1)."""
    bonds, t, d = network.bonds, network.stiffness, network.bond_vectors
    source = np.zeros((network.n_nodes, 2))
    for axis in range(2):
        source[:, axis] = np.bincount(bonds[:, 0], t * d[:, axis], network.n_nodes)
        source[:, axis] -= np.bincount(bonds[:, 1], t * d[:, axis], network.n_nodes)
    return source


def _lattice_pcg(stack, rhs) -> np.ndarray:
    """Solve H u = rhs (consistent, singular on cluster indicators) by PCG, per network.

    The preconditioner is symmetric and two-level: a damped Jacobi step, then
    the pseudo-inverse of the unit square-lattice Laplacian, 2 (2 - cos kx -
    cos ky) in Fourier space, on the remaining residual of every block, then
    Jacobi again. The lattice solve handles the long-wavelength error and
    Jacobi the local error around unusually stiff or weak springs, for which
    the lattice solve alone needed 2 to 5 times as many steps (delta = 0.3
    and 0.5, cutoff, 1/r springs, L = 100 and 200). Kernel components that
    creep into u are constant on clusters and do not change any bond's
    potential drop. Every column of every network takes its own steps, and
    once at its own residual takes steps of zero (its products are still
    computed with the others'), so a network's potentials do not depend on
    the others in the stack. Vectors are stored
    one column per row so that the FFTs run over contiguous memory.
    """
    size, n_blocks = stack.size, stack.n_blocks
    kx = 2.0 * np.pi * np.fft.fftfreq(size)
    ky = 2.0 * np.pi * np.fft.rfftfreq(size)
    symbol = 2.0 * (2.0 - np.cos(kx)[:, None] - np.cos(ky)[None, :])
    symbol[0, 0] = np.inf  # the uniform mode: left out (pseudo-inverse)
    columns = rhs.shape[1]
    blocks = (columns, n_blocks, size * size)

    symbol = symbol.astype(np.float32)
    # Single precision for the iteration vectors and the products: they are bound by
    # memory traffic. The potentials accumulate in double; the error left in sigma is
    # set by the tolerance (quadratic in it).
    single = stack.matrix.astype(np.float32)
    workers = -1 if stack.threads > 1 else 1

    diagonal = stack.diagonal
    smoother = (SMOOTHING_WEIGHT / np.where(diagonal > 0, diagonal, np.inf)).astype(np.float32)

    def lattice_solve(r):
        grids = r.reshape(columns, n_blocks, size, size)
        spectrum = scipy.fft.rfft2(grids, workers=workers) / symbol
        solved = scipy.fft.irfft2(spectrum, s=(size, size), workers=workers)
        return solved.reshape(r.shape)

    def apply(v):
        return np.stack([single @ row for row in v])

    def precondition(r):
        x = smoother * r
        x += lattice_solve(r - apply(x))
        x += smoother * (r - apply(x))
        return x

    def dot(a, b):
        return _row_dots(a.reshape(-1, size * size), b.reshape(-1, size * size)).reshape(blocks[:2])

    def scaled(c, v):
        """Each network's part of v times its own c (c of shape (columns, n_blocks))."""
        return (c[:, :, None] * v.reshape(blocks)).reshape(v.shape)

    def ratio(a, b):
        return np.divide(a, b, out=np.zeros_like(a), where=b != 0)

    residual = np.ascontiguousarray(rhs.T, dtype=np.float32)
    u = np.zeros(residual.shape)
    target = CONDUCTANCE_TOLERANCE * np.sqrt(dot(residual, residual))
    z = precondition(residual)
    direction = z.copy()
    rz = dot(residual, z)
    active = np.ones(target.shape, bool)
    for _ in range(CONDUCTANCE_MAX_ITERATIONS):
        # A solved column stops moving (step 0); a zero source (the crystal) is solved by u = 0.
        active &= np.sqrt(dot(residual, residual)) > target
        if not active.any():
            return u.T
        image = apply(direction)
        step = np.where(active, ratio(rz, dot(direction, image)), 0.0)
        u += scaled(step, direction)
        residual -= scaled(step.astype(np.float32), image)
        z = precondition(residual)
        rz_next = dot(residual, z)
        direction = z + scaled(ratio(rz_next, rz).astype(np.float32), direction)
        rz = rz_next
    raise RuntimeError("the conductance solve did not converge")


# --------------------------------------------------------------------------- KPM


@dataclass(frozen=True, eq=False)
class ReducedDOS:
    """Debye-reduced density of states g(omega)/omega of one or more seeds.

    Attributes
    ----------
    omega : ndarray, shape (G,)
        Frequency grid.
    per_seed : ndarray, shape (S, G)
        g(omega)/omega of every seed (per node; zero modes excluded).
    mean : ndarray, shape (G,)
        Mean over seeds.
    debye_level : float
        Mean over seeds of the networks' own Debye levels, ``1 / (2 pi sigma_eff)``.
    debye_levels : ndarray, shape (S,)
        Each seed's Debye level.
    seeds : tuple of int
        The seeds, in row order.
    method : {"kpm", "exact"}
        How the moments were obtained.
    moments : ndarray, shape (S, K)
        Chebyshev moments ``mu_n = (1/N) sum_k T_n(x_k)`` over the non-zero
        modes, ``x = 2 lambda / scale - 1``. Re-smooth with :meth:`smoothed`.
    scale : float
        Upper bound of the eigenvalues used to rescale H onto [-1, 1].
    zero_modes : ndarray, shape (S,)
        Fraction of zero modes (connected clusters / N); they sit at omega = 0.
    mean_coordination : ndarray, shape (S,)
        Mean number of springs per node of every seed.
    """

    omega: np.ndarray
    per_seed: np.ndarray
    mean: np.ndarray
    debye_level: float
    debye_levels: np.ndarray
    seeds: tuple
    method: str
    moments: np.ndarray
    scale: float
    zero_modes: np.ndarray
    mean_coordination: np.ndarray

    def smoothed(self, *, moments=None, omega=None) -> "ReducedDOS":
        """The same spectra from the stored moments, with fewer moments or another grid.

        Costs milliseconds: no matrix is touched.

        Parameters
        ----------
        moments : int, optional
            Number of moments to keep (at most the stored number): fewer gives a
            smoother curve with resolution about ``pi omega_max / (2 moments)``.
        omega : array_like, optional
            New frequency grid.

        Returns
        -------
        ReducedDOS

        Examples
        --------
        >>> result = reduced_dos(20, 0.2, connection="cutoff", spring="inverse", seeds=2)
        >>> result.smoothed(moments=64).per_seed.shape
        (2, 401)
        """
        kept = self.moments.shape[1] if moments is None else _check_moments(moments)
        if kept > self.moments.shape[1]:
            raise ValueError(
                f"moments must be at most the {self.moments.shape[1]} stored; got {kept}"
            )
        grid = self.omega if omega is None else _check_omega(omega)
        per_seed = _reconstruct(self.moments[:, :kept], self.scale, grid)
        return replace(self, omega=grid, per_seed=per_seed, mean=per_seed.mean(axis=0))

    def rescaled(self, scale, *, omega=None) -> "ReducedDOS":
        """The same spectra with moments for another rescaling bound.

        ``T_n(2 lambda / scale - 1)`` is a polynomial of degree n in lambda, so the
        new moments are exact combinations of the stored ones: nothing is
        recomputed, and the result equals a computation with ``scale`` from the
        start (the same random vectors). It lets results of different bounds be
        joined (:meth:`join`).

        Parameters
        ----------
        scale : float
            New bound, at least the current one (which lies above the spectrum).
        omega : array_like, optional
            Grid of the result; default: the current one.

        Returns
        -------
        ReducedDOS

        Examples
        --------
        >>> result = reduced_dos(20, 0.2, connection="cutoff", spring="inverse", seeds=1)
        >>> wider = result.rescaled(1.1 * result.scale)
        >>> wider.scale == 1.1 * result.scale, bool(wider.moments[0, 0] == result.moments[0, 0])
        (True, True)
        """
        scale = _check_scale(scale)
        if scale < self.scale:
            # Only the current bound is known to lie above the spectrum.
            raise ValueError(f"scale must be at least the current bound {self.scale}; got {scale}")
        grid = self.omega if omega is None else _check_omega(omega)
        ratio = self.scale / scale
        conversion = _chebyshev_affine(ratio, ratio - 1.0, self.moments.shape[1])
        moment_rows = self.moments @ conversion.T
        per_seed = _reconstruct(moment_rows, scale, grid)
        return replace(self, omega=grid, per_seed=per_seed, mean=per_seed.mean(axis=0),
                       moments=moment_rows, scale=scale)

    @classmethod
    def join(cls, parts) -> "ReducedDOS":
        """One result from results of further seeds computed separately.

        The parts must share the rescaling bound (pass one ``scale`` to
        :func:`reduced_dos_of`), the grid, the number of moments and the method;
        then the joined result equals computing all the seeds at once.

        Parameters
        ----------
        parts : sequence of ReducedDOS

        Returns
        -------
        ReducedDOS
            Rows in the order of the parts; mean and Debye level over all seeds.

        Raises
        ------
        ValueError
            When the parts differ in scale, grid, moments or method.

        Examples
        --------
        >>> from bpwidgets import build_network
        >>> nets = [build_network(20, 0.2, connection="cutoff", spring="inverse", seed=s)
        ...         for s in range(3)]
        >>> bound = spectrum_bound(nets)
        >>> parts = [reduced_dos_of(nets[:1], scale=bound), reduced_dos_of(nets[1:], scale=bound)]
        >>> ReducedDOS.join(parts).seeds
        (0, 1, 2)
        """
        parts = list(parts)
        if not parts or not all(isinstance(part, ReducedDOS) for part in parts):
            raise ValueError("parts must be a non-empty sequence of ReducedDOS")
        first = parts[0]
        for part in parts[1:]:
            for name, same in (
                ("scale", part.scale == first.scale),
                ("omega", np.array_equal(part.omega, first.omega)),
                ("moments", part.moments.shape[1] == first.moments.shape[1]),
                ("method", part.method == first.method),
            ):
                if not same:
                    raise ValueError(f"the parts must share their {name} to be joined")
        per_seed = np.concatenate([part.per_seed for part in parts])
        levels = np.concatenate([part.debye_levels for part in parts])
        return replace(
            first,
            per_seed=per_seed,
            mean=per_seed.mean(axis=0),
            debye_level=float(levels.mean()),
            debye_levels=levels,
            seeds=sum((part.seeds for part in parts), ()),
            moments=np.concatenate([part.moments for part in parts]),
            zero_modes=np.concatenate([part.zero_modes for part in parts]),
            mean_coordination=np.concatenate([part.mean_coordination for part in parts]),
        )

    def cumulative(self, omega) -> np.ndarray:
        """Integrated DOS: the fraction of modes with frequency at most omega, per seed.

        Parameters
        ----------
        omega : array_like
            Frequencies.

        Returns
        -------
        ndarray, shape (S, len(omega))
            Includes the zero modes at omega = 0.

        Examples
        --------
        >>> result = reduced_dos(20, 0.2, connection="cutoff", spring="inverse", seeds=1)
        >>> float(result.cumulative([100.0])[0, 0].round(6))
        1.0
        """
        omega = np.atleast_1d(np.asarray(omega, dtype=float))
        return _cumulative(self.moments, self.scale, omega) + self.zero_modes[:, None]


def reduced_dos(
    size,
    delta,
    *,
    connection,
    spring,
    seeds=10,
    omega=None,
    method="kpm",
    moments=DEFAULT_MOMENTS,
    vectors=None,
) -> ReducedDOS:
    """Debye-reduced DOS g(omega)/omega of networks over several random seeds.

    Parameters
    ----------
    size, delta, connection, spring
        As for :func:`bpwidgets.build_network`.
    seeds : int or sequence of int, optional
        A count n (seeds 0 .. n-1) or explicit seeds; seed s is the network
        ``build_network(..., seed=s)``.
    omega : array_like, optional
        Frequency grid; default ``DEFAULT_GRID_POINTS`` points from 0 to the top
        of the spectrum.
    method : {"kpm", "exact"}, optional
        ``"kpm"``: the kernel polynomial method, linear in N. ``"exact"``: dense
        diagonalisation (at most ``EXACT_MAX_NODES`` nodes), smoothed with the same
        kernel on the same grid, so that the two differ only by the stochastic
        trace.
    moments : int, optional
        Number K of Chebyshev moments (even, at least 8).
    vectors : int, optional
        Random vectors R per seed (KPM only); default: enough that
        ``N * R * seeds >= DEFAULT_SAMPLES``.

    Returns
    -------
    ReducedDOS

    Raises
    ------
    ValueError
        For bad network parameters, seeds <= 0, an unknown method, or an exact
        computation past ``EXACT_MAX_NODES``.

    Notes
    -----
    KPM as in Weisse et al., Rev. Mod. Phys. 78, 275 (2006), with these choices
    (PHYSICS.md): lambda_min is pinned at 0 (x = -1 exactly) and lambda_max comes
    from a short Lanczos run; random Rademacher vectors have their mean over
    every connected cluster removed, which projects out all zero modes exactly;
    moments come two per sparse product (Eq. (34)); the Jackson kernel damps
    them (Eq. (71)); the density is rebuilt in Jacobi polynomials with weight
    ``(1 - x)^(1/2)``, regular at x = -1, so the constant density at the 2D
    Debye edge is not biased. Finally ``g(omega)/omega = 2 rho_lambda(omega^2)``
    needs no division by omega.

    Examples
    --------
    >>> result = reduced_dos(60, 0.3, connection="cutoff", spring="inverse", seeds=10)
    >>> result.per_seed.shape, round(result.debye_level, 3)
    ((10, 401), 0.217)
    """
    networks = build_networks(
        size, delta, connection=connection, spring=spring, seeds=_check_seeds(seeds)
    )
    return reduced_dos_of(networks, omega=omega, method=method, moments=moments, vectors=vectors)


def reduced_dos_of(
    networks, *, omega=None, method="kpm", moments=DEFAULT_MOMENTS, vectors=None, scale=None
) -> ReducedDOS:
    """Debye-reduced DOS of networks already built (see :func:`reduced_dos`).

    Use it when the networks are needed anyway, as the dashboard does.

    Parameters
    ----------
    networks : sequence of Network
        One or more networks; their seeds label the rows.
    omega, method, moments, vectors
        As for :func:`reduced_dos`.
    scale : float, optional
        Upper bound of the eigenvalues to rescale by, instead of a Lanczos run on
        these networks: give several calls the bound of all their networks
        (:func:`spectrum_bound`) and :meth:`ReducedDOS.join` their results. A bound
        the spectrum exceeds is replaced by the safe Gershgorin bound.

    Returns
    -------
    ReducedDOS

    Examples
    --------
    >>> from bpwidgets import build_network
    >>> nets = [build_network(30, 0.1, connection="nearest", spring="inverse", seed=s)
    ...         for s in range(3)]
    >>> reduced_dos_of(nets).seeds
    (0, 1, 2)
    """
    networks = list(networks)
    _check_networks(networks)
    if method not in ("kpm", "exact"):
        raise ValueError(f"method must be one of 'kpm', 'exact'; got {method!r}")
    n_moments = _check_moments(moments)
    if vectors is not None and (
        isinstance(vectors, bool) or not isinstance(vectors, numbers.Integral) or vectors < 1
    ):
        raise ValueError(f"vectors must be a positive integer; got {vectors!r}")
    grid = None if omega is None else _check_omega(omega)
    if scale is not None:
        scale = _check_scale(scale)

    # Both methods rescale by the same bound, so they share one kernel and differ
    # only by the stochastic trace. The networks are split into one stack per core;
    # each stack's work runs in its own thread.
    stacks = _stacks(networks)
    if scale is None:
        scale = _lanczos_bound(stacks)
    if method == "exact":
        frequencies = [exact_frequencies(n) for n in networks]
        if max(f[-1] for f in frequencies) ** 2 > scale:
            scale = _safe_bound(stacks)
        moment_rows, zero_modes = _exact_moments(networks, frequencies, scale, n_moments)
    else:
        n_vectors = vectors or default_vectors(sum(n.n_nodes for n in networks))
        zero_modes = np.array([n.clusters()[0] / n.n_nodes for n in networks])

        def moments_with(scale):
            parts = _threads.each(
                lambda stack: _kpm_moments(stack, scale, n_moments, n_vectors), stacks
            )
            return np.concatenate(parts)

        moment_rows, scale = _within_bound(moments_with, stacks, scale)
    levels = np.concatenate(_threads.each(_debye_levels, stacks))

    if grid is None:
        grid = np.linspace(0.0, np.sqrt(scale), DEFAULT_GRID_POINTS)
    per_seed = _reconstruct(moment_rows, scale, grid)
    return ReducedDOS(
        omega=grid,
        per_seed=per_seed,
        mean=per_seed.mean(axis=0),
        debye_level=float(levels.mean()),
        debye_levels=levels,
        seeds=tuple(n.seed for n in networks),
        method=method,
        moments=moment_rows,
        scale=float(scale),
        zero_modes=zero_modes,
        mean_coordination=np.array([n.coordination.mean() for n in networks]),
    )


def spectrum_bound(networks) -> float:
    """The bound :func:`reduced_dos_of` rescales by: above every network's eigenvalues.

    The largest over the networks of each one's bound: the top Ritz value of a
    short Lanczos run plus its residual and a 2 % margin, and never above the
    network's Gershgorin bound. A network's own bound does not depend on which
    networks it is given with.

    Parameters
    ----------
    networks : sequence of Network

    Returns
    -------
    float

    Examples
    --------
    >>> from bpwidgets import build_network
    >>> crystal = build_network(16, 0.0, connection="nearest", spring="constant", seed=0)
    >>> 8.0 <= spectrum_bound([crystal]) <= 8.0 * 1.03   # the crystal's top is 8
    True
    """
    networks = list(networks)
    _check_networks(networks)
    return _lanczos_bound(_stacks(networks))


def default_vectors(total_nodes) -> int:
    """Random vectors per seed when none are given: ``total_nodes * R >= DEFAULT_SAMPLES``.

    Parameters
    ----------
    total_nodes : int
        Nodes over all the seeds computed together.

    Returns
    -------
    int
        At least 1.

    Examples
    --------
    >>> default_vectors(10 * 60 * 60), default_vectors(1000 * 1000)
    (9, 1)
    """
    return max(1, -(-DEFAULT_SAMPLES // int(total_nodes)))


def _check_seeds(seeds) -> tuple:
    if isinstance(seeds, bool):
        raise ValueError(f"seeds must be a positive count or a list of seeds; got {seeds!r}")
    if isinstance(seeds, numbers.Integral):
        if seeds <= 0:
            raise ValueError(f"seeds must be a positive count or a list of seeds; got {seeds}")
        return tuple(range(int(seeds)))
    try:
        seeds = tuple(seeds)
    except TypeError:
        raise ValueError(
            f"seeds must be a positive count or a list of seeds; got {seeds!r}"
        ) from None
    if not seeds or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 0 for s in seeds
    ):
        raise ValueError(
            f"seeds must be a positive count or a non-empty list of non-negative ints; got {seeds!r}"
        )
    return tuple(int(s) for s in seeds)


def _check_moments(moments) -> int:
    if isinstance(moments, bool) or not isinstance(moments, numbers.Integral) or moments < 8:
        raise ValueError(f"moments must be an integer of at least 8; got {moments!r}")
    return int(moments) + int(moments) % 2


def _check_scale(scale) -> float:
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not (
        np.isfinite(scale) and scale > 0
    ):
        raise ValueError(f"scale must be a positive finite number; got {scale!r}")
    return float(scale)


def _check_omega(omega) -> np.ndarray:
    grid = np.asarray(omega, dtype=float)
    if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)) or grid.min() < 0:
        raise ValueError("omega must be a non-empty 1D array of finite frequencies >= 0")
    return grid


def _upper_bounds(stack) -> np.ndarray:
    """Upper bound of each network's spectrum: top Ritz value of a short Lanczos run, plus margin.

    The Gershgorin bound 2 max(H_ii) is safe but loose, which would waste
    resolution; Lanczos converges fast at the top of the spectrum. Every
    network runs its own recurrence, from the same start vector, side by side.
    """
    n_blocks, n = stack.n_blocks, stack.block_rows
    steps = min(LANCZOS_STEPS, n)
    # Single precision halves the memory traffic; the bound keeps a 2 % margin anyway.
    matrix = stack.matrix.astype(np.float32)
    start = np.random.default_rng(LANCZOS_SEED).standard_normal(n, dtype=np.float32)
    v = np.tile(start / np.linalg.norm(start), (n_blocks, 1))
    v_previous = np.zeros_like(v)
    alpha, beta = np.zeros((n_blocks, steps)), np.zeros((n_blocks, steps))
    ran = np.full(n_blocks, steps)  # steps each network's recurrence ran
    for k in range(steps):
        w = (matrix @ v.ravel()).reshape(v.shape)
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
    result exceeds 1.5 it is computed again with the networks' Gershgorin
    bound, which no eigenvalue exceeds.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        result = compute(scale)
        if np.all(magnitude(result) <= 1.5):
            return result, scale
    scale = _safe_bound(stacks)
    return compute(scale), scale


def _lanczos_bound(stacks) -> float:
    """The largest of the stacks' networks' Lanczos bounds (:func:`_upper_bounds`)."""
    return float(max(_threads.each(lambda stack: _upper_bounds(stack).max(), stacks)))


def _safe_bound(stacks) -> float:
    """The Gershgorin bound of all the stacks' networks: above every eigenvalue."""
    return float(max(stack.gershgorin_bounds().max() for stack in stacks))


def _random_vectors(networks, n_vectors):
    """Rademacher vectors for stacked networks, one block of rows per network.

    Each network draws its own vectors from its own seed, so a seed's row does
    not depend on which other seeds are computed with it. Every connected
    cluster's mean is removed: the vectors have no weight on any zero mode.
    """
    parts = []
    for network in networks:
        count, labels = network.clusters()
        rng = np.random.default_rng([network.size, 0 if network.seed is None else network.seed])
        vectors = rng.choice([-1.0, 1.0], size=(network.n_nodes, n_vectors))
        clusters = sp.csr_array(
            (np.ones(network.n_nodes), (labels, np.arange(network.n_nodes))),
            shape=(count, network.n_nodes),
        )
        vectors -= (clusters @ vectors / np.bincount(labels)[:, None])[labels]
        parts.append(vectors)
    return np.concatenate(parts)


def _kpm_moments(stack, scale, n_moments, n_vectors):
    """Stochastic Chebyshev moments of every network of a stack (Weisse et al., Eq. (34))."""
    networks = stack.networks
    sizes = np.array([n.n_nodes for n in networks])
    start = _random_vectors(networks, n_vectors)
    # Single precision: the recursion reads the matrix and the vectors 2K times and is
    # bound by memory traffic, which this halves. Per-network dots are summed pairwise.
    start = start.astype(np.float32)
    n_blocks = stack.n_blocks

    def per_seed(a, b):
        # Each network's rows are one contiguous run: a dot per network. The moments are
        # results, so the N R terms are summed pairwise (error ~ eps log n), not by BLAS.
        dots = np.multiply(a, b).reshape(n_blocks, -1).sum(axis=1)
        return dots.astype(np.float64) / (sizes * n_vectors)

    squares, crosses = [], []
    alphas = _chebyshev_vectors(stack.matrix, start, scale)
    alpha = next(alphas)
    for _ in range(n_moments // 2):
        alpha_next = next(alphas)
        squares.append(per_seed(alpha, alpha))
        crosses.append(per_seed(alpha_next, alpha))
        alpha = alpha_next
    moments = _doubled_moments(np.array(squares).T, np.array(crosses).T)
    # The vectors carry the weight of the non-zero modes (one zero mode per cluster);
    # normalise to the whole node count.
    n_zero = np.array([n.clusters()[0] for n in networks])
    nonzero = (sizes - n_zero) / sizes
    moments *= (nonzero / moments[:, 0])[:, None]
    return moments


def _doubled_moments(squares, crosses) -> np.ndarray:
    """Moments from ``<a_n|a_n>`` and ``<a_n+1|a_n>``, n = 0 .. K/2 - 1 (one row each).

    Two moments per product (Weisse et al., Eq. (34)): ``mu_2n = 2 <a_n|a_n> - mu_0``
    and ``mu_2n+1 = 2 <a_n+1|a_n> - mu_1``, with ``a_n = T_n(H~) a_0``; n = 0 gives
    mu_0 and mu_1 themselves.
    """
    moments = np.empty((squares.shape[0], 2 * squares.shape[1]))
    moments[:, 0::2] = 2.0 * squares - squares[:, :1]
    moments[:, 1::2] = 2.0 * crosses - crosses[:, :1]
    return moments


def _exact_moments(networks, frequencies, scale, n_moments):
    """Chebyshev moments of the exact non-zero modes: the KPM's expectation value."""
    rows, zero_fraction = [], []
    for network, omega in zip(networks, frequencies):
        nonzero = omega[omega > 0]
        n_zero = network.n_nodes - nonzero.size
        x = 2.0 * nonzero**2 / scale - 1.0
        rows.append(_chebyshev_values(x, n_moments).sum(axis=1) / network.n_nodes)
        zero_fraction.append(n_zero / network.n_nodes)
    return np.array(rows), np.array(zero_fraction)


def _chebyshev_values(x, n_moments):
    """T_n(x) for n < n_moments, shape (n_moments, len(x)), by the recurrence."""
    values = np.empty((n_moments, len(x)))
    values[0] = 1.0
    values[1] = x
    for n in range(2, n_moments):
        values[n] = 2.0 * x * values[n - 1] - values[n - 2]
    return values


def _chebyshev_affine(a, b, n_moments) -> np.ndarray:
    """C with ``T_n(a x + b) = sum_m C[n, m] T_m(x)`` for n < n_moments (exact).

    From ``T_n+1(y) = 2 y T_n(y) - T_n-1(y)`` and ``x T_m = (T_m+1 + T_|m-1|) / 2``.
    """
    conversion = np.zeros((n_moments, n_moments))
    conversion[0, 0] = 1.0
    if n_moments > 1:
        conversion[1, :2] = (b, a)

    def times_x(c):
        out = np.zeros_like(c)
        out[1:] += 0.5 * c[:-1]
        out[:-1] += 0.5 * c[1:]
        out[1] += 0.5 * c[0]  # x T_0 = T_1
        return out

    for n in range(1, n_moments - 1):
        y_times = a * times_x(conversion[n]) + b * conversion[n]
        conversion[n + 1] = 2.0 * y_times - conversion[n - 1]
    return conversion


def _jackson(n_moments) -> np.ndarray:
    """Jackson damping factors g_n (Weisse et al., Eq. (71))."""
    n = np.arange(n_moments)
    q = np.pi / (n_moments + 1)
    return ((n_moments - n + 1) * np.cos(q * n) + np.sin(q * n) / np.tan(q)) / (n_moments + 1)


def _jacobi_orthonormal(x, degree):
    """Orthonormal Jacobi polynomials p_m(x), m < degree, for weight (1-x)^a (1+x)^b.

    Three-term recurrence ``x p_m = a_m+1 p_m+1 + b_m p_m + a_m p_m-1``; shape (degree, len(x)).
    """
    a, b = JACOBI_ALPHA, JACOBI_BETA
    m = np.arange(degree, dtype=float)
    s = 2.0 * m + a + b
    diagonal = (b * b - a * a) / (s * (s + 2.0))
    k = m[1:]
    sk = 2.0 * k + a + b
    off = (2.0 / sk) * np.sqrt(k * (k + a) * (k + b) * (k + a + b) / ((sk - 1.0) * (sk + 1.0)))
    log_norm = (a + b + 1) * np.log(2.0) + scipy.special.gammaln(a + 1) + scipy.special.gammaln(
        b + 1
    ) - scipy.special.gammaln(a + b + 2)
    values = np.empty((degree, len(x)))
    values[0] = np.exp(-0.5 * log_norm)
    if degree > 1:
        values[1] = (x - diagonal[0]) * values[0] / off[0]
    for j in range(1, degree - 1):
        values[j + 1] = ((x - diagonal[j]) * values[j] - off[j - 1] * values[j - 1]) / off[j]
    return values


@functools.lru_cache(maxsize=16)
def _chebyshev_to_jacobi(n_moments) -> np.ndarray:
    """Matrix C with p_m = sum_n C[m, n] T_n, so Jacobi moments are C @ Chebyshev moments.

    Exact: p_m has degree < n_moments, and the DCT at n_moments Chebyshev nodes
    recovers the Chebyshev coefficients of any such polynomial.
    """
    nodes = np.cos(np.pi * (np.arange(n_moments) + 0.5) / n_moments)
    coefficients = scipy.fft.dct(_jacobi_orthonormal(nodes, n_moments), type=2, axis=1)
    coefficients /= n_moments
    coefficients[:, 0] /= 2.0
    coefficients.flags.writeable = False
    return coefficients


def _density_x(moment_rows, x):
    """Density rho(x) per node on [-1, 1] from Chebyshev moments (Jacobi reconstruction)."""
    n_moments = moment_rows.shape[1]
    jacobi_moments = moment_rows @ _chebyshev_to_jacobi(n_moments).T
    damped = jacobi_moments * _jackson(n_moments)
    weight = (1.0 - x) ** JACOBI_ALPHA * (1.0 + x) ** JACOBI_BETA
    return (damped @ _jacobi_orthonormal(x, n_moments)) * weight


def _reconstruct(moment_rows, scale, omega):
    """g(omega)/omega = 2 rho_lambda(omega^2) = (4 / scale) rho_x(x(omega^2)); 0 off the band."""
    x = 2.0 * omega**2 / scale - 1.0
    inside = x <= 1.0
    reduced = np.zeros((len(moment_rows), len(omega)))
    reduced[:, inside] = (4.0 / scale) * _density_x(moment_rows, x[inside])
    return reduced


#: Points of the quadrature that integrates the reconstructed density (cumulative DOS).
_CUMULATIVE_POINTS = 4001


def _cumulative(moment_rows, scale, omega):
    """Fraction of non-zero modes below omega, integrating the reconstructed density."""
    # Uniform in theta, x = -cos(theta): dense near both band edges, where the density bends.
    theta = np.linspace(0.0, np.pi, _CUMULATIVE_POINTS)
    x = -np.cos(theta)
    integrand = _density_x(moment_rows, x) * np.sin(theta)
    steps = 0.5 * (integrand[:, 1:] + integrand[:, :-1]) * np.diff(theta)
    running = np.concatenate([np.zeros((len(moment_rows), 1)), np.cumsum(steps, axis=1)], axis=1)
    target = np.clip(2.0 * omega**2 / scale - 1.0, -1.0, 1.0)
    return np.stack([np.interp(target, x, row) for row in running])


# --------------------------------------------------------------------------- where modes live


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


#: Chebyshev moments of the local spectra: window edges smoothed over ~0.08 in omega.
LOCAL_MOMENTS = 64
#: Most nodes one local_spectrum call takes: its cost grows as nodes x N.
LOCAL_MAX_NODES = 10_000
#: Columns per block of unit vectors, bounding memory to about this many entries.
_LOCAL_BLOCK_ENTRIES = 2**24


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
        Number K of moments.

    Returns
    -------
    LocalSpectrum

    Raises
    ------
    ValueError
        For nodes outside the network or more than ``LOCAL_MAX_NODES`` of them.

    Examples
    --------
    >>> from bpwidgets import build_network
    >>> net = build_network(40, 0.3, connection="cutoff", spring="inverse", seed=0)
    >>> corner = local_spectrum(net, nodes=range(10))
    >>> corner.mode_weights(0.3, 0.7).shape
    (10,)
    """
    chosen = _check_nodes(network, nodes)
    if chosen.size > LOCAL_MAX_NODES:
        raise ValueError(
            f"local_spectrum takes at most LOCAL_MAX_NODES = {LOCAL_MAX_NODES} nodes; "
            f"got {chosen.size}: pass the nodes you want to see"
        )
    n_moments = _check_moments(moments)
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
    chosen = np.arange(network.n_nodes) if nodes is None else np.asarray(nodes).ravel()
    if chosen.dtype.kind not in "iu" and chosen.size:
        raise ValueError("nodes must be integer node indices")
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
    ValueError
        For a network past ``EXACT_MAX_NODES`` or nodes outside it.

    Examples
    --------
    >>> from bpwidgets import build_network
    >>> net = build_network(12, 0.3, connection="cutoff", spring="inverse", seed=0)
    >>> modes = node_modes(net, nodes=range(5))
    >>> modes.mode_weights(0.3, 0.7).shape, modes.mode_weights(1.0, 2.0).shape
    ((5,), (5,))
    """
    if network.n_nodes > EXACT_MAX_NODES:
        raise ValueError(
            f"network has {network.n_nodes} nodes: exact mode weights are limited to "
            f"EXACT_MAX_NODES = {EXACT_MAX_NODES}; use method='kpm'"
        )
    chosen = _check_nodes(network, nodes)
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
        Chebyshev moments of the ``"kpm"`` and ``"stochastic"`` methods.
    vectors : int, optional
        Random vectors of the ``"stochastic"`` method.

    Returns
    -------
    ndarray, shape (len(nodes),)
        ``w_i = sum_k |u_k(i)|^2 / N`` over the modes k in the window; over all
        nodes they sum to the fraction of modes in the window. Zero modes are
        left out.

    Examples
    --------
    >>> from bpwidgets import build_network
    >>> net = build_network(3, 0.0, connection="nearest", spring="constant", seed=0)
    >>> mode_weights(net, 1.0, 2.0).round(4)  # the four modes at sqrt(3), evenly spread
    array([0.0494, 0.0494, 0.0494, 0.0494, 0.0494, 0.0494, 0.0494, 0.0494, 0.0494])
    """
    lo, hi = _check_window(omega_min, omega_max)
    if nodes is not None:
        nodes = _check_nodes(network, nodes)
    methods = ("auto", "exact", "kpm", "stochastic")
    if method not in methods:
        raise ValueError(f"method must be one of {', '.join(map(repr, methods))}; got {method!r}")
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
    weights = _stochastic_mode_weights(network, lo, hi, vectors, _check_moments(moments))
    return weights if nodes is None else weights[nodes]


def _check_window(omega_min, omega_max):
    lo, hi = float(omega_min), float(omega_max)
    if not (np.isfinite(lo) and np.isfinite(hi) and 0.0 <= lo < hi):
        raise ValueError(
            f"the window needs 0 <= omega_min < omega_max; got omega_min={omega_min}, "
            f"omega_max={omega_max}"
        )
    return lo, hi


def _stochastic_mode_weights(network, lo, hi, n_vectors, n_moments):
    """Diagonal of the smoothed window projector, E[v * P v] over Rademacher vectors."""
    if isinstance(n_vectors, bool) or not isinstance(n_vectors, numbers.Integral) or n_vectors < 1:
        raise ValueError(f"vectors must be a positive integer; got {n_vectors!r}")
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
