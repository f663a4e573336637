"""The session layer without widgets: the staged pipeline, the schema, the Session."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest

from bpwidgets import boson_peak, boson_peak_of, build_network, reduced_dos_of
from bpwidgets.core.analysis import DOS_MOMENTS, FINITE_SIZE_MODES, lowest_frequency
from bpwidgets.core.kpm import default_vectors
from bpwidgets.core.parallel import cores
from bpwidgets.core.paper import PAPER_DELTAS
from bpwidgets.session import Listener, Session
from bpwidgets.session import pipeline as pipeline_module
from bpwidgets.session import session as session_module
from bpwidgets.session.pipeline import Request, compute, compute_stages, preview_seeds
from bpwidgets.session.presets import PRESETS
from bpwidgets.session.schema import Parameters


def test_stages_preview_the_first_seeds_then_average_all():
    n_seeds = cores() + 1  # more seeds than the preview takes
    request = Request(Parameters(size=20, delta=0.2, n_seeds=n_seeds))
    preview, final = list(compute_stages(request))
    assert not preview.complete and final.complete
    assert preview.dos.seeds == tuple(range(preview_seeds(n_seeds)))
    assert final.dos.seeds == tuple(range(n_seeds))
    assert preview.network is final.network
    np.testing.assert_array_equal(preview.fractions, final.fractions)
    # Only the brushed window changed: one stage, networks and DOS reused.
    (brushed,) = compute_stages(Request(request.parameters, (0.2, 0.6)), final)
    assert brushed.dos is final.dos and brushed.weights is not None


def test_with_a_window_brushed_the_preview_already_colours_by_mode_weights():
    request = Request(Parameters(size=20, delta=0.2, n_seeds=cores() + 1), (0.3, 0.7))
    preview, final = list(compute_stages(request))
    assert not preview.complete and final.complete
    assert preview.weights is not None and preview.local is final.local
    np.testing.assert_array_equal(preview.weights, final.weights)


def test_staged_average_equals_computing_all_seeds_at_once():
    # The preview's seeds are not computed twice: the part with the narrower bound has its
    # moments converted to the wider one and the parts are joined. That must give what
    # one call on all the networks with that bound gives (the same random vectors).
    parameters = Parameters(size=24, delta=0.3, n_seeds=cores() + 2)
    preview, final = list(compute_stages(Request(parameters)))
    networks = [build_network(24, 0.3, seed=s, **parameters.model()) for s in parameters.seeds]
    vectors = default_vectors(networks[0].n_nodes * len(networks))
    first = preview_seeds(parameters.n_seeds)
    alone = reduced_dos_of(networks[:first], moments=DOS_MOMENTS, vectors=vectors)
    np.testing.assert_array_equal(preview.dos.per_seed, alone.per_seed)
    whole = reduced_dos_of(networks, moments=DOS_MOMENTS, vectors=vectors,
                           scale=final.dos.scale)
    assert final.dos.scale >= alone.scale
    assert final.dos.seeds == whole.seeds
    # Single-precision recursion: rows agree to rounding, not bit for bit.
    np.testing.assert_allclose(final.dos.moments, whole.moments, atol=1e-5)
    np.testing.assert_allclose(final.dos.per_seed, whole.per_seed, atol=1e-4)
    np.testing.assert_allclose(final.dos.debye_levels, whole.debye_levels, rtol=1e-5)
    # The random vectors' groups travel through the rescaling and the join too.
    np.testing.assert_allclose(final.dos.spread_moments, whole.spread_moments, atol=1e-5)
    expected = boson_peak(
        final.dos.omega, final.dos.mean, final.dos.debye_level,
        omega_min=FINITE_SIZE_MODES * lowest_frequency(24),
    )
    assert (final.peak is None) == (expected is None)
    if expected is not None:
        assert (final.peak.omega, final.peak.excess) == (expected.omega, expected.excess)
        np.testing.assert_array_equal(final.peak.region_upper, expected.region_upper)
        with_errors = boson_peak_of(final.dos, 24)
        np.testing.assert_array_equal([final.peak.omega_error, final.peak.excess_error],
                                      [with_errors.omega_error, with_errors.excess_error])


# -- the schema -----------------------------------------------------------------------------


def test_parameters_take_their_defaults_and_choices_from_the_schema():
    from bpwidgets import CONNECTIONS, SPRINGS
    from bpwidgets.session.schema import FIELDS, field_of

    assert Parameters() == Parameters(**{f.name: f.default for f in FIELDS})
    # The lattice's rules from the core, then the glass, which the session makes itself.
    assert [c.value for c in field_of("connection").choices] == [*CONNECTIONS, "jammed"]
    assert [s.value for s in field_of("spring").choices] == list(SPRINGS)
    assert Parameters(size=80, delta=0.25).checked() == Parameters(size=80, delta=0.25)
    for bad, name in ((dict(size=85), "size"), (dict(delta=0.7), "delta"),
                      (dict(n_seeds=True), "n_seeds"), (dict(connection="random"), "connection"),
                      (dict(first_seed=-1), "first_seed"), (dict(pressure=0.02), "pressure")):
        with pytest.raises(ValueError, match=name):
            Parameters(**bad).checked()


# -- the session, driven without widgets ------------------------------------------------------


class Recorder(Listener):
    """A listener that keeps what it was told."""

    def __init__(self):
        self.snapshots, self.pins, self.statuses = [], [], []

    def snapshot_changed(self, snapshot, previous):
        self.snapshots.append(snapshot)

    def pins_changed(self, pins):
        self.pins.append(pins)

    def status_changed(self, status):
        self.statuses.append(status)


def test_a_session_computes_pins_selects_and_applies_presets_without_widgets():
    recorder = Recorder()
    session = Session(Parameters(size=20, n_seeds=2), listener=recorder, background=False)
    session.start()
    assert session.snapshot.complete and recorder.statuses[-1].kind == "ready"
    session.pin()
    session.update(delta=0.1)
    assert [pin.label for pin in session.pins] == ["δ = 0.30, cutoff, 1/r, L = 20"]
    np.testing.assert_array_equal(session.pins[0].mean, recorder.snapshots[-2].dos.mean)
    session.select([3])
    drawn = session.snapshot.nodes
    np.testing.assert_array_equal(
        drawn[session.selected_nodes()],
        drawn[session.snapshot.network.coordination[drawn] == 3],
    )
    session.apply_preset("Fig. 2 left")
    assert session.snapshot.request.parameters == PRESETS["Fig. 2 left"].parameters
    assert [pin.parameters.delta for pin in session.pins] == list(PAPER_DELTAS)
    session.clear_pins()
    assert session.pins == () and recorder.pins[-1] == ()
    session.close()


def test_a_failure_is_a_message_on_the_page_and_a_traceback_in_the_log(monkeypatch, caplog):
    recorder = Recorder()
    session = Session(Parameters(size=20, n_seeds=1), listener=recorder, background=False)
    session.start()

    def broken(request, previous=None):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(session_module, "compute_stages", broken)
    with caplog.at_level(logging.ERROR, logger="bpwidgets"):
        session.update(delta=0.2)
    status = recorder.statuses[-1]
    assert status.kind == "error" and "RuntimeError: disk on fire" in status.text
    assert "server's log" in status.text and "Traceback" not in status.text
    (record,) = [r for r in caplog.records if "disk on fire" in r.getMessage()
                 or (r.exc_info and "disk on fire" in str(r.exc_info[1]))]
    assert record.exc_info is not None  # the traceback is in the server's log
    # A view that fails to draw shows the failure and is told again on the next result.
    monkeypatch.undo()

    def failing(snapshot, previous):
        raise KeyError("no such mark")

    monkeypatch.setattr(recorder, "snapshot_changed", failing)
    with caplog.at_level(logging.ERROR, logger="bpwidgets"):
        session.update(delta=0.25)
    assert "KeyError" in recorder.statuses[-1].text
    assert any(r.exc_info and isinstance(r.exc_info[1], KeyError) for r in caplog.records)
    monkeypatch.undo()
    session.update(delta=0.3)
    assert recorder.statuses[-1].kind == "ready"
    session.close()


def test_a_brush_after_the_preview_shows_it_again_with_weights_then_the_average():
    """Brushing while the rest of the seeds average: the preview's seeds are not redone."""
    parameters = Parameters(size=24, n_seeds=cores() + 2)
    preview, _ = list(compute_stages(Request(parameters)))
    again, final = list(compute_stages(Request(parameters, (0.3, 0.7)), preview))
    assert not again.complete and final.complete
    assert again.dos is preview.dos and again.weights is not None
    assert final.networks is preview.networks and final.local is again.local
    np.testing.assert_array_equal(final.dos.per_seed[: len(preview.dos.seeds)],
                                  preview.dos.per_seed)
    assert final.dos.seeds == parameters.seeds


def test_a_brush_while_averaging_reuses_the_preview_networks(monkeypatch):
    """A job reads the result it builds on when it runs, not when it was submitted.

    The brush is submitted while the first job is still building its networks (nothing
    is shown yet); by the time it runs, the preview is there and is reused: one build.
    """
    built, building, brushed = [], threading.Event(), threading.Event()
    real = pipeline_module.build_networks

    def slow_build(*args, **kwargs):
        built.append(kwargs["seeds"])
        building.set()
        assert brushed.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline_module, "build_networks", slow_build)
    recorder = Recorder()
    n_seeds = cores() + 2  # a preview, then the rest of the average
    session = Session(Parameters(size=24, n_seeds=n_seeds), listener=recorder)
    session.refresh()
    assert building.wait(30)
    session.brush((0.3, 0.7))
    brushed.set()
    assert session.wait(120)
    session.close()
    assert len(built) == 1
    preview, final = recorder.snapshots[0], session.snapshot
    assert not preview.complete and final.complete
    assert final.request.window == (0.3, 0.7) and final.weights is not None
    assert final.dos.seeds == tuple(range(n_seeds)) and final.networks is preview.networks
