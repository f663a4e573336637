"""Static figures with matplotlib: the paper's figures, and the dashboard as an image.

One plot-data layer, two renderers: the dashboard draws
:mod:`bpwidgets.views.plotdata` and :mod:`bpwidgets.views.toyplot` with bqplot in
the browser; this module draws the same arrays with matplotlib, for pages read
without a kernel (GitHub, slides, exports). matplotlib is an optional extra
(``pip install bpwidgets[figures]``): ``import bpwidgets`` never imports this
module.

The ``plot_*`` functions draw onto a given :class:`matplotlib.axes.Axes` and
return the artists they made, by name; the ``figure_*`` functions build the
paper's figures from computed results and return a
:class:`matplotlib.figure.Figure` (no pyplot state: safe in scripts and threads).

Examples
--------
>>> from bpwidgets.core.paper import paper_series
>>> figure = figure_2(paper_series("nearest", deltas=(0.0, 0.3), size=20, seeds=2),
...                   paper_series("cutoff", deltas=(0.0, 0.3), size=20, seeds=2))
>>> len(figure.axes)
2
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .core.analysis import DOS_MOMENTS, boson_peak_of
from .core.debye import CRYSTAL_DEBYE_LEVEL
from .core.dos import crystal_reduced_dos
from .views.plotdata import (
    STIFFNESS_GRAYS,
    align_histograms,
    coordination_color,
    coordination_colors,
    network_view,
    pin_color,
)
from .views.toyplot import toy_view

__all__ = [
    "DELTA_COLORS",
    "dashboard_figure",
    "figure_1",
    "figure_2",
    "figure_3",
    "figure_4",
    "plot_coordination",
    "plot_network",
    "plot_reduced_dos",
    "plot_toy_network",
    "plot_toy_response",
]

#: Colours of delta = 0, 0.1, 0.2, 0.3, "from the thick black line to the red line"
#: (paper, Fig. 2): a ramp of falling darkness, readable without hue.
DELTA_COLORS = ("#000000", "#5c1a00", "#D55E00", "#E69F00")
#: Grey of the excess over the Debye level, as in the paper and the dashboard.
EXCESS_GRAY = "#b0b0b0"
#: The crystal's closed form and Debye level: blue dashes, as in the dashboard.
CRYSTAL_COLOR = "#0072B2"
#: The toy model: crystal (thick transparent grey), added spring (black), removed (red),
#: as in the paper's Fig. 4 (right); the nodes without a changed spring are lighter.
TOY_COLORS = {
    "crystal": "#9a9a9a",
    "added": "#000000",
    "added rest": "#8c8c8c",
    "removed": "#8b0000",
    "removed rest": "#e8756b",
}
#: Width of a per-seed curve and of a mean curve (points).
_SEED_WIDTH, _MEAN_WIDTH = 0.5, 2.2
#: Opacity of the per-seed curves: light, so that the mean stands out.
_SEED_ALPHA = 0.45


def _delta_color(delta, index):
    """The paper's colour of delta = 0, 0.1, 0.2, 0.3; others by their place in the list."""
    step = round(10 * delta)
    if np.isclose(delta, step / 10) and 0 <= step < len(DELTA_COLORS):
        return DELTA_COLORS[step]
    return DELTA_COLORS[index % len(DELTA_COLORS)]


# --------------------------------------------------------------------------- drawing onto axes


def plot_network(ax, view, coordination=None, *, node_size=None):
    """Draw a :class:`~bpwidgets.views.plotdata.NetworkView`: springs, cell, nodes by Z.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    view : NetworkView
        From :func:`bpwidgets.views.plotdata.network_view`.
    coordination : ndarray of int, optional
        Coordination numbers of every node of the network (length N) or of the
        drawn nodes only (length ``len(view.nodes)``); None draws black nodes.
    node_size : float, optional
        Marker area in points^2; default about a quarter of a lattice spacing.

    Returns
    -------
    dict
        ``springs`` (one Line2D per stiffness bin), ``outline`` (Line2D),
        ``nodes`` (PathCollection).
    """
    springs = [
        ax.plot(x, y, color=gray, lw=0.8, zorder=1)[0]
        for gray, (x, y) in zip(STIFFNESS_GRAYS, view.springs)
    ]
    (outline,) = ax.plot(*view.outline, color=CRYSTAL_COLOR, ls="--", lw=1.0, zorder=2)
    if coordination is None:
        colors = "black"
    else:
        coordination = np.asarray(coordination)
        drawn = coordination if len(coordination) == len(view.nodes) else coordination[view.nodes]
        colors = coordination_colors(drawn)
    if node_size is None:
        node_size = _node_area(ax, float(np.ptp(view.outline[0])))
    nodes = ax.scatter(view.x, view.y, c=colors, s=node_size, zorder=3, linewidths=0)
    ax.set_aspect("equal")
    ax.set_xlabel("x / a")
    ax.set_ylabel("y / a")
    return {"springs": springs, "outline": outline, "nodes": nodes}


def _node_area(ax, side):
    """Marker area giving a node about a third of a lattice spacing across."""
    width_points = ax.get_position().width * ax.figure.get_figwidth() * 72.0
    return float(np.clip((width_points / max(side, 1.0) / 3.0) ** 2, 1.0, 60.0))


def coordination_handles(present):
    """Legend entries, one coloured dot per coordination number present."""
    return [
        Line2D([], [], ls="", marker="o", color=coordination_color(z), label=f"Z = {z}")
        for z in present
    ]


def plot_reduced_dos(ax, dos, *, color="black", label=None, per_seed=True, peak=None,
                     debye=True, crystal=False):
    """Draw a reduced DOS: thin per-seed curves, the thick mean, levels, shaded excess.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    dos : bpwidgets.ReducedDOS
    color : str
        Colour of the mean, the per-seed curves and the Debye level.
    label : str, optional
        Legend label of the mean.
    per_seed : bool
        Draw one thin curve per seed.
    peak : plotdata.BosonPeak, optional
        Shade its excess region grey (``peak.region_*``); None shades nothing.
    debye : bool
        Draw the networks' Debye level (dotted).
    crystal : bool
        Also draw the crystal's closed form and its Debye level 1/(2 pi) (blue).

    Returns
    -------
    dict
        ``per_seed`` (list of Line2D), ``mean`` (Line2D), ``excess``
        (PolyCollection or None), ``debye`` (Line2D or None), ``crystal``
        (list of Line2D, empty unless asked).
    """
    artists = {"per_seed": [], "excess": None, "debye": None, "crystal": []}
    if peak is not None:
        artists["excess"] = ax.fill_between(
            peak.region_omega, peak.region_lower, peak.region_upper,
            color=EXCESS_GRAY, alpha=0.6, lw=0, zorder=1,
        )
    if per_seed:
        artists["per_seed"] = ax.plot(
            dos.omega, np.asarray(dos.per_seed).T, color=color, lw=_SEED_WIDTH,
            alpha=_SEED_ALPHA, zorder=2,
        )
    if crystal:
        artists["crystal"] = [
            ax.plot(dos.omega, crystal_reduced_dos(dos.omega), color=CRYSTAL_COLOR, ls="--",
                    lw=1.2, label="crystal (closed form)", zorder=2)[0],
            ax.axhline(CRYSTAL_DEBYE_LEVEL, color=CRYSTAL_COLOR, ls=":", lw=1.2,
                       label="Debye level, crystal 1/(2π)", zorder=2),
        ]
    if debye:
        artists["debye"] = ax.axhline(dos.debye_level, color=color, ls=":", lw=1.0, zorder=2)
    (artists["mean"],) = ax.plot(dos.omega, dos.mean, color=color, lw=_MEAN_WIDTH, label=label,
                                 zorder=3)
    ax.set_xlabel("ω")
    ax.set_ylabel("g(ω)/ω")
    ax.set_xlim(0.0, float(dos.omega[-1]))
    return artists


def plot_coordination(ax, histograms, labels, *, colors=None, means=None, style="bars"):
    """Draw coordination-number distributions side by side on one Z axis.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    histograms : sequence of (ndarray, ndarray)
        ``(z, fractions)`` pairs, e.g. from
        :func:`~bpwidgets.core.analysis.coordination_histogram`.
    labels : sequence of str
        One legend label per histogram.
    colors : sequence of str, optional
        One colour per histogram; default ``DELTA_COLORS[1:]``.
    means : sequence of float, optional
        Mean Z per histogram, marked by a dashed vertical line.
    style : {"bars", "lines"}
        Grouped bars (as the dashboard) or lines with markers (as the paper).

    Returns
    -------
    dict
        ``bars`` (list of BarContainer) or ``lines`` (list of Line2D), and
        ``means`` (list of Line2D).
    """
    if style not in ("bars", "lines"):
        raise ValueError(f"style must be 'bars' or 'lines'; got {style!r}")
    z, fractions = align_histograms(list(histograms))
    if colors is None:
        colors = [DELTA_COLORS[1 + k % (len(DELTA_COLORS) - 1)] for k in range(len(fractions))]
    artists = {"bars": [], "lines": [], "means": []}
    width = 0.8 / max(len(fractions), 1)
    for k, (row, label, color) in enumerate(zip(fractions, labels, colors)):
        if style == "bars":
            offset = (k - (len(fractions) - 1) / 2) * width
            artists["bars"].append(ax.bar(z + offset, row, width=width, color=color, label=label))
        else:
            artists["lines"].append(
                ax.plot(z, row, color=color, marker="o", lw=2, label=label)[0]
            )
    for mean, color in zip(means or (), colors):
        artists["means"].append(ax.axvline(mean, color=color, ls="--", lw=1.2))
    ax.set_xticks(z)
    ax.set_xlabel("coordination number Z")
    ax.set_ylabel("fraction of nodes")
    return artists


def plot_toy_network(ax, view, *, added_color=TOY_COLORS["added"],
                     removed_color=TOY_COLORS["removed"]):
    """Draw a :class:`~bpwidgets.views.toyplot.ToyView`: springs, changes, nodes with Z.

    Returns
    -------
    dict
        ``springs``, ``added``, ``removed``, ``outline`` (Line2D), ``nodes``
        (PathCollection), ``labels`` (list of Text, one "Z = ..." per node).
    """
    artists = {
        "springs": ax.plot(*view.springs, color="#5a5a5a", lw=1.5, zorder=1)[0],
        "added": ax.plot(*view.added, color=added_color, lw=2.5, zorder=2)[0],
        "removed": ax.plot(*view.removed, color=removed_color, lw=1.5, ls=(0, (3, 2)),
                           zorder=2)[0],
        "outline": ax.plot(*view.outline, color=CRYSTAL_COLOR, ls="--", lw=0.8)[0],
    }
    artists["nodes"] = ax.scatter(view.x, view.y, c=coordination_colors(view.coordination),
                                  s=60, zorder=3)
    artists["labels"] = [
        ax.text(x + 0.12, y + 0.12, f"{z}", fontsize=8, color=coordination_color(z), zorder=4)
        for x, y, z in zip(view.x, view.y, view.coordination)
    ]
    ax.set_aspect("equal")
    ax.set_xlim(-0.6, 2.6)
    ax.set_ylim(-0.6, 2.6)
    ax.set_xticks([])
    ax.set_yticks([])
    return artists


def plot_toy_response(ax, response, *, color=TOY_COLORS["added"],
                      rest_color=TOY_COLORS["added rest"], crystal=True, label=None):
    """Draw a :class:`~bpwidgets.views.toyplot.ToyResponse`: -Im G_ii per node, new poles circled.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    response : ToyResponse
    color : str
        The nodes at the ends of a changed spring, and the new poles' circles.
    rest_color : str
        The other nodes.
    crystal : bool
        Also draw the crystal's nine curves, thick and transparent grey.
    label : str, optional
        Legend label of the changed nodes' curves.

    Returns
    -------
    dict
        ``crystal`` (list of Line2D, one per node, or empty), ``changed`` and
        ``rest`` (lists of Line2D), ``new_poles`` (PathCollection: dashed
        circles at ``response.new_poles``).
    """
    artists = {"crystal": []}
    if crystal:
        artists["crystal"] = ax.plot(response.omega, response.crystal, color=TOY_COLORS["crystal"],
                                     lw=5, alpha=0.35, zorder=1)
    changed = list(response.changed_nodes)
    rest = [i for i in range(response.response.shape[1]) if i not in changed]
    artists["rest"] = ax.plot(response.omega, response.response[:, rest], color=rest_color,
                              lw=0.9, zorder=2)
    artists["changed"] = ax.plot(response.omega, response.response[:, changed], color=color,
                                 lw=1.6, zorder=3)
    if label is not None and artists["changed"]:
        artists["changed"][0].set_label(label)
    artists["new_poles"] = ax.scatter(
        response.new_poles, response.new_pole_heights, s=500, facecolors="none",
        edgecolors=color, linestyles="--", linewidths=1.2, zorder=4,
    )
    ax.set_xlabel("ω")
    ax.set_ylabel("−Im G_ii(ω)")
    ax.set_xlim(float(response.omega[0]), float(response.omega[-1]))
    return artists


# --------------------------------------------------------------------------- the paper's figures


def figure_1(nearest, cutoff, *, corner=5):
    """Fig. 1: the two networks for one delta, nodes coloured by Z, the corner enlarged.

    Each network is drawn whole in its periodic cell, beside its bottom-left
    ``corner x corner`` sites enlarged (the dashed box).

    Parameters
    ----------
    nearest, cutoff : bpwidgets.Network
        The same size, delta and seed, with the two connection rules.
    corner : int
        Side of the enlarged bottom-left corner, in lattice constants.

    Returns
    -------
    matplotlib.figure.Figure
        Four axes: nearest whole, its corner, cutoff whole, its corner.
    """
    figure = Figure(figsize=(14, 5.4), layout="constrained")
    axes = figure.subplots(1, 4, width_ratios=(1.0, 0.7, 1.0, 0.7))
    present = set()
    for (whole, enlarged), network, title in zip(
        (axes[:2], axes[2:]), (nearest, cutoff),
        ("nearest neighbours: Z = 4", f"cutoff a + δ: Z = {_z_range(cutoff)}"),
    ):
        view = network_view(network, full_max_size=network.size)
        plot_network(whole, view, network.coordination)
        whole.set_title(f"{title}\nL = {network.size}, δ = {network.delta:g}")
        # The dashboard's corner window: positions unwrapped next to their sites.
        plot_network(enlarged, network_view(network, full_max_size=0, window=corner),
                     network.coordination, node_size=40)
        enlarged.set_xlim(-0.8, corner - 0.2)
        enlarged.set_ylim(-0.8, corner - 0.2)
        enlarged.set_title(f"bottom-left {corner} × {corner}, enlarged")
        for spine in enlarged.spines.values():
            spine.set_linestyle("--")
        whole.indicate_inset_zoom(enlarged, edgecolor="black", linestyle="--")
        present.update(np.unique(network.coordination).tolist())
    figure.legend(handles=coordination_handles(sorted(present)), loc="outside lower center",
                  ncols=len(present), frameon=False)
    return figure


def _z_range(network):
    z = network.coordination
    return f"{z.min()} to {z.max()}, mean {z.mean():.2f}"


def _dos_panel(ax, series, *, shade):
    """One panel of Fig. 2 / Fig. 4 (left): every delta of a series, black to red.

    A DOS with more Chebyshev moments than the dashboard's (L = 500) is drawn
    thin as computed and thick through the dashboard's kernel, which is also
    where its Boson peak is read and shaded (as :func:`bpwidgets.core.paper.dos_numbers`).
    """
    tops = []
    fine = False
    for k, (delta, dos) in enumerate(zip(series.deltas, series.results)):
        color = _delta_color(delta, k)
        if dos.moments.shape[1] > DOS_MOMENTS:
            fine = True
            ax.plot(dos.omega, np.asarray(dos.per_seed).T, color=color, lw=_SEED_WIDTH,
                    alpha=0.7, zorder=2)
            dos = dos.smoothed(moments=DOS_MOMENTS)
        peak = boson_peak_of(dos, series.size) if shade and delta > 0 else None
        plot_reduced_dos(ax, dos, color=color, label=f"δ = {delta:g}", peak=peak,
                         per_seed=not fine)
        tops.append(float(np.max(dos.mean)))
    ax.set_ylim(0.0, 1.2 * max(tops))
    n_seeds = len(series.results[0].seeds)
    rule = "nearest neighbours, Z = 4" if series.connection == "nearest" else "cutoff a + δ"
    law = "t = 1/r" if series.spring == "inverse" else "t = 1"
    thin = (f"thin: {series.results[0].moments.shape[1]} moments, thick: {DOS_MOMENTS}"
            if fine else "thin: single seeds")
    ax.set_title(f"{rule}, {law}\nL = {series.size}, {n_seeds} seed{'s' * (n_seeds > 1)}; "
                 f"{thin}")
    handles, _ = ax.get_legend_handles_labels()
    if shade:
        handles.append(Patch(color=EXCESS_GRAY, alpha=0.6, label="excess over Debye"))
    handles.append(Line2D([], [], color="black", ls=":", label="Debye level 1/(2πσ)"))
    ax.legend(handles=handles, loc="upper left", fontsize=8)


def figure_2(nearest, cutoff):
    """Fig. 2: reduced DOS per delta; left nearest neighbours, right cutoff with excess shaded.

    Parameters
    ----------
    nearest, cutoff : bpwidgets.core.paper.Series
        From :func:`bpwidgets.core.paper.paper_series` (or ``large_series``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    figure = Figure(figsize=(11, 4.5), layout="constrained")
    left, right = figure.subplots(1, 2)
    _dos_panel(left, nearest, shade=False)
    _dos_panel(right, cutoff, shade=True)
    return figure


def figure_3(coordinations, *, style="lines"):
    """Fig. 3 (left): distributions of Z per delta (cutoff networks), mean Z marked.

    Parameters
    ----------
    coordinations : mapping of float to sequence of ndarray
        For each delta, the coordination numbers of every seed's network.
    style : {"lines", "bars"}

    Returns
    -------
    matplotlib.figure.Figure
    """
    histograms, labels, means = [], [], []
    for delta, arrays in coordinations.items():
        pooled = np.concatenate([np.asarray(a).ravel() for a in arrays])
        counts = np.bincount(pooled)
        z = np.flatnonzero(counts)
        histograms.append((z, counts[z] / pooled.size))
        means.append(float(pooled.mean()))
        labels.append(f"δ = {delta:g}: mean Z = {means[-1]:.2f}")
    figure = Figure(figsize=(6, 4.2), layout="constrained")
    ax = figure.subplots()
    plot_coordination(ax, histograms, labels, means=means, style=style)
    ax.axvline(4, color="#9a9a9a", lw=0.8)
    ax.set_title("coordination numbers, cutoff a + δ")
    ax.legend(fontsize=8)
    return figure


def figure_4(constant, added, removed):
    """Fig. 4: left, as Fig. 2 (right) with t = 1; right, the toy model's on-node response.

    Parameters
    ----------
    constant : bpwidgets.core.paper.Series
        Cutoff networks with constant springs.
    added, removed : bpwidgets.views.toyplot.ToyResponse
        The toy model with one spring added, and with one removed.

    Returns
    -------
    matplotlib.figure.Figure
    """
    figure = Figure(figsize=(11, 4.5), layout="constrained")
    left, right = figure.subplots(1, 2)
    _dos_panel(left, constant, shade=True)
    plot_toy_response(right, added, label=f"spring added {_pairs(added.added)}: its nodes")
    plot_toy_response(right, removed, color=TOY_COLORS["removed"],
                      rest_color=TOY_COLORS["removed rest"], crystal=False,
                      label=f"spring removed {_pairs(removed.removed)}: its nodes")
    right.plot([], [], color=TOY_COLORS["crystal"], lw=5, alpha=0.35, label="crystal")
    right.legend(loc="upper left", fontsize=8)
    right.set_title(f"toy model: 3 × 3, t = 1, ε = {added.eps:g}; new poles circled")
    inset = right.inset_axes([0.04, 0.28, 0.3, 0.38])
    plot_toy_network(inset, toy_view(add=added.added, remove=removed.removed))
    return figure


def _pairs(pairs):
    return ", ".join(f"{i}–{j}" for i, j in pairs)


# --------------------------------------------------------------------------- the dashboard


def dashboard_figure(network_view, dos, peak, coordination, fractions, mean_coordination,
                     pins=(), *, node_coordination=None, title=None):
    """The dashboard's three panels side by side, as a static figure (for export).

    Draws what the live page shows: the network (nodes coloured by Z), the
    reduced DOS (per-seed curves, mean, crystal closed form, Debye levels,
    Boson-peak excess shaded and labelled, pinned means) and the histogram of
    coordination numbers (with pinned histograms and the mean Z). Save it with
    ``figure.savefig(path)``: the format follows the suffix (png, svg, pdf).

    Parameters
    ----------
    network_view : bpwidgets.views.plotdata.NetworkView
        ``network_view(snapshot.network)``.
    dos : bpwidgets.ReducedDOS
        ``snapshot.dos``.
    peak : bpwidgets.BosonPeak or None
        ``snapshot.peak``.
    coordination : ndarray of int
        Histogram bins, ``snapshot.coordination``.
    fractions : ndarray
        Fraction of nodes per bin, ``snapshot.fractions``.
    mean_coordination : float
        ``snapshot.mean_coordination``.
    pins : sequence of bpwidgets.session.Pin, optional
        Pinned references as the dashboard keeps them (``Dashboard.pins``): with
        ``label``, ``omega``, ``mean``, ``z``, ``fractions``.
    node_coordination : ndarray of int, optional
        Coordination numbers for the node colours: of every node
        (``snapshot.network.coordination``) or of the drawn ones. None: black nodes.
    title : str, optional
        Figure title, e.g. the dashboard's status line.

    Returns
    -------
    matplotlib.figure.Figure
        Three axes: network, reduced DOS, coordination numbers.
    """
    figure = Figure(figsize=(16, 5.2), layout="constrained")
    net_ax, dos_ax, z_ax = figure.subplots(1, 3, width_ratios=(1.0, 1.25, 1.0))
    plot_network(net_ax, network_view, node_coordination)
    net_ax.set_title(network_view.title)
    if node_coordination is not None:
        drawn = np.asarray(node_coordination)
        if len(drawn) != len(network_view.nodes):
            drawn = drawn[network_view.nodes]
        net_ax.legend(handles=coordination_handles(np.unique(drawn)), loc="upper center",
                      bbox_to_anchor=(0.5, -0.12), ncols=4, fontsize=8, frameon=False)

    n_seeds = len(dos.seeds)
    plot_reduced_dos(dos_ax, dos, peak=peak, crystal=True,
                     label=f"mean over {n_seeds} seed{'s' * (n_seeds > 1)}")
    error = np.asarray(dos.mean_error)
    if np.all(np.isfinite(error)):  # the page's band: the mean's standard error
        dos_ax.fill_between(dos.omega, dos.mean - error, dos.mean + error, color="#56B4E9",
                            alpha=0.45, lw=0, label="mean ± standard error")
    if dos.outlier_note:
        dos_ax.text(0.99, 0.02, dos.outlier_note, transform=dos_ax.transAxes, ha="right",
                    fontsize=7)
    tops = [float(np.max(dos.mean))]
    for k, pin in enumerate(pins):
        dos_ax.plot(pin.omega, pin.mean, color=pin_color(k), lw=2, label=f"pinned: {pin.label}")
        tops.append(float(np.nanmax(pin.mean)))
    if peak is not None:
        dos_ax.annotate(peak.label, (peak.omega, peak.reduced_dos), xytext=(8, 10),
                        textcoords="offset points", fontsize=9)
    dos_ax.set_ylim(0.0, max(0.45, 1.15 * max(tops)))
    dos_ax.set_title("Reduced density of states g(ω)/ω")
    dos_ax.legend(fontsize=7, loc="upper left")

    histograms = [(np.asarray(coordination), np.asarray(fractions))]
    histograms += [(np.asarray(pin.z), np.asarray(pin.fractions)) for pin in pins]
    labels = ["current parameters, all seeds"] + [f"pinned: {pin.label}" for pin in pins]
    colors = ["#000000"] + [pin_color(k) for k in range(len(pins))]
    plot_coordination(z_ax, histograms, labels, colors=colors, means=[mean_coordination])
    z_ax.annotate(f"mean Z = {mean_coordination:.2f}", (mean_coordination, 1.0),
                  xycoords=("data", "axes fraction"), xytext=(4, -14),
                  textcoords="offset points", color="#000000", fontsize=9)
    z_ax.set_title("Coordination numbers")
    z_ax.legend(fontsize=7, loc="upper left")
    if title:
        figure.suptitle(title)
    return figure
