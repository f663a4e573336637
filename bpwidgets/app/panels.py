"""The dashboard's three bqplot panels: network, reduced DOS, coordination numbers.

Each panel builds its figure, scales and marks once. Its ``show_*`` methods only
reassign data on those marks; the caller wraps them in :func:`hold` (``hold_sync``
on every mark, scale and axis) so one update reaches the browser as one message
per widget.
"""

from __future__ import annotations

import html

import numpy as np
from bqplot import (
    Axis,
    Bars,
    ColorAxis,
    ColorScale,
    Figure,
    Label,
    LinearScale,
    Lines,
    Scatter,
)
from bqplot.interacts import BrushIntervalSelector, PanZoom
from ipywidgets import HTML, VBox

from ..core.analysis import BOSON_PEAK_OMEGA_MAX
from ..core.debye import CRYSTAL_DEBYE_LEVEL
from ..core.dos import crystal_reduced_dos
from ..views.plotdata import (
    RATTLER_COLOR,
    STIFFNESS_GRAYS,
    align_histograms,
    coordination_color,
    pin_color,
)
from .panelbase import (
    Projectable,
    box_sample,
    legend_item,
    line_sample,
    round_up,
    tick_values,
)
from .style import FIGURE_OPTIONS

__all__ = ["CoordinationPanel", "DOSPanel", "NetworkPanel"]

#: Faded look of the nodes outside a selected coordination number.
_FADED = {"opacity": 0.1}
#: Colour ramp of the mode weights, light grey to dark red: the luminance falls
#: steadily (readable without hue), and nodes with few modes recede behind the springs.
_WEIGHT_COLORS = ("#dcdcdc", "#E69F00", "#D55E00", "#5c1a00")
#: Percentile of the mode weights at which the colour scale saturates.
_WEIGHT_SATURATION = 98
#: Width of the network's plot area in pixels (figure width minus margins).
_NETWORK_PLOT_PX = 375
#: Opacity of jammed disks: a contact joins two overlapping disks, so opaque disks would
#: hide every spring; at this opacity the springs show through and the disks still read.
_DISK_OPACITY = 0.55
#: Marker area (px^2) of the cross on a rattler.
_RATTLER_MARK_AREA = 20
#: Colour of the live (unpinned) curves and bars.
_LIVE_COLOR = "#000000"
#: The DOS panel's y axis reaches at least this high, so it stays put while delta moves
#: (the cutoff networks' g/omega stays below about 0.4).
_DOS_MIN_TOP = 0.45
#: Head room above the tallest curve.
_DOS_HEADROOM = 1.15
#: The DOS panel's top margin holds the title and, below it, the Boson-peak label, so
#: the label never covers a curve: margins in px and the label's size, normal and
#: (second) in projector mode; the label's middle this far above the plot area.
#: bqplot puts a title's top half-way up the top margin: it is raised by
#: ``_DOS_TITLE_RAISE``, so that no room is left empty above it.
_DOS_TOP = (60, 78)
_PEAK_LABEL_PX = (13, 18)
_PEAK_LABEL_RAISE = (11, 16)
_DOS_TITLE_RAISE = {"transform": "translateY(-20px)"}
#: bqplot draws a scale's domain inside the plot area less this fraction at each end
#: (the figure's ``padding_y``): in fractions of the domain, the plot area's top is at
#: ``(1 - p) / (1 - 2 p)``, where the peak label is placed.
_DOS_PADDING_Y = 0.025
_PLOT_TOP = (1 - _DOS_PADDING_Y) / (1 - 2 * _DOS_PADDING_Y)
#: Head room above the tallest bar of the histogram, for the mean-Z label.
_HISTOGRAM_HEADROOM = 1.25
#: Axis ends are rounded up to these steps (omega on the DOS panel, the fraction on the
#: histogram), so that the axes stay put while delta moves: every change of an axis range
#: makes the browser redraw each mark of the figure once more.
_OMEGA_AXIS_STEP = 0.25
_FRACTION_AXIS_STEP = 0.05
#: Colour of the per-seed curves: light, so the mean stands out.
#: The band of the mean's standard error: Okabe & Ito sky blue, drawn translucent.
_BAND_COLOR = "#56B4E9"
_SEED_COLOR = "#9a9a9a"

#: Projector mode: per-seed curves dark enough to read on a washed-out projection.
_PROJECTOR_SEED_COLOR = "#555555"


class NetworkPanel(Projectable, VBox):
    """Springs shaded by stiffness, nodes coloured by coordination, pan and zoom.

    Jammed disks are drawn as disks of their radii (at the view's scale, as
    first drawn), their contacts as the springs, and their rattlers grey and crossed.

    Attributes
    ----------
    figure : bqplot.Figure
    springs : list of bqplot.Lines
        One NaN-gapped polyline per stiffness bin (``STIFFNESS_GRAYS``).
    nodes : bqplot.Scatter
        The nodes drawn; ``colors`` by coordination, or ``color`` = mode weights
        while an omega window is brushed. For jammed disks ``size`` holds each
        disk's squared radius, which the ``size`` scale maps to its area on screen.
    rattlers : bqplot.Scatter
        A cross on every drawn rattler of a packing (empty for the lattice).
    outline : bqplot.Lines
        Periodic cell (or the corner window).
    legend : ipywidgets.HTML
        What is drawn, and the colour key of the coordination numbers.

    The figure has no size of its own: the page's grid gives it one (``layout.py``).
    """

    def __init__(self):
        self.x_scale = LinearScale()
        self.y_scale = LinearScale()
        # A fixed domain: the weights are drawn relative to the top few per cent
        # (relative_weights). A domain that changed with every brush raced, in the
        # browser, with the colour data sent beside it: nodes sometimes kept colours
        # computed with the other domain.
        self.weight_scale = ColorScale(colors=list(_WEIGHT_COLORS), min=0.0, max=1.0)
        # Marker areas are proportional to r^2 (bqplot maps the size scale's domain
        # [0, max] onto [0, default_size] px^2); unused by the lattice's nodes.
        self.size_scale = LinearScale(min=0.0, max=1.0)
        scales = {"x": self.x_scale, "y": self.y_scale}
        self.springs = [
            Lines(x=[], y=[], scales=scales, colors=[gray], stroke_width=1.2)
            for gray in STIFFNESS_GRAYS
        ]
        self.outline = Lines(
            x=[], y=[], scales=scales, colors=["#0072B2"], line_style="dashed", stroke_width=1.5
        )
        self.nodes = Scatter(
            x=[],
            y=[],
            scales={**scales, "color": self.weight_scale, "size": self.size_scale},
            colors=["black"],
            default_size=24,
            stroke="white",
            stroke_width=0.5,
            unselected_style=_FADED,
        )
        self.rattlers = Scatter(x=[], y=[], scales=scales, marker="cross",
                                colors=["#555555"], default_size=_RATTLER_MARK_AREA)
        self.weight_axis = ColorAxis(
            scale=self.weight_scale,
            side="right",
            tick_format=".1f",  # relative to the top few per cent: the legend says so
            visible=False,
        )
        self.figure = Figure(
            marks=[*self.springs, self.outline, self.nodes, self.rattlers],
            axes=[
                Axis(scale=self.x_scale, label="x / a"),
                Axis(scale=self.y_scale, label="y / a", side="left"),
                self.weight_axis,
            ],
            interaction=PanZoom(scales={"x": [self.x_scale], "y": [self.y_scale]}),
            title="Network",
            fig_margin=dict(top=50, bottom=45, left=50, right=95),
            **FIGURE_OPTIONS,
        )
        self.legend = HTML()
        self._coordination_key = ""
        super().__init__([self.figure, self.legend])
        self.add_class("bp-network-panel")
        self._remember_styles(
            self._projector_changes(self.figure) + [(self.nodes, "stroke_width", 0.0)]
        )

    def show_network(self, view, coordination):
        """Draw a :class:`~bpwidgets.views.plotdata.NetworkView`; nodes coloured by Z."""
        for mark, (x, y) in zip(self.springs, view.springs):
            mark.x, mark.y = x, y
        self.outline.x, self.outline.y = view.outline
        low, high = float(np.nanmin(view.outline[0])), float(np.nanmax(view.outline[0]))
        margin = 0.05 * (high - low)
        for scale in (self.x_scale, self.y_scale):
            scale.min, scale.max = low - margin, high + margin
        self.nodes.selected = None
        self.nodes.x, self.nodes.y = view.x, view.y
        if view.radii is None:
            self.nodes.size = []
            self.nodes.default_size = _node_area(high - low)
            self.nodes.opacities = [1.0]
        else:
            largest = float(view.radii.max())
            self.size_scale.max = largest * largest
            self.nodes.size = view.radii * view.radii
            self.nodes.default_size = _disk_area(largest, high - low + 2 * margin)
            self.nodes.opacities = [_DISK_OPACITY]
        self.nodes.colors = view.node_colors(coordination)
        self.rattlers.x, self.rattlers.y = view.x[view.rattlers], view.y[view.rattlers]
        # Short enough for a narrow panel in projector mode; the caption says the rest.
        self.figure.title = view.title.split(": ", 1)[-1].replace("bottom-left ", "")
        held = np.delete(view.nodes, view.rattlers)
        self._coordination_key = _coordination_legend(
            np.unique(coordination[held]), windowed=view.windowed,
            disks=view.radii is not None, rattlers=len(view.rattlers))
        self.legend.value = self._coordination_key

    def show_weights(self, weights, window):
        """Colour the drawn nodes by their share of the modes in ``window``, or by Z if None."""
        if weights is None:
            self.nodes.color = None
            self.weight_axis.visible = False
            self.legend.value = self._coordination_key
            return
        low, high = window
        self.nodes.color = relative_weights(weights)
        self.weight_axis.visible = True
        self.legend.value = (
            '<div class="bp-legend">Node colour: share of the vibrational modes with '
            f"{low:.2f} ≤ ω ≤ {high:.2f}, relative to the top {100 - _WEIGHT_SATURATION} % "
            "of the nodes, which saturate (darker = more)</div>"
        )

    def highlight(self, indices):
        """Fade every drawn node but ``indices`` (None: show all)."""
        self.nodes.selected = None if indices is None else np.asarray(indices, dtype=int)


def relative_weights(weights) -> np.ndarray:
    """Mode weights divided by their value at the top few per cent, clipped to [0, 1].

    Saturating the top ``100 - _WEIGHT_SATURATION`` per cent keeps the long tail
    of a few strongly weighted nodes (and the stochastic estimate's noise) from
    painting every other node the palest colour.

    Examples
    --------
    >>> relative_weights(np.linspace(0.0, 1.0, 101))[[0, 49, 100]]
    array([0. , 0.5, 1. ])
    """
    weights = np.asarray(weights, dtype=float)
    top = float(np.percentile(weights, _WEIGHT_SATURATION)) if weights.size else 0.0
    return np.clip(weights / top, 0.0, 1.0) if top > 0 else np.zeros_like(weights)


def _node_area(side: float) -> int:
    """Marker area (px^2) giving a node about a quarter of a lattice spacing on screen."""
    spacing = _NETWORK_PLOT_PX / side
    return int(np.clip(round((spacing / 4.0) ** 2 * np.pi), 4, 40))


def _disk_area(radius: float, side: float) -> int:
    """Marker area (px^2) of a disk of ``radius`` in a view ``side`` units wide."""
    return max(1, int(round(np.pi * (radius * _NETWORK_PLOT_PX / side) ** 2)))


def _coordination_legend(present, *, windowed=False, disks=False, rattlers=0) -> str:
    """What the network panel draws, and the HTML colour key for the coordination numbers."""
    items = " ".join(
        f'<span class="bp-legend-item" style="margin-right:0.8em;white-space:nowrap">'
        f'<span style="display:inline-block;width:0.8em;height:0.8em;border-radius:50%;'
        f'background:{coordination_color(z)};margin-right:0.25em"></span>Z = {z}</span>'
        for z in present
    )
    shown = "its bottom-left corner" if windowed else "the whole periodic cell"
    if not disks:
        return (f'<div class="bp-legend"><span class="bp-caption">The network, {shown} '
                "(drag to pan, scroll to zoom). </span>"
                f"Node colour: coordination number {items}</div>")
    rattler_item = (
        f'<span class="bp-legend-item" style="white-space:nowrap">'
        f'<span style="display:inline-block;width:0.8em;height:0.8em;border-radius:50%;'
        f'background:{RATTLER_COLOR};margin-right:0.25em"></span>× rattler '
        f"({rattlers} shown: too few contacts to be held, no springs)</span>")
    return (f'<div class="bp-legend"><span class="bp-caption">The jammed packing, {shown}: '
            "disks of their radii, springs at their contacts (drag to pan, scroll to "
            "zoom). </span>"
            f"Disk colour: contact number {items} {rattler_item}</div>")


class DOSPanel(Projectable, VBox):
    """Reduced DOS g(omega)/omega: seeds, mean, crystal, Debye levels, Boson peak, pins.

    Attributes
    ----------
    per_seed, mean, crystal, crystal_debye, network_debye, excess, pins : bqplot.Lines
    peak_label : bqplot.Label
        "Boson peak: omega = ..., g/omega ... % above Debye", above the plot area (below
        the title), where no curve can run under it.
    brush : bqplot.BrushIntervalSelector
        Selects an omega window; its ``selected`` is observed by the dashboard.
    summary : ipywidgets.HTML
        "No Boson peak ..." when there is none (the label says it when there is).
    """

    def __init__(self):
        self.x_scale = LinearScale(min=0.0)
        self.y_scale = LinearScale(min=0.0)
        scales = {"x": self.x_scale, "y": self.y_scale}
        self.excess = Lines(
            x=[], y=[], scales=scales, fill="between", fill_colors=["#b0b0b0"],
            fill_opacities=[0.6], colors=["#b0b0b0"], stroke_width=0,
        )
        # The mean's standard error over the seeds, as a band under the curves.
        self.band = Lines(
            x=[], y=[], scales=scales, fill="between", fill_colors=[_BAND_COLOR],
            fill_opacities=[0.45], colors=[_BAND_COLOR], stroke_width=0,
        )
        self._band_source = "the seeds"
        self.per_seed = Lines(
            x=[], y=[], scales=scales, colors=[_SEED_COLOR], stroke_width=0.8, opacities=[0.7]
        )
        self.crystal = Lines(
            x=[], y=[], scales=scales, colors=["#0072B2"], line_style="dashed",
            stroke_width=1.5, labels=["crystal (closed form)"],
        )
        self.crystal_debye = Lines(
            x=[], y=[], scales=scales, colors=["#0072B2"], line_style="dotted",
            stroke_width=1.5, labels=["Debye level, crystal 1/(2π)"],
        )
        self.network_debye = Lines(
            x=[], y=[], scales=scales, colors=["#D55E00"], line_style="dash_dotted",
            stroke_width=1.5, labels=["Debye level, networks"],
        )
        self.pins = Lines(x=[], y=[], scales=scales, stroke_width=2, visible=False)
        self.mean = Lines(
            x=[], y=[], scales=scales, colors=[_LIVE_COLOR], stroke_width=3,
            labels=["mean over seeds"],
        )
        # Placed in fractions of the plot area (0 to 1), at its top-left corner, raised
        # into the top margin (outside the clip), clear of the top tick label.
        margin = dict(top=_DOS_TOP[0], bottom=45, left=60, right=20)
        self.peak_label = Label(
            x=[], y=[], text=[], colors=["black"], default_size=_PEAK_LABEL_PX[0],
            scales={"x": LinearScale(min=0.0, max=1.0), "y": LinearScale(min=0.0, max=1.0)},
            x_offset=0, y_offset=-_PEAK_LABEL_RAISE[0], align="start",
            apply_clip=False,
        )
        self.brush = BrushIntervalSelector(scale=self.x_scale, marks=[self.mean], color="#009E73")
        self.figure = Figure(
            marks=[
                self.excess, self.band, self.per_seed, self.crystal, self.crystal_debye,
                self.network_debye, self.pins, self.mean, self.peak_label,
            ],
            axes=[
                Axis(scale=self.x_scale, label="ω"),
                Axis(scale=self.y_scale, label="g(ω)/ω", side="left", tick_format=".2f",
                     label_offset="5ex"),  # clear of the ticks in projector mode
            ],
            interaction=self.brush,
            title="Reduced density of states g(ω)/ω",
            title_style=dict(_DOS_TITLE_RAISE),
            fig_margin=margin,
            padding_y=_DOS_PADDING_Y,
            **FIGURE_OPTIONS,
        )
        # The key is HTML: bqplot misplaces a legend this wide (it lands on the y axis).
        self.legend = HTML()
        self.summary = HTML()
        super().__init__([self.figure, self.legend, self.summary])
        self.add_class("bp-dos-panel")
        self._remember_styles(
            self._projector_changes(self.figure, top=_DOS_TOP[1] - _DOS_TOP[0],
                                    title_style=_DOS_TITLE_RAISE)
            + [(self.per_seed, "colors", [_PROJECTOR_SEED_COLOR]),
               (self.per_seed, "opacities", [1.0]),
               (self.peak_label, "default_size", float(_PEAK_LABEL_PX[1])),
               (self.peak_label, "y_offset", -_PEAK_LABEL_RAISE[1])]
        )

    @property
    def window(self):
        """The brushed omega window ``(low, high)``, or None."""
        selected = self.brush.selected
        if selected is None or len(selected) != 2:
            return None
        low, high = sorted(float(v) for v in selected)
        return (low, high) if high > low else None

    def show_dos(self, dos, peak, n_seeds):
        """Draw a reduced DOS (core ``ReducedDOS``) and its Boson peak (or None)."""
        omega = dos.omega
        self.per_seed.x, self.per_seed.y = omega, dos.per_seed
        self.mean.x, self.mean.y = omega, dos.mean
        self.mean.labels = [f"mean over {n_seeds} seed{'s' if n_seeds > 1 else ''}"]
        error = dos.mean_error
        if np.all(np.isfinite(error)):
            self.band.x, self.band.y = omega, np.vstack([dos.mean - error, dos.mean + error])
        else:  # one seed and one random vector: no spread to show
            self.band.x, self.band.y = [], []
        self._band_source = "the seeds" if n_seeds > 1 else "the random vectors"
        self.crystal.x, self.crystal.y = omega, crystal_reduced_dos(omega)
        ends = np.array([omega[0], omega[-1]])
        self.crystal_debye.x, self.crystal_debye.y = ends, np.full(2, CRYSTAL_DEBYE_LEVEL)
        self.network_debye.x, self.network_debye.y = ends, np.full(2, dos.debye_level)
        self.network_debye.labels = [f"Debye level, networks 1/(2πσ) = {dos.debye_level:.3f}"]
        self.x_scale.max = round_up(float(omega[-1]), _OMEGA_AXIS_STEP)
        self._fit_height()
        self._write_legend()
        # Stiff modes past the bulk (near-coinciding nodes) are off the axis: say so.
        notes = [html.escape(dos.outlier_note)] if dos.outlier_note else []
        if peak is None:
            self.excess.x, self.excess.y = [], []
            self.peak_label.x, self.peak_label.y, self.peak_label.text = [], [], []
            notes.insert(0, "No Boson peak: g/ω has no maximum above the Debye level "
                            f"below ω = {BOSON_PEAK_OMEGA_MAX}")
        else:
            self.excess.x = peak.region_omega
            self.excess.y = np.vstack([peak.region_upper, peak.region_lower])
            self.peak_label.x, self.peak_label.y = [0.0], [_PLOT_TOP]
            self.peak_label.text = [peak.label]  # the page's summary says it once more
        self.summary.value = "".join(f'<div class="bp-peak">{note}</div>' for note in notes)

    def set_projector(self, on: bool):
        super().set_projector(on)
        self._write_legend()  # its samples copy the marks' widths and colours

    def show_pins(self, pins):
        """Draw pinned mean curves: a list of ``(label, omega, mean)``."""
        if not pins:
            self.pins.visible = False
            self.pins.x, self.pins.y, self.pins.labels = [], [], []
            self._fit_height()
            self._write_legend()
            return
        width = max(len(omega) for _, omega, _ in pins)
        # Lines takes one 2-D array per axis: pad shorter curves with NaN (drawn as gaps).
        x = np.full((len(pins), width), np.nan)
        y = np.full((len(pins), width), np.nan)
        for row, (_, omega, mean) in enumerate(pins):
            x[row, : len(omega)], y[row, : len(mean)] = omega, mean
        self.pins.x, self.pins.y = x, y
        self.pins.colors = [pin_color(i) for i in range(len(pins))]
        self.pins.labels = [label for label, _, _ in pins]
        self.pins.visible = True
        self._fit_height()
        self._write_legend()

    def _write_legend(self):
        """HTML key of every curve, pins included, in the marks' own colours and dashes."""
        entries = [
            (self.mean, self.mean.labels[0]),
            (self.per_seed, "single seeds"),
            (self.crystal, self.crystal.labels[0]),
            (self.crystal_debye, self.crystal_debye.labels[0]),
            (self.network_debye, self.network_debye.labels[0]),
        ]
        items = [legend_item(line_sample(m.colors[0], m.stroke_width, m.line_style), text)
                 for m, text in entries]
        items.append(legend_item(box_sample(self.excess.fill_colors[0]),
                                  "excess over the networks' Debye level: the Boson peak"))
        if len(self.band.x):
            items.append(legend_item(box_sample(self.band.fill_colors[0]),
                                      f"mean ± its standard error over {self._band_source}"))
        if self.pins.visible:
            items += [legend_item(line_sample(color, self.pins.stroke_width, "solid"),
                                   f"pinned: {label}")
                      for color, label in zip(self.pins.colors, self.pins.labels)]
        hint = '<span class="bp-caption">Drag across the plot to select an ω window.</span>'
        self.legend.value = f'<div class="bp-legend">{" ".join(items)} {hint}</div>'

    def _fit_height(self):
        """Room above the curves; the crystal's van Hove spike may be cut."""
        tallest = [np.nanmax(self.mean.y)] if len(self.mean.y) else []
        if self.pins.visible:
            tallest.append(np.nanmax(self.pins.y))
        self.y_scale.max = max(_DOS_MIN_TOP, _DOS_HEADROOM * max(tallest, default=0.0))
        self.figure.axes[1].tick_values = tick_values(self.y_scale.max)


class CoordinationPanel(Projectable, VBox):
    """Histogram of coordination numbers Z (fractions of nodes), mean Z, pinned histograms.

    The live histogram is the first row of one grouped ``Bars`` mark and every pin
    adds a row, so live and pinned bars share one axis and sit side by side.
    Clicking a bar selects it (``bars.selected``: indices into ``z``).
    """

    def __init__(self):
        self.x_scale = LinearScale()
        self.y_scale = LinearScale(min=0.0)
        scales = {"x": self.x_scale, "y": self.y_scale}
        self.bars = Bars(
            x=[], y=[], scales=scales, type="grouped", colors=[_LIVE_COLOR],
            padding=0.15, interactions={"click": "select"},
            selected_style={"stroke": "#D55E00", "stroke-width": 3},
            unselected_style={"opacity": 0.5}, labels=["live"],
        )
        self.mean_line = Lines(
            x=[], y=[], scales=scales, colors=["#D55E00"], line_style="dashed", stroke_width=2
        )
        self.mean_label = Label(
            x=[], y=[], text=[], scales=scales, colors=["#D55E00"], default_size=13,
            x_offset=6, y_offset=12, align="start",
        )
        self.figure = Figure(
            marks=[self.bars, self.mean_line, self.mean_label],
            axes=[
                Axis(scale=self.x_scale, label="coordination number Z", tick_format="d"),
                Axis(scale=self.y_scale, label="fraction of nodes", side="left",
                     tick_format=".2f",
                     label_offset="5ex"),  # clear of the ticks in projector mode
            ],
            title="Coordination numbers",
            fig_margin=dict(top=50, bottom=45, left=60, right=20),
            **FIGURE_OPTIONS,
        )
        self.z = np.zeros(0, dtype=int)
        self.legend = HTML()
        super().__init__([self.figure, self.legend])
        self.add_class("bp-coordination-panel")
        self._remember_styles(self._projector_changes(self.figure, [self.mean_label])
                              + [(self.mean_label, "y_offset", 20)])

    def show_result(self, snapshot, pins, selected_z):
        """A result's histogram beside the pins', with the bars of ``selected_z`` selected."""
        self.show_histograms((snapshot.coordination, snapshot.fractions),
                             snapshot.mean_coordination,
                             [(pin.label, pin.z, pin.fractions) for pin in pins])
        selected = np.flatnonzero(np.isin(self.z, selected_z))
        self.bars.selected = selected if selected.size else None

    def show_histograms(self, live, mean, pins):
        """Draw the live histogram ``(z, fractions)`` with its mean and the pinned ones.

        Parameters
        ----------
        live : (ndarray, ndarray)
            Coordination numbers and fractions.
        mean : float
            Mean coordination number, marked by a dashed line.
        pins : list of (label, z, fractions)
        """
        z, fractions = align_histograms([live] + [(pz, pf) for _, pz, pf in pins])
        self.z = z
        self.bars.x, self.bars.y = z, fractions
        self.bars.colors = [_LIVE_COLOR] + [pin_color(i) for i in range(len(pins))]
        self.bars.labels = ["live"] + [label for label, _, _ in pins]
        top = round_up(_HISTOGRAM_HEADROOM * float(fractions.max()), _FRACTION_AXIS_STEP)
        self.x_scale.min, self.x_scale.max = float(z[0]) - 0.7, float(z[-1]) + 0.7
        self.y_scale.max = top
        self.figure.axes[1].tick_values = tick_values(top, 5)
        self.mean_line.x, self.mean_line.y = [mean, mean], [0.0, top]
        self.mean_label.x, self.mean_label.y = [mean], [top]
        self.mean_label.text = [f"{mean:.2f}"]  # short: a narrow panel has room for no more
        names = ["current parameters, all seeds"] + [f"pinned: {label}" for label, _, _ in pins]
        items = [legend_item(box_sample(c), n) for c, n in zip(self.bars.colors, names)]
        items.append(legend_item(line_sample(self.mean_line.colors[0], 2, "dashed"),
                                  f"mean Z = {mean:.2f}"))
        items = " ".join(items)
        self.legend.value = (f'<div class="bp-legend">{items} '
                             '<span class="bp-caption">Click a bar to find its nodes.</span></div>')
