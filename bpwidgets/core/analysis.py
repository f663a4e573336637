"""The Boson-peak analysis of a result: where g/omega rises above Debye, and by how much.

Plain functions of the compute core's results (a :class:`~bpwidgets.core.result.ReducedDOS`,
coordination numbers), with the constants that decide what counts as a peak.
The dashboard's session, the paper's numbers and the figures all read a result
through :func:`boson_peak_of`, so a peak is found the same way everywhere.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field, replace

import numpy as np

__all__ = [
    "BOSON_PEAK_OMEGA_MAX",
    "DOS_MOMENTS",
    "FINITE_SIZE_MODES",
    "MIN_PEAK_EXCESS",
    "PEAK_FIT_HALF_WIDTH",
    "BosonPeak",
    "boson_peak",
    "boson_peak_of",
    "cell_side",
    "coordination_histogram",
    "lowest_frequency",
    "plus_minus",
]

#: The Boson peak is looked for below this frequency: in the paper it sits at omega ~ 0.5,
#: well below the van Hove peak at omega = 2.
BOSON_PEAK_OMEGA_MAX = 1.2
#: Below this many times the lowest frequency of the finite cell the reduced DOS is a
#: comb of a few plane waves, not a continuum: no Boson peak is looked for there.
FINITE_SIZE_MODES = 2.0
#: Smallest relative excess over the Debye level reported as a peak (KPM noise is below it).
MIN_PEAK_EXCESS = 0.02
#: Half-width in omega of the parabola fitted around a peak to place it between grid
#: points (for its error): about the KPM resolution at ``DOS_MOMENTS`` moments.
PEAK_FIT_HALF_WIDTH = 0.08
#: Chebyshev moments the dashboard and the paper's numbers read a reduced DOS with.
#: Resolution ~ pi omega_max / (2 K) ~ 0.07 at K = 64: it smooths the finite-size comb of a
#: 60 x 60 cell (spacing ~ 2 pi / L ~ 0.1) yet resolves the Boson peak near omega = 0.5,
#: and costs half the default's recursion.
DOS_MOMENTS = 64


def coordination_histogram(coordinations):
    """Fractions of nodes with each coordination number, pooled over networks.

    Parameters
    ----------
    coordinations : sequence of ndarray of int
        Coordination numbers of every node, one array per network (seed).

    Returns
    -------
    z : ndarray of int
        The coordination numbers present, ascending.
    fractions : ndarray
        Fraction of nodes with each ``z``; sums to 1.
    mean : float
        Mean coordination number.

    Examples
    --------
    >>> z, fractions, mean = coordination_histogram([np.array([3, 4, 4, 5]), np.array([4, 4])])
    >>> z.tolist(), fractions.round(3).tolist(), round(mean, 3)
    ([3, 4, 5], [0.167, 0.667, 0.167], 4.0)
    """
    pooled = np.concatenate([np.asarray(c).ravel() for c in coordinations])
    counts = np.bincount(pooled)
    z = np.flatnonzero(counts)
    return z, counts[z] / pooled.size, float(pooled.mean())


@dataclass(frozen=True)
class BosonPeak:
    """The Boson peak of a reduced DOS and the excess region to shade.

    Attributes
    ----------
    omega : float
        Position of the peak (maximum of g/omega below ``BOSON_PEAK_OMEGA_MAX``).
    reduced_dos : float
        g/omega at the peak.
    excess : float
        Relative height above the Debye level, ``reduced_dos / debye_level - 1``.
    region_omega, region_upper, region_lower : ndarray
        The shaded region: omega, the curve, and the Debye level, where the curve
        is above the level around the peak.
    omega_error, excess_error : float
        Standard errors of ``omega`` and ``excess`` (:func:`boson_peak_of`); NaN
        when not estimated (a single curve).
    """

    omega: float
    reduced_dos: float
    excess: float
    region_omega: np.ndarray = field(repr=False)
    region_upper: np.ndarray = field(repr=False)
    region_lower: np.ndarray = field(repr=False)
    omega_error: float = float("nan")
    excess_error: float = float("nan")

    @property
    def label(self) -> str:
        """Text written beside the peak: ``"Boson peak: ω = 0.46 ± 0.02, 21 ± 2 % above Debye"``."""
        return f"Boson peak: {self.position_text}, {self.excess_text} above Debye"

    @property
    def position_text(self) -> str:
        """``"ω = 0.46 ± 0.02"``, without the error when it is not known."""
        return f"ω = {self.omega:.2f}" + plus_minus(self.omega_error, "{:.2f}")

    @property
    def excess_text(self) -> str:
        """``"21 ± 2 %"``: the excess in per cent."""
        return (f"{100 * self.excess:.0f}" + plus_minus(100 * self.excess_error, "{:.0f}")
                + " %")


def plus_minus(error, fmt) -> str:
    """`` ± error`` in ``fmt``, at least one unit of its last digit; "" when unknown (NaN).

    Examples
    --------
    >>> plus_minus(0.0213, "{:.2f}"), plus_minus(0.001, "{:.2f}"), plus_minus(float("nan"), "{:.2f}")
    (' ± 0.02', ' ± 0.01', '')
    """
    if not np.isfinite(error):
        return ""
    unit = 10.0 ** -len(fmt.format(0.0).partition(".")[2])
    return " ± " + fmt.format(max(float(error), unit))


def lowest_frequency(size: float) -> float:
    """Lowest non-zero frequency of the L x L crystal with unit springs, 2 sin(pi / L).

    From lambda = 4 [sin^2(pi n1 / L) + sin^2(pi n2 / L)] (docs/physics.md); it sets the
    scale below which a finite cell has too few modes for a smooth DOS. ``size`` is
    the side of the periodic cell in units of the mean spacing: L for the lattice,
    sqrt(N) for a jammed packing's contact network.

    Examples
    --------
    >>> round(lowest_frequency(60), 3)
    0.105
    """
    return 2.0 * float(np.sin(np.pi / size))


def cell_side(size) -> float:
    """Side of the periodic cell, in mean spacings, of a network or of a grid size.

    A network off the lattice (a jammed packing's contact network) has its own
    ``box``; a lattice network's is its size L; a number is taken as the side.

    Raises
    ------
    ValueError
        For a side that is not a number of at least 2 (below it the cell has no
        lowest frequency), or anything else that is not a network (a
        :class:`~bpwidgets.JammedPacking`'s box is in diameters: pass its network).

    Examples
    --------
    >>> from bpwidgets import build_network, jammed_packing
    >>> cell_side(60), cell_side(build_network(20, 0.1, connection="nearest",
    ...                                        spring="inverse", seed=0))
    (60.0, 20.0)
    >>> cell_side(jammed_packing(64, pressure=1e-2, seed=0).network()), cell_side(np.float64(7.5))
    (8.0, 7.5)
    """
    side = size
    # A network (anything with a dynamical matrix: not a packing, whose box is in
    # diameters rather than mean spacings): its own box off the lattice, else its L.
    if callable(getattr(size, "dynamical_matrix", None)):
        side = getattr(size, "box", getattr(size, "size", None))
    if isinstance(side, bool) or not isinstance(side, (int, float, np.integer, np.floating)) \
            or not side >= 2:
        raise ValueError(f"size must be a network, or its cell's side (a number >= 2); "
                         f"got {size!r}")
    return float(side)


def boson_peak(
    omega,
    reduced_dos,
    debye_level,
    *,
    omega_min=0.0,
    omega_max=BOSON_PEAK_OMEGA_MAX,
    min_excess=MIN_PEAK_EXCESS,
):
    """Find the Boson peak: a low-frequency maximum of g/omega above the Debye level.

    Parameters
    ----------
    omega : ndarray
        Frequencies, ascending.
    reduced_dos : ndarray
        g(omega)/omega on ``omega`` (the seed average).
    debye_level : float
        The Debye level 1/(2 pi sigma_eff) of the same networks.
    omega_min : float
        Only maxima above this frequency count: below it a finite cell's DOS is a
        comb (use ``FINITE_SIZE_MODES * lowest_frequency(size)``).
    omega_max : float
        Only maxima below this frequency count.
    min_excess : float
        Smallest relative excess over ``debye_level`` that counts as a peak.

    Returns
    -------
    BosonPeak or None
        None when g/omega has no interior maximum between ``omega_min`` and ``omega_max`` (it keeps
        rising towards the van Hove peak, as in the crystal) or the maximum is not
        above the Debye level by ``min_excess``.

    Notes
    -----
    The shaded region runs from where the curve rises above the Debye level to
    where the excess ends: the curve falls back to the level, or reaches its
    minimum after the peak and starts rising towards the van Hove peak.

    Examples
    --------
    >>> omega = np.linspace(0.0, 3.0, 301)
    >>> bump = 0.2 * (1 + 0.25 * np.exp(-((omega - 0.5) / 0.2) ** 2))
    >>> boson_peak(omega, bump, 0.2).label
    'Boson peak: ω = 0.50, 25 % above Debye'
    """
    omega = np.asarray(omega, dtype=float)
    reduced_dos = np.asarray(reduced_dos, dtype=float)
    low = np.flatnonzero((omega > max(omega_min, 0.0)) & (omega <= omega_max))
    if low.size < 3:
        return None
    peak = low[np.argmax(reduced_dos[low])]
    if peak in (low[0], low[-1]):
        return None
    excess = reduced_dos[peak] / debye_level - 1.0
    if excess < min_excess:
        return None
    below = reduced_dos <= debye_level
    before = np.flatnonzero(below[:peak])
    start = before[-1] + 1 if before.size else 0
    # The excess ends at the first point back at the level (excluded) or at the minimum
    # before the rise to the van Hove peak (included); np.inf closes a curve still falling.
    rising = np.diff(reduced_dos[peak:], append=np.inf) > 0
    end = peak + np.flatnonzero(below[peak:] | rising)[0]
    stop = end if below[end] else end + 1
    region = slice(start, stop)
    return BosonPeak(
        omega=float(omega[peak]),
        reduced_dos=float(reduced_dos[peak]),
        excess=float(excess),
        region_omega=omega[region],
        region_upper=reduced_dos[region],
        region_lower=np.full(stop - start, float(debye_level)),
    )


def boson_peak_of(dos, size=None, *, lowest=None):
    """The Boson peak of a seed-averaged reduced DOS of L x L networks, with errors, or None.

    :func:`boson_peak` on ``dos.mean`` against ``dos.debye_level``, ignoring
    maxima below ``FINITE_SIZE_MODES`` times the cell's lowest frequency,
    where a finite cell's DOS is a comb of plane waves.

    The errors are jackknife standard errors over the seeds: the peak of each
    average that leaves one seed out (its curve and its Debye level). They hold
    the seed-to-seed scatter, and with it the random vectors' noise of each
    seed. With one seed they are taken over the groups of its random vectors
    (``dos.group_curves()``) instead: the error of the trace estimate alone. The grid's maximum jumps from point to point, which the jackknife
    would blow up, so the leave-one-out positions are the vertices of a
    parabola fitted around each maximum (``PEAK_FIT_HALF_WIDTH``); the error is
    at least half a grid step. With one seed and one random vector, or when
    some leave-one-out average has no peak, the errors are NaN (not estimated).

    Parameters
    ----------
    dos : bpwidgets.ReducedDOS
    size : int, float or bpwidgets.Network
        Linear size L of the networks, or one of them: the side of its periodic
        cell sets the lowest frequency (:func:`cell_side`; ``sqrt(N)`` for a
        jammed packing's contact network).
    lowest : float, optional
        The cell's lowest frequency itself, in place of ``size``, where the side
        does not give it: a packing's Hessian, whose slowest plane wave is
        ``ElasticModuli.lowest_frequency``.

    Returns
    -------
    BosonPeak or None

    Raises
    ------
    ValueError
        Unless exactly one of ``size`` and ``lowest`` is given, or for a
        ``lowest`` that is not a positive number.

    Examples
    --------
    >>> from bpwidgets import reduced_dos
    >>> result = reduced_dos(60, 0.3, connection="cutoff", spring="inverse", seeds=10,
    ...                      moments=DOS_MOMENTS)
    >>> peak = boson_peak_of(result, 60)
    >>> 0 < peak.omega_error < 0.1, 0 < peak.excess_error < 0.05
    (True, True)
    """
    if (size is None) == (lowest is None):
        raise ValueError("give the cell's size or its lowest frequency (lowest=), not "
                         f"{'both' if size is not None else 'neither'}")
    if lowest is None:
        lowest = lowest_frequency(cell_side(size))
    elif isinstance(lowest, bool) or not isinstance(lowest, numbers.Real) or not lowest > 0:
        raise ValueError(f"lowest must be a positive frequency; got {lowest!r}")
    omega_min = FINITE_SIZE_MODES * float(lowest)
    peak = boson_peak(dos.omega, dos.mean, dos.debye_level, omega_min=omega_min)
    if len(dos.per_seed) > 1:
        samples, levels = dos.per_seed, np.asarray(dos.debye_levels)
    else:  # one network: its random vectors' groups, at its one Debye level
        groups = dos.group_curves()
        samples = None if groups is None else groups[0]
        levels = None if groups is None else np.full(len(samples), dos.debye_level)
    if peak is None or samples is None:
        return peak
    n_samples, total = len(samples), samples.sum(axis=0)
    positions, excesses = [], []
    for k in range(n_samples):
        curve = (total - samples[k]) / (n_samples - 1)
        left_out = boson_peak(dos.omega, curve, (levels.sum() - levels[k]) / (n_samples - 1),
                              omega_min=omega_min)
        if left_out is None:
            return peak
        positions.append(_vertex(dos.omega, curve, left_out.omega))
        excesses.append(left_out.excess)
    half_step = 0.5 * float(np.min(np.diff(dos.omega)))
    return replace(peak, omega_error=max(_jackknife_error(positions), half_step),
                   excess_error=_jackknife_error(excesses))


def _vertex(omega, curve, near) -> float:
    """Vertex of the parabola fitted to ``curve`` within ``PEAK_FIT_HALF_WIDTH`` of ``near``."""
    window = np.abs(omega - near) <= PEAK_FIT_HALF_WIDTH
    if window.sum() < 3:
        return near
    a, b, _ = np.polyfit(omega[window] - near, curve[window], 2)
    if a >= 0:  # not a maximum: keep the grid's
        return near
    return near + float(np.clip(-b / (2 * a), -PEAK_FIT_HALF_WIDTH, PEAK_FIT_HALF_WIDTH))


def _jackknife_error(estimates) -> float:
    """Jackknife standard error from leave-one-out estimates (Efron & Stein 1981)."""
    estimates = np.asarray(estimates, dtype=float)
    n = len(estimates)
    return float(np.sqrt((n - 1) / n * np.sum((estimates - estimates.mean()) ** 2)))
