"""The parallel policy: how many cores the process may use, and where parallel work runs."""

import threading

import pytest
import scipy.fft

from bpwidgets import build_network, debye_level, spectrum_bound
from bpwidgets.core import parallel
from bpwidgets.core.parallel import (
    THREADS_VARIABLE,
    cgroup_cpu_limit,
    cores,
    count_cores,
    each,
    fft_workers,
    in_pool,
    pool,
    threads,
)

# ----------------------------------------------------------------- the CPU quota


def _cgroup(tmp_path, files, own="0::/\n"):
    """A fake cgroup tree: ``files`` maps paths under the root to their text."""
    root = tmp_path / "cgroup"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    root.mkdir(exist_ok=True)
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text(own)
    return root, proc


@pytest.mark.parametrize(
    "text, limit",
    [("max 100000\n", None), ("200000 100000\n", 2), ("150000 100000\n", 2),
     ("50000 100000\n", 1), ("100000 100000\n", 1), ("400000\n", 4), ("garbage\n", None)],
)
def test_cgroup_v2_cpu_max(tmp_path, text, limit):
    root, proc = _cgroup(tmp_path, {"cpu.max": text})
    assert cgroup_cpu_limit(root, proc) == limit


@pytest.mark.parametrize(
    "quota, period, limit",
    [("-1", "100000", None), ("200000", "100000", 2), ("250000", "100000", 3),
     ("10000", "100000", 1)],
)
@pytest.mark.parametrize("mount", ["cpu", "cpu,cpuacct"])
def test_cgroup_v1_cfs_quota(tmp_path, quota, period, limit, mount):
    root, proc = _cgroup(tmp_path, {f"{mount}/cpu.cfs_quota_us": quota + "\n",
                                    f"{mount}/cpu.cfs_period_us": period + "\n"},
                         own=f"4:{mount}:/\n")
    assert cgroup_cpu_limit(root, proc) == limit


def test_missing_cgroup_files_mean_no_quota(tmp_path):
    root, proc = _cgroup(tmp_path, {})
    assert cgroup_cpu_limit(root, proc) is None
    assert cgroup_cpu_limit(tmp_path / "nowhere", tmp_path / "no-proc-file") is None
    # Half a v1 pair is no quota either.
    root, proc = _cgroup(tmp_path, {"cpu/cpu.cfs_quota_us": "200000\n"})
    assert cgroup_cpu_limit(root, proc) is None


def test_the_tightest_quota_of_the_process_cgroup_and_its_parents_wins(tmp_path):
    root, proc = _cgroup(
        tmp_path,
        {"cpu.max": "max 100000\n", "kube/cpu.max": "300000 100000\n",
         "kube/pod/cpu.max": "max 100000\n", "cpu/docker/cpu.cfs_quota_us": "500000\n",
         "cpu/docker/cpu.cfs_period_us": "100000\n"},
        own="0::/kube/pod\n4:cpu:/docker\n",
    )
    assert cgroup_cpu_limit(root, proc) == 3


@pytest.mark.parametrize(
    "affinity, quota, expected",
    [(8, "200000 100000\n", 2),   # the quota is tighter than the affinity
     (2, "800000 100000\n", 2),   # the affinity is tighter than the quota
     (3, "150000 100000\n", 2),   # 1.5 cores of quota: rounded up
     (4, "max 100000\n", 4),      # no quota: the affinity
     (1, "20000 100000\n", 1)],   # a fifth of a core: still one
)
def test_cores_are_the_affinity_limited_by_the_quota(tmp_path, affinity, quota, expected):
    root, proc = _cgroup(tmp_path, {"cpu.max": quota})
    assert count_cores(environ={}, affinity=affinity, cgroup_root=root,
                       proc_cgroup=proc) == expected


def test_cores_without_a_cgroup_are_the_affinity_never_the_host_count(tmp_path, monkeypatch):
    root, proc = _cgroup(tmp_path, {})
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 512)
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert count_cores(environ={}, cgroup_root=root, proc_cgroup=proc) == 3


# ----------------------------------------------------------------- BPWIDGETS_THREADS


def test_the_environment_variable_sets_the_thread_count(tmp_path):
    root, proc = _cgroup(tmp_path, {"cpu.max": "100000 100000\n"})
    for value, expected in [("3", 3), (" 1 ", 1), ("16", 16)]:
        assert count_cores(environ={THREADS_VARIABLE: value}, affinity=2, cgroup_root=root,
                           proc_cgroup=proc) == expected
    # Unset or empty: detected.
    assert count_cores(environ={THREADS_VARIABLE: ""}, affinity=2, cgroup_root=root,
                       proc_cgroup=proc) == 1


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5", "1e3"])
def test_a_bad_thread_count_is_refused_by_name(value):
    with pytest.raises(ValueError, match=THREADS_VARIABLE):
        count_cores(environ={THREADS_VARIABLE: value}, affinity=2)


def test_cores_is_kept_and_can_be_reset(monkeypatch):
    pool()  # made at its real size before the count changes
    monkeypatch.setenv(THREADS_VARIABLE, "5")
    parallel.reset_cores()
    try:
        assert cores() == 5
        monkeypatch.setenv(THREADS_VARIABLE, "7")
        assert cores() == 5  # kept
        parallel.reset_cores()
        assert cores() == 7
        monkeypatch.setenv(THREADS_VARIABLE, "none")
        parallel.reset_cores()
        with pytest.raises(ValueError, match=THREADS_VARIABLE):
            cores()
    finally:
        monkeypatch.delenv(THREADS_VARIABLE)
        parallel.reset_cores()
    assert cores() == count_cores()


# ----------------------------------------------------------------- where work runs


def test_each_runs_in_the_pool_from_outside_it(monkeypatch):
    if pool()._max_workers < 2:
        pytest.skip("a pool of one thread")
    monkeypatch.setattr(parallel, "cores", lambda: 2)
    barrier = threading.Barrier(2, timeout=30)

    def meet(_):
        barrier.wait()  # passes only if two items run at the same time
        return threading.current_thread().name

    names = each(meet, range(2))
    assert all(name.startswith("bpwidgets-pool") for name in names)


def test_each_inside_a_pool_thread_runs_serially_on_that_thread():
    def job():
        own = threading.current_thread().name
        names = each(lambda _: threading.current_thread().name, range(4 * cores()))
        return own, names, threads(), threads(8)

    assert not in_pool()
    futures = [pool().submit(job) for _ in range(2 * cores())]  # every pool thread at once
    for future in futures:
        own, names, inner_threads, requested = future.result(timeout=60)
        assert own.startswith("bpwidgets-pool")
        assert names == [own] * (4 * cores())
        assert inner_threads == requested == 1


def test_on_one_core_nothing_fans_out(monkeypatch):
    monkeypatch.setattr(parallel, "cores", lambda: 1)
    assert threads() == threads(4) == fft_workers() == 1
    assert each(lambda _: threading.current_thread().name, range(3)) == [
        threading.current_thread().name] * 3


def test_fft_workers_are_one_inside_the_pool_and_every_core_outside():
    assert fft_workers() == cores()
    assert threads() == cores() and threads(3) == (3 if cores() > 1 else 1)
    assert pool().submit(fft_workers).result(timeout=30) == 1


def test_the_conductance_solve_asks_the_policy_for_its_fft_workers(monkeypatch):
    seen = []
    rfft2 = scipy.fft.rfft2

    def recording(*args, workers=None, **kwargs):
        seen.append((threading.current_thread().name, workers))
        return rfft2(*args, workers=workers, **kwargs)

    monkeypatch.setattr(scipy.fft, "rfft2", recording)
    net = build_network(16, 0.3, connection="cutoff", spring="inverse", seed=0)
    outside = debye_level(net)
    inside = pool().submit(debye_level, net).result(timeout=60)
    assert inside == pytest.approx(outside, rel=1e-9)
    assert seen and {workers for name, workers in seen if name.startswith("bpwidgets-pool")} == {1}
    assert {workers for name, workers in seen if not name.startswith("bpwidgets-pool")} == {cores()}


def test_work_started_from_inside_the_thread_pool_does_not_wait_on_it():
    # Large enough for its products to be split over the pool's threads; run from every
    # pool thread at once, they would all wait on each other if they used the pool.
    net = build_network(100, 0.3, connection="cutoff", spring="inverse", seed=0)
    expected = spectrum_bound([net])
    futures = [pool().submit(spectrum_bound, [net]) for _ in range(2 * cores())]
    assert [future.result(timeout=120) for future in futures] == [expected] * len(futures)
