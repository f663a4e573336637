"""The dashboard's sweep tab without a browser: built lazily, filled by the sweep, no cluster.

Where a shared scheduler is named, a real 2-worker LocalCluster (one thread
each, closed at the end) stands for it: the tab holds one client to it.
"""

from __future__ import annotations

import os
import threading
import time
from unittest import mock

import numpy as np
import pytest
from cluster_helpers import assert_processes_gone

import bpwidgets.core.dos
import bpwidgets.sweep
import bpwidgets.sweep.cluster
import bpwidgets.sweep.run
from bpwidgets.app import Dashboard
from bpwidgets.app.sweep_panel import (
    DEFAULT_DELTAS,
    FAMILIES,
    SweepPanel,
    SweepTab,
    sweep_client,
)
from bpwidgets.session import Parameters
from bpwidgets.sweep import make_local_cluster, sweep, value_range
from bpwidgets.warm import warm

#: Small and quick, yet with peaks at some points and none at others (L = 10 has none).
SIZE, SEEDS = 20, 2
DELTAS = (0.0, 0.2, 0.4)


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A fresh result store, and no scheduler: the page sweeps in its own kernel."""
    monkeypatch.setenv("BPWIDGETS_STORE", str(tmp_path / "store"))
    monkeypatch.delenv("BPWIDGETS_SCHEDULER", raising=False)
    return tmp_path / "store"


@pytest.fixture
def no_cluster(monkeypatch):
    """Starting a Dask cluster, or connecting to one, fails the test."""
    import distributed

    def refuse(*args, **kwargs):
        raise AssertionError("the page started a Dask cluster")

    monkeypatch.setattr(distributed, "LocalCluster", refuse)
    monkeypatch.setattr(distributed, "Client", refuse)
    monkeypatch.setattr(bpwidgets.sweep.cluster, "make_local_cluster", refuse)
    monkeypatch.setattr(bpwidgets.sweep.cluster, "local_client", refuse)


@pytest.fixture
def panel(store, no_cluster):
    widget = SweepPanel(lambda: Parameters(size=SIZE, n_seeds=SEEDS), deltas=DELTAS,
                        background=False)
    yield widget
    widget.close()


def _expected():
    """The same grid straight from the sweep: (variable, family, δ) arrays."""
    data = sweep(delta=list(DELTAS), size=SIZE, connection=["nearest", "cutoff"],
                 spring=["inverse", "constant"], seeds=SEEDS, client=False, progress=False)
    return {name: np.array([[float(data[name].sel(delta=d, connection=c, spring=s))
                             for d in DELTAS] for c, s in FAMILIES])
            for name in ("peak_excess", "peak_excess_error", "peak_omega", "peak_omega_error")}


def _curve_rows(panel):
    """The curves' y, in the order of FAMILIES."""
    rows = {c: np.asarray(mark.y, dtype=float) for c, mark in panel.curves.items()}
    return np.array([rows[c][["inverse", "constant"].index(s)] for c, s in FAMILIES])


def test_the_default_grid_is_the_sweeps_range():
    assert DEFAULT_DELTAS == value_range(0, 0.45, 0.025) and len(DEFAULT_DELTAS) == 19
    assert len(FAMILIES) == 4


def test_the_tab_is_built_when_first_opened(store):
    dashboard = Dashboard(size=SIZE, n_seeds=SEEDS, background=False)
    try:
        assert dashboard.tabs.titles[2] == "Sweep: peak vs δ"
        assert not dashboard.sweep_tab.built and dashboard.sweep_tab.children == ()
        dashboard.tabs.selected_index = 2
        assert dashboard.sweep_tab.built
        panel = dashboard.sweep_tab.panel
        assert dashboard.sweep_tab.children == (panel,)
        assert panel.counts["total"] == 76
        assert "0 of 76 points, 0 failed" in panel.progress.value
        assert "error" not in panel.status.value
    finally:
        dashboard.close()


def test_running_fills_the_marks_with_the_sweeps_numbers(panel):
    assert "0 of 12 points, 0 failed" in panel.progress.value
    panel.run()
    assert not panel.running and not panel.run_button.disabled
    assert "12 of 12 points, 0 failed" in panel.progress.value
    assert panel.counts["computed"] == 12 * SEEDS and panel.counts["from_store"] == 0
    expected = _expected()  # now from the store the panel filled
    for name, values in expected.items():
        np.testing.assert_array_equal(panel.results[name], values)
    np.testing.assert_array_equal(_curve_rows(panel), 100 * expected["peak_excess"])
    # Points without a peak are gaps (NaN), not zeros.
    shown = _curve_rows(panel)
    assert np.isnan(shown).any() and np.isfinite(shown).any()
    assert not (shown == 0).any()
    # Error bars: one NaN-gapped path per family, value -/+ error.
    bars = np.asarray(panel.error_bars.y, dtype=float)
    assert bars.shape == (4, 3 * len(DELTAS))
    np.testing.assert_allclose(bars[:, 1::3] - bars[:, 0::3],
                               200 * expected["peak_excess_error"])
    assert np.isnan(bars[:, 2::3]).all()
    # The toggle shows the position instead.
    panel.quantity.value = "omega"
    np.testing.assert_array_equal(_curve_rows(panel), expected["peak_omega"])
    assert "ω" in panel.value_axis.label
    assert "Done: 12 points" in panel.status.value


def test_a_second_press_while_running_does_nothing(panel, monkeypatch):
    presses = []
    panel._running = True  # as while a sweep is under way
    monkeypatch.setattr(panel._worker, "submit", lambda *a: presses.append(a))
    panel.run_button.click()
    assert presses == []


def test_the_button_is_disabled_while_the_sweep_runs(panel, monkeypatch):
    seen = []
    original = bpwidgets.sweep.sweep

    def watched(*args, **kwargs):
        seen.append((panel.run_button.disabled, panel.running))
        return original(*args, **kwargs)

    monkeypatch.setattr(bpwidgets.sweep, "sweep", watched)
    panel.run()
    assert seen and all(state == (True, True) for state in seen)
    assert not panel.run_button.disabled


def test_a_warmed_store_fills_the_plot_without_computing(panel, monkeypatch):
    warm([Parameters(size=SIZE, delta=d, n_seeds=SEEDS, connection=c, spring=s)
          for d in DELTAS for c, s in FAMILIES])

    def refuse(*args, **kwargs):
        raise AssertionError("a network was built")

    with monkeypatch.context() as patch:  # after it may the expected numbers be computed
        patch.setattr(bpwidgets.core.dos, "build_networks", refuse)
        panel.run()
    assert panel.counts["computed"] == 0 and panel.counts["from_store"] == 12 * SEEDS
    assert "12 of 12 points, 0 failed" in panel.progress.value
    np.testing.assert_array_equal(panel.results["peak_excess"], _expected()["peak_excess"])


def test_an_error_in_a_point_is_shown_on_the_status_line(panel, monkeypatch):
    original = bpwidgets.sweep.run._network_task

    def failing(point, *args):
        if point.delta == 0.2 and point.connection == "cutoff":
            raise RuntimeError("the disk is full")
        return original(point, *args)

    monkeypatch.setattr(bpwidgets.sweep.run, "_network_task", failing)
    panel.run()
    assert "12 of 12 points, 2 failed" in panel.progress.value
    assert "the disk is full" in panel.status.value and "error" in panel.status.value
    assert "Traceback" not in panel.status.value
    failed = [f for f, (c, _) in enumerate(FAMILIES) if c == "cutoff"]
    assert np.isnan(panel.results["peak_excess"][failed, 1]).all()
    assert not panel.run_button.disabled


def test_an_error_of_the_sweep_itself_is_shown(panel, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("a bad grid")

    monkeypatch.setattr(bpwidgets.sweep, "sweep", broken)
    panel.run()
    assert "12 of 12 points, 12 failed" in panel.progress.value
    assert "a bad grid" in panel.status.value and "error" in panel.status.value


def test_a_configured_scheduler_is_used_and_never_a_local_cluster(monkeypatch):
    monkeypatch.delenv("BPWIDGETS_SCHEDULER", raising=False)
    assert sweep_client() is False
    monkeypatch.setenv("BPWIDGETS_SCHEDULER", "off")
    assert sweep_client() is False
    monkeypatch.setenv("BPWIDGETS_SCHEDULER", "tcp://scheduler:8786")
    assert sweep_client() is None  # the sweep connects to that scheduler itself


def test_the_sweep_runs_off_the_kernels_thread(store, no_cluster):
    threads = []
    original = bpwidgets.sweep.sweep

    def watched(*args, **kwargs):
        threads.append(threading.current_thread())
        return original(*args, **kwargs)

    tab = SweepTab(lambda: Parameters(size=SIZE, n_seeds=SEEDS), deltas=DELTAS[:1])
    try:
        with mock.patch.object(bpwidgets.sweep, "sweep", watched):
            tab.panel.run()
            assert tab.panel.wait(120)
        assert threads and threading.main_thread() not in threads
        assert "4 of 4 points" in tab.panel.progress.value
    finally:
        tab.close()


# --------------------------------------------------------------------------- a shared scheduler


@pytest.fixture(scope="module")
def scheduler():
    """A 2-worker LocalCluster (processes, one thread each): the server's shared scheduler."""
    import distributed

    cluster = make_local_cluster(2)
    pids = set()
    try:
        with distributed.Client(cluster, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)
            pids = set(client.run(os.getpid).values())
        yield cluster
    finally:
        cluster.close()
    assert_processes_gone(pids)


def _connections(cluster) -> list:
    """Every client that has connected to the cluster's scheduler, in order."""
    return [message["client"] for _, message in cluster.scheduler.get_events("all")
            if message.get("action") == "add-client"]


def _connected_now(cluster, client_id, timeout=10) -> bool:
    """Whether the scheduler still holds the client, waiting for a closing one to go."""
    deadline = time.monotonic() + timeout
    while client_id in cluster.scheduler.clients and time.monotonic() < deadline:
        time.sleep(0.05)
    return client_id in cluster.scheduler.clients


@pytest.fixture
def shared(scheduler, store, monkeypatch):
    """The scheduler named in BPWIDGETS_SCHEDULER, as on a class server."""
    monkeypatch.setenv("BPWIDGETS_SCHEDULER", scheduler.scheduler_address)
    return scheduler


def test_on_a_shared_scheduler_the_panel_keeps_one_client(shared, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a network was built in the kernel")

    before = _connections(shared)
    panel = SweepPanel(lambda: Parameters(size=SIZE, n_seeds=SEEDS), deltas=DELTAS,
                       background=False)
    try:
        # In the kernel only: the workers are processes of their own, and compute.
        with monkeypatch.context() as patch:
            patch.setattr(bpwidgets.core.dos, "build_networks", refuse)
            panel.run()
            assert "12 of 12 points, 0 failed" in panel.progress.value
            assert panel.counts["computed"] == 12 * SEEDS
            panel.run()  # every point from the store now, through the same client
        assert panel.counts["from_store"] == 12 * SEEDS and panel.counts["done"] == 12
        opened = _connections(shared)[len(before):]
        assert len(opened) == 1, f"{len(opened)} connections for 12 points, run twice"
        assert opened[0] in shared.scheduler.clients  # kept between the runs
    finally:
        panel.close()
    assert not _connected_now(shared, opened[0]), "the panel's client outlived the panel"
    np.testing.assert_array_equal(panel.results["peak_excess"], _expected()["peak_excess"])


def test_closing_the_tab_or_the_dashboard_closes_the_client(shared):
    before = _connections(shared)
    tab = SweepTab(lambda: Parameters(size=SIZE, n_seeds=SEEDS), deltas=DELTAS[:1])
    try:
        tab.panel.run()  # on the tab's own thread
        assert tab.panel.wait(120)
        assert "4 of 4 points, 0 failed" in tab.panel.progress.value
        (client_id,) = _connections(shared)[len(before):]
        assert client_id in shared.scheduler.clients
    finally:
        tab.close()
    assert not _connected_now(shared, client_id)
    dashboard = Dashboard(size=SIZE, n_seeds=SEEDS, background=False)
    try:
        dashboard.tabs.selected_index = 2
        before = _connections(shared)
        client = dashboard.sweep_tab.panel._connection()  # what the first point uses
        (client_id,) = _connections(shared)[len(before):]
        assert client.id == client_id
    finally:
        dashboard.close()
    assert not _connected_now(shared, client_id)
    assert client.status == "closed"
