"""The shared result store: stored results equal computed ones, and bad states never break a page.

Every test gives a store of its own (a temporary directory); the rest of the
suite runs with ``BPWIDGETS_STORE=off`` (conftest.py).
"""

from __future__ import annotations

import copy
import errno
import logging
import sqlite3
import subprocess
import sys
import textwrap
import time
from dataclasses import fields, replace

import numpy as np
import pytest

import bpwidgets.core.dos as dos_module
import bpwidgets.core.store as store_module
import bpwidgets.session.pipeline as pipeline
from bpwidgets import build_network, reduced_dos, reduced_dos_of
from bpwidgets.core.dos import stored_spectra
from bpwidgets.core.result import ReducedDOS
from bpwidgets.core.store import ResultStore, default_store, open_store, result_key
from bpwidgets.session.pipeline import Request, compute, compute_stages
from bpwidgets.session.schema import Parameters

MODEL = dict(connection="cutoff", spring="inverse")
SIZE, DELTA, SEEDS = 16, 0.3, 4


def assert_same_result(a: ReducedDOS, b: ReducedDOS):
    """Every field of two results equal, bit for bit."""
    for f in fields(ReducedDOS):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name == "spectra":
            assert len(x) == len(y)
            for s, t in zip(x, y):
                for g in fields(s):
                    u, v = getattr(s, g.name), getattr(t, g.name)
                    assert np.array_equal(u, v) if isinstance(u, np.ndarray) else u == v, g.name
        elif f.name == "outlier_frequencies":
            assert all(np.array_equal(u, v) for u, v in zip(x, y))
        elif isinstance(x, np.ndarray):
            assert np.array_equal(x, y), f.name
        else:
            assert x == y, f.name


def forbid_building(monkeypatch):
    """Make building a network fail: what follows must come from the store alone."""
    def refuse(*args, **kwargs):
        raise AssertionError("a network was built")

    monkeypatch.setattr(dos_module, "build_networks", refuse)
    monkeypatch.setattr(pipeline, "build_networks", refuse)


def count_computations(monkeypatch):
    """Count the networks whose parts are computed (not read from the store)."""
    computed = []
    original = dos_module._network_spectra

    def counting(networks, *args):
        computed.extend(n.seed for n in networks)
        return original(networks, *args)

    monkeypatch.setattr(dos_module, "_network_spectra", counting)
    return computed


def test_a_stored_result_equals_the_computed_one_exactly(tmp_path, monkeypatch):
    fresh = reduced_dos(SIZE, DELTA, seeds=SEEDS, store=False, **MODEL)
    first = reduced_dos(SIZE, DELTA, seeds=SEEDS, store=tmp_path, **MODEL)
    forbid_building(monkeypatch)
    again = reduced_dos(SIZE, DELTA, seeds=SEEDS, store=tmp_path, **MODEL)
    assert_same_result(fresh, first)
    assert_same_result(fresh, again)
    assert len(open_store(tmp_path)) == SEEDS


def test_the_exact_method_is_stored_too(tmp_path, monkeypatch):
    fresh = reduced_dos(8, 0.2, seeds=2, method="exact", moments=32, store=False, **MODEL)
    reduced_dos(8, 0.2, seeds=2, method="exact", moments=32, store=tmp_path, **MODEL)
    forbid_building(monkeypatch)
    assert_same_result(fresh, reduced_dos(8, 0.2, seeds=2, method="exact", moments=32,
                                          store=tmp_path, **MODEL))


def test_only_the_missing_seeds_are_computed(tmp_path, monkeypatch):
    reduced_dos(SIZE, DELTA, seeds=[0, 1], vectors=4, store=tmp_path, **MODEL)
    computed = count_computations(monkeypatch)
    both = reduced_dos(SIZE, DELTA, seeds=[1, 2, 0], vectors=4, store=tmp_path, **MODEL)
    assert computed == [2]
    assert both.seeds == (1, 2, 0)
    assert_same_result(both, reduced_dos(SIZE, DELTA, seeds=[1, 2, 0], vectors=4, store=False,
                                         **MODEL))


def test_the_key_holds_every_input_that_changes_the_numbers(tmp_path, monkeypatch):
    reduced_dos(SIZE, DELTA, seeds=2, store=tmp_path, **MODEL)
    computed = count_computations(monkeypatch)
    for change in (dict(delta=0.31), dict(spring="constant"), dict(connection="nearest"),
                   dict(moments=64), dict(vectors=3), dict(seeds=[5, 6])):
        arguments = dict(size=SIZE, delta=DELTA, seeds=2, **MODEL) | change
        reduced_dos(store=tmp_path, **arguments)
    assert len(computed) == 12


def test_networks_given_are_looked_up_and_checked(tmp_path, monkeypatch):
    networks = [build_network(SIZE, DELTA, seed=s, **MODEL) for s in range(3)]
    first = reduced_dos_of(networks, store=tmp_path)
    computed = count_computations(monkeypatch)
    assert_same_result(first, reduced_dos_of(networks, store=tmp_path))
    assert computed == []
    # A network with the model's parameters but other stiffnesses is not the model's.
    impostor = replace(build_network(SIZE, DELTA, seed=0, connection="cutoff",
                                     spring="constant"), spring="inverse")
    assert_same_result(reduced_dos_of([impostor], store=tmp_path),
                       reduced_dos_of([impostor], store=False))
    assert computed == [0, 0]


def test_a_corrupted_entry_is_recomputed_never_served(tmp_path, monkeypatch, caplog):
    fresh = reduced_dos(SIZE, DELTA, seeds=2, store=tmp_path, **MODEL)
    store = open_store(tmp_path)
    cache = store._cache
    keys = list(cache.iterkeys())
    assert len(keys) == 2
    # Flip one byte of the first entry, and cut the second short.
    blob = cache.get(keys[0])
    cache.set(keys[0], blob[:100] + bytes([blob[100] ^ 0xFF]) + blob[101:])
    cache.set(keys[1], cache.get(keys[1])[:-50])
    computed = count_computations(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="bpwidgets"):
        again = reduced_dos(SIZE, DELTA, seeds=2, store=tmp_path, **MODEL)
    assert sorted(computed) == [0, 1]
    assert "corrupted" in caplog.text
    assert_same_result(fresh, again)
    # Rewritten whole: the next read needs no computation.
    reduced_dos(SIZE, DELTA, seeds=2, store=tmp_path, **MODEL)
    assert sorted(computed) == [0, 1]


def test_a_damaged_file_on_disk_is_detected(tmp_path, monkeypatch):
    """Large values live in files of their own: truncate one behind the store's back."""
    store = ResultStore(tmp_path / "files")
    key = result_key({"test": "large"})
    store.put(key, np.arange(100_000.0))
    files = [p for p in (tmp_path / "files").rglob("*.val")]
    assert len(files) == 1
    files[0].write_bytes(files[0].read_bytes()[:1000])
    assert store.get(key) is None
    assert store.get(key) is None and len(store) == 0  # the damaged entry is gone


def test_a_new_numerics_version_invalidates_old_entries(tmp_path, monkeypatch):
    reduced_dos(SIZE, DELTA, seeds=2, store=tmp_path, **MODEL)
    computed = count_computations(monkeypatch)
    monkeypatch.setattr(store_module, "NUMERICS_VERSION", store_module.NUMERICS_VERSION + 1)
    reduced_dos(SIZE, DELTA, seeds=2, store=tmp_path, **MODEL)
    assert sorted(computed) == [0, 1]


def test_a_store_that_cannot_be_opened_warns_once_and_computes(tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    fresh = reduced_dos(SIZE, DELTA, seeds=2, store=False, **MODEL)
    with caplog.at_level(logging.WARNING, logger="bpwidgets"):
        for _ in range(3):
            result = reduced_dos(SIZE, DELTA, seeds=2, store=blocker / "store", **MODEL)
    assert_same_result(fresh, result)
    assert caplog.text.count("cannot be used") == 1


@pytest.mark.parametrize("error", [
    sqlite3.OperationalError("attempt to write a readonly database"),
    sqlite3.OperationalError("database or disk is full"),
    OSError(errno.ENOSPC, "No space left on device"),
    OSError(errno.EROFS, "Read-only file system"),
], ids=["read-only database", "full database", "full disk", "read-only disk"])
def test_a_refused_write_warns_once_and_results_are_still_right(tmp_path, monkeypatch, caplog,
                                                                 error):
    store = ResultStore(tmp_path)

    def refuse(*args, **kwargs):
        raise error

    monkeypatch.setattr(store._cache, "set", refuse)
    fresh = reduced_dos(SIZE, DELTA, seeds=2, store=False, **MODEL)
    with caplog.at_level(logging.WARNING, logger="bpwidgets"):
        for delta in (DELTA, 0.2, DELTA):
            result = reduced_dos(SIZE, delta, seeds=2, store=store, **MODEL)
    assert_same_result(fresh, result)
    assert caplog.text.count("refused a write") == 1
    assert not store.writable and len(store) == 0


def test_the_store_is_bounded_and_evicts_the_oldest(tmp_path):
    store = ResultStore(tmp_path, size_limit=400_000)
    keys = [result_key({"entry": k}) for k in range(60)]
    for key in keys:
        store.put(key, np.random.default_rng(0).random(2_000))  # 16 kB each
    assert store.volume() < 600_000
    assert store.get(keys[0]) is None
    assert store.get(keys[-1]) is not None


def test_many_processes_write_and_read_at_once(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from bpwidgets import reduced_dos
        result = reduced_dos({SIZE}, {DELTA}, seeds=6, store=sys.argv[1],
                             connection="cutoff", spring="inverse")
        sys.stdout.write(result.mean.tobytes().hex())
    """)
    runs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(4)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert all(run.returncode == 0 for run in runs), [err for _, err in outputs]
    assert all("Traceback" not in err for _, err in outputs)
    expected = reduced_dos(SIZE, DELTA, seeds=6, store=False, **MODEL).mean.tobytes().hex()
    assert {out for out, _ in outputs} == {expected}
    assert len(open_store(tmp_path)) == 6


def test_where_the_store_lives(tmp_path, monkeypatch):
    monkeypatch.setenv("BPWIDGETS_STORE", "off")
    assert default_store() is None and open_store(None) is None
    monkeypatch.setenv("BPWIDGETS_STORE", str(tmp_path / "shared"))
    assert open_store(None).directory == tmp_path / "shared"
    assert open_store(None) is open_store(str(tmp_path / "shared"))  # one per directory
    monkeypatch.delenv("BPWIDGETS_STORE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_store().directory == tmp_path / "cache" / "bpwidgets" / "results"
    assert open_store(False) is None and open_store("off") is None
    with pytest.raises(TypeError, match="store must be"):
        open_store(3)


def test_stored_spectra_reads_without_computing(tmp_path, monkeypatch):
    assert stored_spectra(SIZE, DELTA, seeds=3, store=tmp_path, **MODEL) is None
    computed = reduced_dos(SIZE, DELTA, seeds=3, store=tmp_path, **MODEL)
    forbid_building(monkeypatch)
    spectra = stored_spectra(SIZE, DELTA, seeds=3, store=tmp_path, **MODEL)
    assert_same_result(computed, ReducedDOS.from_spectra(spectra))
    assert stored_spectra(SIZE, DELTA, seeds=4, store=tmp_path, **MODEL) is None
    assert stored_spectra(SIZE, DELTA, seeds=3, store=False, **MODEL) is None
    with pytest.raises(ValueError, match="delta"):
        stored_spectra(SIZE, -0.1, seeds=3, store=tmp_path, **MODEL)


def test_the_dashboard_pipeline_reads_and_writes_the_store(tmp_path, monkeypatch):
    monkeypatch.setenv("BPWIDGETS_STORE", str(tmp_path))
    request = Request(Parameters(size=20, delta=0.25, n_seeds=6), window=(0.4, 0.6))
    computed = compute(request)
    assert len(open_store(None)) == 6
    forbid_building(monkeypatch)
    monkeypatch.setattr(pipeline, "build_network", lambda *a, **k: computed.network)
    stages = list(compute_stages(request))
    assert len(stages) == 1 and stages[0].complete
    stored = stages[0]
    assert_same_result(computed.dos, stored.dos)
    assert np.array_equal(stored.coordination, computed.coordination)
    assert np.array_equal(stored.fractions, computed.fractions)
    assert stored.mean_coordination == computed.mean_coordination
    assert stored.mean_coordination_error == computed.mean_coordination_error
    assert stored.peak == computed.peak
    assert np.array_equal(stored.weights, computed.weights)


def test_an_entry_of_another_shape_is_recomputed(tmp_path, monkeypatch):
    """An entry pickled by another version of NetworkSpectrum (a field missing) is not served."""
    fresh = reduced_dos(SIZE, DELTA, seeds=1, store=tmp_path, **MODEL)
    store = open_store(tmp_path)
    (key,) = list(store._cache.iterkeys())
    old = copy.copy(fresh.spectra[0])
    del old.__dict__["fingerprint"]  # as an older class would have pickled it
    store.put(key, old)
    computed = count_computations(monkeypatch)
    assert_same_result(fresh, reduced_dos(SIZE, DELTA, seeds=1, store=tmp_path, **MODEL))
    assert computed == [0]


def test_a_contact_network_is_not_stored(tmp_path):
    from bpwidgets import jammed_packing

    network = jammed_packing(64, pressure=1e-2, seed=0).network("constant")
    reduced_dos_of([network], store=tmp_path)
    assert len(open_store(tmp_path)) == 0


def test_a_lock_held_elsewhere_skips_writes_for_a_while_and_never_blocks_for_long(tmp_path,
                                                                                monkeypatch):
    monkeypatch.setattr(store_module, "LOCK_TIMEOUT", 0.5)
    store = ResultStore(tmp_path, size_limit=10**7)  # waits LOCK_TIMEOUT = 0.5 s for a lock
    holder = sqlite3.connect(tmp_path / "cache.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's write lock
    try:
        start = time.monotonic()
        assert store.put(result_key({"k": 1}), 1) is False
        assert store.put(result_key({"k": 2}), 2) is False  # skipped at once, no second wait
        assert time.monotonic() - start < 5
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.writable  # a lock is not a refusal of the disk
    monkeypatch.setattr(store, "_skip_until", 0.0)
    assert store.put(result_key({"k": 3}), 3) and store.get(result_key({"k": 3})) == 3


def test_a_relative_directory_is_one_store_wherever_it_is_opened(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = open_store("relative-store")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert first.directory == tmp_path / "relative-store"
    assert open_store(str(tmp_path / "relative-store")) is first


def test_a_network_changed_after_building_never_replaces_the_models_entry(tmp_path):
    model = reduced_dos(SIZE, DELTA, seeds=[0], store=False, **MODEL)
    impostor = replace(build_network(SIZE, DELTA, seed=0, connection="cutoff",
                                     spring="constant"), spring="inverse")
    reduced_dos_of([impostor], vectors=model.spectra[0].inputs["vectors"], store=tmp_path)
    assert len(open_store(tmp_path)) == 0
    assert_same_result(model, reduced_dos(SIZE, DELTA, seeds=[0], store=tmp_path, **MODEL))


def test_a_part_is_kept_only_under_its_own_inputs(tmp_path):
    from bpwidgets.core.dos import keep_network_spectrum, network_spectrum

    part = network_spectrum(SIZE, DELTA, seed=2, store=False, **MODEL)
    with pytest.raises(ValueError, match="computed for"):
        keep_network_spectrum(part, SIZE, 0.2, store=tmp_path, **MODEL)
    assert keep_network_spectrum(part, SIZE, DELTA, store=tmp_path, **MODEL)
    # An entry whose inputs are not those of its key is never served.
    store = open_store(tmp_path)
    other = dos_module._spectrum_inputs(dict(size=SIZE, delta=0.2, **MODEL), 2, "kpm",
                                        part.inputs["moments"], part.inputs["vectors"])
    store.put(dos_module._spectrum_key(other), part)
    assert dos_module._stored(store, other) is None
    assert dos_module._stored(store, part.inputs) is not None


def test_the_stored_numbers_are_those_of_this_numerics_version():
    """Pins one small part: if the numerics change, this fails until NUMERICS_VERSION is bumped.

    Entries of an older version are never read (their keys differ), so a change
    of the numbers without a new version would serve stale results. Rounded to
    1e-6, far above the rounding differences between BLAS libraries.
    """
    from bpwidgets.core.dos import network_spectrum

    part = network_spectrum(10, 0.3, connection="cutoff", spring="inverse", seed=0,
                            moments=16, vectors=4, store=False)
    assert store_module.NUMERICS_VERSION == 1
    assert round(part.bound, 6) == 9.826809
    assert round(part.debye_level, 6) == 0.233049
    np.testing.assert_allclose(part.moments[:6], [0.99, -0.024212, -0.487639, -0.092655,
                                                  0.008821, 0.103311], rtol=0, atol=2e-6)
