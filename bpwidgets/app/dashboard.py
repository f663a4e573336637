"""The dashboard: controls, three linked panels, pins, and a worker thread.

Data flows one way: controls -> :class:`~bpwidgets.app.state.Request` ->
worker (:func:`~bpwidgets.app.state.compute_stages`) -> :class:`Snapshot` -> marks.
Every callback here either submits a request or reassigns data on existing
marks inside ``hold_sync``; figures are built once. The lecture tools
(:mod:`~bpwidgets.app.lecture`: presets, play, projector mode, export, the
shareable link) are wired here too, so all wiring is in one place.
"""

from __future__ import annotations

import html
import threading
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
from ipywidgets import (
    HTML,
    BoundedIntText,
    Button,
    FloatSlider,
    HBox,
    IntSlider,
    Layout,
    Tab,
    ToggleButtons,
    VBox,
)

from .export import download_links, export_files
from .lecture import PLAY_DELTA_MAX, PLAY_MAX_SEEDS, PLAY_MAX_SIZE, PLAY_STEP, LectureTools
from .panels import CoordinationPanel, DOSPanel, NetworkPanel, hold
from .plotdata import result_summary
from .presets import PRESETS
from .share import page_link, page_url, parse_query, request_query, state_query
from .state import LatestWorker, Parameters, Request, compute, compute_stages
from .toy_panel import ToyModel

__all__ = ["Controls", "Dashboard"]

#: Grid sizes offered by the slider; the paper uses 60.
SIZE_RANGE = (10, 300)
#: Largest grid on which the delta slider reports values while being dragged.
#: Above it a computation takes longer than a drag step, so only the release counts.
CONTINUOUS_MAX_SIZE = 100
_CONNECTIONS = (("nearest neighbours", "nearest"), ("cutoff a + δ", "cutoff"))
_SPRINGS = (("t = 1/r", "inverse"), ("constant t = 1", "constant"))
#: Look of the status line for each kind of message.
_STATUS_STYLE = {
    "ready": "color:#333",
    "busy": "color:#0072B2;font-weight:bold",
    "error": "color:#D55E00;font-weight:bold;border:1px solid #D55E00;padding:0.3em",
}
#: Short names of the model choices, for labels and the status line.
_SHORT = {"nearest": "nearest", "cutoff": "cutoff", "inverse": "1/r", "constant": "t = 1"}


class Controls(VBox):
    """The model's parameters, labelled in the physics' own words, and the pin buttons.

    Attributes
    ----------
    delta, size, connection, spring, n_seeds, first_seed
        The parameter widgets; their ``value`` make up a :class:`Parameters`.
    new_networks, pin, clear_pins : ipywidgets.Button
    """

    def __init__(self, parameters: Parameters):
        style = {"description_width": "10em"}
        wide = Layout(width="29em")
        self.delta = FloatSlider(
            value=parameters.delta, min=0.0, max=0.5, step=0.01, readout_format=".2f",
            description="displacement δ / a", style=style, layout=wide,
        )
        self.size = IntSlider(
            value=parameters.size, min=SIZE_RANGE[0], max=SIZE_RANGE[1], step=10,
            description="grid size L", continuous_update=False, style=style, layout=wide,
        )
        self.connection = ToggleButtons(
            options=_CONNECTIONS, value=parameters.connection, description="springs",
            tooltips=["lattice neighbours: Z = 4 everywhere",
                      "a spring between every pair closer than a + δ"],
            style={**style, "button_width": "9.5em"},
        )
        self.spring = ToggleButtons(
            options=_SPRINGS, value=parameters.spring, description="spring strength",
            tooltips=["stiffness t = 1/r", "stiffness t = 1 for every spring"],
            style={**style, "button_width": "9.5em"},
        )
        self.n_seeds = IntSlider(
            value=parameters.n_seeds, min=1, max=20, description="random networks",
            continuous_update=False, style=style, layout=wide,
        )
        # Not bounded below: a negative seed is refused by the core, and the page says so.
        self.first_seed = BoundedIntText(
            value=parameters.first_seed, min=-(10**6), max=10**9, description="first seed",
            style=style, layout=Layout(width="16em"),
        )
        self.new_networks = Button(description="new networks", icon="refresh",
                                   tooltip="draw new random networks (next seeds)")
        self.pin = Button(description="pin", icon="thumb-tack",
                          tooltip="keep the current curves and histogram as a reference")
        self.clear_pins = Button(description="clear pins", icon="times")
        super().__init__(
            [
                self.delta, self.size, self.connection, self.spring, self.n_seeds,
                HBox([self.first_seed, self.new_networks]),
                HBox([self.pin, self.clear_pins]),
            ]
        )
        self.add_class("bp-controls")
        # Stable hooks for the browser tests and benchmarks.
        for name in ("delta", "size", "connection", "spring", "n_seeds", "first_seed",
                     "new_networks", "pin", "clear_pins"):
            getattr(self, name).add_class(f"bp-{name.replace('_', '-')}")
        self.size.observe(self._continuous_below_limit, "value")
        self.new_networks.on_click(self._shift_seeds)
        self._continuous_below_limit()

    @property
    def parameters(self) -> Parameters:
        """The parameters the widgets show."""
        return Parameters(
            size=self.size.value, delta=round(self.delta.value, 6),
            connection=self.connection.value, spring=self.spring.value,
            n_seeds=self.n_seeds.value, first_seed=self.first_seed.value,
        )

    def _continuous_below_limit(self, change=None):
        self.delta.continuous_update = self.size.value <= CONTINUOUS_MAX_SIZE

    def _shift_seeds(self, _button):
        self.first_seed.value = self.first_seed.value + self.n_seeds.value


class Dashboard(VBox):
    """Where the Boson peak comes from: a spring network, its reduced DOS and its Z.

    Parameters
    ----------
    size, delta, connection, spring, n_seeds, first_seed
        Initial parameters (see :class:`~bpwidgets.app.state.Parameters`).
    projector : bool
        Start in projector mode (large text, thick lines).
    page : str, optional
        Address of the page, for the shareable link; default: what Voila tells the
        kernel (:func:`~bpwidgets.app.share.page_url`), or a link relative to the page.
    background : bool
        True (default): compute on a worker thread, latest request wins.
        False: compute synchronously inside every callback (tests, scripts).

    Attributes
    ----------
    controls : Controls
    lecture : LectureTools
        Presets, play, projector mode, downloads, the link, notices.
    summary : ipywidgets.HTML
        One-sentence text summary of the result (an ARIA live region).
    network_panel : NetworkPanel
    dos_panel : DOSPanel
    coordination_panel : CoordinationPanel
    status : ipywidgets.HTML
        Plain-language status: the result shown, "computing ...", or an error.
    snapshot : Snapshot or None
        The result the panels show.
    pins : list of dict
        Pinned references: label, omega, mean, z, fractions.

    Examples
    --------
    >>> from bpwidgets.app import Dashboard
    >>> dashboard = Dashboard(size=20, background=False)
    >>> dashboard.snapshot.network.size
    20
    """

    def __init__(self, *, size=60, delta=0.3, connection="cutoff", spring="inverse",
                 n_seeds=10, first_seed=0, projector=False, page=None, background=True):
        parameters = Parameters(size=size, delta=delta, connection=connection, spring=spring,
                                n_seeds=n_seeds, first_seed=first_seed)
        self.controls = Controls(parameters)
        self.lecture = LectureTools()
        self.summary = HTML()
        self.summary.add_class("bp-summary")
        self._page = page_url() if page is None else page
        self._suspended = 0
        self._syncing_play = False
        self.network_panel = NetworkPanel()
        self.dos_panel = DOSPanel()
        self.coordination_panel = CoordinationPanel()
        self.status = HTML()
        self.status.add_class("bp-status")
        self.snapshot = None
        self.pins = []
        self.generation = 0
        self._selected_z = ()
        self._syncing_selection = False
        # Marks are written from the worker thread and from button callbacks.
        self._draw_lock = threading.RLock()
        self._worker = LatestWorker(on_busy=self._show_busy, background=background)

        for widget in (self.controls.delta, self.controls.size, self.controls.connection,
                       self.controls.spring, self.controls.n_seeds, self.controls.first_seed):
            widget.observe(self._request, "value")
        self.controls.pin.on_click(self._pin)
        self.controls.clear_pins.on_click(self._clear_pins)
        self.dos_panel.brush.observe(self._request, "selected")
        self.coordination_panel.bars.observe(self._select_bars, "selected")
        self._wire_lecture()

        left = VBox([self.controls, self.status, self.summary, self.lecture],
                    layout=Layout(width="30em", flex="0 0 auto"))
        middle = VBox([self.dos_panel, self.coordination_panel], layout=Layout(flex="0 0 auto"))
        self.toy_model = ToyModel()
        # Narrower than the three columns (a JupyterLab notebook beside its file
        # browser, a small screen), the panels wrap onto the next line instead of
        # being squeezed over each other.
        columns = HBox([left, middle, self.network_panel], layout=Layout(flex_flow="row wrap"))
        self.tabs = Tab(
            children=[columns, self.toy_model],
            titles=("Spring networks", "Toy model: 9 nodes"),
        )
        super().__init__([self.tabs])
        self.add_class("bp-dashboard")
        self._sync_play_to_delta()
        self.lecture.projector.value = bool(projector)
        self._update_link()
        # The first result is drawn before the widget is shown: bqplot lays out legends
        # and labels badly on a first render with empty marks.
        request = Request(self.controls.parameters, None)
        self._worker.run_now(lambda: compute_stages(request), self._deliver)

    # -- requests ---------------------------------------------------------------------------

    @property
    def window(self):
        """The brushed omega window ``(low, high)``, or None."""
        selected = self.dos_panel.brush.selected
        if selected is None or len(selected) != 2:
            return None
        low, high = sorted(float(v) for v in selected)
        return (low, high) if high > low else None

    @classmethod
    def from_query(cls, query=None, **options):
        """The dashboard in the state a URL query asks for (Voila's page request by default).

        Refused values fall back to their defaults and are listed above the lecture
        controls; the page always opens.

        Parameters
        ----------
        query : str, optional
            ``delta=0.25&size=80&connection=cutoff&spring=constant&seeds=10``; default:
            the query of the page that started this kernel (:func:`share.request_query`).
        **options
            Passed to :class:`Dashboard` (e.g. ``background``).

        Examples
        --------
        >>> dashboard = Dashboard.from_query("size=20&seeds=2&delta=oops", background=False)
        >>> dashboard.snapshot.network.size, dashboard.snapshot.network.delta
        (20, 0.3)
        >>> "delta=oops" in dashboard.lecture.notice.value
        True
        """
        if query is None:
            query = request_query()
            options.setdefault("page", page_url())
        parameters, projector, messages = parse_query(query)
        dashboard = cls(
            size=parameters.size, delta=parameters.delta, connection=parameters.connection,
            spring=parameters.spring, n_seeds=parameters.n_seeds,
            first_seed=parameters.first_seed, projector=projector, **options,
        )
        dashboard.show_notice(messages)
        return dashboard

    def show_notice(self, messages):
        """List messages (e.g. refused URL values) above the lecture controls; [] clears."""
        items = "".join(f"<li>{html.escape(m)}</li>" for m in messages)
        self.lecture.notice.value = (
            f'<div role="alert" class="bp-notice-text" style="{_STATUS_STYLE["error"]}">'
            f'The link had values the dashboard cannot use:<ul style="margin:0.2em 0">{items}</ul>'
            "</div>" if messages else ""
        )

    def _request_parameters(self) -> Parameters:
        """The controls' parameters, reduced to an interactive size while playing."""
        parameters = self.controls.parameters
        if self.lecture.play.playing:
            parameters = replace(parameters, size=min(parameters.size, PLAY_MAX_SIZE),
                                 n_seeds=min(parameters.n_seeds, PLAY_MAX_SEEDS))
        return parameters

    def _request(self, change=None):
        self._update_link()
        if self._suspended:
            return
        request = Request(self._request_parameters(), self.window)
        previous = self.snapshot
        self._worker.submit(lambda: compute_stages(request, previous), self._deliver)

    @contextmanager
    def _requests_suspended(self):
        """Set several controls at once without a request per control."""
        self._suspended += 1
        try:
            yield
        finally:
            self._suspended -= 1

    def wait(self, timeout=None) -> bool:
        """Block until the latest request is drawn (or its error shown); False on timeout."""
        return self._worker.wait(timeout)

    def close(self):
        """Stop the worker thread and close the widgets."""
        # Widget.__del__ calls close(), possibly on a half-built instance.
        worker = getattr(self, "_worker", None)
        if worker is not None:
            worker.close()
        super().close()

    # -- drawing ---------------------------------------------------------------------------

    def _deliver(self, outcome):
        """Draw a snapshot or show the error; runs on the worker thread, never raises."""
        try:
            if isinstance(outcome, Exception):
                self._show_error(outcome)
            elif isinstance(outcome, _References):
                with self._draw_lock:
                    self.pins = [_pin_entry(snapshot) for snapshot in outcome.snapshots]
                    self._draw_pins()
            else:
                self._draw(outcome)
        except Exception as error:  # a drawing bug must not kill the worker or reach the page
            self._show_error(error)

    def _draw(self, snapshot):
        with self._draw_lock:
            previous = self.snapshot
            new_networks = (
                previous is None or previous.request.parameters != snapshot.request.parameters
            )
            self.snapshot = snapshot
            if new_networks or previous.dos is not snapshot.dos:
                with hold(self.dos_panel):
                    self.dos_panel.show_dos(snapshot.dos, snapshot.peak, len(snapshot.dos.seeds))
            if new_networks:
                self._draw_histograms()
            with hold(self.network_panel) as network:
                if new_networks:
                    network.show_network(snapshot.view, snapshot.network.coordination)
                    self._highlight()
                network.show_weights(
                    snapshot.weights,
                    snapshot.request.window,
                )
            self.generation += 1
            self._write_summary(snapshot)
            if self.lecture.downloads.value:
                self.lecture.downloads.value = ""
            if snapshot.complete:
                self._set_status(self._summary(snapshot), kind="ready")
            else:
                n_seeds = snapshot.request.parameters.n_seeds
                shown = len(snapshot.dos.seeds)
                self._set_status(
                    f"Averaging {n_seeds} networks … (the DOS shows the first {shown})",
                    kind="busy",
                )

    def _draw_histograms(self):
        snapshot = self.snapshot
        panel = self.coordination_panel
        self._syncing_selection = True
        try:
            with hold(panel):
                panel.show_histograms(
                    (snapshot.coordination, snapshot.fractions), snapshot.mean_coordination,
                    [(pin["label"], pin["z"], pin["fractions"]) for pin in self.pins],
                )
                selected = np.flatnonzero(np.isin(panel.z, self._selected_z))
                panel.bars.selected = selected if selected.size else None
        finally:
            self._syncing_selection = False

    def _summary(self, snapshot) -> str:
        p = snapshot.request.parameters
        seeds = snapshot.dos.seeds
        text = (
            f"L = {p.size}, δ = {p.delta:.2f}, {_SHORT[p.connection]}, {_SHORT[p.spring]}, "
            f"seeds {seeds[0]}–{seeds[-1]}; mean Z = {snapshot.mean_coordination:.2f}"
        )
        if snapshot.weights is not None:
            low, high = snapshot.request.window
            text += (
                f"; nodes coloured by their share of the modes with {low:.2f} ≤ ω ≤ {high:.2f}"
            )
        return text

    def _set_status(self, text, *, kind):
        self.status.value = (
            f'<div class="bp-status-{kind}" data-generation="{self.generation}" '
            f'style="{_STATUS_STYLE[kind]}">{html.escape(text)}</div>'
        )

    def _show_busy(self):
        self._set_status("Computing …", kind="busy")

    def _show_error(self, error):
        if isinstance(error, ValueError):
            message = f"Cannot build this network: {error}"
        else:
            message = f"Something went wrong ({type(error).__name__}: {error})"
        with self._draw_lock:
            self.generation += 1
            self._set_status(message, kind="error")

    # -- linking and pins ------------------------------------------------------------------

    def _select_bars(self, change):
        # Under the (reentrant) draw lock: a click must not interleave with the worker
        # redrawing the histogram, which sets the bars itself with the flag raised.
        with self._draw_lock:
            if self._syncing_selection:
                return
            try:
                indices = [] if change["new"] is None else list(change["new"])
                z = self.coordination_panel.z
                self._selected_z = tuple(int(z[i]) for i in indices if 0 <= i < len(z))
                with hold(self.network_panel):
                    self._highlight()
            except Exception as error:
                self._show_error(error)

    def _highlight(self):
        """Fade the drawn nodes whose coordination is not among the selected bars."""
        if self.snapshot is None or not self._selected_z:
            self.network_panel.highlight(None)
            return
        view = self.snapshot.view
        chosen = np.isin(self.snapshot.network.coordination[view.nodes], self._selected_z)
        self.network_panel.highlight(np.flatnonzero(chosen))

    @property
    def highlighted_nodes(self):
        """Network node indices currently highlighted (all drawn nodes when none is)."""
        view = self.snapshot.view
        selected = self.network_panel.nodes.selected
        return view.nodes if selected is None else view.nodes[np.asarray(selected, dtype=int)]

    def _pin(self, _button=None):
        try:
            with self._draw_lock:
                snapshot = self.snapshot
                if snapshot is None:
                    return
                self.pins.append(_pin_entry(snapshot))
                self._draw_pins()
        except Exception as error:
            self._show_error(error)

    def _clear_pins(self, _button=None):
        try:
            with self._draw_lock:
                self.pins.clear()
                self._draw_pins()
        except Exception as error:
            self._show_error(error)

    def _draw_pins(self):
        with hold(self.dos_panel):
            self.dos_panel.show_pins(
                [(pin["label"], pin["omega"], pin["mean"]) for pin in self.pins]
            )
        if self.snapshot is not None:
            self._draw_histograms()

    # -- lecture: presets, play, projector, export, link -----------------------------------

    def _wire_lecture(self):
        lecture = self.lecture
        for name, button in lecture.presets.items():
            button.on_click(lambda _button, name=name: self.apply_preset(name))
        lecture.play.observe(self._play_frame, "value")
        lecture.play.observe(self._play_toggled, "playing")
        lecture.step.on_click(self._step)
        self.controls.delta.observe(self._sync_play_to_delta, "value")
        lecture.projector.observe(lambda change: self.set_projector(change["new"]), "value")
        lecture.prepare_export.on_click(self._prepare_export)

    def apply_preset(self, name):
        """Set every control as the preset says and pin its references (one computation)."""
        preset = PRESETS[name]
        self.lecture.play.playing = False
        p = preset.parameters
        with self._requests_suspended():
            for field in ("size", "connection", "spring", "n_seeds", "first_seed", "delta"):
                getattr(self.controls, field).value = getattr(p, field)
        self._update_link()
        request = Request(self.controls.parameters, self.window)
        self._worker.submit(lambda: _preset_stages(preset, request), self._deliver)

    def _play_frame(self, change):
        if self._syncing_play:
            return
        self.controls.delta.value = round(change["new"] * PLAY_STEP, 6)

    def _play_toggled(self, change):
        if not change["new"]:
            self._request()  # the full size and all networks again

    def _sync_play_to_delta(self, change=None):
        """Keep the play frame at the slider's delta, so play starts where the slider is."""
        frame = round(min(self.controls.delta.value, PLAY_DELTA_MAX) / PLAY_STEP)
        self._syncing_play = True
        try:
            self.lecture.play.value = frame
        finally:
            self._syncing_play = False

    def _step(self, _button=None):
        """One frame forward; after the last frame, back to delta = 0."""
        play = self.lecture.play
        play.playing = False
        play.value = play.value + 1 if play.value < play.max else play.min

    def set_projector(self, on: bool):
        """Projector mode: large text, thick lines, high contrast (same palette)."""
        if self.lecture.projector.value != on:
            self.lecture.projector.value = on  # observed: comes back here
            return
        with self._draw_lock:
            for panel in (self.network_panel, self.dos_panel, self.coordination_panel):
                with hold(panel):
                    panel.set_projector(on)
        if on:
            self.add_class("bp-projector")
        else:
            self.remove_class("bp-projector")
        self._update_link()

    @property
    def projector(self) -> bool:
        """True in projector mode."""
        return self.lecture.projector.value

    @property
    def link(self) -> str:
        """URL of the current state (relative to the page when Voila gave no address)."""
        return page_link(state_query(self.controls.parameters, projector=self.projector),
                         self._page)

    def _update_link(self):
        link = self.link
        self.lecture.link.value = link
        self.lecture.link_anchor.value = (
            f'<a class="bp-link-open" href="{html.escape(link)}" target="_blank">'
            "open this view in a new tab</a>"
        )

    def _write_summary(self, snapshot):
        text = result_summary(snapshot.mean_coordination, snapshot.peak)
        if not snapshot.complete:
            shown = len(snapshot.dos.seeds)
            text += f" (first {shown} network{'s' if shown > 1 else ''}; averaging the others)"
        self.summary.value = (
            f'<div class="bp-summary-text" role="status" aria-live="polite">'
            f"{html.escape(text)}</div>"
        )

    def export_files(self, *, figures=True) -> dict:
        """The files the download links offer: ``{name: bytes}`` of what the page shows."""
        with self._draw_lock:
            snapshot, pins = self.snapshot, list(self.pins)
        return export_files(snapshot, pins, projector=self.projector, figures=figures)

    def _prepare_export(self, _button=None):
        downloads = self.lecture.downloads
        try:
            snapshot = self.snapshot
            downloads.value = '<div class="bp-downloads">Preparing the files …</div>'
            try:
                files = self.export_files()
                note = ""
            except ImportError:
                files = self.export_files(figures=False)
                note = " (figures need matplotlib: pip install matplotlib)"
            links = download_links(files).replace("</div>", f"{note}</div>")
            # Check and write under the draw lock: a result drawn in between would
            # otherwise clear the message first and then show links to the old view.
            with self._draw_lock:
                if self.snapshot is not snapshot:
                    links = ('<div class="bp-downloads">The view changed while the '
                             "files were prepared: press again.</div>")
                downloads.value = links
        except Exception as error:
            self._show_error(error)


@dataclass(frozen=True)
class _References:
    """Results to pin, replacing the current pins (a preset's first stage)."""

    snapshots: tuple


def _preset_stages(preset, request):
    """A preset's work: its pinned references, then the live request's stages."""
    references = tuple(compute(Request(p)) for p in preset.pinned_parameters())
    yield _References(references)
    same = [s for s in references if s.request.parameters == request.parameters]
    yield from compute_stages(request, same[0] if same else None)


def _pin_entry(snapshot) -> dict:
    """A pinned reference: label, omega, mean, z, fractions."""
    p = snapshot.request.parameters
    return dict(
        label=f"δ = {p.delta:.2f}, {_SHORT[p.connection]}, {_SHORT[p.spring]}, L = {p.size}",
        omega=np.array(snapshot.dos.omega),
        mean=np.array(snapshot.dos.mean),
        z=snapshot.coordination,
        fractions=snapshot.fractions,
    )
