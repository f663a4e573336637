"""Plot arrays for the dashboard's panels: plain numpy, no widgets.

Every function here turns a result of the compute core (a
:class:`~bpwidgets.Network`, a reduced DOS) into the arrays a plotting library
draws: segments with NaN gaps, colours per node, histogram fractions, the shaded
Boson-peak region. Nothing here imports ipywidgets or bqplot, so the same
functions feed the bqplot dashboard, its tests and a matplotlib renderer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.analysis import BOSON_PEAK_OMEGA_MAX, plus_minus
from ..core.jamming import ContactNetwork
from ..core.packings import disk_radii
from ..session.pipeline import FULL_VIEW_MAX_SIZE, WINDOW_SIZE, drawn_nodes
from ..session.schema import pressure_text

__all__ = [
    "PIN_COLORS",
    "RATTLER_COLOR",
    "STIFFNESS_GRAYS",
    "NetworkView",
    "align_histograms",
    "cell_outline",
    "coordination_color",
    "coordination_colors",
    "network_view",
    "pin_color",
    "result_summary",
    "snapshot_summary",
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

#: Colour of a jammed packing's rattlers (disks without springs): a pale grey no
#: coordination number has, so that they stand apart from the disks that are held.
RATTLER_COLOR = "#d9d9d9"


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
    radii : ndarray or None
        Jammed disks: the drawn disks' radii, in the units of ``x`` and ``y``;
        None for the lattice's nodes (drawn as dots).
    rattlers : ndarray of int
        Positions, among the drawn nodes, of a packing's rattlers (empty for the lattice).
    """

    nodes: np.ndarray
    x: np.ndarray
    y: np.ndarray
    springs: tuple
    outline: tuple
    title: str
    windowed: bool
    radii: np.ndarray | None = None
    rattlers: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))

    def node_colors(self, coordination) -> list:
        """Colour of every drawn node from its network's ``coordination`` (rattlers grey)."""
        colors = coordination_colors(np.asarray(coordination)[self.nodes])
        for k in self.rattlers:
            colors[k] = RATTLER_COLOR
        return colors


def network_view(network, *, full_max_size=FULL_VIEW_MAX_SIZE, window=WINDOW_SIZE) -> NetworkView:
    """Nodes, springs and outline of a network as plot arrays.

    Parameters
    ----------
    network : bpwidgets.Network
        The network to draw: a lattice network, or a jammed packing's contact
        network (:class:`~bpwidgets.ContactNetwork`), whose disks are drawn with
        their radii, whole up to ``full_max_size ** 2`` disks, else those in the
        bottom-left ``window`` x ``window`` square (:func:`drawn_nodes`).
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
    >>> from bpwidgets import jammed_packing
    >>> view = network_view(jammed_packing(100, pressure=1e-2, seed=0).network())
    >>> len(view.nodes), view.radii.shape, view.title
    (100, (100,), 'Jammed disks: N = 100, p = 1e-2, periodic cell')
    """
    if isinstance(network, ContactNetwork):
        return _disks_view(network, full_max_size, window)
    size = network.size
    windowed = size > full_max_size
    nodes = drawn_nodes(size, full_max_size=full_max_size, window=window)
    shown = np.zeros(network.n_nodes, dtype=bool)
    shown[nodes] = True
    if windowed:
        ix, iy = np.divmod(np.arange(network.n_nodes), size)
        sites = np.column_stack([ix, iy]).astype(float)
        # Minimum image of the displacement: a corner node pushed below 0 stays next to its site.
        offset = network.positions - sites
        positions = sites + offset - size * np.round(offset / size)
        outline = cell_outline(-0.5, window - 0.5)
        title = f"Network: bottom-left {window} × {window} corner of {size} × {size}"
    else:
        positions = network.positions
        outline = cell_outline(0.0, float(size))
        title = f"Network: {size} × {size} periodic cell"
    springs = _spring_segments(network, positions, shown)
    return NetworkView(
        nodes=nodes,
        x=positions[nodes, 0],
        y=positions[nodes, 1],
        springs=springs,
        outline=outline,
        title=title,
        windowed=windowed,
    )


def _disks_view(network, full_max_size, window) -> NetworkView:
    """:func:`network_view` of a jammed packing's contact network: disks and contacts."""
    nodes = drawn_nodes(network, full_max_size=full_max_size, window=window)
    windowed = len(nodes) < network.n_nodes
    shown = np.zeros(network.n_nodes, dtype=bool)
    shown[nodes] = True
    # The packing's own pressure is within PRESSURE_TOLERANCE of the one asked for.
    pressure = pressure_text(float(f"{network.pressure:.2g}"))
    name = f"Jammed disks: N = {network.n_nodes}, p = {pressure}"
    if windowed:
        outline = cell_outline(0.0, float(window))
        title = f"{name}, bottom-left {window} × {window} corner"
    else:
        outline = cell_outline(0.0, float(network.box))
        title = f"{name}, periodic cell"
    positions = network.positions
    return NetworkView(
        nodes=nodes, x=positions[nodes, 0], y=positions[nodes, 1],
        springs=_spring_segments(network, positions, shown), outline=outline, title=title,
        windowed=windowed, radii=disk_radii(network)[nodes],
        rattlers=np.flatnonzero(np.isin(nodes, network.rattlers)),
    )


def _spring_segments(network, positions, shown) -> tuple:
    """The springs at a shown node, one NaN-gapped ``(x, y)`` path per stiffness bin."""
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
    return tuple(
        _segments(starts[in_bin], ends[in_bin])
        for in_bin in _stiffness_bins(stiffness, len(STIFFNESS_GRAYS))
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


def result_summary(mean_coordination: float, peak, mean_coordination_error=float("nan")) -> str:
    """One sentence saying what the panels show, for screen readers and the projector.

    Parameters
    ----------
    mean_coordination : float
        Mean coordination number Z of the networks.
    peak : bpwidgets.BosonPeak or None
        The Boson peak of their reduced DOS (:func:`bpwidgets.boson_peak_of`), with
        its errors when known.
    mean_coordination_error : float, optional
        Standard error of the mean Z over the seeds; NaN (the default) when unknown.

    Returns
    -------
    str

    Examples
    --------
    >>> omega = np.linspace(0.0, 3.0, 301)
    >>> bump = 0.2 * (1 + 0.23 * np.exp(-((omega - 0.45) / 0.2) ** 2))
    >>> from bpwidgets import boson_peak
    >>> result_summary(3.75, boson_peak(omega, bump, 0.2))
    'mean Z 3.75; Boson peak ω_BP = 0.45, 23 % above Debye'
    >>> from dataclasses import replace
    >>> peak = replace(boson_peak(omega, bump, 0.2), omega_error=0.021, excess_error=0.018)
    >>> result_summary(4.314, peak, 0.0057)
    'mean Z 4.31 ± 0.01; Boson peak ω_BP = 0.45 ± 0.02, 23 ± 2 % above Debye'
    >>> result_summary(4.0, None)
    'mean Z 4.00; no excess over Debye below ω = 1.2'
    """
    text = f"mean Z {mean_coordination:.2f}{plus_minus(mean_coordination_error, '{:.2f}')}; "
    if peak is None:
        return text + f"no excess over Debye below ω = {BOSON_PEAK_OMEGA_MAX}"
    position = peak.position_text.replace("ω", "ω_BP", 1)
    return text + f"Boson peak {position}, {peak.excess_text} above Debye"


def snapshot_summary(snapshot) -> str:
    """:func:`result_summary` of a session's result, saying when it is a preview.

    For jammed disks it starts with what they are and their pressure, and says
    how many of them are rattlers, which the mean Z leaves out:
    ``"jammed disks, p = 1e-3: mean Z 4.10 ± 0.01 without the rattlers (4.2 %); ..."``.
    """
    text = result_summary(snapshot.mean_coordination, snapshot.peak,
                          snapshot.mean_coordination_error)
    p = snapshot.request.parameters
    if p.jammed:
        head, rest = text.split("; ", 1)
        text = (f"jammed disks, p = {pressure_text(p.pressure)}: {head} without the rattlers "
                f"({100 * snapshot.rattler_fraction:.1f} %); {rest}")
    peak = snapshot.peak
    if len(snapshot.dos.seeds) == 1 and peak is not None and np.isfinite(peak.omega_error):
        text += " (errors from one network's random vectors only)"
    if not snapshot.complete:
        shown = len(snapshot.dos.seeds)
        text += f" (first {shown} network{'s' if shown > 1 else ''}; averaging the others)"
    return text
