"""The figure notebooks run top to bottom, and the numbers they print say what their text says.

Each notebook is executed with nbclient on a copy in a temporary directory; its
figures go to a temporary assets directory (``BPWIDGETS_ASSETS``), so the
committed notebooks and images are never touched.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from bpwidgets.core.paper import parse_numbers_table

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
#: Seconds a notebook may run: fig2 computes 250 000-node networks.
TIMEOUT = 600
#: Mean Z of the cutoff networks, as the notebooks' text quotes it (two decimals).
QUOTED_MEAN_Z = {0.1: 3.21, 0.2: 3.76, 0.3: 4.31}

#: Environment a notebook runs with in the tests: the sweep notebook's small grid.
NOTEBOOK_ENV = {"bp_vs_disorder.ipynb": {"BPWIDGETS_NOTEBOOK_QUICK": "1"},
                "fig3_real_glass.ipynb": {"BPWIDGETS_NOTEBOOK_QUICK": "1"}}

_executed = {}


def _run(name, tmp_path_factory, monkeypatch_env):
    """Execute ``notebooks/<name>`` in a temporary copy; its outputs and saved images."""
    if name not in _executed:
        work = tmp_path_factory.mktemp(name.removesuffix(".ipynb"))
        assets = work / "assets"
        shutil.copy(NOTEBOOKS / name, work / name)
        notebook = nbformat.read(work / name, as_version=4)
        with monkeypatch_env() as env:
            env.setenv("BPWIDGETS_ASSETS", str(assets))
            for key, value in NOTEBOOK_ENV.get(name, {}).items():
                env.setenv(key, value)
            NotebookClient(notebook, timeout=TIMEOUT, kernel_name="python3",
                           resources={"metadata": {"path": str(work)}}).execute()
        text = "\n".join(
            output.get("text", "")
            for cell in notebook.cells if cell.cell_type == "code"
            for output in cell.get("outputs", ()) if output.get("output_type") == "stream"
        )
        images = sum(
            "image/png" in output.get("data", {})
            for cell in notebook.cells if cell.cell_type == "code"
            for output in cell.get("outputs", ())
        )
        _executed[name] = dict(text=text, assets=assets, images=images, notebook=notebook)
    return _executed[name]


@pytest.fixture
def run(tmp_path_factory):
    return lambda name: _run(name, tmp_path_factory, pytest.MonkeyPatch.context)


def _rows(text, **match):
    rows = parse_numbers_table(text)
    return [r for r in rows if all(r[k] == v for k, v in match.items())]


def test_every_figure_notebook_is_tested():
    tested = {"fig1_networks.ipynb", "fig2_reduced_dos.ipynb", "fig3_coordination.ipynb",
              "fig4_constant_springs_and_toy.ipynb", "toy_model.ipynb", "dashboard.ipynb",
              "bp_vs_disorder.ipynb", "fig3_real_glass.ipynb"}
    assert {p.name for p in NOTEBOOKS.glob("*.ipynb")} <= tested


def test_committed_notebooks_carry_their_outputs():
    """They must read on GitHub without a kernel: every figure shown as a PNG."""
    for name in ("fig1_networks.ipynb", "fig2_reduced_dos.ipynb", "fig3_coordination.ipynb",
                 "fig4_constant_springs_and_toy.ipynb", "bp_vs_disorder.ipynb",
                 "fig3_real_glass.ipynb"):
        notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        assert all(cell.get("outputs") or "def show" in cell.source for cell in code), name
        assert any("image/png" in o.get("data", {}) for c in code for o in c.outputs), name
        assert not any(o.get("output_type") == "error" for c in code for o in c.outputs), name


def test_fig1_networks(run):
    result = run("fig1_networks.ipynb")
    assert (result["assets"] / "fig1_networks.png").stat().st_size > 10_000
    assert result["images"] == 1
    nearest, cutoff = re.findall(r"mean Z = ([\d.]+)", result["text"])
    assert float(nearest) == 4.0
    assert float(cutoff) != 4.0
    assert re.search(r"nearest +Z: 4: 400;", result["text"])


def test_fig2_reduced_dos(run):
    result = run("fig2_reduced_dos.ipynb")
    for image in ("fig2_reduced_dos.png", "fig2_reduced_dos_L500.png"):
        assert (result["assets"] / image).stat().st_size > 10_000
    text = result["text"]
    for size in (60, 500):
        nearest = _rows(text, L=size, springs="nearest")
        cutoff = [r for r in _rows(text, L=size, springs="cutoff") if r["delta"] > 0]
        assert len(nearest) == (4 if size == 60 else 3) and len(cutoff) == 3
        # "within about 4 % of the Debye level ... no Boson peak"; Van Hove at 2.0.
        for row in nearest:
            assert 0.96 <= row["low-omega ratio min"] <= row["low-omega ratio max"] <= 1.04
            assert row["peak omega"] is None
            assert row["Van Hove omega"] == pytest.approx(2.0, abs=0.02)
        for row in cutoff:
            assert row["mean Z"] == pytest.approx(QUOTED_MEAN_Z[row["delta"]], abs=0.005)
            assert row["low-omega ratio min"] > 1.05
        if size == 60:
            # "peaks at omega ~ 0.4 (0.40 to 0.44), about 17 to 20 % above Debye,
            # from omega ~ 0.13 up to 0.7-1.0".
            for row in cutoff:
                assert 0.39 <= row["peak omega"] <= 0.45
                assert 16 <= row["peak excess %"] <= 21
                assert row["excess from"] == pytest.approx(0.13, abs=0.02)
                assert 0.65 <= row["excess to"] <= 1.0
            # "omega ~ 1.9 at delta = 0.1, 2.3-2.4 at 0.2 and 2.6 at 0.3".
            van_hove = [row["Van Hove omega"] for row in cutoff]
            assert van_hove[0] == pytest.approx(1.9, abs=0.05)
            assert 2.3 <= van_hove[1] <= 2.4
            assert van_hove[2] == pytest.approx(2.6, abs=0.05)
        else:
            # "peaking at omega ~ 0.43-0.47, about 19-20 % above Debye, ending near 0.9-1.1".
            for row in cutoff:
                assert 0.42 <= row["peak omega"] <= 0.48
                assert 18.5 <= row["peak excess %"] <= 21
                assert 0.85 <= row["excess to"] <= 1.1
    # "at most 1.5 % higher for delta = 0.1 and 4 % for 0.2, but 9 % for 0.3 near omega = 1".
    ratios = re.findall(r"curve for 0.2 <= omega <= 1: ([\d.]+) to ([\d.]+)", text)
    assert len(ratios) == 3
    for (low, high), quoted in zip(ratios, (1.015, 1.04, 1.095)):
        assert 1.0 <= float(low) <= float(high) <= quoted
    assert float(ratios[2][1]) > 1.08


def test_fig3_coordination(run):
    result = run("fig3_coordination.ipynb")
    assert (result["assets"] / "fig3_coordination.png").stat().st_size > 10_000
    found = re.findall(r"delta = ([\d.]+): mean Z = ([\d.]+), most common Z = (\d)", result["text"])
    assert [float(d) for d, _, _ in found] == [0.1, 0.2, 0.3]
    for delta, mean, mode in found:
        assert float(mean) == pytest.approx(QUOTED_MEAN_Z[float(delta)], abs=0.005)
        # "The peak is at Z = 4 for delta = 0.2 and 0.3, but not at delta = 0.1: there it is 3."
        assert int(mode) == (3 if float(delta) == 0.1 else 4)


def _glass_numbers(text):
    """The real-glass notebook's printed numbers: Z per family, peaks and excesses, moduli."""
    z = {(family, float(key)): dict(mean=float(mean), var=float(var), low=int(low),
                                    high=int(high), mode=int(mode))
         for family, key, mean, var, low, high, mode in re.findall(
             r"(model|glass), (?:delta|p) = ([\d.e-]+): mean Z = ([\d.]+), var Z = ([\d.]+), "
             r"Z from (\d) to (\d), most common Z = (\d)", text)}
    dos = {}
    for family, key, found, omega, excess, window in re.findall(
            r"(model|glass scalar|glass Hessian), (?:delta|p) = ([\d.e-]+): (no peak|peak at "
            r"omega = ([\d.]+)[^,]*, (-?[\d.]+)[^;]*);(?: excess over omega = 0.25 to 0.6: "
            r"(-?[\d.]+))?", text):
        dos[family, float(key)] = dict(
            omega=None if found == "no peak" else float(omega),
            excess=None if found == "no peak" else float(excess),
            window=float(window) if window else None)
    moduli = {float(p): (float(b), float(g)) for p, b, g in
              re.findall(r"p = ([\d.e-]+): B = ([\d.]+) .*?, G = ([\d.]+)", text)}
    return z, dos, moduli


def test_fig3_real_glass_runs_small(run):
    """The real-glass notebook on small packings (BPWIDGETS_NOTEBOOK_QUICK=1)."""
    result = run("fig3_real_glass.ipynb")
    for image in ("coordination", "packing", "scalar_dos", "hessian_dos"):
        assert (result["assets"] / f"fig3_real_glass_{image}.png").stat().st_size > 10_000
    assert result["images"] == 4
    z, dos, moduli = _glass_numbers(result["text"])
    pressures = (1e-4, 1e-3, 1e-2)
    assert sorted(z) == sorted([("model", d) for d in (0.1, 0.2, 0.3)]
                               + [("glass", p) for p in pressures])
    for delta in (0.1, 0.2, 0.3):  # 3 seeds of 16 x 16: near the 60 x 60 means
        assert z["model", delta]["mean"] == pytest.approx(QUOTED_MEAN_Z[delta], abs=0.06)
    means = [z["glass", p]["mean"] for p in pressures]
    assert means == sorted(means) and means[0] >= 4 - 2 / 200  # isostatic: Z >= 4 - 2/N'
    for p in pressures:  # held disks only: at least three contacts, and Z fluctuates
        assert z["glass", p]["low"] >= 3 and z["glass", p]["var"] > 0.3
    assert sorted(dos) == sorted([("model", d) for d in (0.1, 0.2, 0.3)]
                                 + [(f, p) for f in ("glass scalar", "glass Hessian")
                                    for p in pressures])
    assert all(dos[key]["window"] is not None for key in dos if key[0] != "glass Hessian")
    assert sorted(moduli) == list(pressures)
    assert all(bulk > shear > 0 for bulk, shear in moduli.values())


def test_fig3_real_glass_committed_text_says_what_its_numbers_say():
    """The committed run is the full one (3 600 disks), and its prose quotes its numbers."""
    notebook = nbformat.read(NOTEBOOKS / "fig3_real_glass.ipynb", as_version=4)
    text = "\n".join(output.get("text", "") for cell in notebook.cells
                     if cell.cell_type == "code" for output in cell.outputs)
    prose = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    assert "3 packings of 3600 disks" in text
    z, dos, moduli = _glass_numbers(text)
    pressures = (1e-4, 1e-3, 1e-2)
    for delta in (0.1, 0.2, 0.3):
        assert z["model", delta]["mean"] == pytest.approx(QUOTED_MEAN_Z[delta], abs=0.005)
        peak = dos["model", delta]  # docs/physics.md: omega ~ 0.40-0.44, 17-20 % above Debye
        assert 0.39 <= peak["omega"] <= 0.45 and 16 <= peak["excess"] <= 21
    # "the disks that are held have 3 to 7 contacts", "var Z = 0.73 at every pressure".
    assert all((z["glass", p]["low"], z["glass", p]["high"]) == (3, 7) for p in pressures)
    assert {round(z["glass", p]["var"], 2) for p in pressures} == {0.73}
    # The scalar contact network: no peak, and less than 0.4 of the model's excess.
    assert all(dos["glass scalar", p]["omega"] is None for p in pressures)
    glass = max(dos["glass scalar", p]["window"] for p in pressures)
    assert glass < 0.4 * min(dos["model", d]["window"] for d in (0.1, 0.2, 0.3))
    # The Hessian: a peak at the highest pressure only.
    assert dos["glass Hessian", 1e-2]["omega"] is not None
    assert dos["glass Hessian", 1e-3]["omega"] is None
    assert dos["glass Hessian", 1e-4]["omega"] is None
    quoted = [f"{z['glass', p]['mean']:.3f}" for p in pressures]
    quoted += [f"{dos['glass scalar', p]['window']:.1f}" for p in pressures]
    quoted += [f"ω = {dos['glass Hessian', 1e-2]['omega']:.3f}",
               f"{dos['glass Hessian', 1e-2]['excess']:.0f} ±",
               f"G = {moduli[1e-2][1]:.3f}"]
    for number in quoted:
        assert number in prose, number


def test_fig4_constant_springs_and_toy(run):
    result = run("fig4_constant_springs_and_toy.ipynb")
    assert (result["assets"] / "fig4_constant_springs_and_toy.png").stat().st_size > 10_000
    text = result["text"]
    constant = [r for r in _rows(text, L=60, t="constant") if r["delta"] > 0]
    inverse = [r for r in _rows(text, L=60, t="inverse") if r["delta"] > 0]
    assert len(constant) == len(inverse) == 3
    for c, i in zip(constant, inverse):
        # "peaks at omega ~ 0.4 (0.39 to 0.44) ... 17 to 20 % above Debye,
        # within 0.02 in position and 1 percentage point in height of the t = 1/r networks".
        assert 0.38 <= c["peak omega"] <= 0.45
        assert 16 <= c["peak excess %"] <= 21
        assert abs(c["peak omega"] - i["peak omega"]) <= 0.02
        assert abs(c["peak excess %"] - i["peak excess %"]) <= 1.0
    # "adding ... omega = 2 and sqrt(7); removing ... sqrt(2) and sqrt(5)".
    new = [np.array(m.split(), dtype=float) for m in re.findall(r"new poles \[([^\]]+)\]", text)]
    np.testing.assert_allclose(new[0], np.sqrt([4, 7]), atol=1e-4)
    np.testing.assert_allclose(new[1], np.sqrt([2, 5]), atol=1e-4)
    crystal = re.search(r"crystal poles: \[([^\]]+)\]", text).group(1).split()
    np.testing.assert_allclose(np.array(crystal, dtype=float), np.sqrt([3, 6]), atol=1e-4)
    # "The nodes whose Z did not change respond at the new poles too."
    found = re.findall(r"unchanged nodes at the new poles: \[([^\]]+)\]", text)
    assert len(found) == 2  # the added and the removed spring
    for heights in found:
        assert all(float(h) > 1.0 for h in heights.split(","))


def test_toy_model_notebook_shows_the_widget(run):
    result = run("toy_model.ipynb")
    outputs = [o for c in result["notebook"].cells if c.cell_type == "code" for o in c.outputs]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)


def _peak_tables(text):
    """``{L: {delta: {family: (omega, excess) or None}}}`` from the sweep notebook's tables."""
    tables = {}
    for size, body in re.findall(r"L = (\d+), \d+ seeds: Boson peak.*?\n(.*?)\n\n", text, re.S):
        header, *rows = body.splitlines()
        families = header.split(" | ")[2:]
        table = tables.setdefault(int(size), {})
        for row in rows:
            delta, _, *entries = row.split(" | ")
            table[float(delta)] = {
                family: (None if entry == "-" else tuple(
                    float(x) for x in re.match(r"([\d.]+) ± [\d.]+, ([\d.]+) ± [\d.]+ %",
                                               entry).groups()))
                for family, entry in zip(families, entries)
            }
    return tables


def test_bp_vs_disorder_runs_its_small_grid(run):
    """The sweep notebook, on its small grid (BPWIDGETS_NOTEBOOK_QUICK=1): what holds there."""
    result = run("bp_vs_disorder.ipynb")
    for image in ("bp_vs_disorder.png", "bp_excess_vs_var_z.png"):
        assert (result["assets"] / image).stat().st_size > 10_000
    assert result["images"] == 2
    tables = _peak_tables(result["text"])
    assert sorted(tables) == [60, 100]
    for table in tables.values():
        for delta, row in table.items():
            assert row["nearest inverse"] is None and row["nearest constant"] is None
            for family in ("cutoff inverse", "cutoff constant"):
                if delta == 0:
                    assert row[family] is None
                else:
                    omega, excess = row[family]
                    assert 0.3 <= omega <= 0.65 and 10 <= excess <= 30
    assert len(re.findall(r"claim 1: nearest: 0 peaks", result["text"])) == 2
    assert "local cluster closed" in result["text"]


def test_bp_vs_disorder_committed_text_says_what_its_numbers_say():
    """The committed run is the full grid, and the text quotes its numbers."""
    notebook = nbformat.read(NOTEBOOKS / "bp_vs_disorder.ipynb", as_version=4)
    text = "\n".join(output.get("text", "") for cell in notebook.cells
                     if cell.cell_type == "code" for output in cell.outputs)
    prose = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    tables = _peak_tables(text)
    assert sorted(tables) == [60, 300]
    for table in tables.values():
        deltas = sorted(table)
        assert deltas[0] == 0.0 and deltas[-1] == 0.45 and len(deltas) == 19  # steps of 0.025
        assert all(row["nearest inverse"] is None and row["nearest constant"] is None
                   for row in table.values())
        assert all(table[d]["cutoff inverse"] and table[d]["cutoff constant"] for d in deltas[1:])
    assert "L = 300, 10 seeds" in text and "L = 60, 10 seeds" in text
    cutoff = [row[f] for row in tables[300].values() for f in ("cutoff inverse", "cutoff constant")
              if row[f]]
    omegas, excesses = zip(*cutoff)
    # "at L = 300 the peak sits at omega = 0.45 to 0.57"; "19.2 to 20.9 %".
    assert (min(omegas), max(omegas)) == (0.45, 0.57)
    assert (min(excesses), max(excesses)) == (19.2, 20.9)
    for quoted in ("ω = 0.45 to 0.57", "19.2 to 20.9 %", "0.39 to 0.40 up to δ = 0.2",
                   "at most 0.9 and 0.6 percentage points"):
        assert quoted in prose, quoted
    assert "cutoff peak at omega = 0.45 to 0.57" in text
    assert "|d excess| at most 0.9" in text and "|d excess| at most 0.6" in text
    assert "cutoff peak at omega = 0.39 to 0.51" in text
    assert "0.0 < delta <= 0.2: omega = 0.39 to 0.40" in text
