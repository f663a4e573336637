"""The dashboard without a browser: state -> marks, linking, pins, errors, worker.

Dashboards here compute synchronously (``background=False``) so every control
change has been drawn when the assignment returns; the worker thread has tests
of its own.
"""

from __future__ import annotations

import threading
import time

import nbformat
import numpy as np
import pytest

from bpwidgets import (
    build_network,
    crystal_reduced_dos,
    local_spectrum,
    mode_weights,
    reduced_dos,
    reduced_dos_of,
)
from bpwidgets.spectrum import MODE_WEIGHTS_EXACT_MAX, default_vectors
from bpwidgets.app import Dashboard
from bpwidgets.app import dashboard as dashboard_module
from bpwidgets.app.panels import relative_weights
from bpwidgets.app.plotdata import (
    FINITE_SIZE_MODES,
    PIN_COLORS,
    WINDOW_SIZE,
    align_histograms,
    boson_peak,
    coordination_colors,
    coordination_histogram,
    lowest_frequency,
    network_view,
)
from bpwidgets.app.state import (
    DOS_MOMENTS,
    LatestWorker,
    Parameters,
    Request,
    compute,
    compute_stages,
    preview_seeds,
)
from bpwidgets._threads import cores
from bpwidgets.serve import DEFAULT_PORT, NOTEBOOK, voila_arguments

#: Plotted arrays are the core's arrays passed through traitlets: equal to rounding.
PLOT_RTOL = 1e-12
#: Segment lengths are differences of positions of size ~L: a few ulps of L.
LENGTH_ATOL = 1e-9


@pytest.fixture(scope="module")
def paper_dashboard():
    """The paper's case: L = 60, cutoff, delta = 0.3, 1/r springs, 10 seeds."""
    dashboard = Dashboard(background=False)
    yield dashboard
    dashboard.close()


def _status(dashboard):
    return dashboard.status.value


# -- state -> marks -------------------------------------------------------------------------


def test_crystal_has_a_single_bar_and_the_crystal_dos():
    dashboard = Dashboard(size=60, delta=0.0, connection="nearest", n_seeds=2, background=False)
    bars = dashboard.coordination_panel.bars
    np.testing.assert_array_equal(bars.x, [4])
    np.testing.assert_allclose(bars.y, [[1.0]])
    expected = reduced_dos(60, 0.0, connection="nearest", spring="inverse", seeds=2,
                           moments=DOS_MOMENTS)
    mean = dashboard.dos_panel.mean
    np.testing.assert_allclose(mean.x, expected.omega, rtol=PLOT_RTOL)
    np.testing.assert_allclose(mean.y, expected.mean, rtol=PLOT_RTOL)
    np.testing.assert_allclose(dashboard.dos_panel.per_seed.y, expected.per_seed, rtol=PLOT_RTOL)
    np.testing.assert_allclose(dashboard.dos_panel.crystal.y, crystal_reduced_dos(expected.omega))
    # The crystal has no Boson peak: nothing shaded, no label.
    assert len(dashboard.dos_panel.excess.x) == 0
    assert len(dashboard.dos_panel.peak_label.text) == 0
    assert "No Boson peak" in dashboard.dos_panel.summary.value
    dashboard.close()


def test_disordered_cutoff_network_has_spread_of_z_and_a_boson_peak(paper_dashboard):
    snapshot = paper_dashboard.snapshot
    bars = paper_dashboard.coordination_panel.bars
    assert len(bars.x) >= 5
    networks = [build_network(60, 0.3, connection="cutoff", spring="inverse", seed=s)
                for s in range(10)]
    pooled = np.concatenate([n.coordination for n in networks])
    for z, fraction in zip(bars.x, bars.y[0]):
        assert fraction == pytest.approx(np.mean(pooled == z))
    assert paper_dashboard.coordination_panel.mean_line.x[0] == pytest.approx(pooled.mean())
    # PHYSICS.md: mean Z ~ 4.31 at delta = 0.3.
    assert pooled.mean() == pytest.approx(4.31, abs=0.02)

    excess = paper_dashboard.dos_panel.excess
    assert len(excess.x) > 2
    upper, lower = excess.y
    assert np.all(upper > lower)
    np.testing.assert_allclose(lower, snapshot.dos.debye_level)
    (label,) = paper_dashboard.dos_panel.peak_label.text
    assert label.startswith("Boson peak: ω = ")
    # The paper: the Boson peak sits near omega = 0.5.
    assert 0.3 < snapshot.peak.omega < 0.8
    assert snapshot.peak.excess > 0.05
    np.testing.assert_allclose(
        paper_dashboard.dos_panel.network_debye.y, snapshot.dos.debye_level
    )


def _drawn_segments(panel):
    """Number of springs drawn by the network panel (segments are start, end, NaN)."""
    n_segments = 0
    for mark in panel.springs:
        x, y = np.asarray(mark.x).reshape(-1, 3), np.asarray(mark.y).reshape(-1, 3)
        assert np.all(np.isnan(x[:, 2])) and np.all(np.isnan(y[:, 2]))
        n_segments += len(x)
    return n_segments


def test_small_network_is_drawn_whole(small_dashboard):
    network = small_dashboard.snapshot.network
    panel = small_dashboard.network_panel
    assert _drawn_segments(panel) == network.n_bonds
    assert len(panel.nodes.x) == network.n_nodes
    assert "20 × 20 periodic cell" in panel.figure.title
    assert panel.nodes.colors == coordination_colors(network.coordination)


def test_paper_network_shows_its_corner(paper_dashboard):
    network = paper_dashboard.snapshot.network
    panel = paper_dashboard.network_panel
    ix, iy = np.divmod(np.arange(network.n_nodes), network.size)
    in_window = (ix < WINDOW_SIZE) & (iy < WINDOW_SIZE)
    assert len(panel.nodes.x) == in_window.sum() == WINDOW_SIZE**2
    touching = in_window[network.bonds[:, 0]] | in_window[network.bonds[:, 1]]
    assert _drawn_segments(panel) == touching.sum()
    assert f"{WINDOW_SIZE} × {WINDOW_SIZE} corner of 60 × 60" in panel.figure.title


def test_controls_drive_the_panels(small_dashboard):
    small_dashboard.controls.connection.value = "nearest"
    assert list(small_dashboard.coordination_panel.bars.x) == [4]
    small_dashboard.controls.spring.value = "constant"
    assert small_dashboard.snapshot.network.spring == "constant"
    small_dashboard.controls.n_seeds.value = 2
    assert np.asarray(small_dashboard.dos_panel.per_seed.y).shape[0] == 2
    small_dashboard.controls.new_networks.click()
    assert small_dashboard.snapshot.dos.seeds == (2, 3)
    assert "seeds 2–3" in _status(small_dashboard)


def test_axes_stay_put_while_delta_moves_a_little(small_dashboard):
    # A changed axis range makes the browser redraw every mark of the figure: the DOS
    # panel's omega axis and the histogram's fraction axis end on round values, which
    # still hold all the data.
    dos_axis = small_dashboard.dos_panel.x_scale
    histogram_axis = small_dashboard.coordination_panel.y_scale
    ends = []
    for delta in (0.30, 0.31):
        small_dashboard.controls.delta.value = delta
        snapshot = small_dashboard.snapshot
        assert dos_axis.max >= snapshot.dos.omega[-1]
        assert histogram_axis.max >= snapshot.fractions.max()
        ends.append((dos_axis.max, histogram_axis.max))
    assert ends[0] == ends[1]
    assert ends[0][0] != small_dashboard.snapshot.dos.omega[-1]


def test_large_grid_shows_a_corner_window():
    network = build_network(120, 0.2, connection="cutoff", spring="inverse", seed=1)
    view = network_view(network)
    assert view.windowed
    assert len(view.nodes) == WINDOW_SIZE**2
    assert f"{WINDOW_SIZE} × {WINDOW_SIZE} corner" in view.title


# -- plot data ------------------------------------------------------------------------------


def test_boundary_springs_stick_out_instead_of_spanning_the_cell():
    network = build_network(12, 0.3, connection="cutoff", spring="inverse", seed=4)
    view = network_view(network)
    x = np.concatenate([s[0] for s in view.springs]).reshape(-1, 3)
    y = np.concatenate([s[1] for s in view.springs]).reshape(-1, 3)
    drawn = np.hypot(x[:, 1] - x[:, 0], y[:, 1] - y[:, 0])
    np.testing.assert_allclose(np.sort(drawn), np.sort(network.lengths), atol=LENGTH_ATOL)
    assert np.nanmax(x) > network.size  # some springs leave the cell ...
    assert drawn.max() < 1 + network.delta + LENGTH_ATOL  # ... none spans it


def test_constant_springs_fall_in_one_stiffness_bin():
    network = build_network(10, 0.2, connection="cutoff", spring="constant", seed=0)
    counts = [len(s[0]) // 3 for s in network_view(network).springs]
    assert counts[:-1] == [0] * (len(counts) - 1) and counts[-1] == network.n_bonds


def test_histograms_align_on_a_gap_free_axis():
    z, fractions = align_histograms([(np.array([4]), np.array([1.0])),
                                     (np.array([2, 5]), np.array([0.25, 0.75]))])
    np.testing.assert_array_equal(z, [2, 3, 4, 5])
    np.testing.assert_allclose(fractions, [[0, 0, 1, 0], [0.25, 0, 0, 0.75]])
    z, fractions, mean = coordination_histogram([np.array([3, 4, 4, 5])])
    np.testing.assert_allclose(fractions, [0.25, 0.5, 0.25])
    assert mean == 4.0


def test_boson_peak_of_a_synthetic_curve():
    omega = np.linspace(0, 3, 301)
    level = 0.2
    curve = level * (1 + 0.3 * np.exp(-((omega - 0.5) / 0.2) ** 2)) + 0.02 * omega**2
    peak = boson_peak(omega, curve, level)
    assert peak.omega == pytest.approx(0.5, abs=0.05)
    assert peak.excess == pytest.approx(0.325, abs=0.01)
    assert np.all(peak.region_upper > peak.region_lower)
    assert "Boson peak: ω = 0.5" in peak.label
    # A curve rising all the way to omega_max (the crystal's) has no Boson peak.
    assert boson_peak(omega, level * (1 + omega**2), level) is None
    # Nor does a bump inside the finite-size comb.
    assert boson_peak(omega, curve, level, omega_min=0.8) is None
    assert lowest_frequency(60) == pytest.approx(0.105, abs=1e-3)


# -- pins -----------------------------------------------------------------------------------


def test_pin_and_clear(small_dashboard):
    dos, coordination = small_dashboard.dos_panel, small_dashboard.coordination_panel
    assert not dos.pins.visible
    small_dashboard.controls.pin.click()
    small_dashboard.controls.delta.value = 0.1
    small_dashboard.controls.pin.click()
    assert dos.pins.visible
    assert dos.pins.labels == ["δ = 0.30, cutoff, 1/r, L = 20", "δ = 0.10, cutoff, 1/r, L = 20"]
    assert list(dos.pins.colors) == list(PIN_COLORS[:2])
    np.testing.assert_allclose(np.asarray(dos.pins.y)[1], small_dashboard.snapshot.dos.mean)
    assert np.asarray(coordination.bars.y).shape[0] == 3  # live + two pins
    assert coordination.bars.labels == ["live"] + dos.pins.labels
    # Pins stay while the live curves move on.
    small_dashboard.controls.delta.value = 0.2
    assert len(dos.pins.labels) == 2
    small_dashboard.controls.clear_pins.click()
    assert not dos.pins.visible and list(dos.pins.labels) == []
    assert np.asarray(coordination.bars.y).shape[0] == 1


# -- linking --------------------------------------------------------------------------------


def test_selecting_a_bar_highlights_exactly_those_nodes(paper_dashboard):
    panel = paper_dashboard.coordination_panel
    network = paper_dashboard.snapshot.network
    panel.bars.selected = [int(np.flatnonzero(panel.z == 3)[0])]
    drawn = paper_dashboard.snapshot.view.nodes
    np.testing.assert_array_equal(
        paper_dashboard.highlighted_nodes, drawn[network.coordination[drawn] == 3]
    )
    # Selecting several bars highlights the union.
    panel.bars.selected = [int(i) for i in np.flatnonzero(np.isin(panel.z, [3, 5]))]
    np.testing.assert_array_equal(
        paper_dashboard.highlighted_nodes, drawn[np.isin(network.coordination[drawn], [3, 5])]
    )
    panel.bars.selected = None
    assert paper_dashboard.network_panel.nodes.selected is None


def test_selection_follows_new_networks(small_dashboard):
    panel = small_dashboard.coordination_panel
    panel.bars.selected = [int(np.flatnonzero(panel.z == 3)[0])]
    small_dashboard.controls.delta.value = 0.25
    network = small_dashboard.snapshot.network
    np.testing.assert_array_equal(
        small_dashboard.highlighted_nodes, np.flatnonzero(network.coordination == 3)
    )
    assert list(panel.z[np.asarray(panel.bars.selected)]) == [3]


def test_brush_on_a_small_network_diagonalises_once():
    """Up to the exact limit the drawn nodes' exact modes serve every later window."""
    dashboard = Dashboard(size=20, delta=0.3, n_seeds=2, background=False)
    try:
        network = dashboard.snapshot.network
        assert network.n_nodes <= MODE_WEIGHTS_EXACT_MAX
        dashboard.dos_panel.brush.selected = [0.3, 0.7]
        first = dashboard.snapshot
        np.testing.assert_allclose(
            first.weights,
            mode_weights(network, 0.3, 0.7, nodes=first.view.nodes, method="exact"),
            rtol=PLOT_RTOL,
        )
        dashboard.dos_panel.brush.selected = [1.0, 2.0]
        second = dashboard.snapshot
        assert first.local is not None and second.local is first.local  # diagonalised once
        np.testing.assert_allclose(
            second.weights,
            mode_weights(network, 1.0, 2.0, nodes=first.view.nodes, method="exact"),
            rtol=PLOT_RTOL,
        )
        np.testing.assert_allclose(dashboard.network_panel.nodes.color,
                                   relative_weights(second.weights), rtol=PLOT_RTOL)
        # New networks start afresh.
        dashboard.controls.delta.value = 0.2
        assert dashboard.snapshot.local is not first.local
    finally:
        dashboard.close()


def test_brush_on_a_larger_network_reuses_its_local_moments():
    """Past the exact limit the drawn nodes' local moments serve every later window."""
    dashboard = Dashboard(size=60, delta=0.3, n_seeds=2, background=False)
    try:
        snapshot = dashboard.snapshot
        assert snapshot.network.n_nodes > MODE_WEIGHTS_EXACT_MAX
        dashboard.dos_panel.brush.selected = [0.3, 0.7]
        first = dashboard.snapshot
        expected = local_spectrum(first.network, nodes=first.view.nodes).mode_weights(0.3, 0.7)
        np.testing.assert_allclose(first.weights, expected, rtol=PLOT_RTOL)
        assert len(expected) == len(first.view.nodes) < first.network.n_nodes
        dashboard.dos_panel.brush.selected = [1.0, 2.0]
        second = dashboard.snapshot
        assert second.local is first.local
        np.testing.assert_allclose(
            dashboard.network_panel.nodes.color,
            relative_weights(first.local.mode_weights(1.0, 2.0)), rtol=PLOT_RTOL,
        )
    finally:
        dashboard.close()


def test_brush_colours_nodes_by_mode_weights(small_dashboard):
    small_dashboard.dos_panel.brush.selected = [0.7, 0.3]  # a right-to-left drag
    network, drawn = small_dashboard.snapshot.network, small_dashboard.snapshot.view.nodes
    expected = mode_weights(network, 0.3, 0.7, nodes=drawn)
    np.testing.assert_allclose(small_dashboard.snapshot.weights, expected, rtol=PLOT_RTOL)
    # Drawn relative to the top 2 % on a fixed colour scale, so the darkest nodes are those.
    colours = np.asarray(small_dashboard.network_panel.nodes.color)
    np.testing.assert_allclose(colours, relative_weights(expected), rtol=PLOT_RTOL)
    assert colours.max() == 1.0 and np.mean(colours == 1.0) <= 0.03
    np.testing.assert_array_equal(np.argsort(colours[colours < 1]),
                                  np.argsort(expected[colours < 1]))
    assert small_dashboard.network_panel.weight_scale.max == 1.0
    assert small_dashboard.network_panel.weight_axis.visible
    assert "0.30 ≤ ω ≤ 0.70" in _status(small_dashboard)
    # The brush follows the parameters: new networks, new weights.
    small_dashboard.controls.delta.value = 0.2
    snapshot = small_dashboard.snapshot
    np.testing.assert_allclose(
        small_dashboard.network_panel.nodes.color,
        relative_weights(mode_weights(snapshot.network, 0.3, 0.7, nodes=snapshot.view.nodes)),
        rtol=PLOT_RTOL,
    )
    small_dashboard.dos_panel.brush.selected = None
    assert small_dashboard.network_panel.nodes.color is None
    assert not small_dashboard.network_panel.weight_axis.visible


# -- errors ---------------------------------------------------------------------------------


def test_refused_parameters_show_a_message_and_controls_recover(small_dashboard):
    shown = small_dashboard.snapshot
    small_dashboard.controls.first_seed.value = -1  # the core refuses negative seeds
    assert "bp-status-error" in _status(small_dashboard)
    assert "seed must be a non-negative integer" in _status(small_dashboard)
    assert "Traceback" not in _status(small_dashboard)
    assert small_dashboard.snapshot is shown  # the panels keep the last good result
    small_dashboard.controls.first_seed.value = 0
    small_dashboard.controls.delta.value = 0.1
    assert "bp-status-ready" in _status(small_dashboard)
    assert small_dashboard.snapshot.network.delta == 0.1


def test_unexpected_errors_are_shown_not_raised(small_dashboard, monkeypatch):
    def broken(request, previous=None):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(dashboard_module, "compute_stages", broken)
    small_dashboard.controls.delta.value = 0.15
    assert "Something went wrong (RuntimeError: disk on fire)" in _status(small_dashboard)
    monkeypatch.undo()
    small_dashboard.controls.delta.value = 0.2
    assert "bp-status-ready" in _status(small_dashboard)


def test_core_value_errors_reach_the_status_line():
    snapshot_request = Request(Parameters(size=3, delta=0.5, connection="cutoff", n_seeds=1))
    with pytest.raises(ValueError, match="size"):
        compute(snapshot_request)
    dashboard = Dashboard(size=20, n_seeds=1, background=False)
    dashboard._worker.submit(lambda: compute(snapshot_request), dashboard._deliver)
    assert "Cannot build this network: size must be larger" in _status(dashboard)
    dashboard.close()


# -- worker ---------------------------------------------------------------------------------


def test_worker_coalesces_a_burst_to_the_latest_request():
    started, results = [], []
    release = threading.Event()

    def job(value):
        def run():
            started.append(value)
            release.wait(5)
            return value
        return run

    worker = LatestWorker()
    worker.submit(job(0), results.append)
    time.sleep(0.1)  # job 0 is running
    for value in range(1, 6):
        worker.submit(job(value), results.append)
    release.set()
    assert worker.wait(10)
    worker.close()
    assert started == [0, 5]
    assert results == [0, 5]


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


def test_the_preview_says_how_many_networks_it_shows():
    dashboard = Dashboard(size=20, delta=0.3, n_seeds=cores() + 1, background=False)
    stages = list(compute_stages(Request(dashboard.controls.parameters)))
    dashboard._draw(stages[0])
    shown = preview_seeds(cores() + 1)
    assert f"first {shown} network" in dashboard.summary.value
    assert f"the DOS shows the first {shown}" in _status(dashboard)
    dashboard._draw(stages[1])
    assert "averaging" not in dashboard.summary.value
    dashboard.close()


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
    assert final.peak == boson_peak(
        final.dos.omega, final.dos.mean, final.dos.debye_level,
        omega_min=FINITE_SIZE_MODES * lowest_frequency(24),
    )


def test_worker_drops_later_stages_once_superseded():
    delivered = []
    first_stage_done = threading.Event()
    release = threading.Event()

    def staged():
        yield "preview"
        yield "final"

    def deliver(outcome):
        delivered.append(outcome)
        if outcome == "preview":
            first_stage_done.set()
            release.wait(5)

    worker = LatestWorker()
    worker.submit(staged, deliver)
    assert first_stage_done.wait(5)
    worker.submit(lambda: "newer", delivered.append)
    release.set()
    assert worker.wait(5)
    worker.close()
    assert delivered == ["preview", "newer"]


def test_worker_reports_busy_after_the_delay():
    busy = threading.Event()
    worker = LatestWorker(on_busy=busy.set, busy_delay=0.05)
    worker.submit(lambda: time.sleep(0.3), lambda outcome: None)
    assert busy.wait(2)
    assert worker.wait(5)
    worker.close()


def test_background_dashboard_draws_the_latest_value():
    dashboard = Dashboard(size=20, n_seeds=2)
    for delta in (0.1, 0.15, 0.2, 0.25):
        dashboard.controls.delta.value = delta
    assert dashboard.wait(60)
    assert dashboard.snapshot.request.parameters.delta == 0.25
    assert "δ = 0.25" in _status(dashboard)
    dashboard.close()


# -- notebook and server --------------------------------------------------------------------


def test_notebook_is_thin_and_saved_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert len(code) == 1
    # The page reads its URL query: a shared link opens the state it names.
    assert "Dashboard.from_query()" in code[0].source
    assert code[0].outputs == [] and code[0].execution_count is None


def test_serve_listens_on_localhost_only():
    arguments = voila_arguments(DEFAULT_PORT)
    assert "--Voila.ip=127.0.0.1" in arguments
    assert f"--port={DEFAULT_PORT}" in arguments
    assert arguments[0].endswith("dashboard.ipynb")
