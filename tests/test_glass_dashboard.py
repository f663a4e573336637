"""The glass in the dashboard, through the widgets' state: controls, disks, histogram, pins."""

from __future__ import annotations

import numpy as np
import pytest

from bpwidgets.app import Dashboard
from bpwidgets.core.packings import disk_radii

#: 400 disks far from jamming: a packing in about 0.4 s.
SMALL = dict(size=20, n_seeds=2, pressure=0.01, background=False)


@pytest.fixture
def glass():
    dashboard = Dashboard(connection="jammed", **SMALL)
    yield dashboard
    dashboard.close()


def test_choosing_jammed_disks_swaps_delta_for_the_pressure():
    dashboard = Dashboard(connection="cutoff", **SMALL)
    try:
        controls, lecture = dashboard.controls, dashboard.lecture
        assert controls.pressure.layout.display == "none"
        assert controls.delta.layout.display is None
        assert [label for label, _ in controls.connection.options][-1] == "jammed disks"
        controls.connection.value = "jammed"
        assert controls.delta.layout.display == "none"
        assert controls.pressure.layout.display is None
        assert controls.pressure.value == 0.01 and controls.pressure.label == "1e-2"
        assert lecture.play.disabled and lecture.step.disabled
        assert "jammed disks have none" in lecture.play_note.value
        assert dashboard.snapshot.request.parameters.connection == "jammed"
        assert "pressure=0.01" in dashboard.link
        controls.connection.value = "nearest"
        assert controls.pressure.layout.display == "none"
        assert not lecture.play.disabled and not lecture.step.disabled
    finally:
        dashboard.close()


def test_the_network_panel_draws_one_disk_per_node_sized_by_its_radius(glass):
    panel, snapshot = glass.network_panel, glass.snapshot
    network = snapshot.network
    nodes = panel.nodes
    assert len(nodes.x) == len(nodes.size) == network.n_nodes == 400
    radii = disk_radii(network)
    np.testing.assert_allclose(nodes.size, radii ** 2)
    assert panel.size_scale.min == 0 and panel.size_scale.max == pytest.approx(radii.max() ** 2)
    # The largest disk's area on screen is its radius at the panel's scale.
    side = panel.x_scale.max - panel.x_scale.min
    assert nodes.default_size == pytest.approx(np.pi * (radii.max() * 375 / side) ** 2, abs=1)
    np.testing.assert_allclose(nodes.x, network.positions[:, 0])
    rattlers = network.rattlers
    assert len(rattlers) > 0  # seed 0 at this pressure has some: they must show
    np.testing.assert_allclose(panel.rattlers.x, network.positions[rattlers, 0])
    assert "rattler" in panel.legend.value and "jammed packing" in panel.legend.value
    assert panel.figure.title.startswith("N = 400, p = 1e-2")
    # Springs: every contact once.
    assert sum(np.isnan(np.asarray(m.x, dtype=float)).sum() for m in panel.springs) \
        == network.n_bonds


def test_the_histogram_shows_the_disks_that_are_not_rattlers(glass):
    snapshot = glass.snapshot
    panel = glass.coordination_panel
    held = np.concatenate([np.delete(n.coordination, n.rattlers) for n in snapshot.networks])
    z, counts = np.unique(held, return_counts=True)
    np.testing.assert_array_equal(panel.z, z)
    np.testing.assert_allclose(np.asarray(panel.bars.y, dtype=float).ravel(),
                               counts / counts.sum())
    assert "jammed disks, p = 1e-2" in glass.summary.value
    assert "rattlers" in glass.summary.value


def test_delta_moved_while_jammed_changes_nothing_shown(glass):
    shown = glass.snapshot
    glass.controls.delta.value = 0.12
    assert glass.snapshot is shown
    assert glass.session.parameters.delta == 0.12


def test_a_pinned_glass_stays_beside_the_lattices_curves(glass):
    glass.controls.pin.click()
    label = "glass: jammed disks, p = 1e-2, 1/r, N = 400"
    glass_mean = glass.snapshot.dos.mean
    glass.controls.connection.value = "cutoff"
    dos = glass.dos_panel
    assert glass.snapshot.request.parameters.connection == "cutoff"
    assert dos.pins.visible and list(dos.pins.labels) == [label]
    pinned = np.atleast_2d(np.asarray(dos.pins.y, dtype=float))[0]
    np.testing.assert_allclose(pinned[: len(glass_mean)], glass_mean)
    np.testing.assert_allclose(dos.mean.y, glass.snapshot.dos.mean)
    assert label in dos.legend.value
    bars = glass.coordination_panel.bars
    assert list(bars.labels) == ["live", label] and np.atleast_2d(bars.y).shape[0] == 2
    assert len(glass.network_panel.nodes.size) == 0  # the lattice's nodes are dots again
    assert len(glass.network_panel.rattlers.x) == 0


def test_a_preheated_dashboard_given_a_glass_link_shows_its_first_packing_first():
    # A pool kernel's dashboard is built on the defaults; the link then asks for the glass.
    # Like a page opened on the link, it returns with the first packing drawn, and the
    # worker makes the others: ten packings would keep the page waiting a minute.
    dashboard = Dashboard(size=20, n_seeds=2)
    try:
        dashboard.apply_query("connection=jammed&size=20&seeds=3&pressure=0.01")
        first = dashboard.snapshot
        assert first.request.parameters.connection == "jammed"
        assert first.network.seed == 0 and not first.complete
        assert "pressure=0.01" in dashboard.link
        assert dashboard.session.wait(120)
        done = dashboard.snapshot
        assert done.complete and len(done.dos.seeds) == 3
        assert done.network is first.network  # the drawn packing is the first one
    finally:
        dashboard.close()
