"""The paper's nine-node toy model as a widget: add and remove springs, watch new poles appear.

:class:`ToyModel` draws the 3 x 3 periodic network with its springs and every
node's response -Im G_ii(omega) beside the crystal's. Click two nodes to add the
spring between them, or to remove it if it is there; the two node lists with
*add* and *remove* do the same from the keyboard. The plot arrays come from
:mod:`bpwidgets.views.toyplot`; the figures are built once and every change only
reassigns data inside ``hold_sync``. Shown on its own the figures keep a fixed
size; in the dashboard the page's style sheet sizes them to the window
(``layout.py``). :class:`ToyTab` is the dashboard's tab, which builds the model
the first time it is asked for.
"""

from __future__ import annotations

import numpy as np
from bqplot import Axis, Figure, Label, LinearScale, Lines, Scatter
from ipywidgets import HTML, Button, Dropdown, FloatLogSlider, HBox, Layout, VBox

from ..views.plotdata import coordination_colors
from .panelbase import PROJECTOR_TEXT_PX, LazyTab, Projectable
from ..views.toyplot import (
    DEFAULT_EPS,
    TOY_NODES,
    TOY_OMEGA,
    lattice_pairs,
    node_label,
    toy_response,
    toy_view,
)
from .style import FIGURE_OPTIONS, held, status_html

__all__ = ["EPS_RANGE", "ToyModel", "ToyTab"]

#: Range of the broadening slider, as powers of ten: sharp poles to smeared ones.
EPS_RANGE = (-3.0, -0.5)
#: Projector mode: px added to the figures' top margins, for the larger titles (the
#: style sheet's ``--bp-toy-top`` follows the network's: 40 px, 50 in projector mode).
_PROJECTOR_TOP = 10
#: Colours: springs, the crystal's curves, the nodes whose springs are unchanged,
#: added springs, removed ones (dashed ghosts), poles, new poles (Okabe & Ito vermillion).
_SPRING_GRAY = "#5a5a5a"
_CRYSTAL_GRAY = "#9a9a9a"
_REST_GRAY = "#b0b0b0"
_ADDED_COLOR = "#000000"
_REMOVED_COLOR = "#D55E00"
_POLE_GRAY = "#7a7a7a"
_NEW_POLE_COLOR = "#D55E00"


class ToyModel(Projectable, VBox):
    """The 3 x 3 toy model: toggle springs, see every node's response and the poles.

    Parameters
    ----------
    eps : float, optional
        Initial broadening of G = [(omega^2 + i eps) I - H]^-1.
    add, remove : sequence of (int, int), optional
        Springs added to or removed from the crystal at the start.

    Attributes
    ----------
    nodes : bqplot.Scatter
        The nine nodes, coloured by coordination; click two to toggle a spring.
    labels : bqplot.Label
        "node · Z = ..." beside every node.
    springs, added_springs, removed_springs : bqplot.Lines
        Springs present (crystal ones), added springs, removed ones (dashed).
    crystal_curves, rest_curves, changed_curves : bqplot.Lines
        -Im G_ii(omega): the crystal's (all nine nodes), the nodes with unchanged
        springs (grey) and the nodes at the ends of a changed spring (coloured by Z).
    pole_lines, new_pole_lines : bqplot.Lines
        Vertical lines at every pole of the network, and at the new ones.
    new_pole_marks : bqplot.Scatter
        Circles at the new poles, at the largest response there.
    first_node, second_node : ipywidgets.Dropdown
    add_button, remove_button, reset_button : ipywidgets.Button
    eps : ipywidgets.FloatLogSlider
    caption : ipywidgets.HTML
        What the curves and lines of the response are.
    status : ipywidgets.HTML
        What changed, or why an action was refused.
    response : bpwidgets.views.toyplot.ToyResponse
        What the curves show.

    Examples
    --------
    >>> toy = ToyModel()
    >>> toy.toggle_spring(4, 2)
    >>> toy.response.new_poles.round(3)
    array([2.   , 2.646])
    """

    def __init__(self, *, eps=DEFAULT_EPS, add=(), remove=()):
        self._added = {tuple(sorted(map(int, p))) for p in add}
        self._removed = {tuple(sorted(map(int, p))) for p in remove}
        self._first = None
        self._lattice = lattice_pairs()
        self._build_network_figure()
        self._build_response_figure()
        # Widths follow the text (the style sheet), so no label or menu is cut.
        fit = dict(style={"description_width": "initial"}, layout=Layout(width="auto"))
        self.first_node = Dropdown(options=[(node_label(i), i) for i in range(TOY_NODES)],
                                   value=4, description="node", **fit)
        self.second_node = Dropdown(options=[(node_label(i), i) for i in range(TOY_NODES)],
                                    value=2, description="and node", **fit)
        self.add_button = Button(description="add spring", icon="plus")
        self.remove_button = Button(description="remove spring", icon="minus")
        self.reset_button = Button(description="reset to crystal", icon="undo")
        self.eps = FloatLogSlider(value=eps, base=10, min=EPS_RANGE[0], max=EPS_RANGE[1],
                                  step=0.05, readout_format=".3f", description="broadening ε",
                                  continuous_update=True, style={"description_width": "initial"})
        self.caption = HTML(
            '<div class="bp-legend bp-caption">Right: every node\'s response; the crystal\'s '
            "in light grey, nodes with unchanged springs in grey, the two nodes of a changed "
            "spring coloured by their Z; dotted lines at the poles, new poles dashed and "
            "circled.</div>")
        self.status = HTML()
        for name in ("first_node", "second_node", "add_button", "remove_button", "reset_button",
                     "eps", "status"):
            getattr(self, name).add_class(f"bp-toy-{name.replace('_', '-')}")
        self.nodes.on_element_click(self._on_node_click)
        self.add_button.on_click(lambda _: self.add_spring(self.first_node.value,
                                                           self.second_node.value))
        self.remove_button.on_click(lambda _: self.remove_spring(self.first_node.value,
                                                                 self.second_node.value))
        self.reset_button.on_click(lambda _: self.reset())
        self.eps.observe(self._on_eps, "value")
        figures = HBox([self.network_figure, self.response_figure])
        actions = HBox([self.first_node, self.second_node, self.add_button, self.remove_button,
                        self.reset_button])
        figures.add_class("bp-toy-figures")
        actions.add_class("bp-toy-controls")
        super().__init__([figures, actions, self.eps, self.caption, self.status])
        self.add_class("bp-toy-model")
        self.network_figure.add_class("bp-toy-network")
        self.response_figure.add_class("bp-toy-response")
        self._remember_styles(
            self._projector_changes(self.response_figure, top=_PROJECTOR_TOP)
            + [(self.network_figure, "title_style", {"font-size": f"{PROJECTOR_TEXT_PX}px"}),
               (self.network_figure, "fig_margin",
                {**self.network_figure.fig_margin,
                 "top": self.network_figure.fig_margin["top"] + _PROJECTOR_TOP}),
               (self.labels, "default_size", 16.0)]
            + [(mark, "stroke_width", 1.5 * mark.stroke_width)
               for mark in (self.springs, self.added_springs, self.removed_springs)]
        )
        self.response = None
        self._redraw("Click two nodes to add the spring between them, or remove it if it is "
                     "there.")

    # -- building ---------------------------------------------------------------------------

    def _build_network_figure(self):
        scales = {"x": LinearScale(min=-0.75, max=2.75), "y": LinearScale(min=-0.75, max=2.75)}
        self.springs = Lines(x=[], y=[], scales=scales, colors=[_SPRING_GRAY], stroke_width=2)
        self.added_springs = Lines(x=[], y=[], scales=scales, colors=[_ADDED_COLOR],
                                   stroke_width=4)
        self.removed_springs = Lines(x=[], y=[], scales=scales, colors=[_REMOVED_COLOR],
                                     stroke_width=2, line_style="dashed")
        self.outline = Lines(x=[], y=[], scales=scales, colors=["#0072B2"],
                             line_style="dashed", stroke_width=1)
        self.nodes = Scatter(x=[], y=[], scales=scales, default_size=350, stroke="white",
                             stroke_width=1.5, selected_style={"stroke": "#009E73",
                                                               "stroke-width": 5},
                             unselected_style={})
        self.labels = Label(x=[], y=[], text=[], scales=scales, colors=["#333333"],
                            default_size=13, x_offset=10, y_offset=-12, align="start",
                            apply_clip=False)  # the margins leave room; never half a label
        self.network_figure = Figure(
            marks=[self.outline, self.springs, self.removed_springs, self.added_springs,
                   self.nodes, self.labels],
            title="3 × 3 periodic network",
            fig_margin=dict(top=40, bottom=10, left=10, right=10),
            layout=Layout(width="380px", height="400px"),
            **FIGURE_OPTIONS,
        )

    def _build_response_figure(self):
        self.omega_scale = LinearScale(min=float(TOY_OMEGA[0]), max=float(TOY_OMEGA[-1]))
        self.response_scale = LinearScale(min=0.0)
        scales = {"x": self.omega_scale, "y": self.response_scale}
        self.crystal_curves = Lines(x=[], y=[], scales=scales, colors=[_CRYSTAL_GRAY],
                                    stroke_width=6, opacities=[0.35])
        self.rest_curves = Lines(x=[], y=[], scales=scales, colors=[_REST_GRAY], stroke_width=1)
        self.changed_curves = Lines(x=[], y=[], scales=scales, colors=[_ADDED_COLOR],
                                    stroke_width=2)
        self.pole_lines = Lines(x=[], y=[], scales=scales, colors=[_POLE_GRAY],
                                line_style="dotted", stroke_width=1)
        self.new_pole_lines = Lines(x=[], y=[], scales=scales, colors=[_NEW_POLE_COLOR],
                                    line_style="dashed", stroke_width=1.5)
        self.new_pole_marks = Scatter(x=[], y=[], scales=scales, colors=[_NEW_POLE_COLOR],
                                      fill=False, default_size=500, stroke_width=2)
        self.response_figure = Figure(
            marks=[self.crystal_curves, self.pole_lines, self.new_pole_lines, self.rest_curves,
                   self.changed_curves, self.new_pole_marks],
            axes=[Axis(scale=self.omega_scale, label="ω"),
                  Axis(scale=self.response_scale, label="−Im G_ii(ω)", side="left",
                       tick_format=".1f", label_offset="5ex")],  # clear of the ticks
            title="On-node response −Im G_ii(ω)",
            fig_margin=dict(top=40, bottom=45, left=60, right=20),
            layout=Layout(width="640px", height="400px"),
            **FIGURE_OPTIONS,
        )

    # -- actions ------------------------------------------------------------------------------

    @property
    def added(self) -> tuple:
        """Springs added to the crystal, as sorted node pairs."""
        return tuple(sorted(self._added))

    @property
    def removed(self) -> tuple:
        """Crystal springs removed, as sorted node pairs."""
        return tuple(sorted(self._removed))

    def has_spring(self, i, j) -> bool:
        """True when nodes i and j are joined by a spring now."""
        pair = (min(i, j), max(i, j))
        return pair in self._added or (pair in self._lattice and pair not in self._removed)

    def add_spring(self, i, j):
        """Join nodes i and j; an invalid pair leaves the network and shows why."""
        self._act(i, j, adding=True)

    def remove_spring(self, i, j):
        """Remove the spring between nodes i and j; an invalid pair shows why."""
        self._act(i, j, adding=False)

    def toggle_spring(self, i, j):
        """Add the spring between i and j if absent, remove it if present."""
        try:
            pair = self._check(i, j)
        except ValueError as error:
            self._refuse(f"Cannot change this spring: {error}.")
            return
        self._act(*pair, adding=not self.has_spring(*pair))

    def click_node(self, index):
        """A click on node ``index``: the first of a pair is remembered, the second toggles."""
        index = int(index)
        if self._first is None:
            self._first = index
            with held([self.nodes, self.status]):
                self.nodes.selected = [index]
                self._set_status(f"Node {node_label(index)} chosen: click a second node.",
                                 kind="ready")
            return
        first, self._first = self._first, None
        self.nodes.selected = None
        self.toggle_spring(first, index)

    def reset(self):
        """Back to the crystal: every change undone."""
        self._added.clear()
        self._removed.clear()
        self._first = None
        self.nodes.selected = None
        self._redraw("Reset to the crystal: two poles, ω = √3 and √6.")

    def _on_node_click(self, _mark, event):
        try:
            self.click_node(event["data"]["index"])
        except Exception as error:  # a click must never raise into the kernel
            self._refuse(f"Could not read the click ({type(error).__name__}: {error})")

    def _on_eps(self, _change):
        try:
            self._redraw(None)
        except Exception as error:
            self._refuse(f"Cannot draw with this ε ({type(error).__name__}: {error})")

    def _check(self, i, j):
        if not all(isinstance(k, (int, np.integer)) and 0 <= k < TOY_NODES for k in (i, j)):
            raise ValueError(f"nodes are numbered 0 to {TOY_NODES - 1}; got {i!r} and {j!r}")
        if i == j:
            raise ValueError(f"a spring joins two different nodes; node {i} was chosen twice")
        return (int(min(i, j)), int(max(i, j)))

    def _act(self, i, j, *, adding):
        try:
            pair = self._check(i, j)
            present = self.has_spring(*pair)
            if adding and present:
                raise ValueError(f"nodes {pair[0]} and {pair[1]} are already joined by a spring")
            if not adding and not present:
                raise ValueError(f"there is no spring between nodes {pair[0]} and {pair[1]}")
            added, removed = set(self._added), set(self._removed)
            if adding:
                (removed.discard if pair in removed else added.add)(pair)
            else:
                (added.discard if pair in added else removed.add)(pair)
            previous = (self._added, self._removed)
            self._added, self._removed = added, removed
            verb = "Added" if adding else "Removed"
            try:
                self._redraw(f"{verb} the spring {pair[0]}–{pair[1]}.")
            except Exception:
                self._added, self._removed = previous
                raise
        except ValueError as error:
            self._refuse(f"Cannot {'add' if adding else 'remove'} this spring: {error}.")
        except Exception as error:
            self._refuse(f"Something went wrong ({type(error).__name__}: {error})")

    # -- drawing ----------------------------------------------------------------------------

    def _redraw(self, message):
        """Recompute the response and reassign every mark's data; ``message`` to the status."""
        response = toy_response(add=self.added, remove=self.removed, eps=self.eps.value)
        view = toy_view(add=self.added, remove=self.removed)
        marks = [*self.network_figure.marks, *self.response_figure.marks]
        scales = [s for m in marks for s in m.scales.values()]
        with held([self.network_figure, self.response_figure, *marks, *scales, self.status]):
            self._draw_network(view)
            self._draw_response(response)
            self.response = response
            if message is not None:
                self._set_status(f"{message} {self._poles_text(response)}", kind="ready")

    def _draw_network(self, view):
        self.outline.x, self.outline.y = view.outline
        self.springs.x, self.springs.y = view.springs
        self.added_springs.x, self.added_springs.y = view.added
        self.removed_springs.x, self.removed_springs.y = view.removed
        self.nodes.x, self.nodes.y = view.x, view.y
        self.nodes.colors = coordination_colors(view.coordination)
        self.labels.x, self.labels.y = view.x, view.y
        self.labels.text = [f"{i} · Z = {z}" for i, z in enumerate(view.coordination)]

    def _draw_response(self, response):
        omega = response.omega
        changed = list(response.changed_nodes)
        rest = [i for i in range(TOY_NODES) if i not in changed]
        self.crystal_curves.x, self.crystal_curves.y = omega, response.crystal.T
        self.rest_curves.x, self.rest_curves.y = omega, response.response[:, rest].T
        if changed:
            self.changed_curves.x = omega
            self.changed_curves.y = response.response[:, changed].T
            self.changed_curves.colors = coordination_colors(response.coordination[changed])
        else:
            self.changed_curves.x, self.changed_curves.y = [], []
        top = 1.08 * float(max(response.response.max(), response.crystal.max()))
        self.response_scale.max = top
        self.pole_lines.x, self.pole_lines.y = _verticals(response.poles, top)
        self.new_pole_lines.x, self.new_pole_lines.y = _verticals(response.new_poles, top)
        self.new_pole_marks.x = response.new_poles
        self.new_pole_marks.y = response.new_pole_heights

    def _poles_text(self, response):
        def listed(values):
            return ", ".join(f"{v:.3f}" for v in values) or "none"

        return (f"Poles: {listed(response.poles)}; new (not in the crystal): "
                f"{listed(response.new_poles)}.")

    def _refuse(self, message):
        self._set_status(message, kind="error")

    def _set_status(self, text, *, kind):
        self.status.value = status_html(text, kind, "bp-toy-status")


class ToyTab(LazyTab):
    """The dashboard's toy-model tab: empty until the model is first asked for.

    The model is a quarter of the page's widgets and nobody sees it before opening
    the tab, so the first page is sent without it; the dashboard asks for
    :attr:`model` when the tab is selected.

    Examples
    --------
    >>> tab = ToyTab()
    >>> tab.built, len(tab.children)
    (False, 0)
    >>> tab.set_projector(True)
    >>> tab.model.network_figure.title_style["font-size"] == f"{PROJECTOR_TEXT_PX}px"
    True
    >>> tab.built, tab.children == (tab.model,)
    (True, True)
    """

    def __init__(self):
        super().__init__(ToyModel, "bp-toy-tab")

    model = property(lambda self: self.content, doc="The toy model, built on first access.")


def _verticals(positions, top):
    """Vertical segments from 0 to ``top`` at ``positions``, as one NaN-gapped polyline."""
    positions = np.asarray(positions, dtype=float)
    x = np.column_stack([positions, positions, np.full(positions.size, np.nan)]).ravel()
    y = np.tile([0.0, top, np.nan], positions.size)
    return x, y
