"""The dashboard widget without a browser: state -> marks, linking, pins, errors.

Dashboards here compute synchronously (``background=False``) so every control
change has been drawn when the assignment returns; the session and the worker
thread have tests of their own (``test_session.py``, ``test_worker.py``).
"""

from __future__ import annotations

from dataclasses import replace

import nbformat
import numpy as np
import pytest

from bpwidgets import (
    build_network,
    crystal_reduced_dos,
    local_spectrum,
    mode_weights,
    reduced_dos,
)
from bpwidgets.app import Dashboard
from bpwidgets.app.panels import relative_weights
from bpwidgets.core.analysis import DOS_MOMENTS
from bpwidgets.core.modes import MODE_WEIGHTS_EXACT_MAX
from bpwidgets.core.parallel import cores
from bpwidgets.serve import DEFAULT_PORT, NOTEBOOK, voila_arguments
from bpwidgets.session import session as session_module
from bpwidgets.session.pipeline import WINDOW_SIZE, Request, compute, compute_stages, preview_seeds
from bpwidgets.session.schema import Parameters
from bpwidgets.views.plotdata import PIN_COLORS, coordination_colors

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
    # The band: the mean plus and minus its standard error over the two seeds.
    error = expected.per_seed.std(axis=0, ddof=1) / np.sqrt(2)
    np.testing.assert_allclose(dashboard.dos_panel.band.y, [expected.mean - error,
                                                            expected.mean + error],
                               rtol=1e-9, atol=1e-12)
    assert "standard error" in dashboard.dos_panel.legend.value
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
    # docs/physics.md, 'Choices the paper leaves open': mean Z ~ 4.31 at delta = 0.3.
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
    drawn = paper_dashboard.snapshot.nodes
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
            mode_weights(network, 0.3, 0.7, nodes=first.nodes, method="exact"),
            rtol=PLOT_RTOL,
        )
        dashboard.dos_panel.brush.selected = [1.0, 2.0]
        second = dashboard.snapshot
        assert first.local is not None and second.local is first.local  # diagonalised once
        np.testing.assert_allclose(
            second.weights,
            mode_weights(network, 1.0, 2.0, nodes=first.nodes, method="exact"),
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
        expected = local_spectrum(first.network, nodes=first.nodes).mode_weights(0.3, 0.7)
        np.testing.assert_allclose(first.weights, expected, rtol=PLOT_RTOL)
        assert len(expected) == len(first.nodes) < first.network.n_nodes
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
    network, drawn = small_dashboard.snapshot.network, small_dashboard.snapshot.nodes
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
        relative_weights(mode_weights(snapshot.network, 0.3, 0.7, nodes=snapshot.nodes)),
        rtol=PLOT_RTOL,
    )
    small_dashboard.dos_panel.brush.selected = None
    assert small_dashboard.network_panel.nodes.color is None
    assert not small_dashboard.network_panel.weight_axis.visible


# -- errors ---------------------------------------------------------------------------------


def test_refused_parameters_show_a_message_and_controls_recover(small_dashboard):
    shown = small_dashboard.snapshot
    # The first-seed box stops at 0; a session asked for more than it allows (a script,
    # an old link) still gets the core's refusal on the page.
    small_dashboard.session.update(first_seed=-1)
    assert "bp-status-error" in _status(small_dashboard)
    assert "seeds must be a non-empty sequence of distinct non-negative integers" in _status(
        small_dashboard)
    assert "Traceback" not in _status(small_dashboard)
    assert small_dashboard.snapshot is shown  # the panels keep the last good result
    # The controls show what they can (the box holds its bound) and a move recovers.
    assert small_dashboard.controls.first_seed.value == 0
    small_dashboard.controls.delta.value = 0.1
    assert "bp-status-ready" in _status(small_dashboard)
    assert small_dashboard.snapshot.network.delta == 0.1


def test_unexpected_errors_are_shown_not_raised(small_dashboard, monkeypatch):
    def broken(request, previous=None):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(session_module, "compute_stages", broken)
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
    dashboard.session._worker.submit(lambda: compute(snapshot_request), dashboard.session._deliver)
    assert "Cannot build this network: size must be larger" in _status(dashboard)
    dashboard.close()


def test_the_preview_says_how_many_networks_it_shows():
    dashboard = Dashboard(size=20, delta=0.3, n_seeds=cores() + 1, background=False)
    stages = list(compute_stages(Request(dashboard.controls.parameters)))
    dashboard.session._deliver(stages[0])
    shown = preview_seeds(cores() + 1)
    assert f"first {shown} network" in dashboard.summary.value
    assert f"the DOS shows the first {shown}" in _status(dashboard)
    dashboard.session._deliver(stages[1])
    assert "averaging" not in dashboard.summary.value
    dashboard.close()


def test_background_dashboard_draws_the_latest_value():
    dashboard = Dashboard(size=20, n_seeds=2)
    for delta in (0.1, 0.15, 0.2, 0.25):
        dashboard.controls.delta.value = delta
    assert dashboard.wait(60)
    assert dashboard.snapshot.request.parameters.delta == 0.25
    assert "δ = 0.25" in _status(dashboard)
    dashboard.close()


def test_controls_query_and_readme_follow_the_schema(monkeypatch):
    """Changing a range in the schema changes the slider and the link parser with it."""
    from bpwidgets.app import controls as controls_module
    from bpwidgets.session import schema, share

    wider = tuple(replace(f, high=400) if f.name == "size" else f for f in schema.FIELDS)
    monkeypatch.setattr(schema, "FIELDS", wider)
    monkeypatch.setattr(schema, "_BY_NAME", {f.name: f for f in wider})
    monkeypatch.setattr(share, "_BY_KEY", {f.key: f for f in wider})
    monkeypatch.setattr(controls_module, "FIELDS", wider)
    assert controls_module.Controls(Parameters()).size.max == 400
    assert share.parse_query("size=400")[0].size == 400
    assert "from 10 to 400" in schema.markdown_table()


def test_a_session_change_moves_the_controls_and_the_link(small_dashboard):
    small_dashboard.session.update(delta=0.12, n_seeds=2)
    controls = small_dashboard.controls
    assert (controls.delta.value, controls.n_seeds.value) == (0.12, 2)
    assert "delta=0.12" in small_dashboard.lecture.link.value
    assert small_dashboard.snapshot.request.parameters == controls.parameters
    controls.spring.value = "constant"  # the next control change keeps the session's delta
    assert small_dashboard.snapshot.request.parameters.delta == 0.12


def test_parameters_outside_the_schema_are_refused_up_front():
    with pytest.raises(ValueError, match="first_seed must be an integer from 0"):
        Dashboard(first_seed=-1, background=False)
    with pytest.raises(ValueError, match="size must be an integer from 10 to 300"):
        Dashboard(size=35, background=False)


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


def test_one_seed_draws_the_error_of_its_random_vectors():
    dashboard = Dashboard(size=20, n_seeds=1, background=False)
    dos = dashboard.snapshot.dos
    np.testing.assert_allclose(dashboard.dos_panel.band.y,
                               [dos.mean - dos.stochastic_error, dos.mean + dos.stochastic_error])
    assert "standard error over the random vectors" in dashboard.dos_panel.legend.value
    dashboard.controls.n_seeds.value = 3
    assert "standard error over the seeds" in dashboard.dos_panel.legend.value
    dashboard.close()


def test_modes_above_the_bulk_are_counted_under_the_dos_panel():
    """At δ = 0.5 with 1/r springs a few stiff modes lie far above the bulk: the axis
    shows the bulk and the panel says how many modes it leaves out."""
    dashboard = Dashboard(size=20, delta=0.5, n_seeds=2, background=False)
    dos = dashboard.snapshot.dos
    assert dos.outlier_note and dos.outlier_note in dashboard.dos_panel.summary.value
    top = max(f.max() for f in dos.outlier_frequencies if f.size)
    assert dashboard.dos_panel.x_scale.max < top
    dashboard.controls.delta.value = 0.3
    assert "not shown" not in dashboard.dos_panel.summary.value
    dashboard.close()
