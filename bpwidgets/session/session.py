"""One user's dashboard session in plain Python: state, pins, selection, worker.

A :class:`Session` holds what one page shows and decides what to compute; it
has no widget. A view (the ipywidgets dashboard, a test, a script) changes it
through its methods and is told of every change through a :class:`Listener`.
Results are computed by the latest-wins worker, off the caller's thread, and
delivered to the listener under :attr:`Session.lock`, which every change of
what is shown also takes.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace

import numpy as np

from .pipeline import Progress, Request, Snapshot, compute, compute_stages
from .presets import PRESETS
from .schema import Parameters, pressure_text, short_name
from .visitor import LimitError, VisitorLimits
from .worker import LatestWorker

__all__ = ["Listener", "Pin", "Session", "Status", "parameters_label"]

_log = logging.getLogger("bpwidgets")



@dataclass(frozen=True, eq=False)
class Pin:
    """A pinned reference: a result's label, mean reduced DOS and histogram.

    Attributes
    ----------
    label : str
    parameters : Parameters
    omega, mean : ndarray
        The seed-averaged reduced DOS.
    z, fractions : ndarray
        The pooled coordination histogram.
    mean_error : ndarray or None
        The mean's standard error on ``omega`` (NaN where not estimated).
    """

    label: str
    parameters: Parameters
    omega: np.ndarray
    mean: np.ndarray
    z: np.ndarray
    fractions: np.ndarray
    mean_error: np.ndarray | None = None

    @classmethod
    def of(cls, snapshot: Snapshot) -> "Pin":
        """The pin of a computed result; a glass's label says so, with its pressure.

        Examples
        --------
        >>> session = Session(Parameters(size=10, n_seeds=1, connection="jammed",
        ...                              pressure=0.01), background=False)
        >>> session.start()
        >>> Pin.of(session.snapshot).label
        'glass: jammed disks, p = 1e-2, 1/r, N = 100'
        """
        return cls(
            label=parameters_label(snapshot.request.parameters),
            parameters=snapshot.request.parameters, omega=np.array(snapshot.dos.omega),
            mean=np.array(snapshot.dos.mean),
            z=snapshot.coordination, fractions=snapshot.fractions,
            mean_error=np.array(snapshot.dos.mean_error),
        )


def parameters_label(p: Parameters) -> str:
    """A result's name in the legends: ``"δ = 0.30, cutoff, 1/r, L = 60"``, or the glass's.

    Examples
    --------
    >>> parameters_label(Parameters())
    'δ = 0.30, cutoff, 1/r, L = 60'
    >>> parameters_label(Parameters(connection="jammed", size=20, spring="constant"))
    'glass: jammed disks, p = 1e-3, t = 1, N = 400'
    """
    if p.jammed:
        return (f"glass: jammed disks, p = {pressure_text(p.pressure)}, "
                f"{short_name(p.spring)}, N = {p.n_disks}")
    return f"δ = {p.delta:.2f}, {short_name(p.connection)}, {short_name(p.spring)}, L = {p.size}"


@dataclass(frozen=True)
class Status:
    """The status line: ``kind`` is "ready", "busy" or "error"; ``generation`` counts draws."""

    kind: str
    text: str
    generation: int


class Listener:
    """What a view is told. Every method runs under :attr:`Session.lock`; none may block."""

    def parameters_changed(self, parameters: Parameters) -> None:
        """The parameters asked for changed (a preset, a script): show them."""

    def snapshot_changed(self, snapshot: Snapshot, previous: Snapshot | None) -> None:
        """A new result is to be shown (``previous`` is the one shown before)."""

    def pins_changed(self, pins: tuple) -> None:
        """The pinned references changed."""

    def status_changed(self, status: Status) -> None:
        """The status line changed."""


@dataclass(frozen=True)
class _References:
    """Results to pin, replacing the current pins (a preset's first stage)."""

    snapshots: tuple


class Session:
    """What one page shows, and the work behind it.

    Parameters
    ----------
    parameters : Parameters, optional
        The starting parameters (the defaults otherwise).
    listener : Listener, optional
        Told of every result, pin and status change.
    background : bool
        True: compute on the worker thread, latest request wins. False: compute
        synchronously inside every call (tests, scripts).
    reduce : callable, optional
        ``reduce(parameters) -> parameters`` applied to every request (e.g. a
        smaller grid while a sweep plays); identity by default.
    limits : VisitorLimits, optional
        What a visitor may ask for; default: the server's
        (:meth:`VisitorLimits.from_environ`). Parameters past them raise
        :class:`~bpwidgets.session.visitor.LimitError`; the defaults and a
        preset are brought down to them.

    Attributes
    ----------
    parameters : Parameters
        What the user asked for.
    limits : VisitorLimits
    window : tuple or None
        The brushed omega window.
    snapshot : Snapshot or None
        The latest result delivered (a preview or complete).
    pins : tuple of Pin
    selected_z : tuple of int
        Coordination numbers selected in the histogram.
    status : Status
    lock : threading.RLock
        Held while a result or a change is delivered to the listener.

    Examples
    --------
    >>> session = Session(Parameters(size=20, n_seeds=2), background=False)
    >>> session.start()
    >>> session.status.kind, session.snapshot.network.size
    ('ready', 20)
    >>> session.update(delta=0.1)
    >>> session.snapshot.request.parameters.delta
    0.1
    """

    def __init__(self, parameters: Parameters | None = None, *, listener: Listener | None = None,
                 background: bool = True, reduce=None, limits: VisitorLimits | None = None):
        self.limits = VisitorLimits.from_environ() if limits is None else limits
        self.parameters = (self.limits.hold(Parameters())[0] if parameters is None
                           else self.limits.check(parameters))
        self.window = None
        self.snapshot = None
        self.pins = ()
        self.selected_z = ()
        self.status = Status("ready", "", 0)
        self.lock = threading.RLock()
        self._listener = listener or Listener()
        self._reduce = reduce or (lambda parameters: parameters)
        self._background = background
        self._worker = LatestWorker(on_busy=self._show_busy, background=background,
                                    on_failure=self._show_failure)

    # -- asking for results ----------------------------------------------------------------

    def start(self, parameters: Parameters | None = None):
        """Compute the first result synchronously (a view draws it before it is shown).

        Jammed disks on the worker thread show their first packing at once and
        make the others on the worker: ten packings of a few thousand disks would
        keep the page from showing for a minute.

        Parameters
        ----------
        parameters : Parameters, optional
            Open on these instead (a preheated page given its link's state).

        Raises
        ------
        LimitError
            For parameters past the visitor limits; nothing changes.
        """
        if parameters is not None:
            self._set_parameters(self.limits.check(parameters))
        request = self.request()
        if request.parameters.jammed and self._background:
            shown = self.snapshot
            self._worker.run_now(lambda: _first_snapshot(compute_stages(request)),
                                 self._delivery())
            # The worker makes the other packings only after a preview of this request:
            # a failure (or a complete result from the store) is not computed again.
            if self.snapshot is not shown and self.snapshot.request == request \
                    and not self.snapshot.complete:
                self.refresh()
            return
        self._worker.run_now(lambda: compute_stages(request, self.snapshot), self._delivery())

    def request(self) -> Request:
        """The request the current state makes.

        Its parameters are :meth:`Parameters.relevant`: what the kind of network
        ignores (δ for jammed disks, the pressure for the lattice) is left out.
        """
        return Request(self._reduce(self.parameters).relevant(), self.window)

    def update(self, **changes):
        """Change parameters (``update(delta=0.2)``) and compute the new result.

        A change the kind of network ignores (δ for jammed disks, the pressure
        for the lattice) is kept, for when the kind changes, and computes nothing.

        Raises
        ------
        LimitError
            For a value past the visitor limits; nothing changes.
        """
        before = self.request()
        self._set_parameters(self.limits.check(replace(self.parameters, **changes)))
        if self.request() != before or self.snapshot is None:
            self.refresh()

    def brush(self, window):
        """Colour by the modes in ``window`` = ``(low, high)``, or by Z when None."""
        self.window = window
        self.refresh()

    def refresh(self):
        """Compute the current request; the job reads the latest result when it runs."""
        request = self.request()
        # ``self.snapshot`` is read when the job runs, not now: a result delivered in
        # between (the preview of the average under way) is reused, not rebuilt.
        self._worker.submit(lambda: compute_stages(request, self.snapshot), self._delivery())

    def apply_preset(self, name: str):
        """Take a preset's parameters and pin its references (one computation).

        Under visitor limits the preset's grid and seeds are brought down to them,
        and it pins at most as many references as they allow.
        """
        preset = PRESETS[name]
        parameters, _ = self.limits.hold(preset.parameters)
        pinned = preset.pinned if self.limits.pins is None else preset.pinned[:self.limits.pins]
        preset = replace(preset, parameters=parameters, pinned=pinned)
        self._set_parameters(preset.parameters)
        request = self.request()
        self._worker.submit(lambda: _preset_stages(preset, request), self._delivery())

    def wait(self, timeout=None) -> bool:
        """Block until the latest request is delivered; False on timeout."""
        return self._worker.wait(timeout)

    def close(self):
        """Stop the worker after the job under way."""
        self._worker.close()

    # -- what is shown besides the result ---------------------------------------------------

    def pin(self):
        """Pin the current result as a reference.

        Raises
        ------
        LimitError
            When as many are pinned as the visitor limits allow.
        """
        with self.lock:
            if self.limits.pins_full(len(self.pins)):
                raise LimitError(f"{self.limits.message('pins')}; clear them to pin again.")
            if self.snapshot is not None and self.snapshot.dos is not None:
                self._set_pins(self.pins + (Pin.of(self.snapshot),))

    def clear_pins(self):
        """Remove every pinned reference."""
        with self.lock:
            self._set_pins(())

    def select(self, z_values):
        """Select coordination numbers (the histogram's bars); () selects none."""
        with self.lock:
            self.selected_z = tuple(int(z) for z in z_values)

    def selected_nodes(self) -> np.ndarray:
        """Positions, among the drawn nodes, of those whose Z is selected (all if none is)."""
        snapshot = self.snapshot
        if snapshot is None:
            return np.zeros(0, dtype=int)
        if not self.selected_z:
            return np.arange(len(snapshot.nodes))
        chosen = np.isin(snapshot.network.coordination[snapshot.nodes], self.selected_z)
        return np.flatnonzero(chosen)

    def show_error(self, error: BaseException, *, logged=False):
        """Show ``error`` on the status line; log it with its traceback unless ``logged``.

        A :class:`~bpwidgets.session.visitor.LimitError` is a visitor asking for
        more than the server allows, not a fault: one line in the log, and its own
        sentence on the page.
        """
        if isinstance(error, LimitError):
            if not logged:
                _log.info("bpwidgets: %s", error)
            message = str(error)
        else:
            if not logged:
                _log.error("bpwidgets: %s", error, exc_info=error)
            if isinstance(error, ValueError):
                message = f"Cannot build this network: {error}"
            else:
                message = (f"Something went wrong ({type(error).__name__}: {error}); "
                           "the details are in the server's log")
        with self.lock:
            self._set_status("error", message)

    # -- delivery (on the worker thread) ----------------------------------------------------

    def _delivery(self):
        """The ``deliver`` of one job: :meth:`_deliver`, told which outcome is the job's first."""
        first = True

        def deliver(outcome):
            nonlocal first
            is_first, first = first, False
            self._deliver(outcome, first=is_first)

        return deliver

    def _stale(self, outcome, *, first) -> bool:
        """Whether ``outcome`` is news of a request no longer asked for; call under the lock.

        Progress of such a request is never shown, nor a result other than its job's
        first: that one is shown as the worker delivers it (during a slider drag it
        is newer than what the page shows).
        """
        if not isinstance(outcome, (Progress, Snapshot)) or outcome.request == self.request():
            return False
        return isinstance(outcome, Progress) or not first

    def _deliver(self, outcome, *, first=True):
        """Show a result, new pins or an error. Never raises: errors become messages.

        ``first``: whether ``outcome`` is the first its job delivers (see :meth:`_stale`).
        """
        try:
            if isinstance(outcome, BaseException):
                self.show_error(outcome, logged=True)  # the worker logged it
            elif isinstance(outcome, _References):
                with self.lock:
                    self._set_pins(tuple(Pin.of(s) for s in outcome.snapshots))
            elif isinstance(outcome, Progress):
                with self.lock:
                    if self._stale(outcome, first=first):
                        return
                    shown = self.snapshot
                    text = outcome.text
                    if (shown is not None and not shown.complete
                            and shown.request.parameters == self.request().parameters):
                        text += f" (the DOS shows the first {len(shown.dos.seeds)})"
                    self._set_status("busy", text, drawn=False)
            else:
                with self.lock:
                    if self._stale(outcome, first=first):
                        return
                    previous, self.snapshot = self.snapshot, outcome
                    self._listener.snapshot_changed(outcome, previous)
                    self._set_status("ready" if outcome.complete else "busy",
                                     self.describe(outcome))
        except Exception as error:  # a drawing bug must not kill the worker or reach the page
            self.show_error(error)

    def describe(self, snapshot: Snapshot) -> str:
        """The status line's sentence for a result."""
        p = snapshot.request.parameters
        if not snapshot.complete:
            what = "packings of jammed disks" if p.jammed else "networks"
            return (f"Averaging {p.n_seeds} {what} … "
                    f"(the DOS shows the first {len(snapshot.dos.seeds)})")
        seeds = snapshot.dos.seeds
        if p.jammed:
            text = (f"N = {p.n_disks} jammed disks, p = {pressure_text(p.pressure)}, "
                    f"{short_name(p.spring)}, seeds {seeds[0]}–{seeds[-1]}; "
                    f"mean Z = {snapshot.mean_coordination:.2f} (without the rattlers)")
        else:
            text = (
                f"L = {p.size}, δ = {p.delta:.2f}, {short_name(p.connection)}, "
                f"{short_name(p.spring)}, seeds {seeds[0]}–{seeds[-1]}; "
                f"mean Z = {snapshot.mean_coordination:.2f}"
            )
        if snapshot.weights is not None:
            low, high = snapshot.request.window
            text += f"; nodes coloured by their share of the modes with {low:.2f} ≤ ω ≤ {high:.2f}"
        return text

    def _set_parameters(self, parameters):
        with self.lock:
            if parameters != self.parameters:
                self.parameters = parameters
                self._listener.parameters_changed(parameters)

    def _set_pins(self, pins):
        self.pins = tuple(pins)
        self._listener.pins_changed(self.pins)

    def _set_status(self, kind, text, *, drawn=True):
        # The generation counts results and errors drawn; "computing" is neither.
        self.status = Status(kind, text, self.status.generation + drawn)
        self._listener.status_changed(self.status)

    def _show_busy(self):
        with self.lock:
            self._set_status("busy", "Computing …", drawn=False)

    def _show_failure(self, error):
        """Last resort when delivering failed twice: the status line alone, no drawing."""
        with self.lock:
            self._set_status("error", f"Something went wrong ({type(error).__name__}); "
                                      "see the server's log")


def _first_snapshot(stages):
    """The stages up to the first result (its progress included); the rest are not made."""
    for stage in stages:
        yield stage
        if isinstance(stage, Snapshot):
            stages.close()
            return


def _preset_stages(preset, request):
    """A preset's work: its pinned references, then the live request's stages."""
    references = tuple(compute(Request(p)) for p in preset.pinned_parameters())
    yield _References(references)
    same = [s for s in references if s.request.parameters == request.parameters]
    yield from compute_stages(request, same[0] if same else None)
