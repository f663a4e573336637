"""Where modes live: exact, local (KPM) and stochastic mode weights against dense eigenvectors."""

import numpy as np
import pytest
import scipy.sparse.csgraph as csgraph

import bpwidgets.core.linalg
from bpwidgets import (
    build_network,
    exact_frequencies,
    local_spectrum,
    mode_weights,
    node_modes,
    reduced_dos_of,
    toy_network,
)
from bpwidgets.core.modes import _neighbourhood


def test_mode_weights_exact_sum_to_the_fraction_of_modes():
    net = build_network(20, 0.3, connection="cutoff", spring="inverse", seed=2)
    omega = exact_frequencies(net)
    weights = mode_weights(net, 0.3, 0.7, method="exact")
    assert weights.shape == (net.n_nodes,)
    assert weights.sum() == pytest.approx(np.mean((omega >= 0.3) & (omega <= 0.7)), rel=1e-10)
    assert np.all(weights >= 0)


@pytest.mark.parametrize("delta, window", [(0.3, (0.3, 0.7)), (0.1, (1.0, 2.0)), (0.0, (0.5, 1.5))])
def test_local_kpm_weights_follow_the_exact_ones(delta, window):
    net = build_network(30, delta, connection="cutoff", spring="inverse", seed=3)
    exact = mode_weights(net, *window, method="exact")
    fast = mode_weights(net, *window, method="kpm", moments=256)
    # The window's edges are smoothed over ~0.02 in omega: totals agree to a few %.
    assert fast.sum() == pytest.approx(exact.sum(), rel=0.03)
    if exact.std() > 1e-3 * exact.mean():  # disordered: the pattern over nodes matters
        assert np.corrcoef(exact, fast)[0, 1] > 0.97
    else:  # the crystal spreads every mode evenly (to the single-precision recursion)
        np.testing.assert_allclose(fast, fast.mean(), rtol=1e-6)


def test_stochastic_weights_are_unbiased_on_average():
    net = build_network(40, 0.3, connection="cutoff", spring="inverse", seed=3)
    exact = mode_weights(net, 1.0, 2.0, method="exact")
    noisy = mode_weights(net, 1.0, 2.0, method="stochastic", vectors=256, moments=256)
    assert noisy.sum() == pytest.approx(exact.sum(), rel=0.03)
    assert np.corrcoef(exact, noisy)[0, 1] > 0.6


def test_mode_weights_auto_choice_matches_the_methods():
    net = build_network(40, 0.3, connection="cutoff", spring="inverse", seed=5)
    corner = np.arange(20)
    np.testing.assert_allclose(
        mode_weights(net, 0.3, 0.7, nodes=corner),
        mode_weights(net, 0.3, 0.7, nodes=corner, method="kpm"),
    )


def test_local_spectrum_serves_any_window_and_chosen_nodes():
    net = build_network(30, 0.3, connection="cutoff", spring="inverse", seed=4)
    everywhere = local_spectrum(net)
    corner = local_spectrum(net, nodes=[0, 31, 899])
    np.testing.assert_allclose(corner.mode_weights(0.2, 0.9), everywhere.mode_weights(0.2, 0.9)[[0, 31, 899]])
    np.testing.assert_allclose(
        mode_weights(net, 0.2, 0.9, nodes=[0, 31, 899], method="kpm"), corner.mode_weights(0.2, 0.9)
    )
    # All modes: every node's weight is 1/N (the zero mode of the cluster is left out).
    total = everywhere.mode_weights(0.0, 10.0).sum()
    assert total == pytest.approx(1 - 1 / net.n_nodes, rel=1e-6)
    with pytest.raises(ValueError, match="nodes"):
        local_spectrum(net, nodes=[900])


def test_local_moments_are_exact_from_the_nodes_neighbourhood():
    # 16 moments reach 8 springs from a node: for three corner nodes of a 40 x 40 network
    # only their neighbourhood is used, and the moments must still be the exact ones,
    # sum_k v_k(i)^2 T_n(x_k) over the non-zero modes (dense oracle).
    net = build_network(40, 0.3, connection="cutoff", spring="inverse", seed=2)
    nodes = [0, 1, 41]
    assert _neighbourhood(net, nodes, 8).size < net.n_nodes  # a part of the network
    local = local_spectrum(net, nodes=nodes, moments=16)
    values, vectors = np.linalg.eigh(net.dynamical_matrix().toarray())
    n_zero, _ = net.clusters()
    x = 2.0 * values[n_zero:] / local.scale - 1.0
    chebyshev = np.cos(np.arange(16)[:, None] * np.arccos(np.clip(x, -1, 1)))
    exact = (vectors[nodes, n_zero:] ** 2) @ chebyshev.T
    np.testing.assert_allclose(local.moments, exact, atol=1e-6)  # single-precision recursion


def test_local_spectrum_removes_zero_modes_of_isolated_clusters():
    """A node with no spring carries no non-zero mode; the rest match the exact weights."""
    net = toy_network(remove=[(4, 1), (4, 3), (4, 5), (4, 7)])
    assert net.coordination[4] == 0
    fast = local_spectrum(net, moments=512).mode_weights(0.0, 10.0)
    assert fast[4] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(fast, mode_weights(net, 0.0, 10.0, method="exact"), atol=1e-9)


def test_local_and_stochastic_weights_fall_back_to_a_safe_bound(monkeypatch):
    # A Lanczos bound below the top of the spectrum would make the recursion blow up:
    # every method that runs it notices and uses the Gershgorin bound instead.
    net = build_network(16, 0.3, connection="cutoff", spring="inverse", seed=0)
    top = exact_frequencies(net)[-1] ** 2
    exact = mode_weights(net, 0.5, 1.5, method="exact")
    monkeypatch.setattr(bpwidgets.core.linalg, "_upper_bounds",
                        lambda stack: np.full(stack.n_blocks, 0.5 * top))
    local = local_spectrum(net)
    assert local.scale >= top
    assert np.corrcoef(local.mode_weights(0.5, 1.5), exact)[0, 1] > 0.9
    noisy = mode_weights(net, 0.5, 1.5, method="stochastic", vectors=64)
    assert np.all(np.isfinite(noisy)) and noisy.sum() == pytest.approx(exact.sum(), rel=0.2)
    assert reduced_dos_of([net]).scale >= top


def test_node_modes_match_a_direct_diagonalisation():
    net = build_network(14, 0.3, connection="cutoff", spring="inverse", seed=4)
    nodes = [0, 5, 77, 195]
    modes = node_modes(net, nodes=nodes)
    values, vectors = np.linalg.eigh(net.dynamical_matrix().toarray())
    frequencies = np.sqrt(np.clip(values, 0.0, None))
    n_zero, _ = csgraph.connected_components(net.dynamical_matrix(), directed=False)
    for lo, hi in [(0.2, 0.6), (1.0, 2.5), (0.0, 10.0)]:
        inside = (frequencies >= lo) & (frequencies <= hi)
        inside[:n_zero] = False
        expected = (vectors[nodes][:, inside] ** 2).sum(axis=1) / net.n_nodes
        np.testing.assert_allclose(modes.mode_weights(lo, hi), expected, atol=1e-12)
    # Every non-zero mode once: the nodes' whole weight, less their clusters' zero modes.
    np.testing.assert_allclose(node_modes(net).mode_weights(0.0, 10.0).sum(),
                               (net.n_nodes - n_zero) / net.n_nodes)
    for bad in ([-1], [net.n_nodes], [0.5]):
        with pytest.raises(ValueError, match="nodes"):
            node_modes(net, nodes=bad)
        for method in ("exact", "kpm", "stochastic"):
            with pytest.raises(ValueError, match="nodes"):
                mode_weights(net, 0.2, 0.6, nodes=bad, method=method)
    with pytest.raises(ValueError, match="omega_min"):
        modes.mode_weights(0.5, 0.5)


def test_mode_weights_bad_window():
    net = build_network(10, 0.2, connection="cutoff", spring="inverse", seed=0)
    for lo, hi in [(0.5, 0.5), (-0.1, 1.0), (0.2, np.inf)]:
        with pytest.raises(ValueError, match="omega_min"):
            mode_weights(net, lo, hi)
