"""``python -m bpwidgets.warm``: the lecture grid, computed once into the store."""

from __future__ import annotations

import pytest

import bpwidgets.core.dos as dos_module
import bpwidgets.session.pipeline as pipeline
from bpwidgets.app import Dashboard
from bpwidgets.app.sweep_panel import DEFAULT_DELTAS
from bpwidgets.core.store import open_store
from bpwidgets.session.presets import PRESETS
from bpwidgets.session.schema import Parameters
from bpwidgets.session.schema import PRESSURE_GRID
from bpwidgets.warm import glass_grid, is_stored, lecture_grid, main, slider_deltas, warm


def test_the_lecture_grid_is_every_delta_of_the_slider_and_sweep_tab_and_every_preset():
    grid = lecture_grid()
    assert len(set(grid)) == len(grid)
    models = {(p.connection, p.spring) for p in grid}
    assert models == {(c, s) for c in ("nearest", "cutoff") for s in ("inverse", "constant")}
    for connection, spring in models:
        deltas = {p.delta for p in grid if (p.connection, p.spring) == (connection, spring)
                  and (p.size, p.n_seeds, p.first_seed) == (60, 10, 0)}
        assert deltas == set(slider_deltas()) | set(DEFAULT_DELTAS)  # the slider's, the tab's
    for preset in PRESETS.values():
        assert preset.parameters in grid
        assert set(preset.pinned_parameters()) <= set(grid)
    assert slider_deltas()[31] == 0.31  # as the controls round them


def test_warm_fills_the_store_then_skips_and_the_dashboard_reads_it(tmp_path, monkeypatch):
    monkeypatch.setenv("BPWIDGETS_STORE", str(tmp_path))
    states = lecture_grid(size=10, seeds=2)[:12]
    assert not any(is_stored(p) for p in states)
    seen = []
    first = warm(states, progress=lambda done, total, p: seen.append((done, total)))
    assert (first["computed"], first["stored"]) == (12, 0)
    assert seen[-1] == (12, 12)
    assert all(is_stored(p) for p in states)
    assert warm(states)["computed"] == 0

    def refuse(*args, **kwargs):
        raise AssertionError("a warmed state was computed again")

    monkeypatch.setattr(dos_module, "build_networks", refuse)
    monkeypatch.setattr(pipeline, "build_networks", refuse)
    state = states[5]
    dashboard = Dashboard(background=False, **{name: getattr(state, name) for name in (
        "size", "delta", "connection", "spring", "n_seeds")})
    assert dashboard.session.snapshot.complete
    assert dashboard.session.snapshot.dos.seeds == (0, 1)


def test_warm_refuses_a_store_that_is_off(monkeypatch, capsys):
    monkeypatch.setenv("BPWIDGETS_STORE", "off")
    with pytest.raises(RuntimeError, match="nothing to warm"):
        warm([Parameters(size=10, n_seeds=1)])
    assert main(["--size", "10", "--seeds", "1", "--quiet"]) == 2
    assert "store is off" in capsys.readouterr().err


def test_the_command_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("BPWIDGETS_STORE")
    with pytest.raises(SystemExit):
        main(["--size", "7"])
    assert "size" in capsys.readouterr().err
    monkeypatch.setattr("bpwidgets.warm.lecture_grid",
                        lambda size, seeds: lecture_grid(size, seeds)[:3])
    assert main(["--size", "10", "--seeds", "1", "--store", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "3 computed, 0 already stored" in captured.out
    assert "3/3" in captured.err
    assert "glass" not in captured.out
    assert len(open_store(tmp_path)) == 3


def test_a_glass_too_large_for_the_page_is_refused_before_anything_is_warmed(
        tmp_path, capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("warmed before the glass's size was checked")

    monkeypatch.setattr("bpwidgets.warm.warm", refuse)
    with pytest.raises(SystemExit) as stopped:
        main(["--glass", "--size", "110", "--quiet"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "--glass: jammed disks: at most 10000 disks (L = 100) here" in err
    assert "Traceback" not in err
    monkeypatch.setattr("bpwidgets.warm.warm", lambda states, progress=None: {
        "computed": 0, "stored": len(states), "seconds": 0.0})
    # The lattice alone may be larger: only the glass is bounded by its disks.
    monkeypatch.setenv("BPWIDGETS_STORE", "off")  # restored after --store sets it
    assert main(["--size", "110", "--quiet", "--no-glass", "--store", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{len(lecture_grid(110))} dashboard states" in out and "glass states" not in out


def test_the_glass_grid_is_every_pressure_of_the_slider_for_both_springs():
    grid = glass_grid()
    assert len(set(grid)) == len(grid) == 2 * len(PRESSURE_GRID)
    assert {(p.spring, p.pressure) for p in grid} == {
        (spring, pressure) for spring in ("inverse", "constant") for pressure in PRESSURE_GRID}
    assert all(p.connection == "jammed" and p.n_disks == 3600 and p.n_seeds == 10
               for p in grid)
    assert all(p == p.relevant() for p in grid)  # as the page requests them


def test_warm_fills_the_glass_apart_and_the_page_then_makes_no_packing(tmp_path, capsys,
                                                                      monkeypatch):
    monkeypatch.delenv("BPWIDGETS_STORE")
    monkeypatch.setattr("bpwidgets.warm.lecture_grid",
                        lambda size, seeds: lecture_grid(size, seeds)[:1])
    monkeypatch.setattr("bpwidgets.warm.glass_grid",
                        lambda size, seeds: glass_grid(size, seeds)[-2:])
    assert main(["--size", "10", "--seeds", "2", "--store", str(tmp_path), "--quiet",
                 "--glass"]) == 0
    out = capsys.readouterr().out
    assert "1 dashboard states" in out and "2 glass states" in out
    monkeypatch.setenv("BPWIDGETS_STORE", str(tmp_path))
    states = glass_grid(10, 2)[-2:]
    assert all(is_stored(p) for p in states)

    def refuse(*args, **kwargs):
        raise AssertionError("a warmed packing was made again")

    monkeypatch.setattr("bpwidgets.core.packings.jammed_packing", refuse)
    p = states[0]
    dashboard = Dashboard(background=False, connection="jammed", size=10, n_seeds=2,
                          spring=p.spring, pressure=p.pressure)
    try:
        assert dashboard.session.snapshot.complete
        assert dashboard.session.snapshot.dos.seeds == (0, 1)
    finally:
        dashboard.close()
