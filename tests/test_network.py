"""The spring network: geometry, springs and the dynamical matrix, against naive oracles."""

import itertools
import math
import re

import numpy as np
import pytest

from bpwidgets import CONNECTIONS, SPRINGS, build_network, build_networks

#: Matrix entries agree to round-off.
MATRIX_TOLERANCE = 1e-12
#: Reference mean coordination numbers (docs/physics.md, dense computation, L = 60, 10 seeds).
REFERENCE_MEAN_Z = {0.1: 3.21, 0.2: 3.75, 0.3: 4.31}
#: docs/physics.md quotes them to two decimals.
MEAN_Z_TOLERANCE = 0.01


def _naive_springs(network):
    """Every pair within a + delta by brute force over all pairs, minimum image by 9 images."""
    L = network.size
    cutoff = 1.0 + network.delta + 1e-9
    pos = np.asarray(network.positions)
    springs = {}
    for i, j in itertools.combinations(range(network.n_nodes), 2):
        best = min(
            math.dist(pos[i], pos[j] + np.array([sx, sy]) * L)
            for sx in (-1, 0, 1)
            for sy in (-1, 0, 1)
        )
        if best <= cutoff:
            springs[(i, j)] = best
    return springs


def _naive_dynamical_matrix(network):
    """H from its definition, one spring at a time, into a dense array."""
    H = np.zeros((network.n_nodes, network.n_nodes))
    for (i, j), t in zip(network.bonds, network.stiffness):
        H[i, j] -= t
        H[j, i] -= t
        H[i, i] += t
        H[j, j] += t
    return H


@pytest.mark.parametrize("connection", CONNECTIONS)
@pytest.mark.parametrize("spring", SPRINGS)
def test_every_node_moves_exactly_delta_from_its_site(connection, spring):
    net = build_network(12, 0.37, connection=connection, spring=spring, seed=3)
    ix, iy = np.divmod(np.arange(net.n_nodes), net.size)
    offset = net.positions - np.column_stack([ix, iy])
    offset -= net.size * np.round(offset / net.size)
    np.testing.assert_allclose(np.hypot(*offset.T), 0.37, atol=1e-12)
    assert np.all((net.positions >= 0) & (net.positions < net.size))


def test_angles_are_uniform():
    net = build_network(100, 0.2, connection="nearest", spring="inverse", seed=1)
    ix, iy = np.divmod(np.arange(net.n_nodes), net.size)
    offset = net.positions - np.column_stack([ix, iy])
    offset -= net.size * np.round(offset / net.size)
    angles = np.mod(np.arctan2(offset[:, 1], offset[:, 0]), 2 * np.pi)
    counts = np.histogram(angles, bins=8, range=(0, 2 * np.pi))[0]
    expected = net.n_nodes / 8
    # Chi-square with 7 degrees of freedom: 24.3 is its 0.1 % tail.
    assert ((counts - expected) ** 2 / expected).sum() < 24.3


def test_same_seed_same_network_other_seed_other_network():
    a = build_network(20, 0.3, connection="cutoff", spring="inverse", seed=7)
    b = build_network(20, 0.3, connection="cutoff", spring="inverse", seed=7)
    c = build_network(20, 0.3, connection="cutoff", spring="inverse", seed=8)
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.bonds, b.bonds)
    assert not np.array_equal(a.positions, c.positions)


def test_nearest_has_the_lattice_springs():
    net = build_network(10, 0.4, connection="nearest", spring="inverse", seed=2)
    assert net.n_bonds == 2 * net.n_nodes
    np.testing.assert_array_equal(net.coordination, 4)
    pairs = {tuple(sorted(b)) for b in net.bonds.tolist()}
    for i in range(net.n_nodes):
        x, y = divmod(i, net.size)
        assert tuple(sorted((i, ((x + 1) % 10) * 10 + y))) in pairs
        assert tuple(sorted((i, x * 10 + (y + 1) % 10))) in pairs


@pytest.mark.parametrize("size, delta, seed", [(6, 0.3, 0), (7, 0.45, 1), (5, 0.9, 2), (12, 0.2, 3)])
def test_cutoff_springs_equal_brute_force(size, delta, seed):
    net = build_network(size, delta, connection="cutoff", spring="inverse", seed=seed)
    naive = _naive_springs(net)
    found = {tuple(sorted(b)): r for b, r in zip(net.bonds.tolist(), net.lengths)}
    assert len(found) == net.n_bonds  # each spring once
    assert found.keys() == naive.keys()
    for pair, r in naive.items():
        assert found[pair] == pytest.approx(r, abs=1e-12)


def test_bond_vectors_join_the_two_nodes():
    net = build_network(9, 0.35, connection="cutoff", spring="inverse", seed=4)
    i, j = net.bonds.T
    gap = net.positions[i] + net.bond_vectors - net.positions[j]
    gap -= net.size * np.round(gap / net.size)
    np.testing.assert_allclose(gap, 0, atol=1e-12)
    np.testing.assert_allclose(np.hypot(*net.bond_vectors.T), net.lengths)


@pytest.mark.parametrize("connection", CONNECTIONS)
def test_delta_zero_is_the_crystal(connection):
    net = build_network(8, 0.0, connection=connection, spring="inverse", seed=0)
    assert net.n_bonds == 2 * net.n_nodes
    np.testing.assert_array_equal(net.coordination, 4)
    np.testing.assert_array_equal(net.lengths, 1.0)


@pytest.mark.parametrize("spring, law", [("inverse", lambda r: 1 / r), ("constant", np.ones_like)])
def test_spring_law(spring, law):
    net = build_network(10, 0.3, connection="cutoff", spring=spring, seed=5)
    np.testing.assert_allclose(net.stiffness, law(net.lengths))


def test_mean_coordination_matches_reference():
    for delta, reference in REFERENCE_MEAN_Z.items():
        mean = np.mean(
            [
                build_network(60, delta, connection="cutoff", spring="inverse", seed=s)
                .coordination.mean()
                for s in range(10)
            ]
        )
        assert mean == pytest.approx(reference, abs=MEAN_Z_TOLERANCE), delta


@pytest.mark.parametrize("connection", CONNECTIONS)
@pytest.mark.parametrize("spring", SPRINGS)
def test_dynamical_matrix_equals_naive_construction(connection, spring):
    net = build_network(11, 0.3, connection=connection, spring=spring, seed=6)
    H = net.dynamical_matrix()
    dense = H.toarray()
    np.testing.assert_allclose(dense, _naive_dynamical_matrix(net), atol=MATRIX_TOLERANCE)
    np.testing.assert_allclose(dense, dense.T, atol=0)
    np.testing.assert_allclose(dense.sum(axis=1), 0, atol=MATRIX_TOLERANCE)
    assert np.linalg.eigvalsh(dense).min() > -1e-10  # positive semi-definite
    # Off-diagonal pattern: exactly the springs.
    assert (np.count_nonzero(dense) - net.n_nodes) == 2 * net.n_bonds


def test_network_is_frozen():
    net = build_network(10, 0.2, connection="cutoff", spring="inverse", seed=0)
    with pytest.raises(ValueError):
        net.positions[0, 0] = 1.0
    with pytest.raises(AttributeError):
        net.delta = 0.5


def test_large_network_builds():
    net = build_network(300, 0.3, connection="cutoff", spring="inverse", seed=0)
    assert net.n_nodes == 90_000
    assert net.coordination.mean() == pytest.approx(4.31, abs=0.02)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(size=2.5), "size"),
        (dict(size="60"), "size"),
        (dict(size=2), "size"),
        (dict(size=True), "size"),
        (dict(delta=-0.1), "delta"),
        (dict(delta=1.0), "delta"),
        (dict(delta=float("nan")), "delta"),
        (dict(delta="0.2"), "delta"),
        (dict(connection="all"), "'nearest', 'cutoff'"),
        (dict(spring="linear"), "'inverse', 'constant'"),
        (dict(size=3, delta=0.5), "2 (1 + delta)"),
        (dict(seed=-1), "seed"),
        (dict(seed=1.5), "seed"),
    ],
)
def test_bad_input_names_the_argument(kwargs, words):
    args = dict(size=10, delta=0.2, connection="cutoff", spring="inverse", seed=0) | kwargs
    size, delta = args.pop("size"), args.pop("delta")
    with pytest.raises(ValueError, match=re.escape(words)):
        build_network(size, delta, **args)


def test_whole_float_size_is_accepted():
    assert build_network(10.0, 0.1, connection="nearest", spring="inverse", seed=0).size == 10


def test_cutoff_boundary_of_the_size_rule():
    # L must exceed 2 (1 + delta): 4 > 2.8 passes, 3 > 3.0 fails.
    build_network(4, 0.4, connection="cutoff", spring="inverse", seed=0)
    with pytest.raises(ValueError, match="size"):
        build_network(3, 0.5, connection="cutoff", spring="inverse", seed=0)


def test_networks_built_side_by_side_are_the_ones_built_alone():
    together = build_networks(30, 0.3, connection="cutoff", spring="inverse", seeds=[5, 0, 2])
    assert [net.seed for net in together] == [5, 0, 2]
    for net in together:
        alone = build_network(30, 0.3, connection="cutoff", spring="inverse", seed=net.seed)
        np.testing.assert_array_equal(net.positions, alone.positions)
        np.testing.assert_array_equal(net.bonds, alone.bonds)
    with pytest.raises(ValueError, match="size"):
        build_networks(2, 0.3, connection="cutoff", spring="inverse", seeds=[0, 1])
