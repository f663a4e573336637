"""Sweeps on Dask: the numbers equal reduced_dos's, and faults lose nothing.

One real cluster for the module: two single-threaded worker processes
(:func:`bpwidgets.sweep.make_local_cluster`), closed at the end, with every
worker process checked gone. The workers' memory limit is set low
(``WORKER_MEMORY_LIMIT``), so that a point the client accepts is refused on the
workers: a realistic bad point, found only where the task runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import io
import logging
import os
import re
import signal
import subprocess
import sys
import types

import numpy as np
import pytest
import xarray as xr
from cluster_helpers import assert_processes_gone

import bpwidgets.sweep.cli as sweep_cli
import bpwidgets.sweep.cluster as sweep_cluster
import bpwidgets.sweep.dataset as sweep_dataset
import bpwidgets.sweep.grid as sweep_grid
import bpwidgets.sweep.run as sweep_run
from bpwidgets import (
    boson_peak_of,
    build_network,
    jammed_packing,
    keep_network_spectrum,
    network_spectrum,
    reduced_dos,
    reduced_dos_of,
)
from bpwidgets.core.analysis import DOS_MOMENTS
from bpwidgets.core.jamming import MAX_PRESSURE, MIN_PRESSURE
from bpwidgets.core.kpm import default_vectors
from bpwidgets.core.packings import stored_contact_spectra, stored_packing
from bpwidgets.core.store import ResultStore, open_store
from bpwidgets.sweep import (
    DEFAULT_OMEGA,
    SCHEDULER_ENVIRONMENT,
    close_local_cluster,
    failures,
    load,
    local_client,
    main,
    make_local_cluster,
    save,
    sweep,
    sweep_points,
    value_range,
)

distributed = pytest.importorskip("distributed")

#: The workers' memory limit: enough for the networks of these tests (L <= 80 takes a
#: few MiB), too little for one of L = 300 (about 55 MiB), which the client accepts.
WORKER_MEMORY_LIMIT = "40M"
#: A small grid: two families, two displacements; 16 networks of L = 40.
SMALL = dict(delta=[0.2, 0.3], size=40, connection="cutoff", spring=["inverse", "constant"],
             seeds=4)
#: A small glass: two pressures, two packings of N = 16^2 = 256 disks each (about 0.5 s
#: a packing), large enough for a Boson peak above the cell's lowest frequencies.
GLASS = dict(connection="jammed", pressure=[1e-3, 1e-2], size=16, spring="inverse", seeds=2)
GLASS_DISKS = 16 * 16


@pytest.fixture(scope="module")
def client():
    """A 2-worker LocalCluster (processes, one thread each) and its client."""
    cluster = make_local_cluster(2, env={"BPWIDGETS_MEMORY_LIMIT": WORKER_MEMORY_LIMIT})
    connected = distributed.Client(cluster, set_as_default=False)
    pids = set()
    try:
        connected.wait_for_workers(2, timeout=60)
        yield connected
    finally:
        with contextlib.suppress(Exception):
            pids = set(connected.run(os.getpid).values())
        connected.close()
        cluster.close()
    assert_processes_gone(pids)  # no worker process is left running


@pytest.fixture(scope="module")
def serial():
    """The small grid computed in this process, without Dask or a store: the reference."""
    return sweep(**SMALL, client=False, store=False, progress=False)


@pytest.fixture(scope="module")
def glass_serial():
    """The small glass computed in this process, without Dask or a store: the reference."""
    return sweep(**GLASS, client=False, store=False, progress=False)


@pytest.fixture(scope="module")
def clustered(client, tmp_path_factory):
    """The small grid on the cluster, into a store of its own."""
    return sweep(**SMALL, client=client, store=tmp_path_factory.mktemp("store"), progress=False)


def assert_same_numbers(a, b):
    """Every variable and coordinate equal (NaN where the other has NaN); attributes aside."""
    xr.testing.assert_equal(a, b)


def assert_point_is(point, expected, peak):
    """A sweep's point holds ``expected`` (a ReducedDOS) and ``peak`` (its BosonPeak), bit for bit."""
    assert np.array_equal(point.reduced_dos.values, expected.per_seed)
    assert np.array_equal(point.reduced_dos_mean.values, expected.mean)
    assert np.array_equal(point.reduced_dos_error.values, expected.mean_error)
    assert np.array_equal(point.debye_level.values, expected.debye_levels)
    assert point.debye_level_mean.item() == expected.debye_level
    assert point.debye_level_error.item() == expected.debye_level_error
    assert np.array_equal(point.mean_z.values, expected.mean_coordination)
    assert np.array_equal(point.zero_modes.values, expected.zero_modes)
    assert point.pooled_mean_z_error.item() == expected.mean_coordination_error
    assert bool(point.peak_found) and bool(point.complete)
    for name in ("omega", "excess", "omega_error", "excess_error", "reduced_dos"):
        # NaN where a leave-one-out average has no peak, in both.
        assert np.array_equal(point[f"peak_{name}"].item(), getattr(peak, name),
                              equal_nan=True), name


# --------------------------------------------------------------------------- the numbers


def test_a_point_equals_reduced_dos_of_its_seeds_exactly(clustered):
    data = clustered
    assert data.attrs["computed"] == 16 and data.attrs["failed"] == 0
    assert dict(data.sizes) == {"delta": 2, "spring": 2, "seed": 4, "omega": DEFAULT_OMEGA.size}
    assert data.size.item() == 40 and data.connection.item() == "cutoff"
    for delta in SMALL["delta"]:
        for spring in SMALL["spring"]:
            expected = reduced_dos(40, delta, connection="cutoff", spring=spring, seeds=4,
                                   moments=DOS_MOMENTS, omega=DEFAULT_OMEGA, store=False)
            peak = boson_peak_of(expected, 40)
            point = data.sel(delta=delta, spring=spring)
            assert_point_is(point, expected, peak)
            # The variance of Z over every node of every seed, from the networks themselves.
            z = np.concatenate([build_network(40, delta, connection="cutoff", spring=spring,
                                              seed=s).coordination for s in range(4)])
            assert point.pooled_var_z.item() == pytest.approx(z.var(), rel=1e-12)
            assert point.pooled_mean_z.item() == pytest.approx(z.mean(), rel=1e-12)


def test_the_cluster_and_the_serial_engine_agree(clustered, serial):
    assert_same_numbers(clustered, serial)


def test_workers_do_their_numpy_work_in_one_thread(client):
    threads = client.run(lambda: (os.environ.get("BPWIDGETS_THREADS"),
                                  __import__("bpwidgets.core.parallel").core.parallel.cores()))
    assert set(threads.values()) == {("1", 1)}
    assert {w["nthreads"] for w in client.scheduler_info()["workers"].values()} == {1}


# --------------------------------------------------------------------------- faults


def test_a_killed_worker_loses_no_result(client, tmp_path):
    """Kill a busy worker's process during the sweep: its tasks run again elsewhere."""
    grid = dict(delta=[0.2, 0.3], size=60, connection="cutoff", spring="inverse", seeds=6)
    expected = sweep(**grid, client=False, store=False, progress=False)
    killed = []

    def kill_a_busy_worker(done, failed, total):
        if killed or done < 2:
            return
        busy = {address: keys for address, keys in client.processing().items() if keys}
        if not busy:  # between two tasks: try at the next one
            return
        pids = client.run(os.getpid)
        address = next(iter(busy))
        os.kill(pids[address], signal.SIGKILL)
        killed.append((address, busy[address]))

    data = sweep(**grid, client=client, store=tmp_path, progress=kill_a_busy_worker)
    assert killed and killed[0][1], "a worker was killed while it had tasks"
    assert data.attrs["failed"] == 0 and data.attrs["remaining"] == 0
    assert bool(data.done.all()) and bool(data.complete.all())
    assert_same_numbers(data, expected)
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it, for the next tests


def test_a_failing_point_is_reported_and_marked_never_zero(client, tmp_path, caplog):
    """L = 300 passes the client's checks but not the workers' memory limit."""
    with caplog.at_level(logging.WARNING, logger="bpwidgets"):
        data = sweep(delta=0.3, size=[40, 300], seeds=2, client=client, store=tmp_path,
                     progress=False)
    good, bad = data.sel(size=40), data.sel(size=300)
    assert data.attrs["failed"] == 2 and data.attrs["computed"] == 2
    assert data.attrs["remaining"] == 0
    reported = failures(data)
    assert {(f["size"], f["delta"], f["connection"], f["spring"], f["seed"])
            for f in reported} == {(300, 0.3, "cutoff", "inverse", 0),
                                   (300, 0.3, "cutoff", "inverse", 1)}
    assert all(f["error"].startswith("ValueError: size=300") and "more than the limit" in
               f["error"] for f in reported)
    assert "seed=0 failed" in caplog.text and "size=300" in caplog.text
    # The missing point is NaN everywhere, and says so; never zeros.
    assert not bool(bad.complete) and not bad.done.any()
    for name in ("reduced_dos", "debye_level", "mean_z", "var_z", "zero_modes",
                 "reduced_dos_mean", "peak_omega", "peak_excess", "debye_level_mean",
                 "pooled_var_z"):
        assert bool(bad[name].isnull().all()), name
    # The other point finished, with the numbers a serial run gives.
    expected = sweep(delta=0.3, size=40, seeds=2, client=False, store=False, progress=False)
    assert bool(good.complete)
    assert_same_numbers(good.drop_vars("size"), expected.drop_vars("size"))


def test_a_point_with_one_failed_seed_keeps_the_others_and_is_missing(tmp_path):
    """The dataset of a partial point: its seeds' values kept, its own values NaN."""
    grid = sweep_grid._checked_grid(0.3, 40, "cutoff", "inverse", 3, DOS_MOMENTS)
    points = dict(grid.points())
    (index,) = points
    parts = {(index, s): sweep_run._network_task(points[index], s, DOS_MOMENTS,
                                                grid.vectors(points[index]), False).spectrum
             for s in (0, 2)}
    data = sweep_dataset._dataset(grid, points, DEFAULT_OMEGA, parts)
    assert data.done.values.tolist() == [True, False, True]
    assert bool(data.reduced_dos.sel(seed=1).isnull().all())
    assert not bool(data.reduced_dos.sel(seed=[0, 2]).isnull().any())
    assert not bool(data.complete) and bool(data.peak_omega.isnull())
    assert bool(data.reduced_dos_mean.isnull().all())


@pytest.mark.parametrize("arguments, same_as", [
    (dict(delta=[]), None),
    (dict(delta=[0.1, 1.2]), dict(size=40, delta=1.2)),
    (dict(delta=-0.1), dict(size=40, delta=-0.1)),
    (dict(connection=["cutoff", "diagonal"]), dict(size=40, delta=0.3, connection="diagonal")),
    (dict(size=[40, 3], delta=0.6), dict(size=3, delta=0.6)),
    (dict(size=[40, 2.5]), dict(size=2.5, delta=0.3)),
    (dict(spring="hooke"), dict(size=40, delta=0.3, spring="hooke")),
    (dict(delta=[0.1, 0.1]), None),
    (dict(seeds=0), None),
    (dict(seeds=[1, 1]), None),
])
def test_a_bad_grid_fails_before_anything_is_sent(arguments, same_as):
    """The same errors as build_network; nothing reaches a scheduler (there is none there)."""
    grid = dict(delta=0.3, size=40, connection="cutoff", spring="inverse", seeds=2) | arguments
    with pytest.raises(ValueError) as raised:
        sweep(**grid, client="tcp://127.0.0.1:1", store=False, progress=False)
    if same_as is not None:
        network = dict(connection="cutoff", spring="inverse", seed=0) | same_as
        with pytest.raises(ValueError) as direct:
            build_network(**network)
        assert str(raised.value) == str(direct.value)
    else:
        assert any(word in str(raised.value) for word in ("empty", "more than once", "seeds"))
    with pytest.raises(ValueError):
        sweep_points(**grid)


def test_a_client_of_another_kind_is_refused():
    with pytest.raises(TypeError, match="client must be"):
        sweep(delta=0.3, size=20, seeds=1, client=3, store=False)


# --------------------------------------------------------------------------- the store


def test_an_interrupted_sweep_resumes_and_a_repeated_one_is_free(client, tmp_path, serial):
    stop_after = 5

    def interrupt(done, failed, total):
        if done >= stop_after:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep(**SMALL, client=client, store=tmp_path, progress=interrupt)
    stored = len(open_store(tmp_path))
    assert stop_after <= stored < 16
    resumed = sweep(**SMALL, client=client, store=tmp_path, progress=False)
    assert resumed.attrs["from_store"] >= stored
    assert resumed.attrs["computed"] + resumed.attrs["from_store"] == 16
    assert_same_numbers(resumed, serial)
    # Everything is stored: no task is sent, so not even a scheduler is needed.
    again = sweep(**SMALL, client="tcp://127.0.0.1:1", store=tmp_path, progress=False)
    assert again.attrs["from_store"] == 16 and again.attrs["computed"] == 0
    assert again.attrs["engine"] == "store"
    assert_same_numbers(again, serial)


class CountingStore(ResultStore):
    """A result store on disk that counts its reads and writes."""

    def __init__(self, directory):
        super().__init__(directory)
        self.reads = self.writes = 0

    def get(self, key):
        self.reads += 1
        return super().get(key)

    def put(self, key, value):
        self.writes += 1
        return super().put(key, value)


def test_a_task_reads_the_store_once_then_computes_and_stores(tmp_path):
    store = CountingStore(tmp_path)
    grid = sweep_grid._checked_grid(0.3, 20, "cutoff", "inverse", 2, DOS_MOMENTS)
    ((_, point),) = grid.points()
    task = (point, 1, DOS_MOMENTS, grid.vectors(point))
    computed = sweep_run._network_task(*task, store)
    assert computed.computed and (store.reads, store.writes) == (1, 1)
    read = sweep_run._network_task(*task, store)
    assert not read.computed and (store.reads, store.writes) == (2, 1)
    assert read.spectrum.fingerprint == computed.spectrum.fingerprint
    assert np.array_equal(read.spectrum.moments, computed.spectrum.moments)
    # What the task stored is the part network_spectrum computes for that seed.
    alone = network_spectrum(20, 0.3, connection="cutoff", spring="inverse", seed=1,
                             moments=DOS_MOMENTS, vectors=grid.vectors(point), store=False)
    assert np.array_equal(alone.moments, computed.spectrum.moments)


def test_a_sweep_reads_each_network_once_on_the_client_and_once_in_its_task(tmp_path):
    """4 networks: the client's look-up and the task's, then one write each; again, the
    client's look-up alone. The numbers are those of a sweep without a store."""
    grid = dict(delta=[0.2, 0.3], size=20, seeds=2, client=False, progress=False)
    store = CountingStore(tmp_path)
    first = sweep(**grid, store=store)
    assert first.attrs["computed"] == 4
    assert (store.reads, store.writes) == (2 * 4, 4)
    again = sweep(**grid, store=store)
    assert again.attrs["from_store"] == 4
    assert (store.reads, store.writes) == (3 * 4, 4)
    reference = sweep(**grid, store=False)
    assert_same_numbers(first, reference)
    assert_same_numbers(again, reference)


def test_the_sweep_and_reduced_dos_share_the_stores_entries(client, tmp_path):
    sweep(delta=0.25, size=40, seeds=3, client=client, store=tmp_path, progress=False)
    assert len(open_store(tmp_path)) == 3
    reduced_dos(40, 0.25, connection="cutoff", spring="inverse", seeds=3, moments=DOS_MOMENTS,
                store=tmp_path)
    assert len(open_store(tmp_path)) == 3  # read, not computed again


def test_without_a_shared_store_the_client_keeps_what_comes_back(client, tmp_path, serial):
    data = sweep(**SMALL, client=client, store=tmp_path, shared_store=False, progress=False)
    assert data.attrs["computed"] == 16
    assert len(open_store(tmp_path)) == 16
    again = sweep(**SMALL, client=False, store=tmp_path, progress=False)
    assert again.attrs["from_store"] == 16
    assert_same_numbers(again, serial)


def test_a_part_kept_by_the_client_must_be_of_its_kind(tmp_path):
    part = network_spectrum(20, 0.3, connection="cutoff", spring="inverse", seed=0,
                            moments=DOS_MOMENTS, store=False)
    for wrong in (dict(size=30), dict(moments=128), dict(delta=0.31), dict(spring="constant")):
        arguments = dict(size=20, delta=0.3, connection="cutoff", spring="inverse",
                         moments=DOS_MOMENTS, store=tmp_path) | wrong
        with pytest.raises(ValueError, match="computed for"):
            keep_network_spectrum(part, **arguments)
    with pytest.raises(ValueError, match="NetworkSpectrum"):
        keep_network_spectrum("part", 20, 0.3, connection="cutoff", spring="inverse")
    assert len(open_store(tmp_path)) == 0


# --------------------------------------------------------------------------- where it runs


def test_the_scheduler_named_in_the_environment_is_used(client, monkeypatch):
    """A page connects to a shared scheduler: it never starts a cluster of its own."""
    monkeypatch.setenv(SCHEDULER_ENVIRONMENT, client.scheduler.address)
    data = sweep(delta=0.3, size=20, seeds=2, store=False, progress=False)
    assert data.attrs["engine"] == client.scheduler.address
    assert sweep_cluster._local == {}


def test_a_server_can_forbid_a_cluster_per_page(monkeypatch):
    monkeypatch.setenv(SCHEDULER_ENVIRONMENT, "off")
    with pytest.raises(RuntimeError, match="may not start a cluster"):
        sweep(delta=0.3, size=20, seeds=1, store=False, progress=False)
    assert sweep_cluster._local == {}
    # A serial sweep, or one given a client, is still allowed.
    assert sweep(delta=0.3, size=20, seeds=1, client=False, store=False,
                 progress=False).attrs["computed"] == 1


def test_one_local_cluster_per_process_whatever_the_number_of_sweeps(monkeypatch):
    monkeypatch.delenv(SCHEDULER_ENVIRONMENT, raising=False)
    try:
        first = local_client(1)
        assert local_client() is first and local_client(1) is first
        data = sweep(delta=0.3, size=20, seeds=1, workers=1, store=False, progress=False)
        assert data.attrs["engine"] == first.scheduler.address
        pids = set(first.run(os.getpid).values())
    finally:
        close_local_cluster()
    assert sweep_cluster._local == {}
    assert_processes_gone(pids)


def test_a_cluster_of_a_kind_is_started_from_the_configuration_and_stopped(monkeypatch):
    """client="slurm": the cluster class is made with no arguments (Dask's configuration
    sets it up), scaled, used and closed. A stand-in for dask-jobqueue's class here."""
    made = []

    class ConfiguredCluster(distributed.LocalCluster):
        def __init__(self):
            super().__init__(n_workers=0, threads_per_worker=1, processes=True,
                             dashboard_address=":0", env={"BPWIDGETS_THREADS": "1"})
            made.append(self)

    module = types.ModuleType("stand_in_jobqueue")
    module.SLURMCluster = ConfiguredCluster
    monkeypatch.setitem(sys.modules, "stand_in_jobqueue", module)
    monkeypatch.setitem(sweep_cluster.CLUSTER_KINDS, "slurm", "stand_in_jobqueue:SLURMCluster")
    data = sweep(delta=0.3, size=20, seeds=2, client="slurm", workers=1, store=False,
                 progress=False)
    (cluster,) = made
    assert data.attrs["engine"] == cluster.scheduler_address
    assert data.attrs["computed"] == 2
    assert cluster.status.name == "closed"


def test_a_kind_of_cluster_needs_its_package_and_a_bad_one_is_refused():
    if importlib.util.find_spec("dask_jobqueue") is None:
        with pytest.raises(ImportError, match="pip install dask-jobqueue"):
            sweep(delta=0.3, size=20, seeds=1, client="pbs", store=False)
    with pytest.raises(ValueError, match="scheduler's address"):
        sweep(delta=0.3, size=20, seeds=1, client="my-laptop", store=False)


# --------------------------------------------------------------------------- files, CLI, progress


def test_netcdf_round_trip(tmp_path, serial):
    path = save(serial, tmp_path / "sweep.nc")
    loaded = load(path)
    xr.testing.assert_identical(loaded, serial)
    assert loaded.done.dtype == bool and loaded.spring.values.tolist() == ["inverse", "constant"]
    with pytest.raises(ValueError, match="netCDF"):
        save(serial, tmp_path / "sweep.csv")


def test_zarr_round_trip(tmp_path, serial):
    pytest.importorskip("zarr")
    xr.testing.assert_identical(load(save(serial, tmp_path / "sweep.zarr")), serial)


def test_the_command_line_runs_on_a_scheduler_and_saves(client, tmp_path, serial):
    out = tmp_path / "sweep.nc"
    run = subprocess.run(
        [sys.executable, "-m", "bpwidgets.sweep", "--delta", "0.2:0.3:0.1", "--size", "40",
         "--connection", "cutoff", "--spring", "inverse", "constant", "--seeds", "4",
         "--scheduler", client.scheduler.address, "--store", str(tmp_path / "store"),
         "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "sweep: 16 tasks: 16 computed, 0 from the store, 0 failed, 0 remaining" in run.stdout
    assert "16/16 tasks" in run.stderr  # the progress bar
    assert_same_numbers(load(out), serial)


@pytest.mark.parametrize("arguments, message", [
    (["--delta", "0:0.5"], "start:stop:step"),
    (["--delta", "0.5:0:0.1"], "upwards"),
    (["--size", "2"], "size must be"),
    (["--out", "sweep.csv"], ".nc or .zarr"),
    (["--connection", "jammed", "--delta", "0.3"], "instead of delta="),
    (["--pressure", "1e-3"], "pressure is that of jammed disks"),
    (["--connection", "jammed", "--pressure", "1e-3,0.5"], "MAX_PRESSURE = 0.05"),
    (["--connection", "jammed", "--pressure", "1e-3,x"], "not a float"),
])
def test_the_command_line_refuses_bad_input(arguments, message, capsys):
    base = {"--out": "x.nc"}
    for flag, value in zip(arguments[::2], arguments[1::2]):
        base[flag] = value
    with pytest.raises(SystemExit) as exited:
        main([item for pair in base.items() for item in pair] + ["--serial"])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_value_ranges_include_their_end_and_are_rounded():
    assert value_range(0, 0.45, 0.025)[-1] == 0.45
    assert len(value_range(0, 0.45, 0.025)) == 19
    assert value_range(0, 0.3, 0.1) == (0.0, 0.1, 0.2, 0.3)  # 3 * 0.1 is 0.3, as typed
    assert sweep_cli._parameter_values("100:300:100", int) == [100, 200, 300]


def test_progress_in_a_terminal_and_the_counts_at_the_end(capsys):
    sweep(delta=0.3, size=20, seeds=2, client=False, store=False, progress=True)
    err = capsys.readouterr().err
    assert "[##############################] 2/2 tasks" in err
    assert "sweep: 2 tasks: 2 computed, 0 from the store, 0 failed, 0 remaining" in err
    calls = []
    sweep(delta=0.3, size=20, seeds=2, client=False, store=False,
          progress=lambda *counts: calls.append(counts))
    assert calls == [(1, 0, 2), (2, 0, 2)]
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- the glass


def test_a_glass_point_equals_reduced_dos_of_its_packings_exactly(glass_serial):
    """Each pressure's numbers are reduced_dos_of the packings' contact networks, bit for bit."""
    data = glass_serial
    assert dict(data.sizes) == {"pressure": 2, "seed": 2, "omega": DEFAULT_OMEGA.size}
    assert "delta" not in data.coords and data.connection.item() == "jammed"
    assert data.size.item() == 16 and data.attrs["computed"] == 4
    assert data.vectors.values.tolist() == [default_vectors(2 * GLASS_DISKS, networks=2)] * 2
    for pressure in GLASS["pressure"]:
        packings = [jammed_packing(GLASS_DISKS, pressure=pressure, seed=s) for s in (0, 1)]
        networks = [packing.network("inverse") for packing in packings]
        expected = reduced_dos_of(networks, moments=DOS_MOMENTS, omega=DEFAULT_OMEGA,
                                  store=False)
        peak = boson_peak_of(expected, networks[0])
        point = data.sel(pressure=pressure)
        assert_point_is(point, expected, peak)
        # The rattlers and the mean Z of the other disks, as the dashboard counts them.
        held = [np.delete(net.coordination, net.rattlers) for net in networks]
        assert point.rattlers.values.tolist() == [len(p.rattlers) / GLASS_DISKS
                                                  for p in packings]
        assert point.held_mean_z.values == pytest.approx([z.mean() for z in held], rel=1e-12)
        assert point.pooled_held_mean_z.item() == pytest.approx(np.concatenate(held).mean(),
                                                                rel=1e-12)
        assert point.pooled_held_mean_z_error.item() == pytest.approx(
            np.std([z.mean() for z in held], ddof=1) / np.sqrt(2), rel=1e-12)
    # Z - 4 grows with the pressure: the glass's disorder control is the one swept.
    excess = data.pooled_held_mean_z.values - 4
    assert 0 < excess[0] < excess[1]


def test_the_glass_runs_on_the_cluster_into_the_dashboards_store(client, tmp_path,
                                                                glass_serial):
    """The workers make the packings and keep them with their parts, where the dashboard
    reads them; a second sweep reads them all without a scheduler."""
    data = sweep(**GLASS, client=client, store=tmp_path, progress=False)
    assert data.attrs["computed"] == 4 and data.attrs["engine"] == client.scheduler.address
    assert_same_numbers(data, glass_serial)
    for pressure in GLASS["pressure"]:
        assert stored_contact_spectra(
            GLASS_DISKS, pressure=pressure, spring="inverse", seeds=[0, 1], moments=DOS_MOMENTS,
            vectors=default_vectors(2 * GLASS_DISKS, networks=2), store=tmp_path) is not None
        for seed in (0, 1):
            stored = stored_packing(GLASS_DISKS, pressure=pressure, seed=seed, store=tmp_path)
            made = jammed_packing(GLASS_DISKS, pressure=pressure, seed=seed)
            assert np.array_equal(stored.positions, made.positions)
    again = sweep(**GLASS, client="tcp://127.0.0.1:1", store=tmp_path, progress=False)
    assert again.attrs["from_store"] == 4 and again.attrs["engine"] == "store"
    assert_same_numbers(again, glass_serial)


def test_without_a_shared_store_the_client_keeps_the_glass_parts(client, tmp_path,
                                                                glass_serial):
    data = sweep(**GLASS, client=client, store=tmp_path, shared_store=False, progress=False)
    assert data.attrs["computed"] == 4
    assert len(open_store(tmp_path)) == 4  # the parts; the packings stayed on the workers
    again = sweep(**GLASS, client=False, store=tmp_path, progress=False)
    assert again.attrs["from_store"] == 4
    assert_same_numbers(again, glass_serial)


def test_a_glass_task_reads_its_part_once_and_keeps_its_packing(tmp_path):
    """Read the part (missing), read the packing (missing), make both and keep both; then
    the part alone is read. Another spring law on the same packing makes no packing."""
    store = CountingStore(tmp_path)
    grid = sweep_grid._checked_grid(None, 10, "jammed", "inverse", 2, DOS_MOMENTS,
                                    pressure=1e-2)
    ((_, point),) = grid.points()
    task = (point, 1, DOS_MOMENTS, grid.vectors(point))
    computed = sweep_run._network_task(*task, store)
    assert computed.computed and (store.reads, store.writes) == (2, 2)
    read = sweep_run._network_task(*task, store)
    assert not read.computed and (store.reads, store.writes) == (3, 2)
    assert np.array_equal(read.spectrum.moments, computed.spectrum.moments)
    constant = dataclasses.replace(point, spring="constant")
    other = sweep_run._network_task(constant, 1, DOS_MOMENTS, grid.vectors(point), store)
    assert other.computed and (store.reads, store.writes) == (5, 3)  # its part alone is new
    assert other.spectrum.fingerprint != computed.spectrum.fingerprint


def test_a_failing_glass_point_is_reported_with_its_pressure(client, tmp_path):
    """44 100 disks pass the client's checks but not the workers' memory limit."""
    data = sweep(connection="jammed", pressure=1e-2, size=[10, 210], seeds=1, client=client,
                 store=tmp_path, progress=False)
    assert data.attrs["failed"] == 1 and data.attrs["computed"] == 1
    (failure,) = failures(data)
    assert failure["error"].startswith("ValueError: a packing of 44100 disks needs")
    assert {k: v for k, v in failure.items() if k != "error"} == dict(
        pressure=1e-2, size=210, connection="jammed", spring="inverse", seed=0)
    assert bool(data.complete.sel(size=10)) and not bool(data.complete.sel(size=210))
    assert bool(data.reduced_dos.sel(size=210).isnull().all())


@pytest.mark.parametrize("arguments, message", [
    (dict(delta=0.3), "give pressure= instead of delta="),
    (dict(connection="cutoff", pressure=1e-3), "pressure is that of jammed disks"),
    (dict(connection=["jammed", "cutoff"]), "swept apart"),
    (dict(pressure=[1e-3, 0.1]), "MAX_PRESSURE = 0.05"),
    (dict(pressure=MIN_PRESSURE / 2), "from MIN_PRESSURE = 1e-05"),
    (dict(pressure=0.0), "pressure must be"),
    (dict(pressure=float("nan")), "pressure must be"),
    (dict(pressure="1e-3"), "pressure must be"),
    (dict(pressure=[1e-3, 1e-3]), "more than once"),
    (dict(size=3), "MIN_DISKS = 16"),
    (dict(size=[10, 12.5]), "a whole number L from 4 to 1000"),
    (dict(spring="contact"), "spring must be one of 'inverse', 'constant'"),
    (dict(moments=7), "moments"),
])
def test_a_bad_glass_grid_fails_before_anything_is_sent(arguments, message):
    grid = dict(connection="jammed", pressure=1e-3, size=10, spring="inverse",
                seeds=2) | arguments
    with pytest.raises(ValueError, match=re.escape(message)):
        sweep(**grid, client="tcp://127.0.0.1:1", store=False, progress=False)
    pressures = grid["pressure"] if isinstance(grid["pressure"], list) else [grid["pressure"]]
    for pressure in pressures:
        if not (isinstance(pressure, float) and MIN_PRESSURE <= pressure <= MAX_PRESSURE):
            with pytest.raises(ValueError, match="pressure"):  # the core refuses it too
                jammed_packing(GLASS_DISKS, pressure=pressure, seed=0)


def test_the_glass_accepts_the_ends_of_the_cores_pressures():
    points = sweep_points(connection="jammed", pressure=[MIN_PRESSURE, MAX_PRESSURE], size=4,
                          seeds=1)
    assert [(p.pressure, p.disks, p.delta) for p in points] == [(MIN_PRESSURE, 16, None),
                                                                (MAX_PRESSURE, 16, None)]


def test_the_command_line_sweeps_the_glass(client, tmp_path, glass_serial):
    out = tmp_path / "glass.nc"
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        code = main(["--connection", "jammed", "--pressure", "1e-3,1e-2", "--size", "16",
                     "--seeds", "2", "--scheduler", client.scheduler.address, "--store", "off",
                     "--quiet", "--out", str(out)])
    assert code == 0
    assert "sweep: 4 tasks: 4 computed" in printed.getvalue()
    loaded = load(out)
    assert_same_numbers(loaded, glass_serial)
    assert loaded.pressure.attrs["description"].startswith("pressure of the jammed packings")
