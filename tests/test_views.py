"""The views layer: plot arrays from results, plain numpy, no widgets."""

from __future__ import annotations

import numpy as np

from bpwidgets import build_network, coordination_histogram
from bpwidgets.session.pipeline import WINDOW_SIZE, drawn_nodes
from bpwidgets.views.plotdata import align_histograms, network_view

#: Segment lengths are differences of positions of size ~L: a few ulps of L.
LENGTH_ATOL = 1e-9


def test_large_grid_shows_a_corner_window():
    network = build_network(120, 0.2, connection="cutoff", spring="inverse", seed=1)
    view = network_view(network)
    assert view.windowed
    assert len(view.nodes) == WINDOW_SIZE**2
    assert f"{WINDOW_SIZE} × {WINDOW_SIZE} corner" in view.title


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
