"""The matplotlib renderer draws what the shared plot data says."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")

from matplotlib.collections import PathCollection, PolyCollection  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bpwidgets import (  # noqa: E402
    TOY_ADDED,
    TOY_REMOVED,
    boson_peak_of,
    build_network,
    coordination_histogram,
    toy_network,
)
from bpwidgets.session.pipeline import Request, compute  # noqa: E402
from bpwidgets.session.schema import Parameters  # noqa: E402
from bpwidgets.session.session import Pin  # noqa: E402
from bpwidgets.views.plotdata import coordination_colors, network_view  # noqa: E402
from bpwidgets.views.toyplot import toy_response  # noqa: E402
from bpwidgets.figures import (  # noqa: E402
    dashboard_figure,
    figure_1,
    figure_2,
    figure_3,
    figure_4,
    plot_network,
    plot_reduced_dos,
)
from bpwidgets.core.paper import paper_series  # noqa: E402
from oracles import exact_poles  # noqa: E402

#: Frequencies from the exact eigenvalues agree with the drawn marker positions to rounding.
POLE_ATOL = 1e-9
#: Seeds of the small series drawn here (the paper uses ten; the drawing does not care).
N_SEEDS = 3


@pytest.fixture(scope="module")
def series():
    return {
        connection: paper_series(connection, deltas=(0.0, 0.2, 0.3), seeds=N_SEEDS)
        for connection in ("nearest", "cutoff")
    }


def _axes():
    return Figure().subplots()


def test_import_bpwidgets_does_not_import_matplotlib():
    code = ("import sys, bpwidgets, bpwidgets.core.paper, bpwidgets.app; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_reduced_dos_draws_one_thin_line_per_seed_and_the_mean(series):
    dos = series["cutoff"].results[2]
    ax = _axes()
    artists = plot_reduced_dos(ax, dos, peak=boson_peak_of(dos, 60))
    assert len(artists["per_seed"]) == N_SEEDS
    for line, row in zip(artists["per_seed"], dos.per_seed):
        np.testing.assert_array_equal(line.get_ydata(), row)
        assert line.get_linewidth() < artists["mean"].get_linewidth()
    np.testing.assert_array_equal(artists["mean"].get_xdata(), dos.omega)
    np.testing.assert_array_equal(artists["mean"].get_ydata(), dos.mean)
    np.testing.assert_allclose(artists["debye"].get_ydata(), dos.debye_level)
    assert isinstance(artists["excess"], PolyCollection)


def test_excess_is_shaded_only_for_the_disordered_cutoff_networks(series):
    figure = figure_2(series["nearest"], series["cutoff"])
    left, right = figure.axes
    shaded = [c for c in right.collections if isinstance(c, PolyCollection)]
    assert not [c for c in left.collections if isinstance(c, PolyCollection)]
    expected = [boson_peak_of(d, 60) for delta, d in
                zip(series["cutoff"].deltas, series["cutoff"].results) if delta > 0]
    assert len(shaded) == sum(p is not None for p in expected) == 2
    for polygon, peak in zip(shaded, expected):
        x = polygon.get_paths()[0].vertices[:, 0]
        assert x.min() == pytest.approx(peak.region_omega[0])
        assert x.max() == pytest.approx(peak.region_omega[-1])
    # Thin lines: seeds x deltas per panel, plus one thick mean per delta.
    for ax, s in zip((left, right), (series["nearest"], series["cutoff"])):
        widths = [line.get_linewidth() for line in ax.get_lines()
                  if len(line.get_xdata()) == len(s.results[0].omega)]
        assert widths.count(min(widths)) == N_SEEDS * len(s.deltas)
        assert widths.count(max(widths)) == len(s.deltas)


def test_network_nodes_are_the_views_nodes_coloured_by_coordination():
    network = build_network(12, 0.3, connection="cutoff", spring="inverse", seed=1)
    view = network_view(network)
    ax = _axes()
    artists = plot_network(ax, view, network.coordination)
    np.testing.assert_allclose(artists["nodes"].get_offsets(), np.column_stack([view.x, view.y]))
    expected = [to_rgba(c) for c in coordination_colors(network.coordination[view.nodes])]
    np.testing.assert_allclose(artists["nodes"].get_facecolors(), expected)
    assert len(artists["springs"]) == len(view.springs)
    for line, (x, y) in zip(artists["springs"], view.springs):
        np.testing.assert_array_equal(line.get_xdata(), x)
        np.testing.assert_array_equal(line.get_ydata(), y)


def test_figure_1_draws_both_networks_whole_and_their_corner():
    nearest = build_network(10, 0.3, connection="nearest", spring="inverse", seed=0)
    cutoff = build_network(10, 0.3, connection="cutoff", spring="inverse", seed=0)
    figure = figure_1(nearest, cutoff, corner=4)
    whole_nearest, corner_nearest, whole_cutoff, corner_cutoff = figure.axes[:4]
    assert len(whole_nearest.collections[-1].get_offsets()) == 100
    # The corner shows the sites with ix, iy < 4, unwrapped next to their sites.
    assert len(corner_cutoff.collections[-1].get_offsets()) == 16
    assert corner_nearest.get_xlim() == pytest.approx((-0.8, 3.8))


def test_figure_3_draws_one_curve_per_delta_with_the_pooled_fractions():
    coordinations = {
        delta: [build_network(20, delta, connection="cutoff", spring="inverse", seed=s)
                .coordination for s in range(2)]
        for delta in (0.1, 0.3)
    }
    ax = figure_3(coordinations).axes[0]
    curves = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert len(curves) == 2
    for line, arrays in zip(curves, coordinations.values()):
        z, fractions, mean = coordination_histogram(arrays)
        drawn = dict(zip(line.get_xdata(), line.get_ydata()))
        assert [drawn[k] for k in z] == pytest.approx(fractions)
        assert sum(drawn.values()) == pytest.approx(1.0)
        assert f"mean Z = {mean:.2f}" in line.get_label()


def test_figure_4_circles_exactly_the_two_new_poles_of_each_change(series):
    added = toy_response(add=[TOY_ADDED])
    removed = toy_response(remove=[TOY_REMOVED])
    figure = figure_4(series["cutoff"], added, removed)
    toy_ax = figure.axes[1]
    circles = [c for c in toy_ax.collections if isinstance(c, PathCollection)]
    crystal = exact_poles(toy_network())
    assert len(circles) == 2  # the new poles of the added and of the removed spring
    for marks, network in zip(circles,
                              (toy_network(add=[TOY_ADDED]), toy_network(remove=[TOY_REMOVED]))):
        exact = exact_poles(network)
        new = exact[np.abs(exact[:, None] - crystal[None, :]).min(axis=1) > 1e-6]
        assert len(new) == 2
        np.testing.assert_allclose(np.sort(marks.get_offsets()[:, 0]), new, atol=POLE_ATOL)
    # Nine crystal curves (thick), nine of each changed network.
    thick = [line for line in toy_ax.get_lines() if line.get_linewidth() == 5]
    assert len([line for line in thick if len(line.get_xdata())]) == 9


def test_dashboard_figure_draws_the_three_panels_and_the_pins(tmp_path):
    snapshot = compute(Request(Parameters(size=30, delta=0.3, n_seeds=2)))
    pins = [Pin(label="δ = 0.10", parameters=snapshot.request.parameters,
                omega=snapshot.dos.omega, mean=0.9 * snapshot.dos.mean,
                z=snapshot.coordination, fractions=snapshot.fractions)]
    figure = dashboard_figure(network_view(snapshot.network), snapshot.dos, snapshot.peak,
                              snapshot.coordination, snapshot.fractions,
                              snapshot.mean_coordination, pins,
                              node_coordination=snapshot.network.coordination, title="export")
    network_ax, dos_ax, z_ax = figure.axes
    assert len(network_ax.collections[-1].get_offsets()) == len(snapshot.nodes)
    labels = [line.get_label() for line in dos_ax.get_lines()]
    assert "pinned: δ = 0.10" in labels and "mean over 2 seeds" in labels
    assert (snapshot.peak is not None) == any(isinstance(c, PolyCollection)
                                              for c in dos_ax.collections)
    # One bar group per histogram (live + pin), one bar per coordination number.
    assert len(z_ax.containers) == 2
    assert [len(c) for c in z_ax.containers] == [len(snapshot.coordination)] * 2
    np.testing.assert_allclose([b.get_height() for b in z_ax.containers[0]], snapshot.fractions)
    for suffix in ("png", "svg", "pdf"):
        path = tmp_path / f"page.{suffix}"
        figure.savefig(path)
        assert path.stat().st_size > 1000


def test_paper_numbers_load_without_widget_libraries():
    """The plain-numpy layers (core, session, views) import no widget or plotting code."""
    code = (
        "import sys, bpwidgets.core.paper, bpwidgets.session, bpwidgets.session.share,"
        " bpwidgets.views.plotdata, bpwidgets.views.toyplot;"
        "print(sorted(m for m in ('ipywidgets', 'bqplot', 'matplotlib') if m in sys.modules))"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "[]"
