"""The dashboard: a thin ipywidgets view over a :class:`~bpwidgets.session.Session`.

Data flows one way: a control calls the session -> the session's worker
computes (:func:`~bpwidgets.session.pipeline.compute_stages`) -> the session
tells this view (:class:`~bpwidgets.session.Listener`) -> the view turns the
result into plot arrays (:mod:`bpwidgets.views.plotdata`) and reassigns them on
existing marks inside ``hold_sync``. Figures are built once; every widget is
wired here, in :meth:`Dashboard._wire`.
"""

from __future__ import annotations

import html

import numpy as np
from ipywidgets import HTML, Tab, VBox

from ..session import Listener, Parameters, Session
from ..serve import preheated, request_query
from ..session.share import page_link, page_url, parse_query, state_query
from ..session.visitor import VisitorLimits
from ..views.plotdata import network_view, snapshot_summary
from .controls import Controls
from .export import export_files, prepare_shown
from .layout import networks_page, page_title, stylesheet
from .lecture import LectureTools
from .panelbase import hold
from .panels import CoordinationPanel, DOSPanel, NetworkPanel
from .style import status_html
from .sweep_panel import SweepTab
from .toy_panel import ToyTab

__all__ = ["Dashboard"]

#: Indices of the toy model's and the sweep's tabs, each built when first selected.
_TOY_TAB, _SWEEP_TAB = 1, 2


class Dashboard(VBox, Listener):
    """Where the Boson peak comes from: a spring network, its reduced DOS and its Z.

    Parameters
    ----------
    projector : bool
        Start in projector mode (large text, thick lines).
    page : str, optional
        Address of the page, for the shareable link; default: what Voila tells the
        kernel (:func:`~bpwidgets.session.share.page_url`), or a link relative to the page.
    background : bool
        True (default): compute on a worker thread, latest request wins.
        False: compute synchronously inside every callback (tests, scripts).
    limits : VisitorLimits, optional
        What a visitor may ask for; default: the server's ``BPWIDGETS_LIMITS``
        (:mod:`~bpwidgets.session.visitor`), none when it is unset.
    **parameters
        Initial parameters (:class:`~bpwidgets.session.schema.Parameters` fields).

    Raises
    ------
    ValueError
        For a parameter outside its range, or past a visitor limit (naming it).

    Attributes
    ----------
    session : Session
        The state and the work; this widget only shows it.
    controls : Controls
    lecture : LectureTools
        Presets, play, projector mode, downloads, the link, notices.
    summary : ipywidgets.HTML
        One-sentence text summary of the result (an ARIA live region).
    network_panel, dos_panel, coordination_panel
    toy_model : ToyModel
        The second tab, built when the tab is first opened (or asked for).
    sweep_tab : SweepTab
        The third tab, the peak against δ (:mod:`~bpwidgets.app.sweep_panel`), built likewise.
    limits : VisitorLimits
    status : ipywidgets.HTML
        Plain-language status: the result shown, "computing ...", or an error.

    Examples
    --------
    >>> from bpwidgets.app import Dashboard
    >>> dashboard = Dashboard(size=20, background=False)
    >>> dashboard.snapshot.network.size
    20
    """

    def __init__(self, *, projector=False, page=None, background=True, limits=None,
                 **parameters):
        self.limits = VisitorLimits.from_environ() if limits is None else limits
        asked = self.limits.check(Parameters(**parameters).checked(), names=parameters)
        self.controls = Controls(self.limits.hold(asked)[0], self.limits)  # defaults held too
        self.lecture = LectureTools()
        self.summary = HTML(_dom_classes=["bp-summary"])
        self.status = HTML(_dom_classes=["bp-status"])
        self.network_panel, self.dos_panel = NetworkPanel(), DOSPanel()
        self.coordination_panel = CoordinationPanel()
        self.toy_tab = ToyTab()  # built when opened: a quarter of the page's widgets
        self.sweep_tab = SweepTab(lambda: self.controls.parameters, background=background)
        self.view = None
        self._page = page_url() if page is None else page
        self._syncing_selection, self._background = False, background
        self.session = Session(self.controls.parameters, listener=self, background=background,
                               reduce=self.lecture.reduce, limits=self.limits)
        # A grid that fits the window, the network below where it is narrow (app/layout.py).
        columns = networks_page([self.controls, self.status, self.summary, self.lecture],
                                self.dos_panel, self.coordination_panel, self.network_panel)
        self.tabs = Tab([columns, self.toy_tab, self.sweep_tab],
                        titles=("Spring networks", "Toy model: 9 nodes", "Sweep: peak vs δ"))
        super().__init__([page_title(), stylesheet(), self.tabs])
        self.add_class("bp-dashboard")
        self._wire()
        self.lecture.projector.value = bool(projector)
        self._update_link()
        # The first result is drawn before the widget is shown: bqplot lays out legends
        # and labels badly on a first render with empty marks.
        self.session.start()

    @classmethod
    def from_query(cls, query=None, **options):
        """The dashboard in the state a URL query asks for (Voila's page request by default).

        Refused values fall back to their defaults and values past the visitor limits
        to the limits; both are listed above the lecture controls. The page always opens.

        Examples
        --------
        >>> dashboard = Dashboard.from_query("size=20&seeds=2&delta=oops", background=False)
        >>> dashboard.snapshot.network.size, dashboard.snapshot.network.delta
        (20, 0.3)
        >>> "delta=oops" in dashboard.lecture.notice.value
        True
        """
        if query is None and preheated():
            # A kernel of Voila's pool: everything but the query's changes is built and
            # computed before anyone asks for the page (bpwidgets/serve.py).
            dashboard = cls(**options)
            dashboard.apply_query(request_query(), page=options.get("page") or page_url())
            return dashboard
        if query is None:
            query = request_query()
            options.setdefault("page", page_url())
        limits = options["limits"] = options.get("limits") or VisitorLimits.from_environ()
        parameters, projector, messages = parse_query(query, limits=limits)
        dashboard = cls(projector=projector, **options, **vars(parameters))
        dashboard.lecture.show_notice(messages)
        return dashboard

    def apply_query(self, query, *, page=None):
        """Show the state a URL query asks for, as :meth:`from_query` would open it.

        Blocks until its first result is drawn, as a page opened on the query does
        (jammed disks: the first packing; the others are made on the worker). Made
        for a preheated kernel's dashboard, built with the defaults before its page
        was asked for.

        Parameters
        ----------
        query : str
            The page's query string (no leading ``?``).
        page : str, optional
            Address of the page, for the shareable link (unchanged if None).

        Examples
        --------
        >>> dashboard = Dashboard(size=20, n_seeds=2, background=False)
        >>> dashboard.apply_query("size=30&seeds=2&delta=0.1&projector=1")
        >>> dashboard.snapshot.network.size, dashboard.snapshot.network.delta, dashboard.projector
        (30, 0.1, True)
        """
        parameters, projector, messages = parse_query(query, limits=self.limits)
        if page is not None:
            self._page = page
        self.lecture.projector.value = bool(projector)
        if parameters != self.session.parameters:
            self.session.wait()  # nothing of the defaults' is left to deliver
            self._guarded(lambda: self.session.start(parameters))
        self._update_link()
        self.lecture.show_notice(messages)

    # -- what the session holds -----------------------------------------------------------

    snapshot = property(lambda self: self.session.snapshot, doc="The result shown.")
    pins = property(lambda self: self.session.pins, doc="The pinned references.")
    projector = property(lambda self: self.lecture.projector.value, doc="Projector mode.")
    window = property(lambda self: self.dos_panel.window, doc="The brushed omega window.")
    toy_model = property(lambda self: self.toy_tab.model, doc="The toy model (built on demand).")

    @property
    def highlighted_nodes(self):
        """Network node indices currently highlighted (all drawn nodes when none is)."""
        selected = self.network_panel.nodes.selected
        nodes = self.snapshot.nodes
        return nodes if selected is None else nodes[np.asarray(selected, dtype=int)]

    @property
    def link(self) -> str:
        """URL of the current state (relative to the page when Voila gave no address)."""
        return page_link(state_query(self.controls.parameters, projector=self.projector),
                         self._page)

    def apply_preset(self, name):
        """Set every control as the preset says and pin its references (one computation)."""
        self.lecture.play.playing = False
        self._guarded(lambda: self.session.apply_preset(name))

    def export_files(self, *, figures=True) -> dict:
        """The files the download links offer: ``{name: bytes}`` of what the page shows."""
        with self.session.lock:
            snapshot, pins = self.snapshot, self.pins
        return export_files(snapshot, pins, projector=self.projector, figures=figures)

    def wait(self, timeout=None) -> bool:
        """Block until the latest request is drawn (or its error shown); False on timeout."""
        return self.session.wait(timeout)

    def close(self):
        """Stop the worker thread and close the widgets."""
        # Widget.__del__ calls close(), possibly on a half-built instance.
        if getattr(self, "session", None) is not None:
            self.session.close()
        if getattr(self, "sweep_tab", None) is not None:
            self.sweep_tab.close()
        super().close()

    # -- wiring: widget -> session ----------------------------------------------------------

    def _wire(self):
        for widget in self.controls.widgets.values():
            widget.observe(self._parameters_changed, "value")
        self.controls.pin.on_click(lambda _: self._guarded(self.session.pin))
        self.controls.clear_pins.on_click(lambda _: self._guarded(self.session.clear_pins))
        self.dos_panel.brush.observe(
            lambda _: self._guarded(lambda: self.session.brush(self.window)), "selected")
        self.coordination_panel.bars.observe(self._select_bars, "selected")
        for name, button in self.lecture.presets.items():
            button.on_click(lambda _button, name=name: self.apply_preset(name))
        self.lecture.bind(self.controls.delta)
        # Play and step move δ, which jammed disks ignore: they are off for the glass.
        self.controls.connection.observe(
            lambda _: self.lecture.enable_play(not self.controls.jammed), "value")
        self.lecture.enable_play(not self.controls.jammed)
        self.lecture.play.observe(  # pausing computes the full request again
            lambda change: change["new"] or self._guarded(self.session.refresh), "playing")
        self.lecture.projector.observe(
            lambda change: self._guarded(lambda: self._projector(change["new"])), "value")
        built = {_TOY_TAB: lambda: self.toy_tab.model, _SWEEP_TAB: lambda: self.sweep_tab.panel}
        self.tabs.observe(  # the toy model and the sweep are built on their tab's first opening
            lambda change: change["new"] in built and self._guarded(built[change["new"]]),
            "selected_index")
        self.lecture.prepare_export.on_click(  # off the kernel's main thread, button disabled
            lambda _: self.lecture.prepare(lambda progress: prepare_shown(self, progress),
                                           background=self._background))

    def _parameters_changed(self, change=None):
        self._update_link()
        if not self.controls.showing:
            self._guarded(lambda: self.session.update(**vars(self.controls.parameters)))

    def _guarded(self, action):
        try:
            action()
        except Exception as error:  # shown on the page and logged, never raised into it
            self.session.show_error(error)

    def _select_bars(self, change):
        # Under the session's lock: a click must not interleave with the worker
        # redrawing the histogram, which sets the bars itself with the flag raised.
        with self.session.lock:
            if self._syncing_selection:
                return
            indices = [] if change["new"] is None else list(change["new"])
            z = self.coordination_panel.z
            self._guarded(lambda: self.session.select(z[i] for i in indices if 0 <= i < len(z)))
            with hold(self.network_panel):
                self._highlight()

    def _projector(self, on):
        with self.session.lock:
            for panel in (self.network_panel, self.dos_panel, self.coordination_panel):
                with hold(panel):
                    panel.set_projector(on)
            self.toy_tab.set_projector(on)
            self.sweep_tab.set_projector(on)
        (self.add_class if on else self.remove_class)("bp-projector")
        self._update_link()

    def _update_link(self):
        self.lecture.show_link(self.link)

    # -- drawing: session -> marks (the Listener methods, under the session's lock) -------

    def parameters_changed(self, parameters):
        self.controls.show(parameters)  # the session asked for these: no request per control
        self._update_link()

    def snapshot_changed(self, snapshot, previous):
        new_networks = previous is None or previous.networks is not snapshot.networks
        # Jammed disks' later stages add packings to the same first one: drawn once.
        new_drawn = previous is None or previous.network is not snapshot.network
        if new_networks or previous.dos is not snapshot.dos:
            with hold(self.dos_panel):
                self.dos_panel.show_dos(snapshot.dos, snapshot.peak, len(snapshot.dos.seeds))
        if new_drawn:
            self.view = network_view(snapshot.network)
        if new_networks:
            self._draw_histograms()
        with hold(self.network_panel) as network:
            if new_drawn:
                network.show_network(self.view, snapshot.network.coordination)
                self._highlight()
            network.show_weights(snapshot.weights, snapshot.request.window)
        self.summary.value = (f'<div class="bp-summary-text" role="status" aria-live="polite">'
                              f"{html.escape(snapshot_summary(snapshot))}</div>")
        self.lecture.downloads.value = ""

    def pins_changed(self, pins):
        with hold(self.dos_panel):
            self.dos_panel.show_pins([(pin.label, pin.omega, pin.mean) for pin in pins])
        self.controls.show_pins(len(pins))
        if self.snapshot is not None:
            self._draw_histograms()

    def status_changed(self, status):
        self.status.value = status_html(status.text, status.kind, "bp-status",
                                        generation=status.generation)

    def _draw_histograms(self):
        self._syncing_selection = True  # the bars set here are not a user's click
        try:
            with hold(self.coordination_panel) as panel:
                panel.show_result(self.snapshot, self.pins, self.session.selected_z)
        finally:
            self._syncing_selection = False

    def _highlight(self):
        """Fade the drawn nodes whose coordination is not among the selected bars."""
        chosen = None if not self.session.selected_z else self.session.selected_nodes()
        self.network_panel.highlight(chosen)
