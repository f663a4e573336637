"""The dashboard's sweep tab: the Boson peak against δ for both rules and both spring laws.

:class:`SweepPanel` draws the peak's height above the Debye level (in %), or its
position ω, against δ: one line with points per family (nearest or cutoff
springs, 1/r or constant stiffness) and the error bars over the seeds. "Run
sweep" calls :func:`bpwidgets.sweep.sweep` once per point, off the kernel's
thread, so the plot fills in as the points arrive; each call reads the result
store first, so what the dashboard or ``python -m bpwidgets.warm`` stored (the
slider's δ and this tab's) is read, not computed. Size and seeds are the
dashboard's current ones, and the
moments and random vectors are the dashboard's too, so both read the same
entries of the store.

A page never starts a cluster of its own: the points are computed on the
scheduler named by ``BPWIDGETS_SCHEDULER`` when one is named, else in this
kernel (``client=False``). On a scheduler, the panel opens one client when it
first sweeps and gives it to every point of every run, so a page holds one
connection, not one per point; it is closed with the panel (the tab, the
dashboard). :mod:`bpwidgets.sweep`, and with it Dask and xarray, is imported
when a sweep first runs, not with the page. :class:`SweepTab` is
the dashboard's tab, which builds the panel the first time it is asked for.
"""

from __future__ import annotations

import os
import threading

import numpy as np
from bqplot import Axis, Figure, LinearScale, Lines
from ipywidgets import HTML, Button, HBox, Layout, ToggleButtons, VBox

from ..core.network import CONNECTIONS, SPRINGS
from ..session.worker import LatestWorker
from .panelbase import LazyTab, Projectable, legend_item, line_sample
from .style import FIGURE_OPTIONS, held, status_html

__all__ = ["DEFAULT_DELTAS", "FAMILIES", "SweepPanel", "SweepTab", "sweep_client"]

#: δ from 0 to 0.45 in steps of 0.025 (19 values), rounded as the dashboard rounds them.
DEFAULT_DELTAS = tuple(round(0.025 * k, 10) for k in range(19))
#: The curves: (connection rule, spring law), each drawn as one line with points.
FAMILIES = tuple((connection, spring) for connection in CONNECTIONS for spring in SPRINGS)
#: Colour per spring law, dash per connection rule (Okabe-Ito colours).
_SPRING_COLORS = {"inverse": "#0072B2", "constant": "#D55E00"}
_CONNECTION_STYLES = {"nearest": "solid", "cutoff": "dashed"}
_SPRING_NAMES = {"inverse": "1/r springs", "constant": "constant springs"}
#: What the plot shows: the dataset's variable, the axis label, the factor to the axis' unit.
_QUANTITIES = {
    "excess": ("peak_excess", "peak height above Debye (%)", 100.0),
    "omega": ("peak_omega", "peak position ω", 1.0),
}


def sweep_client():
    """What the page passes as :func:`~bpwidgets.sweep.sweep`'s ``client``.

    None (the sweep connects to the scheduler) when ``BPWIDGETS_SCHEDULER``
    names one; False (this kernel, no Dask) when it is unset or forbids a
    cluster (``off``). A page never starts a local cluster. (:class:`SweepPanel`
    connects to that scheduler itself, once, and passes its client instead of
    None.)
    """
    from ..sweep.cluster import _NO_LOCAL_CLUSTER, SCHEDULER_ENVIRONMENT

    setting = os.environ.get(SCHEDULER_ENVIRONMENT, "").strip()
    if not setting or setting.lower() in _NO_LOCAL_CLUSTER:
        return False
    return None


class SweepPanel(VBox, Projectable):
    """The Boson peak against δ, for both connection rules and both spring laws.

    Parameters
    ----------
    parameters : callable
        Returns the dashboard's current :class:`~bpwidgets.session.Parameters`;
        their size and seeds are swept (read when "Run sweep" is pressed).
    deltas : sequence of float, optional
        The δ grid; default :data:`DEFAULT_DELTAS`.
    background : bool
        True (default): the sweep runs on a thread of its own. False: inside
        :meth:`run` (tests, scripts).

    Attributes
    ----------
    curves : dict of bqplot.Lines
        One mark per connection rule, a row per spring law.
    error_bars : bqplot.Lines
        One NaN-gapped path per family: the bars of its points.
    quantity : ipywidgets.ToggleButtons
        ``"excess"`` (height in %) or ``"omega"`` (position).
    run_button, progress, status
    results : dict
        ``peak_excess``, ``peak_excess_error``, ``peak_omega``, ``peak_omega_error``:
        arrays of (family, δ), NaN where there is no peak or no result yet.
    counts : dict
        ``done``, ``failed``, ``total`` points, ``computed`` and ``from_store`` tasks.
    """

    def __init__(self, parameters, *, deltas=DEFAULT_DELTAS, background=True):
        self._parameters = parameters
        self.deltas = tuple(float(d) for d in deltas)
        self._worker = LatestWorker(background=background, on_failure=self._failed)
        self._running = False
        # The shared scheduler's client: opened on the worker thread by the first sweep
        # that needs it, closed (on the kernel's thread) by close().
        self._client_lock = threading.Lock()
        self._client = self._client_address = None
        self._closed = False
        self._build_figure()
        self.quantity = ToggleButtons(options=[("height", "excess"), ("position ω", "omega")],
                                      value="excess", description="Peak",
                                      style={"button_width": "auto"})
        self.run_button = Button(description="Run sweep", button_style="primary",
                                 icon="play", tooltip="Compute (or read from the store) every "
                                 "point of the plot")
        self.progress = HTML()
        self.status = HTML()
        self.legend = HTML(
            '<div class="bp-legend">'
            + " ".join(legend_item(line_sample(_SPRING_COLORS[s], 2, _CONNECTION_STYLES[c]),
                                   f"{c} {_SPRING_NAMES[s]}") for c, s in FAMILIES)
            + "</div>")
        self.caption = HTML(
            '<div class="bp-legend bp-caption">Size and seeds are those of the Spring networks '
            "tab; error bars are the error over the seeds. A gap: no Boson peak found there."
            "</div>")
        self.quantity.observe(lambda _: self._redraw(), "value")
        self.run_button.on_click(lambda _: self.run())
        actions = HBox([self.run_button, self.quantity, self.progress])
        actions.add_class("bp-sweep-controls")
        super().__init__([self.figure, self.legend, actions, self.caption, self.status])
        self.add_class("bp-sweep-panel")
        self._remember_styles(self._projector_changes(self.figure))
        self._reset()
        self._redraw()
        self._set_status("Press “Run sweep”: stored points are read, the others computed "
                         f"{self._where()}.", "ready")

    def _build_figure(self):
        top = max(self.deltas) if self.deltas else 0.45
        self.delta_scale = LinearScale(min=0.0, max=float(top) + 0.01)
        self.value_scale = LinearScale(min=0.0)
        scales = {"x": self.delta_scale, "y": self.value_scale}
        self.curves = {
            connection: Lines(x=[], y=[], scales=scales, stroke_width=2, marker="circle",
                              marker_size=24, line_style=_CONNECTION_STYLES[connection],
                              colors=[_SPRING_COLORS[s] for s in SPRINGS])
            for connection in CONNECTIONS
        }
        self.error_bars = Lines(x=[], y=[], scales=scales, stroke_width=1,
                                colors=[_SPRING_COLORS[s] for _, s in FAMILIES])
        self.value_axis = Axis(scale=self.value_scale, side="left",
                               label=_QUANTITIES["excess"][1], label_offset="5ex")
        self.figure = Figure(
            marks=[self.error_bars, *self.curves.values()],
            axes=[Axis(scale=self.delta_scale, label="δ"), self.value_axis],
            title="The Boson peak against δ",
            fig_margin=dict(top=40, bottom=45, left=65, right=20),
            layout=Layout(width="100%", max_width="900px", height="420px"),
            **FIGURE_OPTIONS,
        )
        self.figure.add_class("bp-sweep-figure")

    # -- running ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether a sweep is under way (the button is disabled meanwhile)."""
        return self._running

    def run(self):
        """Sweep every point, off the kernel's thread; does nothing while one runs."""
        if self._running:
            return
        try:
            parameters = self._parameters()
            size, seeds = int(parameters.size), tuple(parameters.seeds)
        except Exception as error:
            self._set_status(f"Cannot read the dashboard's parameters ({error}).", "error")
            return
        self._running = True
        self.run_button.disabled = True
        self._reset()
        self._redraw()
        self._set_status(f"Sweeping L = {size}, {len(seeds)} seeds {self._where()} …", "busy")
        self._worker.submit(lambda: self._points(size, seeds), self._deliver)

    def wait(self, timeout=None) -> bool:
        """Block until the sweep under way has finished; False on timeout."""
        return self._worker.wait(timeout)

    def close(self):
        """Stop the sweep's thread after the point under way, close its client and the widgets."""
        if getattr(self, "_worker", None) is not None:
            self._worker.close()
        if getattr(self, "_client_lock", None) is not None:
            with self._client_lock:
                self._closed = True
                client, self._client = self._client, None
            if client is not None:
                client.close()
        super().close()

    def _connection(self):
        """``client`` of every point: False (this kernel), or the scheduler's one client.

        The client is opened on first use and kept for every later point and
        run; a new address in ``BPWIDGETS_SCHEDULER``, or a client Dask has
        closed (a lost scheduler), is replaced.
        """
        if sweep_client() is False:
            return False
        from distributed import Client

        from ..sweep.cluster import SCHEDULER_ENVIRONMENT

        address = os.environ[SCHEDULER_ENVIRONMENT].strip()
        with self._client_lock:
            if self._closed:
                raise RuntimeError("the sweep panel is closed")
            if self._client is not None and (address != self._client_address
                                             or self._client.status == "closed"):
                self._client.close()
                self._client = None
            if self._client is None:
                self._client = Client(address, set_as_default=False)
                self._client_address = address
            return self._client

    def _points(self, size, seeds):
        """Each point's dataset (or its error), one after the other; then ``None``: done."""
        from ..sweep import sweep

        for k, delta in enumerate(self.deltas):
            for family, (connection, spring) in enumerate(FAMILIES):
                try:
                    data = sweep(delta=delta, size=size, connection=connection, spring=spring,
                                 seeds=list(seeds), client=self._connection(), progress=False)
                except Exception as error:  # shown on the status line; the others go on
                    yield family, k, error
                    continue
                yield family, k, data
        yield None

    def _deliver(self, outcome):
        """One point into the arrays and the marks; the end, or an error, on the status line."""
        if outcome is None:
            self._finish()
        elif isinstance(outcome, BaseException):  # the sweep itself failed
            self._finish(f"The sweep stopped: {type(outcome).__name__}: {outcome}")
        else:
            family, k, data = outcome
            self._add_point(family, k, data)

    def _failed(self, error):
        self._finish(f"The sweep stopped: {type(error).__name__}: {error}")

    def _add_point(self, family, k, data):
        counts = self.counts
        label = f"δ = {self.deltas[k]:g}, {' '.join(FAMILIES[family])}"
        if isinstance(data, BaseException):
            counts["failed"] += 1
            self._error = f"{label}: {type(data).__name__}: {data}"
        else:
            counts["computed"] += int(data.attrs.get("computed", 0))
            counts["from_store"] += int(data.attrs.get("from_store", 0))
            if bool(data.complete) and not data.attrs.get("failed"):
                counts["done"] += 1
                for name in self.results:
                    self.results[name][family, k] = float(data[name])  # NaN: no peak
            else:
                counts["failed"] += 1
                from ..sweep import failures

                listed = failures(data)
                reason = listed[0]["error"] if listed else "a seed did not come back"
                self._error = f"{label}: {reason}"
        self._redraw()
        if self._error is not None:
            self._set_status(f"Failed at {self._error}", "error")

    def _finish(self, message=None):
        self._running = False
        self.run_button.disabled = False
        counts = self.counts
        if message is not None:
            self._set_status(message, "error")
            return
        gaps = int(np.isnan(self.results["peak_excess"]).sum()) - counts["failed"]
        text = (f"Done: {counts['done']} points ({counts['from_store']} networks read from the "
                f"store, {counts['computed']} computed); {gaps} without a Boson peak.")
        if counts["failed"]:
            self._set_status(f"{text} {counts['failed']} failed; the last: {self._error}",
                             "error")
        else:
            self._set_status(text, "ready")

    def _reset(self):
        shape = (len(FAMILIES), len(self.deltas))
        self.results = {name: np.full(shape, np.nan) for name in (
            "peak_excess", "peak_excess_error", "peak_omega", "peak_omega_error")}
        self.counts = dict(done=0, failed=0, total=shape[0] * shape[1], computed=0,
                           from_store=0)
        self._error = None

    def _where(self) -> str:
        return "in this kernel" if sweep_client() is False else "on the shared scheduler"

    # -- drawing ------------------------------------------------------------------------------

    def _redraw(self):
        """Reassign every mark's data (one message per widget) and the progress line."""
        name, label, factor = _QUANTITIES[self.quantity.value]
        values = factor * self.results[name]
        errors = factor * self.results[f"{name}_error"]
        x = np.asarray(self.deltas, dtype=float)
        marks = [self.error_bars, *self.curves.values()]
        with held([self.figure, *marks, self.delta_scale, self.value_scale, self.value_axis,
                   self.progress]):
            for connection, mark in self.curves.items():
                rows = [f for f, (c, _) in enumerate(FAMILIES) if c == connection]
                mark.x, mark.y = x, values[rows]
            self.error_bars.x, self.error_bars.y = _error_paths(x, values, errors)
            self.value_axis.label = label
            counts = self.counts
            self.progress.value = (f'<span class="bp-sweep-progress" role="status">'
                                   f"{counts['done'] + counts['failed']} of {counts['total']} "
                                   f"points, {counts['failed']} failed</span>")

    def _set_status(self, text, kind):
        self.status.value = status_html(text, kind, "bp-sweep-status")


class SweepTab(LazyTab):
    """The dashboard's sweep tab: empty until the panel is first asked for.

    Parameters are those of :class:`SweepPanel`.

    Examples
    --------
    >>> from bpwidgets.session import Parameters
    >>> tab = SweepTab(lambda: Parameters(size=10, n_seeds=2), background=False)
    >>> tab.built, len(tab.children)
    (False, 0)
    >>> tab.panel.counts["total"], tab.built
    (76, True)
    """

    def __init__(self, parameters, *, background=True, deltas=DEFAULT_DELTAS):
        super().__init__(lambda: SweepPanel(parameters, background=background, deltas=deltas),
                         "bp-sweep-tab")

    panel = property(lambda self: self.content, doc="The sweep panel, built on first access.")


def _error_paths(x, values, errors):
    """Each family's error bars as one NaN-gapped path: ``(x, y)`` of shape (family, 3 δ)."""
    n = x.size
    xs = np.tile(np.column_stack([x, x, np.full(n, np.nan)]).ravel(), (values.shape[0], 1))
    ys = np.stack([values - errors, values + errors, np.full(values.shape, np.nan)],
                  axis=-1).reshape(values.shape[0], 3 * n)
    return xs, ys
