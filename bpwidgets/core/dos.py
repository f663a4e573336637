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

import functools
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
    _check_positive,
    _check_scale,
    _check_vectors,
    _cumulative,
    _exact_moments,
    _kpm_bytes,
    _kpm_moments,
    _reconstruct,
    default_vectors,
)
from .limits import _check_memory
from .linalg import _check_networks, _safe_bound, _stacks, _within_bound
from .outliers import _bulk_bounds, _exact_counterparts
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


@dataclass(frozen=True, eq=False)
class ReducedDOS:
    """Debye-reduced density of states g(omega)/omega of one or more seeds.

    Attributes
    ----------
    omega : ndarray, shape (G,)
        Frequency grid.
    per_seed : ndarray, shape (S, G)
        g(omega)/omega of every seed (per node; zero modes and modes above the
        bulk excluded).
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
        modes of the bulk (those above it are apart, :attr:`outlier_frequencies`),
        ``x = 2 lambda / scale - 1`` (Weisse et al., Eq. (34)). Re-smooth with
        :meth:`smoothed`.
    scale : float
        Upper bound of the bulk's eigenvalues used to rescale H onto [-1, 1];
        the resolution is about ``pi sqrt(scale) / (2 K)``.
    zero_modes : ndarray, shape (S,)
        Fraction of zero modes (connected clusters / N); they sit at omega = 0.
    mean_coordination : ndarray, shape (S,)
        Mean number of springs per node of every seed.
    outlier_frequencies : tuple of ndarray
        Every seed's modes above its bulk, ascending (docs/physics.md, "Modes
        above the bulk"): stiff modes localised on very short springs, counted
        apart and left out of the moments, the bound and the curves. Empty for a
        seed without any. :attr:`outlier_note` says so in words.
    outlier_modes : ndarray, shape (S,)
        Fraction of modes above the bulk (their count / N) of every seed; with
        the moments' ``mu_0`` and ``zero_modes`` it sums to 1.
    spread_moments : ndarray, shape (S, G, K), or None
        Each seed's moments averaged over G groups of its random vectors (each
        vector alone when there are few): their spread is the stochastic error
        of the trace estimate (:attr:`stochastic_error`). None for ``"exact"``.
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
    outlier_frequencies: tuple
    outlier_modes: np.ndarray
    spread_moments: np.ndarray | None = None

    def smoothed(self, *, moments=None, omega=None) -> "ReducedDOS":
        """The same spectra from the stored moments, with fewer moments or another grid.

        Costs milliseconds: no matrix is touched.

        Parameters
        ----------
        moments : int, optional
            Number of moments to keep (at most the stored number): fewer gives a
            smoother curve with resolution about ``pi omega_max / (2 moments)``.
        omega : array_like, optional
            New frequency grid: finite frequencies >= 0, at most ``MAX_GRID_POINTS``.

        Returns
        -------
        ReducedDOS

        Raises
        ------
        ValueError
            For moments outside 8 .. the stored number, a bad grid, or a
            reconstruction that would need more memory than the limit.

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
        _check_memory(f"moments={kept} on omega of {grid.size} points",
                      _kpm_bytes(0, 0, kept, grid.size, len(self.moments)))
        per_seed = _reconstruct(self.moments[:, :kept], self.scale, grid)
        spread = None if self.spread_moments is None else self.spread_moments[:, :, :kept]
        return replace(self, omega=grid, per_seed=per_seed, mean=per_seed.mean(axis=0),
                       spread_moments=spread)

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
            Grid of the result; default: the current one. As for :meth:`smoothed`.

        Returns
        -------
        ReducedDOS

        Raises
        ------
        ValueError
            For a scale that is not finite or below the current one, or a bad grid.

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
        _check_memory(f"omega of {grid.size} points",
                      _kpm_bytes(0, 0, self.moments.shape[1], grid.size, len(self.moments)))
        ratio = self.scale / scale
        conversion = _chebyshev_affine(ratio, ratio - 1.0, self.moments.shape[1])
        moment_rows = self.moments @ conversion.T
        per_seed = _reconstruct(moment_rows, scale, grid)
        spread = None if self.spread_moments is None else self.spread_moments @ conversion.T
        return replace(self, omega=grid, per_seed=per_seed, mean=per_seed.mean(axis=0),
                       moments=moment_rows, scale=scale, spread_moments=spread)

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
            outlier_frequencies=sum((part.outlier_frequencies for part in parts), ()),
            outlier_modes=np.concatenate([part.outlier_modes for part in parts]),
            spread_moments=_joined_spread([part.spread_moments for part in parts]),
        )

    def cumulative(self, omega) -> np.ndarray:
        """Integrated DOS: the fraction of modes with frequency at most omega, per seed.

        Parameters
        ----------
        omega : float or array_like
            Frequencies: finite, >= 0, at most ``MAX_GRID_POINTS`` of them.

        Returns
        -------
        ndarray, shape (S, len(omega))
            Includes the zero modes at omega = 0 and the modes above the bulk
            (:attr:`outlier_frequencies`) at their frequencies, so it reaches 1.

        Raises
        ------
        ValueError
            For a negative or non-finite frequency, or too many.

        Examples
        --------
        >>> result = reduced_dos(20, 0.2, connection="cutoff", spring="inverse", seeds=1)
        >>> float(result.cumulative([100.0])[0, 0].round(6))
        1.0
        """
        omega = _check_omega(omega if np.ndim(omega) else [omega])
        outliers = np.array([
            fraction * np.searchsorted(f, omega, side="right") / max(f.size, 1)
            for f, fraction in zip(self.outlier_frequencies, self.outlier_modes)
        ])
        return (_cumulative(self.moments, self.scale, omega) + self.zero_modes[:, None]
                + outliers)

    @property
    def outlier_note(self) -> str:
        """The modes above the bulk in words, ``""`` when there are none.

        Examples
        --------
        >>> reduced_dos(20, 0.3, connection="cutoff", spring="inverse", seeds=2).outlier_note
        ''
        >>> reduced_dos(60, 0.5, connection="cutoff", spring="inverse", seeds=1).outlier_note
        '148 modes above ω = 4.1, up to ω = 34, not shown'
        """
        found = [f for f in self.outlier_frequencies if f.size]
        if not found:
            return ""
        count = sum(f.size for f in found)
        low = np.floor(10.0 * min(f[0] for f in found)) / 10.0
        high = max(f[-1] for f in found)
        modes = "1 mode" if count == 1 else f"{count} modes"
        networks = "" if len(self.seeds) == 1 else f" in {len(self.seeds)} networks"
        top = f"{high:.0f}" if high >= 10 else f"{high:.1f}"
        return f"{modes}{networks} above ω = {low:.1f}, up to ω = {top}, not shown"

    @property
    def mean_error(self) -> np.ndarray:
        """Standard error of :attr:`mean` on :attr:`omega`.

        With several seeds, their scatter over sqrt(S): each seed's curve carries
        its random vectors' noise, so the scatter holds it too. With one seed,
        the stochastic error of its trace estimate (:attr:`stochastic_error`).
        NaN where neither can be estimated (one seed and one random vector).
        """
        if len(self.per_seed) > 1:
            return standard_error(self.per_seed)
        return self.stochastic_error

    @functools.cached_property
    def stochastic_error(self) -> np.ndarray:
        """Standard error of :attr:`mean` from the random vectors alone, on :attr:`omega`.

        Each seed's curve is rebuilt from each group of its vectors
        (:attr:`spread_moments`); their spread over sqrt(G) is that seed's
        error, and the seeds' errors add in quadrature over S. NaN when a seed
        has a single group (one random vector) or for ``method="exact"``.

        Examples
        --------
        >>> result = reduced_dos(30, 0.0, connection="nearest", spring="constant", seeds=1,
        ...                      vectors=8, moments=64)
        >>> bool(np.all(result.stochastic_error[1:-1] > 0))
        True
        """
        curves = self.group_curves()
        if curves is None:
            return np.full(self.omega.shape, np.nan)
        n_seeds, n_groups = curves.shape[:2]
        variance = curves.var(axis=1, ddof=1) / n_groups
        return np.sqrt(variance.sum(axis=0)) / n_seeds

    def group_curves(self):
        """Every seed's g/omega from each group of its random vectors, ``(S, G, len(omega))``.

        Their mean over the groups is :attr:`per_seed`. None when there is no spread
        (one group, or ``method="exact"``).
        """
        spread = self.spread_moments
        if spread is None or spread.shape[1] < 2:
            return None
        n_seeds, n_groups, n_moments = spread.shape
        curves = _reconstruct(spread.reshape(-1, n_moments), self.scale, self.omega)
        return curves.reshape(n_seeds, n_groups, -1)

    @property
    def debye_level_error(self) -> float:
        """Standard error of :attr:`debye_level` over the seeds (NaN with one seed)."""
        return float(standard_error(np.asarray(self.debye_levels)))

    @property
    def mean_coordination_error(self) -> float:
        """Standard error of the mean coordination over the seeds (NaN with one seed)."""
        return float(standard_error(np.asarray(self.mean_coordination)))


def _joined_spread(parts):
    """The parts' group moments stacked, or None unless they all have the same groups."""
    if any(part is None for part in parts) or len({part.shape[1] for part in parts}) > 1:
        return None
    return np.concatenate(parts)


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
