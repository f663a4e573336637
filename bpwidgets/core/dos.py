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
from dataclasses import dataclass, replace

import numpy as np
import scipy.linalg
import scipy.special

from . import parallel
from .debye import _debye_levels
from .kpm import (
    DEFAULT_GRID_POINTS,
    DEFAULT_MOMENTS,
    _chebyshev_affine,
    _check_moments,
    _check_omega,
    _check_scale,
    _cumulative,
    _exact_moments,
    _kpm_moments,
    _reconstruct,
    default_vectors,
)
from .linalg import _check_networks, _lanczos_bound, _safe_bound, _stacks, _within_bound
from .network import Network, build_networks

__all__ = [
    "EXACT_MAX_NODES",
    "ReducedDOS",
    "crystal_reduced_dos",
    "exact_frequencies",
    "reduced_dos",
    "reduced_dos_of",
    "spectrum_bound",
    "standard_error",
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

    @property
    def mean_error(self) -> np.ndarray:
        """Standard error of :attr:`mean` on :attr:`omega`: the seeds' scatter over sqrt(S).

        Each seed's curve carries its random vectors' noise, so the scatter holds it
        too. NaN with one seed (not estimated).
        """
        return standard_error(self.per_seed)

    @property
    def debye_level_error(self) -> float:
        """Standard error of :attr:`debye_level` over the seeds (NaN with one seed)."""
        return float(standard_error(np.asarray(self.debye_levels)))

    @property
    def mean_coordination_error(self) -> float:
        """Standard error of the mean coordination over the seeds (NaN with one seed)."""
        return float(standard_error(np.asarray(self.mean_coordination)))


def standard_error(rows) -> np.ndarray:
    """Standard error of the mean of ``rows`` (first axis): std (ddof 1) / sqrt(n), or NaN.

    Examples
    --------
    >>> float(standard_error([1.0, 2.0, 3.0])), float(standard_error([1.0]))
    (0.5773502691896258, nan)
    """
    rows = np.asarray(rows, dtype=float)
    if len(rows) < 2:
        return np.full(np.shape(rows)[1:], np.nan)
    return np.std(rows, axis=0, ddof=1) / np.sqrt(len(rows))


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
    (docs/physics.md): lambda_min is pinned at 0 (x = -1 exactly) and lambda_max comes
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
            parts = parallel.each(
                lambda stack: _kpm_moments(stack, scale, n_moments, n_vectors), stacks
            )
            return np.concatenate(parts)

        moment_rows, scale = _within_bound(moments_with, stacks, scale)
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
