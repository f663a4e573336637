"""Plot arrays for the dashboard's panels: plain numpy, no widgets.

Every function here turns a result of the compute core (a
:class:`~bpwidgets.Network`, a reduced DOS) into the arrays a plotting library
draws: segments with NaN gaps, colours per node, histogram fractions, the shaded
Boson-peak region. Nothing here imports ipywidgets or bqplot, so the same
functions feed the bqplot dashboard, its tests and a matplotlib renderer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "BOSON_PEAK_OMEGA_MAX",
    "FINITE_SIZE_MODES",
    "FULL_VIEW_MAX_SIZE",
    "MIN_PEAK_EXCESS",
    "PIN_COLORS",
    "STIFFNESS_GRAYS",
    "WINDOW_SIZE",
    "BosonPeak",
    "NetworkView",
    "align_histograms",
    "boson_peak",
    "cell_outline",
    "coordination_color",
    "coordination_colors",
    "coordination_histogram",
    "lowest_frequency",
    "network_view",
    "pin_color",
    "result_summary",
]

#: Okabe & Ito (2008), "Color Universal Design": eight colours that stay distinct
#: under the common colour-vision deficiencies.
_OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
}

#: Colour of each coordination number Z. Z = 4 (the crystal) is black as in the
#: paper's Fig. 1; under-coordinated nodes are warm, over-coordinated ones cool.
_COORDINATION_COLORS = {
    1: _OKABE_ITO["reddish purple"],
    2: _OKABE_ITO["vermillion"],
    3: _OKABE_ITO["orange"],
    4: _OKABE_ITO["black"],
    5: _OKABE_ITO["sky blue"],
    6: _OKABE_ITO["blue"],
    7: _OKABE_ITO["bluish green"],
    8: _OKABE_ITO["yellow"],
}

#: Colours of pinned references, in the order they are pinned (black is the live curve).
PIN_COLORS = tuple(
    _OKABE_ITO[name]
    for name in ("orange", "sky blue", "bluish green", "vermillion", "blue", "reddish purple")
)

#: Spring shades from soft to stiff: darker is stiffer.
STIFFNESS_GRAYS = ("#c8c8c8", "#969696", "#5a5a5a")

#: Largest grid drawn whole; larger grids show their bottom-left corner (paper, Fig. 1
#: inset). Every node is an SVG element: 40 x 40 keeps a redraw near 0.1 s in chromium.
FULL_VIEW_MAX_SIZE = 40
#: Side of the corner window shown for larger grids, in lattice constants.
WINDOW_SIZE = 30

#: The Boson peak is looked for below this frequency: in the paper it sits at omega ~ 0.5,
#: well below the van Hove peak at omega = 2.
BOSON_PEAK_OMEGA_MAX = 1.2
#: Below this many times the lowest frequency of the finite cell the reduced DOS is a
#: comb of a few plane waves, not a continuum: no Boson peak is looked for there.
FINITE_SIZE_MODES = 2.0
#: Smallest relative excess over the Debye level reported as a peak (KPM noise is below it).
MIN_PEAK_EXCESS = 0.02


def coordination_color(z: int) -> str:
    """Colour of coordination number ``z`` (clipped to the palette's range)."""
    lowest, highest = min(_COORDINATION_COLORS), max(_COORDINATION_COLORS)
    return _COORDINATION_COLORS[int(np.clip(z, lowest, highest))]


def coordination_colors(coordination) -> list[str]:
    """One colour string per node, from its coordination number."""
    lowest, highest = min(_COORDINATION_COLORS), max(_COORDINATION_COLORS)
    palette = np.array([_COORDINATION_COLORS[z] for z in range(lowest, highest + 1)])
    return palette[np.clip(np.asarray(coordination), lowest, highest) - lowest].tolist()


def pin_color(index: int) -> str:
    """Colour of the ``index``-th pinned reference (the palette repeats)."""
    return PIN_COLORS[index % len(PIN_COLORS)]


@dataclass(frozen=True)
class NetworkView:
    """What the network panel draws.

    Attributes
    ----------
    nodes : ndarray of int
        Indices of the nodes drawn.
    x, y : ndarray
        Their positions.
    springs : tuple of (ndarray, ndarray)
        One ``(x, y)`` pair per stiffness bin (``STIFFNESS_GRAYS``): segments
        joined by NaN gaps so each bin is a single SVG path.
    outline : (ndarray, ndarray)
        The periodic cell, or the window when only a corner is drawn.
    title : str
        Panel title, saying whether a window is shown.
    windowed : bool
        True when only the bottom-left corner is drawn.
    """

    nodes: np.ndarray
    x: np.ndarray
    y: np.ndarray
    springs: tuple
    outline: tuple
    title: str
    windowed: bool


def network_view(network, *, full_max_size=FULL_VIEW_MAX_SIZE, window=WINDOW_SIZE) -> NetworkView:
    """Nodes, springs and outline of a network as plot arrays.

    Parameters
    ----------
    network : bpwidgets.Network
        The network to draw.
    full_max_size : int
        Grids up to this size are drawn whole, in the periodic cell.
    window : int
        For larger grids only the lattice sites with ``ix, iy < window`` are drawn,
        with positions unwrapped next to their sites, so the corner is contiguous.

    Returns
    -------
    NetworkView

    Notes
    -----
    A spring is drawn from one of its nodes along its minimum-image bond vector,
    so a spring across the periodic boundary sticks out of the cell instead of
    spanning it.

    Examples
    --------
    >>> from bpwidgets import build_network
    >>> view = network_view(build_network(100, 0.2, connection="cutoff", spring="inverse", seed=0))
    >>> len(view.nodes), view.title
    (900, 'Network: bottom-left 30 × 30 corner of 100 × 100')
    """
    size = network.size
    windowed = size > full_max_size
    if windowed:
        ix, iy = np.divmod(np.arange(network.n_nodes), size)
        shown = (ix < window) & (iy < window)
        sites = np.column_stack([ix, iy]).astype(float)
        # Minimum image of the displacement: a corner node pushed below 0 stays next to its site.
        offset = network.positions - sites
        positions = sites + offset - size * np.round(offset / size)
        outline = cell_outline(-0.5, window - 0.5)
        title = f"Network: bottom-left {window} × {window} corner of {size} × {size}"
    else:
        shown = np.ones(network.n_nodes, dtype=bool)
        positions = network.positions
        outline = cell_outline(0.0, float(size))
        title = f"Network: {size} × {size} periodic cell"
    nodes = np.flatnonzero(shown)
    first, second = network.bonds[:, 0], network.bonds[:, 1]
    from_first = shown[first]
    from_second = ~from_first & shown[second]
    starts = np.concatenate([positions[first[from_first]], positions[second[from_second]]])
    ends = np.concatenate(
        [
            starts[: from_first.sum()] + network.bond_vectors[from_first],
            positions[second[from_second]] - network.bond_vectors[from_second],
        ]
    )
    stiffness = np.concatenate(
        [network.stiffness[from_first], network.stiffness[from_second]]
    )
    springs = tuple(
        _segments(starts[in_bin], ends[in_bin])
        for in_bin in _stiffness_bins(stiffness, len(STIFFNESS_GRAYS))
    )
    return NetworkView(
        nodes=nodes,
        x=positions[nodes, 0],
        y=positions[nodes, 1],
        springs=springs,
        outline=outline,
        title=title,
        windowed=windowed,
    )


def _stiffness_bins(stiffness, n_bins):
    """Boolean masks splitting springs into ``n_bins`` equal ranges of stiffness.

    Constant springs all fall in the stiffest bin, so they are drawn dark.
    """
    if stiffness.size == 0 or np.ptp(stiffness) == 0:
        empty = np.zeros(stiffness.shape, dtype=bool)
        return [empty] * (n_bins - 1) + [np.ones(stiffness.shape, dtype=bool)]
    edges = np.linspace(stiffness.min(), stiffness.max(), n_bins + 1)
    index = np.clip(np.searchsorted(edges, stiffness, side="right") - 1, 0, n_bins - 1)
    return [index == b for b in range(n_bins)]


def _segments(starts, ends):
    """Segments start -> end as one polyline with NaN gaps (x, y)."""
    gap = np.full(len(starts), np.nan)
    x = np.column_stack([starts[:, 0], ends[:, 0], gap]).ravel()
    y = np.column_stack([starts[:, 1], ends[:, 1], gap]).ravel()
    return x, y


def cell_outline(low: float, high: float):
    """Closed square from ``low`` to ``high`` in x and y, as (x, y) arrays."""
    x = np.array([low, high, high, low, low])
    y = np.array([low, low, high, high, low])
    return x, y


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


def align_histograms(histograms):
    """Put several ``(z, fractions)`` histograms on one common, gap-free z axis.

    Returns
    -------
    z : ndarray of int
        Every coordination number from the smallest to the largest present.
    fractions : ndarray, shape (len(histograms), len(z))
        Zero where a histogram has no such node.
    """
    if not histograms:
        return np.zeros(0, dtype=int), np.zeros((0, 0))
    lowest = min(int(z.min()) for z, _ in histograms)
    highest = max(int(z.max()) for z, _ in histograms)
    z_axis = np.arange(lowest, highest + 1)
    fractions = np.zeros((len(histograms), len(z_axis)))
    for row, (z, f) in zip(fractions, histograms):
        row[np.asarray(z) - lowest] = f
    return z_axis, fractions


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
    """

    omega: float
    reduced_dos: float
    excess: float
    region_omega: np.ndarray
    region_upper: np.ndarray
    region_lower: np.ndarray

    @property
    def label(self) -> str:
        """Text written beside the peak."""
        return f"Boson peak: ω = {self.omega:.2f}, g/ω {100 * self.excess:.0f} % above Debye"


def lowest_frequency(size: int) -> float:
    """Lowest non-zero frequency of the L x L crystal with unit springs, 2 sin(pi / L).

    From lambda = 4 [sin^2(pi n1 / L) + sin^2(pi n2 / L)] (PHYSICS.md); it sets the
    scale below which a finite cell has too few modes for a smooth DOS.

    Examples
    --------
    >>> round(lowest_frequency(60), 3)
    0.105
    """
    return 2.0 * float(np.sin(np.pi / size))


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
    'Boson peak: ω = 0.50, g/ω 25 % above Debye'
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


def result_summary(mean_coordination: float, peak) -> str:
    """One sentence saying what the panels show, for screen readers and the projector.

    Parameters
    ----------
    mean_coordination : float
        Mean coordination number Z of the networks.
    peak : BosonPeak or None
        The Boson peak of their reduced DOS (:func:`boson_peak`).

    Returns
    -------
    str

    Examples
    --------
    >>> omega = np.linspace(0.0, 3.0, 301)
    >>> bump = 0.2 * (1 + 0.23 * np.exp(-((omega - 0.45) / 0.2) ** 2))
    >>> result_summary(3.75, boson_peak(omega, bump, 0.2))
    'mean Z 3.75; excess over Debye peaks at ω = 0.45, 23 % above'
    >>> result_summary(4.0, None)
    'mean Z 4.00; no excess over Debye below ω = 1.2'
    """
    text = f"mean Z {mean_coordination:.2f}; "
    if peak is None:
        return text + f"no excess over Debye below ω = {BOSON_PEAK_OMEGA_MAX}"
    return text + (
        f"excess over Debye peaks at ω = {peak.omega:.2f}, {100 * peak.excess:.0f} % above"
    )
