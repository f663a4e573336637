"""The glass beside the model, below the widgets: schema, links, pipeline, session, views."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import fields

import numpy as np
import pytest

from bpwidgets import boson_peak_of, jammed_packing, reduced_dos_of
from bpwidgets.core.analysis import DOS_MOMENTS
from bpwidgets.core.jamming import PRESSURES
from bpwidgets.core.kpm import default_vectors
from bpwidgets.core.packings import disk_radii
from bpwidgets.session import Listener, Session
from bpwidgets.session import pipeline as pipeline_module
from bpwidgets.session import session as session_module
from bpwidgets.session.pipeline import (
    JAMMED_MAX_DISKS,
    Progress,
    Request,
    Snapshot,
    compute,
    compute_stages,
    drawn_nodes,
)
from bpwidgets.session.schema import FIELDS, Parameters, field_of, markdown_table
from bpwidgets.session.session import Pin
from bpwidgets.session.share import parse_query, state_query
from bpwidgets.views.plotdata import RATTLER_COLOR, network_view, snapshot_summary

#: 400 disks far from jamming: a packing in about 0.4 s, and a cell (side 20) wide enough
#: for a Boson peak above its lowest frequencies.
GLASS = Parameters(size=20, n_seeds=3, connection="jammed", pressure=0.01)


@pytest.fixture(scope="module")
def stages():
    """Every stage of the small glass's request, computed once."""
    return list(compute_stages(Request(GLASS.relevant())))


def _packings(parameters):
    return [jammed_packing(parameters.n_disks, pressure=parameters.pressure, seed=seed)
            for seed in parameters.seeds]


# -- schema and links ---------------------------------------------------------------------


def test_the_pressure_field_is_a_log_grid_with_the_cores_pressures():
    field = field_of("pressure")
    assert field.default == 1e-3 and set(PRESSURES) <= set(field.values)
    assert list(field.values) == sorted(field.values)
    assert field.check(1e-2) == 0.01 and field.check(3e-4) == 3e-4
    for bad in (2e-3, 0.0, -1e-3, float("nan"), "1e-3", True, None):
        with pytest.raises(ValueError, match="pressure must be one of 1e-4, 3e-4, 1e-3"):
            field.check(bad)
    # Appended last: the order of the exported metadata is kept.
    assert [f.name for f in fields(Parameters)][-1] == "pressure"
    assert "| `pressure` | pressure p (ε/d²) | 0.001 | one of 1e-4, 3e-4, 1e-3, 3e-3, 1e-2 |" \
        in markdown_table()
    assert "jammed" in [c.value for c in field_of("connection").choices]
    assert [f.name for f in FIELDS][-1] == "pressure"


def test_what_a_kind_ignores_is_left_out_of_its_requests():
    jammed = Parameters(connection="jammed", delta=0.2, pressure=0.01)
    assert jammed.relevant() == Parameters(connection="jammed", delta=0.0, pressure=0.01)
    assert jammed.relevant() == Parameters(connection="jammed", delta=0.4,
                                           pressure=0.01).relevant()
    lattice = Parameters(connection="cutoff", pressure=0.01)
    assert lattice.relevant() == Parameters(connection="cutoff")


def test_a_glass_link_round_trips_and_bad_pressures_get_a_message():
    parameters, _, messages = parse_query("?connection=jammed&pressure=0.001")
    assert (parameters.connection, parameters.pressure, messages) == ("jammed", 0.001, [])
    query = state_query(Parameters(connection="jammed", pressure=3e-4, size=20))
    assert "connection=jammed" in query and "pressure=0.0003" in query
    assert parse_query(query)[0] == Parameters(connection="jammed", pressure=3e-4, size=20)
    assert "pressure" not in state_query(Parameters())  # the lattice's links are unchanged
    parameters, _, messages = parse_query("connection=jammed&pressure=0.002")
    assert parameters.pressure == 1e-3
    assert messages == ["pressure=0.002 is not one of 1e-4, 3e-4, 1e-3, 3e-3, 1e-2: "
                        "using 0.001"]


# -- the pipeline ---------------------------------------------------------------------------


def test_a_glass_request_announces_each_packing_and_previews_the_first(stages):
    progress = [s for s in stages if isinstance(s, Progress)]
    snapshots = [s for s in stages if isinstance(s, Snapshot)]
    assert [(p.index, p.total) for p in progress] == [(1, 3), (2, 3), (3, 3)]
    assert progress[1].text == "Making packing 2 of 3 …"
    assert all(p.request == Request(GLASS.relevant()) for p in progress)
    assert stages.index(snapshots[0]) == 1  # right after the first packing
    preview, final = snapshots
    assert not preview.complete and final.complete
    assert preview.dos.seeds == (0,) and final.dos.seeds == (0, 1, 2)
    assert preview.network is final.network


def test_a_glass_requests_networks_and_dos_are_the_packings(stages):
    final = stages[-1]
    expected = [p.network("inverse") for p in _packings(GLASS)]
    assert len(final.networks) == 3
    for network, packing_network in zip(final.networks, expected):
        for name in ("positions", "bonds", "stiffness", "coordination"):
            np.testing.assert_array_equal(getattr(network, name),
                                          getattr(packing_network, name))
    vectors = default_vectors(400 * 3, networks=3)
    direct = reduced_dos_of(expected, moments=DOS_MOMENTS, vectors=vectors)
    np.testing.assert_allclose(final.dos.mean, direct.mean, rtol=1e-12, atol=1e-15)
    assert final.dos.debye_level == pytest.approx(direct.debye_level, rel=1e-12)
    # The peak is looked for above the box's own lowest frequency, with side sqrt(N) = 20.
    peak = boson_peak_of(final.dos, 20.0)
    assert final.peak is not None and final.peak.omega == peak.omega
    assert final.peak.excess == peak.excess


def test_the_glass_histogram_counts_the_disks_that_are_not_rattlers(stages):
    final = stages[-1]
    packings = _packings(GLASS)
    held = np.concatenate([p.contact_numbers[p.backbone] for p in packings])
    z, counts = np.unique(held, return_counts=True)
    np.testing.assert_array_equal(final.coordination, z)
    np.testing.assert_allclose(final.fractions, counts / counts.sum())
    assert final.mean_coordination == pytest.approx(held.mean())
    assert 0 not in final.coordination
    rattlers = sum(len(p.rattlers) for p in packings)
    assert final.rattler_fraction == pytest.approx(rattlers / 1200)


def test_the_store_gives_the_same_glass_snapshot_without_making_packings(tmp_path,
                                                                         monkeypatch):
    monkeypatch.setenv("BPWIDGETS_STORE", str(tmp_path))
    request = Request(GLASS.relevant())
    computed = compute(request)
    made = []
    original = pipeline_module.contact_networks
    monkeypatch.setattr(pipeline_module, "contact_networks",
                        lambda *a, **k: made.append(k["seeds"]) or original(*a, **k))
    import bpwidgets.core.packings as packings_module

    def refuse(*args, **kwargs):
        raise AssertionError("a stored packing was made again")

    monkeypatch.setattr(packings_module, "jammed_packing", refuse)
    (stored,) = list(compute_stages(request))
    assert made == [(0,)]  # the drawn packing alone, read from the store
    assert stored.complete and len(stored.networks) == 1
    np.testing.assert_array_equal(stored.network.positions, computed.network.positions)
    np.testing.assert_array_equal(stored.dos.mean, computed.dos.mean)
    np.testing.assert_array_equal(stored.coordination, computed.coordination)
    np.testing.assert_allclose(stored.fractions, computed.fractions, rtol=1e-14)
    assert stored.mean_coordination == pytest.approx(computed.mean_coordination, rel=1e-14)
    assert stored.mean_coordination_error == pytest.approx(
        computed.mean_coordination_error, rel=1e-12)
    assert stored.rattler_fraction == computed.rattler_fraction
    assert stored.peak.omega == computed.peak.omega
    assert snapshot_summary(stored) == snapshot_summary(computed)


def test_too_many_disks_is_a_message_before_anything_is_made(monkeypatch):
    monkeypatch.setattr(pipeline_module, "contact_networks", None)  # never reached
    side = int(np.sqrt(JAMMED_MAX_DISKS)) + 10
    with pytest.raises(ValueError, match=r"at most 10000 disks \(L = 100\)"):
        compute(Request(Parameters(connection="jammed", size=side)))
    session = Session(Parameters(connection="jammed", size=side, n_seeds=1), background=False)
    session.start()
    assert session.status.kind == "error"
    assert session.status.text.startswith("Cannot build this network: jammed disks: at most")


def test_drawn_nodes_of_a_packing_are_all_or_the_bottom_left_window():
    network = jammed_packing(100, pressure=0.01, seed=0).network()
    np.testing.assert_array_equal(drawn_nodes(network), np.arange(100))
    window = drawn_nodes(network, full_max_size=5, window=4)
    inside = (network.positions[:, 0] < 4) & (network.positions[:, 1] < 4)
    np.testing.assert_array_equal(window, np.flatnonzero(inside))
    assert 0 < len(window) < 100


# -- the session ----------------------------------------------------------------------------


class _Recorder(Listener):
    def __init__(self):
        self.snapshots, self.statuses = [], []

    def snapshot_changed(self, snapshot, previous):
        self.snapshots.append(snapshot)

    def status_changed(self, status):
        self.statuses.append(status)


def test_delta_does_not_recompute_the_glass_nor_the_pressure_the_lattice(monkeypatch):
    recorder = _Recorder()
    session = Session(Parameters(size=10, n_seeds=2, connection="jammed", pressure=0.01),
                      listener=recorder, background=False)
    session.start()
    shown = session.snapshot
    jobs = []
    original = pipeline_module.compute_stages
    monkeypatch.setattr("bpwidgets.session.session.compute_stages",
                        lambda *a: jobs.append(a) or original(*a))
    session.update(delta=0.12)
    assert session.parameters.delta == 0.12  # kept, for the lattice
    assert jobs == [] and session.snapshot is shown
    session.update(pressure=3e-3)
    assert len(jobs) == 1 and session.snapshot.request.parameters.pressure == 3e-3
    assert any(s.text.startswith("Making packing 2 of 2 …") and s.kind == "busy"
               for s in recorder.statuses)
    session.update(connection="cutoff")
    assert session.snapshot.request.parameters.delta == 0.12
    lattice = session.snapshot
    session.update(pressure=1e-4)
    assert len(jobs) == 2 and session.snapshot is lattice


def test_a_pinned_glass_is_labelled_and_keeps_its_pressure(stages):
    pin = Pin.of(stages[-1])
    assert pin.label == "glass: jammed disks, p = 1e-2, 1/r, N = 400"
    assert pin.parameters.pressure == 0.01 and pin.parameters.connection == "jammed"
    np.testing.assert_array_equal(pin.z, stages[-1].coordination)


# -- views and export ------------------------------------------------------------------------


def test_the_network_view_draws_disks_of_their_radii_and_marks_rattlers(stages):
    network = stages[-1].network
    view = network_view(network)
    np.testing.assert_array_equal(view.nodes, np.arange(400))
    np.testing.assert_array_equal(view.radii, disk_radii(network))
    np.testing.assert_array_equal(view.nodes[view.rattlers], network.rattlers)
    colors = view.node_colors(network.coordination)
    assert [colors[k] for k in view.rattlers] == [RATTLER_COLOR] * len(view.rattlers)
    assert RATTLER_COLOR not in np.delete(np.array(colors), view.rattlers)
    # One segment per contact (each drawn once), three points and a gap each.
    assert sum(np.isnan(x).sum() for x, _ in view.springs) == network.n_bonds
    assert view.outline[0].max() == pytest.approx(20.0)
    windowed = network_view(network, full_max_size=5, window=4)
    assert windowed.windowed and len(windowed.radii) == len(windowed.nodes) < 400


def test_the_summary_names_the_glass_its_pressure_and_its_rattlers(stages):
    text = snapshot_summary(stages[-1])
    percent = 100 * stages[-1].rattler_fraction
    assert text.startswith(f"jammed disks, p = 1e-2: mean Z {stages[-1].mean_coordination:.2f}")
    assert f"without the rattlers ({percent:.1f} %)" in text


def test_exports_carry_the_pressure(stages):
    from bpwidgets.app.export import data_csv, data_npz, file_stem

    final = stages[-1]
    assert file_stem(final) == "bpwidgets-jammed-inverse-N400-p0.01"
    lines = data_csv(final).splitlines()
    parameters = json.loads(next(line for line in lines if line.startswith("# parameters:"))
                            .split(": ", 1)[1])
    assert parameters["connection"] == "jammed" and parameters["pressure"] == 0.01
    import io

    archive = np.load(io.BytesIO(data_npz(final, [Pin.of(final)])))
    metadata = json.loads(str(archive["metadata"]))
    assert metadata["parameters"]["pressure"] == 0.01
    assert metadata["rattler_fraction"] == pytest.approx(final.rattler_fraction)
    assert list(archive["pinned_labels"]) == ["glass: jammed disks, p = 1e-2, 1/r, N = 400"]


def test_a_newer_request_stops_the_packings_of_an_older_one(monkeypatch):
    made = []
    original = pipeline_module.contact_networks

    def slow(*args, **kwargs):
        made.append(kwargs["seeds"])
        time.sleep(0.2)
        return original(*args, **kwargs)

    monkeypatch.setattr(pipeline_module, "contact_networks", slow)
    recorder = _Recorder()
    session = Session(Parameters(size=10, n_seeds=1, connection="cutoff"), listener=recorder)
    try:
        session.start()
        session.update(connection="jammed", pressure=0.01, n_seeds=10)
        deadline = time.monotonic() + 30
        while not any(s.text.startswith("Making packing 2 of 10") for s in recorder.statuses):
            assert time.monotonic() < deadline, "no progress shown"
            time.sleep(0.01)
        session.update(connection="nearest")
        assert session.wait(60)
        assert session.snapshot.request.parameters.connection == "nearest"
        assert len(made) < 10  # the rest of the old request's packings were dropped
    finally:
        session.close()


def test_a_glass_superseded_during_a_packing_shows_no_more_of_it_and_makes_no_more(
        monkeypatch):
    made = []
    second, release = threading.Event(), threading.Event()
    original = pipeline_module.contact_networks

    def maker(*args, **kwargs):
        made.append(tuple(kwargs["seeds"]))
        if len(made) == 2:  # the second packing is under way when the lattice is asked for
            second.set()
            assert release.wait(60)
        return original(*args, **kwargs)

    monkeypatch.setattr(pipeline_module, "contact_networks", maker)
    recorder = _Recorder()
    session = Session(Parameters(size=10, n_seeds=1, connection="cutoff"), listener=recorder)
    try:
        session.start()
        session.update(connection="jammed", pressure=0.01, n_seeds=4)
        assert second.wait(60)
        statuses, snapshots = len(recorder.statuses), len(recorder.snapshots)
        assert recorder.statuses[-1].text.startswith("Making packing 2 of 4")
        session.update(connection="nearest")
        release.set()
        assert session.wait(60)
        after = [s.text for s in recorder.statuses[statuses:]]
        assert not any(text.startswith("Making packing") for text in after), after
        shown = recorder.snapshots[snapshots:]
        assert {s.request.parameters.connection for s in shown} == {"nearest"}
        assert shown[-1].complete
        assert made == [(0,), (1,)]  # the third packing was never started
        assert session.status.kind == "ready"
    finally:
        release.set()
        session.close()


def test_news_and_later_results_of_a_request_no_longer_asked_for_are_not_shown(monkeypatch):
    # A newer request can come between the worker's last look and a delivery: the
    # session itself shows no progress, nor a later stage, of a request it no longer asks.
    stale = Request(Parameters(size=10, n_seeds=3, connection="jammed", pressure=0.01))
    old_result = compute(Request(Parameters(size=10, n_seeds=1, delta=0.2)))
    original = session_module.compute_stages

    def stages(request, previous=None):
        yield Progress(stale, 2, 3)
        yield from original(request, previous)
        yield old_result

    monkeypatch.setattr(session_module, "compute_stages", stages)
    recorder = _Recorder()
    session = Session(Parameters(size=10, n_seeds=1, delta=0.1), listener=recorder,
                      background=False)
    session.start()
    assert not any("Making" in s.text for s in recorder.statuses)
    assert [s.request.parameters.delta for s in recorder.snapshots] == [0.1]
    assert session.snapshot.request == session.request()
    assert session.status.kind == "ready" and "δ = 0.10" in session.status.text


@pytest.mark.parametrize("size, failure", [
    (110, None),  # too many disks: refused before anything is made
    (10, RuntimeError("FIRE did not converge")),
])
def test_a_glass_page_whose_first_packing_fails_computes_and_logs_it_once(
        monkeypatch, caplog, size, failure):
    attempts = []
    if failure is not None:
        def fail(*args, **kwargs):
            attempts.append(kwargs["seeds"])
            raise failure

        monkeypatch.setattr(pipeline_module, "contact_networks", fail)
    session = Session(Parameters(size=size, n_seeds=2, connection="jammed", pressure=0.01))
    try:
        with caplog.at_level(logging.ERROR, logger="bpwidgets"):
            session.start()
            assert session.wait(60)
        failed = [r for r in caplog.records if "the job failed" in r.getMessage()]
        assert len(failed) == 1
        assert session.status.kind == "error" and session.snapshot is None
        assert len(attempts) == (0 if failure is None else 1)
    finally:
        session.close()


def test_visitor_limits_hold_the_glass_too():
    from bpwidgets.session.visitor import LimitError, VisitorLimits

    session = Session(Parameters(size=10, n_seeds=1, connection="jammed", pressure=0.01),
                      background=False, limits=VisitorLimits(size=10))
    with pytest.raises(LimitError, match="L = 10"):
        session.update(size=20)


def test_a_page_on_the_glass_shows_its_first_packing_and_makes_the_rest_on_the_worker(
        monkeypatch):
    made = []
    original = pipeline_module.contact_networks
    monkeypatch.setattr(pipeline_module, "contact_networks",
                        lambda *a, **k: made.append(k["seeds"]) or original(*a, **k))
    recorder = _Recorder()
    session = Session(Parameters(size=10, n_seeds=4, connection="jammed", pressure=0.01),
                      listener=recorder)
    try:
        session.start()  # returns once the first packing is drawn
        first = recorder.snapshots[0]
        assert not first.complete and first.dos.seeds == (0,)
        assert session.wait(60)
        final = session.snapshot
        assert final.complete and final.dos.seeds == (0, 1, 2, 3)
        assert final.network is first.network  # continued, not made again
        assert [list(seeds) for seeds in made] == [[0], [1], [2], [3]]
    finally:
        session.close()


def test_with_a_window_brushed_the_glass_preview_and_result_share_their_modes():
    request = Request(GLASS.relevant(), (0.3, 0.7))
    preview, final = [s for s in compute_stages(request) if isinstance(s, Snapshot)]
    assert preview.weights is not None and preview.local is final.local
    np.testing.assert_array_equal(preview.weights, final.weights)
    assert len(final.weights) == 400
