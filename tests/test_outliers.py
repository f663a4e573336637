"""Modes above the bulk: found, counted and deflated (docs/physics.md, "Modes above the bulk").

With 1/r springs and delta near 0.5 two nodes nearly coincide, and the stiff
modes on such pairs (omega up to ~35 at L = 60) would set the Chebyshev bound
and so the resolution. These tests check, against dense diagonalisation, that
the reduced DOS of the bulk and the integrated DOS are right once they are
deflated, that the deflated modes are the exact modes above the bulk, that the
bound (the resolution) is the bulk's, and that networks without such modes are
computed exactly as before.

The dense reference is the exact spectrum smoothed by the same Jackson kernel
and Jacobi reconstruction at the bound of the exact bulk, defined from the
exact eigenvalues alone: ``SCALE_SAFETY`` times the largest eigenvalue of any
seed below its bulk edge ``E = OUTLIER_EDGE * median(H_ii)``.
"""

import numpy as np
import pytest

import bpwidgets.core.outliers as outliers
from bpwidgets import (
    ReducedDOS,
    build_network,
    build_networks,
    exact_frequencies,
    reduced_dos,
    reduced_dos_of,
    spectrum_bound,
)
from bpwidgets.core.kpm import _exact_moments, _reconstruct
from bpwidgets.core.linalg import SCALE_SAFETY
from bpwidgets.core.outliers import OUTLIER_EDGE

#: The dashboard's moments (DOS_MOMENTS) and the paper's seed count.
MOMENTS, SEEDS = 64, 10
#: Where the Boson peak and the Debye plateau are read.
GRID = np.linspace(0.3, 1.5, 61)
#: |fast - exact| of the seed means, in standard errors of the exact seeds' mean: at every
#: point (61 correlated points; measured at most 2.7), and on average (measured at most 1.3).
#: Without deflation, at delta = 0.5: 23 (L = 40) and 59 (L = 60) standard errors, 12 % and 25 %.
SCATTER_MAX, SCATTER_MEAN = 4.0, 2.0
#: Integrated DOS of fast and exact within 0.01 (issue 2). Without deflation, at delta = 0.5:
#: 0.057 (L = 40) and 0.096 (L = 60), at omega = 3.
CUMULATIVE_TOLERANCE = 0.01
CHECKPOINTS = np.array([0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0])
#: The bound used within this factor of the exact bulk's (measured 1.10 to 1.14: near-edge
#: modes left in the bulk and the Lanczos margin), so the resolution within 7 %.
BULK_BOUND_FACTOR = 1.25
#: The resolution pi sqrt(bound) / (2 K) at delta = 0.5 within this factor of delta = 0.3's.
RESOLUTION_FACTOR = 1.5

CASES = [(40, 0.45), (40, 0.5), (60, 0.45), (60, 0.5)]


def _bulk_edges(networks) -> np.ndarray:
    """The bulk edge E of every network, from its definition."""
    return np.array([OUTLIER_EDGE * np.median(n.dynamical_matrix().diagonal()) for n in networks])


@pytest.fixture(scope="module", params=CASES, ids=[f"L{s}-delta{d}" for s, d in CASES])
def case(request):
    """Networks, their dense frequencies, the exact bulk bound and the fast reduced DOS.

    The dense diagonalisation runs once per case for the whole module (L = 60:
    about 20 s for the 10 seeds).
    """
    size, delta = request.param
    networks = build_networks(size, delta, connection="cutoff", spring="inverse",
                              seeds=range(SEEDS))
    frequencies = [exact_frequencies(n) for n in networks]
    edges = _bulk_edges(networks)
    bulk_bound = SCALE_SAFETY * max(
        f[f**2 <= e][-1] ** 2 for f, e in zip(frequencies, edges)
    )
    fast = reduced_dos_of(networks, omega=GRID, moments=MOMENTS)
    return dict(size=size, delta=delta, networks=networks, frequencies=frequencies,
                edges=edges, bulk_bound=bulk_bound, fast=fast)


def _nearest_distinct(exact, found) -> np.ndarray:
    """Indices of the exact frequencies nearest the found ones, from the top, each once."""
    free = np.ones(exact.size, bool)
    chosen = np.empty(found.size, int)
    for k in range(found.size - 1, -1, -1):
        candidates = np.flatnonzero(free)
        chosen[k] = candidates[np.argmin(np.abs(exact[candidates] - found[k]))]
        free[chosen[k]] = False
    return chosen


def _exact_reference(case):
    """Every seed's exact g/omega on GRID, smoothed at the exact bulk's bound."""
    bound = case["bulk_bound"]
    inside = [f[f**2 <= bound] for f in case["frequencies"]]
    moments, _ = _exact_moments(case["networks"], inside, bound, MOMENTS)
    return _reconstruct(moments, bound, GRID)


def _deviations(result, case):
    """Largest and mean |fast - exact| of the seed means in standard errors, and the
    largest error of the seed-mean integrated DOS at CHECKPOINTS."""
    reference = _exact_reference(case)
    error = reference.std(axis=0, ddof=1) / np.sqrt(len(reference))
    scatter = np.abs(result.mean - reference.mean(axis=0)) / error
    counted = np.mean([[np.mean(f <= w) for w in CHECKPOINTS] for f in case["frequencies"]],
                      axis=0)
    cumulative = np.abs(result.cumulative(CHECKPOINTS).mean(axis=0) - counted)
    return scatter.max(), scatter.mean(), cumulative.max()


# ----------------------------------------------------------------- against dense diagonalisation


def test_bound_is_the_bulks(case):
    fast = case["fast"]
    assert fast.scale <= BULK_BOUND_FACTOR * case["bulk_bound"]
    # ... and the default grid ends at the bulk's top, not at the outliers.
    whole = reduced_dos_of(case["networks"][:2], moments=MOMENTS)
    assert whole.omega[-1] == pytest.approx(np.sqrt(whole.scale))
    assert whole.omega[-1] ** 2 <= BULK_BOUND_FACTOR * case["bulk_bound"]
    if case["delta"] == 0.5:  # the modes left out reach far above it
        assert max(f[-1] for f in whole.outlier_frequencies) > 3 * whole.omega[-1]


def test_reduced_dos_agrees_with_dense_within_seed_scatter(case):
    largest, mean, _ = _deviations(case["fast"], case)
    assert largest <= SCATTER_MAX
    assert mean <= SCATTER_MEAN


def test_integrated_dos_matches_dense_counts(case):
    fast = case["fast"]
    _, _, cumulative = _deviations(fast, case)
    assert cumulative <= CUMULATIVE_TOLERANCE
    # Sum rules: every mode is counted once, the zero modes and the outliers included.
    np.testing.assert_allclose(fast.cumulative([1e3]), 1.0, atol=1e-9)
    np.testing.assert_allclose(fast.moments[:, 0] + fast.zero_modes + fast.outlier_modes, 1.0,
                               atol=1e-12)


def test_without_deflation_the_checks_fail(case, monkeypatch):
    """The same checks on the code without deflation (a mutation check of this module)."""
    monkeypatch.setattr(outliers, "OUTLIER_TRIGGER", np.inf)
    old = reduced_dos_of(case["networks"], omega=GRID, moments=MOMENTS)
    assert not any(f.size for f in old.outlier_frequencies)
    assert old.scale > BULK_BOUND_FACTOR * case["bulk_bound"]
    if case["delta"] == 0.5:
        largest, _, cumulative = _deviations(old, case)
        assert largest > 5 * SCATTER_MAX
        assert cumulative > 5 * CUMULATIVE_TOLERANCE


def test_deflated_modes_are_the_exact_modes_above_the_bulk(case):
    """Per network: the modes above its own bulk bound are all deflated, and are exact."""
    fast = case["fast"]
    for k, (network, exact, edge) in enumerate(
        zip(case["networks"], case["frequencies"], case["edges"])
    ):
        deflated = fast.outlier_frequencies[k]
        assert deflated.size == round(fast.outlier_modes[k] * network.n_nodes)
        # As many as the exact modes above the bulk edge E (measured: 3 of the 40 seeds
        # keep one mode next to the edge in the bulk) ...
        assert deflated.size > 0 and np.all(deflated**2 > edge)
        assert abs(np.count_nonzero(exact**2 > edge) - deflated.size) <= 1
        # ... each a distinct exact mode ...
        matched = _nearest_distinct(exact, deflated)
        np.testing.assert_allclose(exact[matched], deflated, rtol=1e-3)
        # ... and every exact mode above the network's own bulk bound is one of them.
        own_bound = spectrum_bound([network])
        above = np.flatnonzero(exact**2 > own_bound)
        assert np.all(np.isin(above, matched))
        assert np.delete(exact, matched)[-1] ** 2 <= own_bound
    if case["size"] != 40:
        return  # the dense method's own diagonalisation is not repeated at L = 60
    # The dense method leaves out the same modes, at their exact frequencies.
    dense = reduced_dos_of(case["networks"][:3], omega=GRID, moments=MOMENTS, method="exact")
    for k in range(3):
        assert np.all(np.isin(dense.outlier_frequencies[k], case["frequencies"][k]))
        np.testing.assert_allclose(dense.outlier_frequencies[k], fast.outlier_frequencies[k],
                                   rtol=1e-3)
    np.testing.assert_array_equal(dense.outlier_modes, fast.outlier_modes[:3])


# ----------------------------------------------------------------- resolution


@pytest.mark.parametrize("size, seeds", [(10, 1), (10, 20), (60, 10), (300, 1)])
def test_resolution_at_half_is_close_to_the_papers(size, seeds):
    """pi sqrt(bound) / (2 K): at delta = 0.5 within 1.5 of delta = 0.3's.

    Measured 1.25 to 1.31 here (at most 1.34 over every size and seed count the
    dashboard allows); without deflation 2.1, 5.8, 10.6 and 11.3.
    """
    def bound(delta):
        return spectrum_bound(build_networks(size, delta, connection="cutoff",
                                             spring="inverse", seeds=range(seeds)))
    assert np.sqrt(bound(0.5) / bound(0.3)) <= RESOLUTION_FACTOR


# ----------------------------------------------------------------- joins and independence


def test_preview_joined_with_the_rest_equals_one_computation(case):
    """As the dashboard does: a preview of two seeds, the rest, the wider bound, joined."""
    if case["size"] != 40:
        pytest.skip("one size is enough")
    networks = case["networks"]
    parts = [reduced_dos_of(networks[:2], moments=MOMENTS, vectors=3),
             reduced_dos_of(networks[2:], moments=MOMENTS, vectors=3)]
    wider = max(part.scale for part in parts)
    joined = ReducedDOS.join([part.rescaled(wider, omega=GRID) for part in parts])
    whole = reduced_dos_of(networks, moments=MOMENTS, vectors=3, scale=wider, omega=GRID)
    np.testing.assert_allclose(joined.moments, whole.moments, atol=1e-6)
    for a, b in zip(joined.outlier_frequencies, whole.outlier_frequencies):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(joined.outlier_modes, whole.outlier_modes)
    np.testing.assert_allclose(joined.cumulative(CHECKPOINTS), whole.cumulative(CHECKPOINTS),
                               atol=1e-6)
    # A network's outliers and bound are its own, whatever it is computed with.
    alone = reduced_dos_of(networks[5:6], moments=MOMENTS, vectors=3, scale=wider, omega=GRID)
    np.testing.assert_array_equal(alone.outlier_frequencies[0], whole.outlier_frequencies[5])
    np.testing.assert_allclose(alone.moments[0], whole.moments[5], atol=1e-6)


def test_outlier_note_counts_and_bounds_the_modes_not_shown():
    result = reduced_dos(60, 0.5, connection="cutoff", spring="inverse", seeds=[0],
                         moments=MOMENTS)
    frequencies = result.outlier_frequencies[0]
    assert result.outlier_note == (f"{frequencies.size} modes above ω = 4.1, "
                                   f"up to ω = {frequencies[-1]:.0f}, not shown")
    assert frequencies[-1] == pytest.approx(34.25, abs=0.01)  # the spring 0.0017 long


# ----------------------------------------------------------------- no outliers: unchanged


@pytest.mark.parametrize("size, delta, connection, spring", [
    (40, 0.3, "cutoff", "inverse"),      # the paper's setting
    (30, 0.5, "cutoff", "constant"),     # constant springs: no stiff pair
    (24, 0.0, "nearest", "constant"),    # the crystal
])
def test_networks_without_outliers_are_computed_as_before(size, delta, connection, spring,
                                                          monkeypatch):
    networks = build_networks(size, delta, connection=connection, spring=spring, seeds=range(3))
    new = reduced_dos_of(networks, moments=MOMENTS)
    monkeypatch.setattr(outliers, "OUTLIER_TRIGGER", np.inf)
    old = reduced_dos_of(networks, moments=MOMENTS)
    assert new.scale == old.scale
    np.testing.assert_array_equal(new.moments, old.moments)
    np.testing.assert_array_equal(new.per_seed, old.per_seed)
    assert not np.any(new.outlier_modes) and new.outlier_note == ""
    assert all(f.size == 0 for f in new.outlier_frequencies)


def test_a_crystal_has_nothing_to_find():
    crystal = build_network(16, 0.0, connection="nearest", spring="constant", seed=0)
    matrix = crystal.dynamical_matrix()
    assert outliers._find_outliers(matrix, outliers._bulk_edge(matrix.diagonal())).count == 0
