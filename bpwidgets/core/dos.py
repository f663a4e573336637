"""Vibrational spectra of spring networks: the Debye-reduced density of states.

The quantity of interest is the Debye-reduced density of states g(omega)/omega,
normalised per node (the integral of g over omega is 1). In two dimensions
Debye's law is g ~ omega, so g/omega tends to a constant, the Debye level
(:mod:`bpwidgets.core.debye`), at low frequency; an excess over it is the
Boson peak.

Two ways to get it:

* ``method="exact"``: dense diagonalisation, O(N^3). The oracle for tests.
* ``method="kpm"``: the kernel polynomial method (Weisse et al., Rev. Mod.
  Phys. 78, 275 (2006); the numerics are in :mod:`bpwidgets.core.kpm`),
  O(K R nnz) for K Chebyshev moments and R random vectors. Seeds are stacked
  into block-diagonal matrices, one per core (:mod:`bpwidgets.core.linalg`),
  so that a single sparse product advances several seeds at once and the
  cores work side by side; every seed is still computed on its own.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.linalg
import scipy.special

from . import parallel
from .debye import _debye_levels
from .kpm import (
    DEFAULT_GRID_POINTS,
    DEFAULT_MOMENTS,
    _check_moments,
    _check_omega,
    _check_positive,
    _check_scale,
    _check_vectors,
    _exact_moments,
    _kpm_bytes,
    _kpm_moments,
    _reconstruct,
    default_vectors,
)
from .limits import _check_memory
from .linalg import _check_networks, _safe_bound, _stacks, _within_bound
from .outliers import _bulk_bounds, _exact_counterparts
from .result import ReducedDOS
from .network import (
    Network,
    _check_choice,
    _check_network,
    _check_network_memory,
    _check_parameters,
    _check_seed_list,
    build_networks,
)

__all__ = [
    "EXACT_MAX_NODES",
    "crystal_reduced_dos",
    "exact_frequencies",
    "reduced_dos",
    "reduced_dos_of",
    "spectrum_bound",
]


#: Largest network diagonalised densely: 10^4 nodes is an 800 MB matrix and minutes of work.
EXACT_MAX_NODES = 10_000


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
    TypeError
        If ``network`` is not a :class:`~bpwidgets.Network`.
    ValueError
        If the network is larger than ``EXACT_MAX_NODES`` (use
        ``reduced_dos(..., method="kpm")`` there), or its dense matrix would
        need more memory than :func:`bpwidgets.core.limits.memory_limit`.

    Examples
    --------
    >>> from bpwidgets import build_network
    >>> net = build_network(3, 0.0, connection="nearest", spring="constant", seed=0)
    >>> exact_frequencies(net).round(3)
    array([0.   , 1.732, 1.732, 1.732, 1.732, 2.449, 2.449, 2.449, 2.449])
    """
    _check_network(network)
    _check_dense(network.n_nodes, "exact diagonalisation",
                 "use the fast method, reduced_dos(..., method='kpm')")
    matrix = network.dynamical_matrix()
    eigenvalues = scipy.linalg.eigvalsh(matrix.toarray())
    # Round-off leaves the zero modes at +-1e-15: set them, one per cluster, to zero.
    n_zero, _ = network.clusters()
    eigenvalues[:n_zero] = 0.0
    return np.sqrt(np.clip(eigenvalues, 0.0, None))


def _check_dense(n_nodes, task, hint, *, eigenvectors=False, extra_bytes=0) -> None:
    """Refuse to diagonalise ``n_nodes`` densely past ``EXACT_MAX_NODES`` or the memory limit.

    The N x N matrix and LAPACK's copy take 16 bytes per entry, 24 with the
    eigenvectors, and its workspace about 300 bytes per node (measured with
    tracemalloc); ``extra_bytes`` is what the caller holds besides.
    """
    if n_nodes > EXACT_MAX_NODES:
        raise ValueError(
            f"network has {n_nodes} nodes: {task} is limited to "
            f"EXACT_MAX_NODES = {EXACT_MAX_NODES}; {hint}"
        )
    needed = (24 if eigenvectors else 16) * n_nodes**2 + 512 * n_nodes + extra_bytes
    _check_memory(f"network of {n_nodes} nodes: {task}", needed)


def crystal_reduced_dos(omega, t: float = 1.0) -> np.ndarray:
    """Closed form g(omega)/omega of the infinite square-lattice crystal.

    With omega^2 = 2 t (2 - cos kx - cos ky), per node
    ``g/omega = K(m) / (pi^2 t)``, ``m = 1 - (1 - omega^2 / 4t)^2``, K the complete
    elliptic integral of the first kind. Zero outside the band
    ``0 <= omega <= 2 sqrt(2 t)``; infinite (Van Hove) at omega = 2 sqrt(t).

    Parameters
    ----------
    omega : array_like
        Frequencies, finite and >= 0, of any shape.
    t : float, optional
        Spring constant of every bond, positive and finite.

    Returns
    -------
    ndarray
        g(omega)/omega, same shape as ``omega``.

    Raises
    ------
    ValueError
        For a negative or non-finite frequency, or a bad ``t``.

    Examples
    --------
    >>> round(float(crystal_reduced_dos(1e-6) * 2 * np.pi), 9)  # the Debye level 1/(2 pi t)
    1.0
    """
    omega = _check_omega(omega, grid=False)
    t = _check_positive("t", t)
    m = 1.0 - (1.0 - omega**2 / (4.0 * t)) ** 2
    inside = (omega >= 0) & (omega <= 2.0 * np.sqrt(2.0 * t))
    with np.errstate(invalid="ignore"):
        level = scipy.special.ellipk(np.where(inside, m, 0.0)) / (np.pi**2 * t)
    return np.where(inside, level, 0.0)


# --------------------------------------------------------------------------- KPM


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
        A count n (seeds 0 .. n-1) or explicit seeds, distinct non-negative
        integers; seed s is the network ``build_network(..., seed=s)``.
    omega : array_like, optional
        Frequency grid, finite frequencies >= 0, at most ``MAX_GRID_POINTS``;
        default ``DEFAULT_GRID_POINTS`` points from 0 to the top of the bulk, sqrt(scale).
    method : {"kpm", "exact"}, optional
        ``"kpm"``: the kernel polynomial method, linear in N. ``"exact"``: dense
        diagonalisation (at most ``EXACT_MAX_NODES`` nodes), smoothed with the same
        kernel on the same grid, so that the two differ only by the stochastic
        trace.
    moments : int, optional
        Number K of Chebyshev moments (even, from 8 to ``MAX_MOMENTS``).
    vectors : int, optional
        Random vectors R per seed (KPM only), from 1 to ``MAX_VECTORS``;
        default: enough that ``N * R * seeds >= DEFAULT_SAMPLES``.

    Returns
    -------
    ReducedDOS

    Raises
    ------
    ValueError
        For bad network parameters, seeds that are not a positive count or
        distinct non-negative integers, an unknown method, moments, vectors or
        omega outside the limits above, an exact computation past
        ``EXACT_MAX_NODES``, or a request (the networks, the N x R x seeds
        random vectors, the dense matrix) that would need more memory than
        :func:`bpwidgets.core.limits.memory_limit`. All is checked before any
        network is built.

    Notes
    -----
    KPM as in Weisse et al., Rev. Mod. Phys. 78, 275 (2006), with these choices
    (docs/physics.md): lambda_min is pinned at 0 (x = -1 exactly) and lambda_max comes
    from a short Lanczos run; random Rademacher vectors have their mean over
    every connected cluster removed, which projects out all zero modes exactly;
    moments come two per sparse product (Eq. (34)); the Jackson kernel damps
    them (Eq. (71)); the density is rebuilt in Jacobi polynomials with weight
    ``(1 - x)^(1/2)``, regular at x = -1, so the constant density at the 2D
    Debye edge is not biased. Finally ``g(omega)/omega = 2 rho_lambda(omega^2)``
    needs no division by omega. Modes far above the bulk (1/r springs between
    nearly coinciding nodes, delta near 0.5) would set lambda_max and coarsen
    the whole curve: each network's are found locally, projected out of the
    random vectors and of every product, and counted apart at their
    frequencies (:attr:`ReducedDOS.outlier_frequencies`), so the bound and the
    resolution are the bulk's and the integrated DOS still reaches 1
    (docs/physics.md, "Modes above the bulk").

    Examples
    --------
    >>> result = reduced_dos(60, 0.3, connection="cutoff", spring="inverse", seeds=10)
    >>> result.per_seed.shape, round(result.debye_level, 3)
    ((10, 401), 0.217)
    """
    seeds = _check_seeds(seeds)
    size, delta, connection, spring = _check_parameters(size, delta, connection, spring)
    _check_network_memory(size, delta, connection, len(seeds))
    _check_request(size * size, len(seeds), method, moments, vectors, omega)
    networks = build_networks(size, delta, connection=connection, spring=spring, seeds=seeds)
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

    Raises
    ------
    TypeError
        If ``networks`` is not a sequence of :class:`~bpwidgets.Network`.
    ValueError
        For no networks, networks of different sizes, a bad scale, or as
        :func:`reduced_dos` does for the other arguments.

    Examples
    --------
    >>> from bpwidgets import build_network
    >>> nets = [build_network(30, 0.1, connection="nearest", spring="inverse", seed=s)
    ...         for s in range(3)]
    >>> reduced_dos_of(nets).seeds
    (0, 1, 2)
    """
    networks = _check_networks(networks)
    n_moments, n_vectors, grid = _check_request(
        networks[0].n_nodes, len(networks), method, moments, vectors, omega
    )
    if scale is not None:
        scale = _check_scale(scale)

    # Both methods rescale by the same bound, so they share one kernel and differ
    # only by the stochastic trace. The networks are split into one stack per core;
    # each stack's work runs in its own thread. Each network's modes above its bulk
    # are found, counted and deflated on their own; the bound is the bulk's
    # (docs/physics.md, "Modes above the bulk").
    stacks = _stacks(networks)
    bulk = parallel.each(_bulk_bounds, stacks)
    if scale is None:
        scale = float(max(bounds.max() for bounds, _, _ in bulk))
    counts = [outliers.count for _, found, _ in bulk for outliers in found]
    spread = None  # the exact moments have no random vectors to spread over
    if method == "exact":
        frequencies = [exact_frequencies(n) for n in networks]
        # The exact modes nearest the KPM's outliers are left out, and kept at their
        # exact frequencies.
        left_out = [
            _exact_counterparts(f, outliers.frequencies)
            for f, outliers in zip(frequencies, (o for _, found, _ in bulk for o in found))
        ]
        if max(f[~mask][-1] for f, mask in zip(frequencies, left_out)) ** 2 > scale:
            scale = _safe_bound(stacks)
        moment_rows, zero_modes = _exact_moments(
            networks, frequencies, scale, n_moments, left_out
        )
        outlier_frequencies = tuple(f[mask] for f, mask in zip(frequencies, left_out))
    else:
        zero_modes = np.array([n.clusters()[0] / n.n_nodes for n in networks])
        outlier_frequencies = tuple(
            outliers.frequencies for _, found, _ in bulk for outliers in found
        )

        def moments_with(scale):
            parts = parallel.each(
                lambda item: _kpm_moments(item[0], scale, n_moments, n_vectors, item[1][2]),
                list(zip(stacks, bulk)),
            )
            return np.concatenate(parts)

        # Only the mean's moments are bounded by 1: a lone vector's may not be.
        averages, scale = _within_bound(moments_with, stacks, scale,
                                        magnitude=lambda rows: np.abs(rows[:, 0]))
        moment_rows, spread = averages[:, 0], averages[:, 1:]
    levels = np.concatenate(parallel.each(_debye_levels, stacks))

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
        outlier_frequencies=outlier_frequencies,
        outlier_modes=np.array([c / n.n_nodes for c, n in zip(counts, networks)]),
        spread_moments=spread,
    )


def spectrum_bound(networks) -> float:
    """The bound :func:`reduced_dos_of` rescales by: above every network's bulk eigenvalues.

    The largest over the networks of each one's bound: the top Ritz value of a
    short Lanczos run plus its residual and a 2 % margin, and never above the
    network's Gershgorin bound. A network with modes far above its bulk (very
    short 1/r springs, delta near 0.5) is bounded without them: they are
    deflated (docs/physics.md, "Modes above the bulk"). A network's own bound
    does not depend on which networks it is given with.

    Parameters
    ----------
    networks : sequence of Network

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If ``networks`` is not a sequence of :class:`~bpwidgets.Network`.
    ValueError
        For no networks, or networks of different sizes.

    Examples
    --------
    >>> from bpwidgets import build_network
    >>> crystal = build_network(16, 0.0, connection="nearest", spring="constant", seed=0)
    >>> 8.0 <= spectrum_bound([crystal]) <= 8.0 * 1.03   # the crystal's top is 8
    True
    """
    stacks = _stacks(_check_networks(networks))
    return float(max(bounds.max() for bounds, _, _ in parallel.each(_bulk_bounds, stacks)))


#: The ways to get the moments of a reduced DOS.
_METHODS = ("kpm", "exact")


def _check_request(n_nodes, n_networks, method, moments, vectors, omega) -> tuple:
    """``(n_moments, n_vectors, grid)`` of a reduced DOS of ``n_networks`` of ``n_nodes`` each.

    Refuses what :func:`reduced_dos` lists, the memory included: the dense
    matrix of ``method="exact"``, or the KPM's random vectors, N x R x seeds
    entries together; the reconstruction on the grid for either.
    """
    _check_choice("method", method, _METHODS)
    n_moments = _check_moments(moments)
    total = n_nodes * n_networks
    n_vectors = (default_vectors(total, networks=n_networks)
                 if vectors is None else _check_vectors(vectors))
    grid = None if omega is None else _check_omega(omega)
    n_grid = DEFAULT_GRID_POINTS if grid is None else grid.size
    reconstruction = _kpm_bytes(0, 0, n_moments, n_grid, n_networks)
    if method == "exact":
        # One network at a time, and the Chebyshev values of its N modes.
        _check_dense(n_nodes, "exact diagonalisation", "use the fast method, method='kpm'",
                     extra_bytes=8 * n_moments * n_nodes + reconstruction)
    else:
        _check_memory(
            f"vectors={n_vectors} per seed over {n_networks} seeds of {n_nodes} nodes "
            f"({total * n_vectors} random-vector entries)",
            _kpm_bytes(total, n_vectors, n_moments, n_grid, n_networks),
        )
    return n_moments, n_vectors, grid


def _check_seeds(seeds):
    """A count n as ``range(n)`` (listed only once the memory is checked), else the seeds."""
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        if seeds <= 0:
            raise ValueError(f"seeds must be a positive count or a list of seeds; got {seeds}")
        return range(int(seeds))
    if isinstance(seeds, bool):
        raise ValueError(f"seeds must be a positive count or a list of seeds; got {seeds!r}")
    return _check_seed_list(seeds)
