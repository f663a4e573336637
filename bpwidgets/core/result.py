"""The result of a reduced-DOS computation, and what can be done with it afterwards.

A :class:`ReducedDOS` holds the Chebyshev moments of every seed and the curves
they give; from the moments alone it re-smooths, changes its rescaling bound,
joins the results of separate calls and integrates, without touching a matrix.
It also gives every error bar: the seeds' scatter and, from the moments of
groups of random vectors, the stochastic error of the trace estimate.
:func:`bpwidgets.reduced_dos` (:mod:`bpwidgets.core.dos`) makes it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from .kpm import (
    DEFAULT_GRID_POINTS,
    _rescaled_moments,
    _check_moments,
    _check_omega,
    _check_scale,
    _cumulative,
    _kpm_bytes,
    _reconstruct,
)
from .limits import _check_memory

__all__ = ["NetworkSpectrum", "ReducedDOS", "standard_error"]


@dataclass(frozen=True, eq=False)
class NetworkSpectrum:
    """One network's part of a reduced DOS: what the result store keeps of it.

    Every field is a function of the network and the method's options alone
    (not of the networks computed with it), so it can be stored, read back by
    any process and joined with others (:meth:`ReducedDOS.from_spectra`).

    Attributes
    ----------
    seed : int or None
    n_nodes : int
    method : {"kpm", "exact"}
    bound : float
        The network's own bound above its bulk eigenvalues; :attr:`moments`
        are rescaled by it.
    safe_bound : float
        Its Gershgorin bound, above every eigenvalue.
    moments : ndarray, shape (K,)
        Chebyshev moments of the bulk, rescaled by :attr:`bound`.
    spread : ndarray, shape (G, K), or None
        The moments of G groups of its random vectors (None for ``"exact"``).
    debye_level : float
    stiffness : ndarray, shape (2, 2)
        Its macroscopic stiffness tensor (:func:`bpwidgets.stiffness_tensor`).
    zero_modes : float
        Fraction of zero modes (connected clusters / N).
    outlier_frequencies : ndarray
        Its modes above the bulk, ascending.
    outlier_count : int
        How many modes the bulk's moments leave out above it.
    coordination_counts : ndarray of int
        Nodes with Z = 0, 1, 2, ... springs.
    fingerprint : str
        A digest of its positions, springs and stiffnesses: a stored entry is
        used for a network given only if it was computed from the same one.
    inputs : dict
        Every input its numbers depend on (size, delta, connection, spring,
        seed, method, moments and, for the KPM, vectors): the result store
        keeps it under these, and serves it only for these.
    """

    seed: int | None
    n_nodes: int
    method: str
    bound: float
    safe_bound: float
    moments: np.ndarray
    spread: np.ndarray | None
    debye_level: float
    stiffness: np.ndarray
    zero_modes: float
    outlier_frequencies: np.ndarray
    outlier_count: int
    coordination_counts: np.ndarray
    fingerprint: str
    inputs: dict

    @property
    def mean_coordination(self) -> float:
        """Mean number of springs per node."""
        counts = self.coordination_counts
        return float(np.arange(counts.size) @ counts / self.n_nodes)


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
    spectra : tuple of NetworkSpectrum
        Every seed's own part, rescaled by its own bound, as the result store
        keeps it: :meth:`from_spectra` joins them again.
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
    spectra: tuple = ()

    @classmethod
    def from_spectra(cls, spectra, *, scale=None, omega=None) -> "ReducedDOS":
        """The reduced DOS of networks from their parts (:class:`NetworkSpectrum`).

        What :func:`bpwidgets.reduced_dos_of` returns is made here, from parts
        computed or read from the result store alike, so the two are equal.

        Parameters
        ----------
        spectra : sequence of NetworkSpectrum
            Of one method and number of moments; their seeds label the rows.
        scale : float, optional
            The common bound to rescale every part's moments by; default the
            largest of their own bounds. A bound below a part's own is replaced
            by the largest safe (Gershgorin) bound.
        omega : array_like, optional
            The grid; default ``DEFAULT_GRID_POINTS`` points up to sqrt(scale).

        Returns
        -------
        ReducedDOS

        Raises
        ------
        ValueError
            For no parts, parts of different methods, numbers of moments or
            sizes, or a scale that is not a positive finite number.

        Examples
        --------
        >>> from bpwidgets import reduced_dos
        >>> result = reduced_dos(20, 0.2, connection="cutoff", spring="inverse", seeds=3,
        ...                      store=False)
        >>> again = ReducedDOS.from_spectra(result.spectra)
        >>> bool((again.per_seed == result.per_seed).all()), again.scale == result.scale
        (True, True)
        """
        spectra = tuple(spectra)
        if not spectra or not all(isinstance(s, NetworkSpectrum) for s in spectra):
            raise ValueError("spectra must be a non-empty sequence of NetworkSpectrum")
        first = spectra[0]
        if any(s.method != first.method or s.moments.size != first.moments.size
               or s.n_nodes != first.n_nodes for s in spectra):
            raise ValueError("the spectra must share their method, number of moments and "
                             "number of nodes")
        top = max(s.bound for s in spectra)
        if scale is None:
            scale = top
        elif _check_scale(scale) < top:
            scale = max(s.safe_bound for s in spectra)
        moment_rows = _at_bound(np.array([s.moments for s in spectra]), spectra, scale)
        spread = _joined_spread([None if s.spread is None else s.spread[None] for s in spectra])
        if spread is not None:
            spread = _at_bound(spread, spectra, scale)
        grid = (np.linspace(0.0, np.sqrt(scale), DEFAULT_GRID_POINTS) if omega is None
                else _check_omega(omega))
        per_seed = _reconstruct(moment_rows, scale, grid)
        levels = np.array([s.debye_level for s in spectra])
        return cls(
            omega=grid,
            per_seed=per_seed,
            mean=per_seed.mean(axis=0),
            debye_level=float(levels.mean()),
            debye_levels=levels,
            seeds=tuple(s.seed for s in spectra),
            method=first.method,
            moments=moment_rows,
            scale=float(scale),
            zero_modes=np.array([s.zero_modes for s in spectra]),
            mean_coordination=np.array([s.mean_coordination for s in spectra]),
            outlier_frequencies=tuple(s.outlier_frequencies for s in spectra),
            outlier_modes=np.array([s.outlier_count / s.n_nodes for s in spectra]),
            spread_moments=spread,
            spectra=spectra,
        )

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
        >>> from bpwidgets import reduced_dos
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
        >>> from bpwidgets import reduced_dos
        >>> result = reduced_dos(20, 0.2, connection="cutoff", spring="inverse", seeds=1)
        >>> wider = result.rescaled(1.1 * result.scale)
        >>> wider.scale == 1.1 * result.scale  # mu_0, the weight of the bulk, is unchanged:
        True
        >>> float(abs(wider.moments[0, 0] - result.moments[0, 0])) < 1e-14
        True
        """
        scale = _check_scale(scale)
        if scale < self.scale:
            # Only the current bound is known to lie above the spectrum.
            raise ValueError(f"scale must be at least the current bound {self.scale}; got {scale}")
        grid = self.omega if omega is None else _check_omega(omega)
        _check_memory(f"omega of {grid.size} points",
                      _kpm_bytes(0, 0, self.moments.shape[1], grid.size, len(self.moments)))
        ratios = np.full(len(self.moments), self.scale / scale)
        moment_rows = _rescaled_moments(self.moments, ratios)
        per_seed = _reconstruct(moment_rows, scale, grid)
        spread = (None if self.spread_moments is None
                  else _rescaled_moments(self.spread_moments, ratios))
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
        >>> from bpwidgets import build_network, reduced_dos_of, spectrum_bound
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
            spectra=sum((part.spectra for part in parts), ()),
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
        >>> from bpwidgets import reduced_dos
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
        >>> from bpwidgets import reduced_dos
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
        >>> from bpwidgets import reduced_dos
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


def _at_bound(rows, spectra, scale):
    """``rows`` (one per part, moments rescaled by its own bound) rescaled by ``scale``.

    A part already at ``scale`` is kept as it is; the others are converted
    exactly (:func:`bpwidgets.core.kpm._rescaled_moments`), all at once.
    """
    ratios = np.array([s.bound / scale for s in spectra])
    moved = ratios != 1.0
    if moved.any():
        rows = rows.copy()
        rows[moved] = _rescaled_moments(rows[moved], ratios[moved])
    return rows


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
