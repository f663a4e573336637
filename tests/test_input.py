"""Bad input to the compute core is refused, naming the argument; the limits hold.

Every public function of the core checks its input before it computes and raises
a ``ValueError`` (a ``TypeError`` where a ``Network`` is expected) whose message
names the argument and what is allowed. A request whose memory can be estimated
is refused past the memory limit (``bpwidgets.core.limits``) before anything is
allocated: these tests lower the limit instead of allocating gigabytes.
"""

import re
import tracemalloc

import numpy as np
import pytest

from bpwidgets import (
    build_network,
    build_networks,
    crystal_reduced_dos,
    debye_level,
    exact_frequencies,
    local_dos,
    local_spectrum,
    mode_weights,
    node_modes,
    poles,
    reduced_dos,
    reduced_dos_of,
    spectrum_bound,
    stiffness_tensor,
    toy_network,
)
from bpwidgets.core import network as network_module
from bpwidgets.core.kpm import (
    DEFAULT_GRID_POINTS,
    MAX_GRID_POINTS,
    MAX_MOMENTS,
    MAX_VECTORS,
    _kpm_bytes,
    default_vectors,
)
from bpwidgets.core.limits import MEMORY_LIMIT_BYTES, MEMORY_LIMIT_VARIABLE, memory_limit
from bpwidgets.core.modes import _local_bytes
from bpwidgets.core.network import MAX_SIZE, _network_bytes

GIB = 2**30
NETWORK = dict(size=10, delta=0.2, connection="cutoff", spring="inverse", seed=0)
#: An estimate is "about" right: the memory really taken lies within these factors of it.
ESTIMATE_LOW, ESTIMATE_HIGH = 1 / 3, 1.25


@pytest.fixture(autouse=True)
def default_limit(monkeypatch):
    """Every test starts from the default memory limit, whatever the environment says."""
    monkeypatch.delenv(MEMORY_LIMIT_VARIABLE, raising=False)


@pytest.fixture(scope="module")
def net():
    return build_network(**NETWORK)


@pytest.fixture(scope="module")
def result(net):
    return reduced_dos_of([net], moments=16, vectors=2)


@pytest.fixture
def nothing_built(monkeypatch):
    """The networks built while the test runs: refusals must come before any."""
    built = []
    monkeypatch.setattr(network_module, "_build", lambda *args: built.append(args))
    return built


def _peak(work) -> int:
    """Most memory (bytes) numpy and Python held while ``work()`` ran."""
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --------------------------------------------------------------------------- networks


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(size=True), "size must be a whole number from MIN_SIZE = 3 to MAX_SIZE"),
        (dict(size=np.True_), "size"),
        (dict(size=1e300), "MAX_SIZE = 32768; got 1e+300"),
        (dict(size=10**9), "MAX_SIZE = 32768; got 1000000000"),
        (dict(size=MAX_SIZE + 1), "MAX_SIZE"),
        (dict(size=float("inf")), "size"),
        (dict(size=float("nan")), "size"),
        (dict(size=10.5), "size"),
        (dict(size="10"), "size"),
        (dict(connection=np.array(["nearest"])), "connection must be one of 'nearest', 'cutoff'"),
        (dict(connection=["cutoff"]), "connection"),
        (dict(connection=None), "connection"),
        (dict(spring=np.array(["inverse"])), "spring must be one of 'inverse', 'constant'"),
        (dict(seed=True), "seed"),
        (dict(seed=np.array([1])), "seed"),
        (dict(size=3, delta=0.26, connection="nearest"), "size must be larger than 2 (1 + 2 delta)"),
        (dict(size=3, delta=0.25, connection="nearest"), "connection='nearest'"),
        (dict(size=4, delta=0.5, connection="nearest"), "size"),
        (dict(size=5, delta=0.75, connection="nearest"), "size"),
        (dict(size=5, delta=0.99, connection="nearest"), "size"),
    ],
)
def test_build_network_refuses(kwargs, words):
    args = NETWORK | kwargs
    size, delta = args.pop("size"), args.pop("delta")
    with pytest.raises(ValueError, match=re.escape(words)):
        build_network(size, delta, **args)


def test_a_valid_choice_is_stored_as_the_str_itself():
    net = build_network(10, 0.2, connection=np.str_("nearest"), spring="constant", seed=0)
    assert type(net.connection) is str and net.connection == "nearest"


@pytest.mark.parametrize("size, delta", [(3, 0.24), (4, 0.49), (5, 0.74)])
def test_nearest_cells_just_large_enough_keep_every_lattice_bond(size, delta):
    # L > 2 (1 + 2 delta): every spring is the lattice bond between neighbouring sites,
    # (1, 0) or (0, 1) plus the two displacements, not another periodic image of it.
    sites = np.column_stack(np.divmod(np.arange(size * size), size)).astype(float)
    for seed in range(20):
        net = build_network(size, delta, connection="nearest", spring="constant", seed=seed)
        moved = net.positions - sites
        moved -= size * np.round(moved / size)
        i, j = net.bonds.T
        along_y = i // size == j // size
        lattice = np.column_stack([~along_y, along_y]).astype(float)
        np.testing.assert_allclose(net.bond_vectors, lattice + moved[j] - moved[i], atol=1e-12)
        assert net.lengths.max() <= 1 + 2 * delta + 1e-12


@pytest.mark.parametrize("seeds", [[1, 1], (0, 2, 0), [True], [-1], [1.5], [], 5, None, "01"])
def test_build_networks_seeds_are_distinct_non_negative_integers(seeds, nothing_built):
    with pytest.raises(ValueError, match="seeds must be"):
        build_networks(10, 0.2, connection="cutoff", spring="inverse", seeds=seeds)
    assert not nothing_built


def test_build_networks_checks_its_parameters_before_building(nothing_built):
    with pytest.raises(ValueError, match="connection"):
        build_networks(10, 0.2, connection=np.array(["cutoff"]), spring="inverse", seeds=[0])
    assert not nothing_built


# --------------------------------------------------------------------------- a Network expected


@pytest.mark.parametrize(
    "function, args, kwargs",
    [
        (exact_frequencies, (), {}),
        (debye_level, (), {}),
        (stiffness_tensor, (), {}),
        (local_spectrum, (), {}),
        (node_modes, (), {}),
        (mode_weights, (0.2, 0.6), {}),
        (local_dos, (1.0,), dict(eps=1e-3)),
        (poles, (), {}),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
@pytest.mark.parametrize("bad", ["x", None, np.zeros((9, 9))], ids=["str", "None", "array"])
def test_a_network_argument_must_be_a_network(function, args, kwargs, bad):
    with pytest.raises(TypeError, match=r"network must be a bpwidgets\.Network"):
        function(bad, *args, **kwargs)


@pytest.mark.parametrize("function", [reduced_dos_of, spectrum_bound])
@pytest.mark.parametrize(
    "bad, error, words",
    [
        ("x", TypeError, r"networks\[0\] must be a bpwidgets\.Network .*; got str"),
        (5, TypeError, r"networks must be a sequence of bpwidgets\.Network; got int"),
        ("one", TypeError, r"got one Network: pass \[network\]"),
        ("mixed", TypeError, r"networks\[1\] must be a bpwidgets\.Network"),
        ([], ValueError, "networks must be a non-empty sequence"),
    ],
)
def test_networks_must_be_a_sequence_of_networks(function, bad, error, words, net):
    bad = {"one": net, "mixed": [net, None]}.get(bad, bad) if isinstance(bad, str) else bad
    with pytest.raises(error, match=words):
        function(bad)


# --------------------------------------------------------------------------- the reduced DOS


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(moments=MAX_MOMENTS + 1), "moments must be an integer from 8 to MAX_MOMENTS"),
        (dict(moments=7), "moments"),
        (dict(moments=64.0), "moments"),
        (dict(moments=True), "moments"),
        (dict(vectors=MAX_VECTORS + 1), "vectors must be an integer from 1 to MAX_VECTORS"),
        (dict(vectors=0), "vectors"),
        (dict(vectors=True), "vectors"),
        (dict(vectors=2.0), "vectors"),
        (dict(omega=np.linspace(0, 3, MAX_GRID_POINTS + 1)), "omega must have at most MAX_GRID"),
        (dict(omega=[0.5, np.inf]), "omega must hold finite"),
        (dict(omega=[0.5, -0.1]), "omega must hold frequencies >= 0"),
        (dict(omega=[[0.5, 1.0]]), "omega must be a non-empty 1D array"),
        (dict(omega=[]), "omega"),
        (dict(omega="x"), "omega"),
        (dict(method=np.array(["kpm"])), "method must be one of 'kpm', 'exact'"),
        (dict(method="KPM"), "method"),
    ],
)
def test_reduced_dos_refuses_before_building(kwargs, words, net, nothing_built):
    with pytest.raises(ValueError, match=re.escape(words)):
        reduced_dos(10, 0.2, connection="cutoff", spring="inverse", seeds=2, **kwargs)
    assert not nothing_built
    with pytest.raises(ValueError, match=re.escape(words)):
        reduced_dos_of([net], **kwargs)


@pytest.mark.parametrize("seeds", [[1, 1], [3, 0, 3], True, 0, -2, 2.5, [True], [-1], [1.5],
                                   [], None, [None]])
def test_reduced_dos_seeds_are_a_count_or_distinct_seeds(seeds, nothing_built):
    with pytest.raises(ValueError, match="seeds"):
        reduced_dos(10, 0.2, connection="cutoff", spring="inverse", seeds=seeds)
    assert not nothing_built


def test_repeated_seeds_are_named():
    with pytest.raises(ValueError, match=r"seeds must be distinct .* got \[1\] more than once"):
        reduced_dos(10, 0.2, connection="cutoff", spring="inverse", seeds=[1, 2, 1])


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda r: r.smoothed(moments=MAX_MOMENTS + 2), "MAX_MOMENTS"),
        (lambda r: r.smoothed(moments=32), "moments must be at most the 16 stored"),
        (lambda r: r.smoothed(moments=True), "moments"),
        (lambda r: r.smoothed(omega=[np.nan]), "omega must hold finite"),
        (lambda r: r.smoothed(omega=np.zeros(MAX_GRID_POINTS + 1)), "MAX_GRID_POINTS"),
        (lambda r: r.rescaled(np.inf), "scale must be a positive finite number"),
        (lambda r: r.rescaled(10**400), "scale"),
        (lambda r: r.rescaled(True), "scale"),
        (lambda r: r.rescaled(2 * r.scale, omega=[-1.0]), "omega must hold frequencies >= 0"),
        (lambda r: r.cumulative(np.nan), "omega must hold finite"),
        (lambda r: r.cumulative([0.5, -0.5]), "omega must hold frequencies >= 0"),
        (lambda r: r.cumulative("x"), "omega"),
        (lambda r: r.cumulative(np.zeros(MAX_GRID_POINTS + 1)), "MAX_GRID_POINTS"),
    ],
)
def test_reduced_dos_methods_refuse(call, words, result):
    with pytest.raises(ValueError, match=re.escape(words)):
        call(result)


@pytest.mark.parametrize(
    "omega, t, words",
    [
        (np.nan, 1.0, "omega must hold finite"),
        ([0.5, np.inf], 1.0, "omega must hold finite"),
        (-1.0, 1.0, "omega must hold frequencies >= 0"),
        ("x", 1.0, "omega"),
        (1.0, 0.0, "t must be a positive finite number"),
        (1.0, np.inf, "t must be"),
        (1.0, True, "t must be"),
        (1.0, "1", "t must be"),
    ],
)
def test_crystal_reduced_dos_refuses(omega, t, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        crystal_reduced_dos(omega, t)


@pytest.mark.parametrize("total_nodes", [0, -1, True, 2.5, "9", None])
def test_default_vectors_needs_a_positive_node_count(total_nodes):
    with pytest.raises(ValueError, match="total_nodes must be a positive integer"):
        default_vectors(total_nodes)


# --------------------------------------------------------------------------- modes and the toy


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda n: local_spectrum(n, moments=MAX_MOMENTS + 2), "MAX_MOMENTS"),
        (lambda n: local_spectrum(n, moments=4), "moments"),
        (lambda n: local_spectrum(n, nodes=[True]), "nodes must be integer node indices"),
        (lambda n: local_spectrum(n, nodes="abc"), "nodes"),
        (lambda n: node_modes(n, nodes=[[0, 1], [2]]), "nodes"),
        (lambda n: mode_weights(n, 0.2, 0.6, vectors=0, method="stochastic"), "vectors"),
        (lambda n: mode_weights(n, 0.2, 0.6, vectors=MAX_VECTORS + 1), "MAX_VECTORS"),
        (lambda n: mode_weights(n, 0.2, 0.6, moments=MAX_MOMENTS + 2), "MAX_MOMENTS"),
        (lambda n: mode_weights(n, "0.2", 0.6), "omega_min must be a number"),
        (lambda n: mode_weights(n, 0.2, None), "omega_max must be a number"),
        (lambda n: mode_weights(n, 0.2, 0.6, method=np.array(["kpm"])), "method"),
        (lambda n: mode_weights(n, 0.2, 0.6, method="dense"), "method"),
        (lambda n: local_spectrum(n, nodes=range(5)).mode_weights(0.2, True), "omega_max"),
        (lambda n: node_modes(n, nodes=range(5)).mode_weights(np.nan, 0.6), "omega_min"),
    ],
)
def test_mode_functions_refuse(call, words, net):
    with pytest.raises(ValueError, match=re.escape(words)):
        call(net)


@pytest.mark.parametrize(
    "omega, eps, words",
    [
        (np.nan, 1e-3, "omega must hold finite"),
        (np.inf, 1e-3, "omega must hold finite"),
        (-0.5, 1e-3, "omega must hold frequencies >= 0"),
        ([0.5, np.nan], 1e-3, "omega"),
        ([1.0, -1.0], 1e-3, "omega"),
        ("x", 1e-3, "omega"),
        ([], 1e-3, "omega"),
        (np.zeros(MAX_GRID_POINTS + 1), 1e-3, "MAX_GRID_POINTS"),
        (1.0, np.inf, "eps must be a positive finite number"),
        (1.0, np.nan, "eps"),
        (1.0, 0.0, "eps"),
        (1.0, True, "eps"),
        (1.0, "1e-3", "eps"),
    ],
)
def test_local_dos_refuses(omega, eps, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        local_dos(toy_network(), omega, eps=eps)


@pytest.mark.parametrize(
    "kwargs, words",
    [(dict(add=5), "add must be a sequence of node pairs"), (dict(remove=None), "remove"),
     (dict(add=[(0, 1, 2)]), "add: a spring is a pair")],
)
def test_toy_network_refuses(kwargs, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        toy_network(**kwargs)


# --------------------------------------------------------------------------- the memory limit


@pytest.mark.parametrize(
    "value, expected",
    [("8G", 8 * GIB), ("512M", 512 * 2**20), ("1.5G", int(1.5 * GIB)), ("100", 100),
     ("2GiB", 2 * GIB), (" 3gb ", 3 * GIB), ("64k", 64 * 2**10), ("1T", 2**40),
     ("", MEMORY_LIMIT_BYTES)],
)
def test_memory_limit_from_the_environment(value, expected, monkeypatch):
    assert memory_limit({MEMORY_LIMIT_VARIABLE: value}) == expected
    assert memory_limit({}) == MEMORY_LIMIT_BYTES == 8 * GIB
    monkeypatch.setenv(MEMORY_LIMIT_VARIABLE, value)
    assert memory_limit() == expected


@pytest.mark.parametrize("value", ["lots", "-1", "0", "0.1", "8X", "1e9", "G", "8 GB B"])
def test_a_bad_memory_limit_is_a_clear_error(value, monkeypatch):
    with pytest.raises(ValueError, match=f"{MEMORY_LIMIT_VARIABLE} must be a positive number"):
        memory_limit({MEMORY_LIMIT_VARIABLE: value})
    monkeypatch.setenv(MEMORY_LIMIT_VARIABLE, value)
    with pytest.raises(ValueError, match=MEMORY_LIMIT_VARIABLE):
        build_network(**NETWORK)


def test_the_largest_size_is_refused_by_the_default_limit_before_allocating():
    with pytest.raises(ValueError, match=r"size=32768 \(1073741824 nodes, .*\) needs about "
                                         r"512 GiB, more than the limit of 8 GiB"):
        build_network(MAX_SIZE, 0.0, connection="nearest", spring="inverse", seed=0)


@pytest.mark.parametrize("connection, delta", [("nearest", 0.3), ("cutoff", 0.3), ("cutoff", 0.9)])
def test_network_estimate_is_about_what_building_takes(connection, delta):
    def build():
        net = build_network(60, delta, connection=connection, spring="inverse", seed=0)
        net.dynamical_matrix(), net.clusters()

    estimate = _network_bytes(60, delta, connection)
    assert ESTIMATE_LOW * estimate <= _peak(build) <= ESTIMATE_HIGH * estimate


def test_networks_within_the_limit_are_built_and_larger_ones_refused(monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_VARIABLE, str(_network_bytes(40, 0.3, "cutoff")))
    assert build_network(40, 0.3, connection="cutoff", spring="inverse", seed=0).size == 40
    built = []
    monkeypatch.setattr(network_module, "_build", lambda *args: built.append(args))
    with pytest.raises(ValueError, match=r"size=41 \(1681 nodes, connection='cutoff', "
                                         r"delta=0.3\) needs about [\d.]+ [KM]iB, more than "
                                         r"the limit of [\d.]+ [KM]iB"):
        build_network(41, 0.3, connection="cutoff", spring="inverse", seed=0)
    with pytest.raises(ValueError, match=r"seeds: 2 networks of size=40 .* needs about"):
        build_networks(40, 0.3, connection="cutoff", spring="inverse", seeds=[0, 1])
    assert not built


def test_kpm_estimate_is_about_what_the_moments_take():
    nets = build_networks(60, 0.3, connection="cutoff", spring="inverse", seeds=[0, 1])
    for net in nets:
        net.dynamical_matrix(), net.clusters()
    estimate = _kpm_bytes(2 * 3600, 20, 64, DEFAULT_GRID_POINTS, 2)
    peak = _peak(lambda: reduced_dos_of(nets, moments=64, vectors=20))
    assert ESTIMATE_LOW * estimate <= peak <= ESTIMATE_HIGH * estimate


def test_kpm_vectors_past_the_limit_are_refused_before_any_network_is_built(monkeypatch, net):
    limit = _kpm_bytes(2 * 100, 4, 16, DEFAULT_GRID_POINTS, 2)
    assert 2 * _network_bytes(10, 0.2, "cutoff") < limit  # the networks themselves fit
    monkeypatch.setenv(MEMORY_LIMIT_VARIABLE, str(limit))
    args = dict(connection="cutoff", spring="inverse", seeds=2, moments=16)
    assert reduced_dos(10, 0.2, vectors=4, **args).per_seed.shape == (2, DEFAULT_GRID_POINTS)
    built = []
    monkeypatch.setattr(network_module, "_build", lambda *args: built.append(args))
    words = (r"vectors=5 per seed over 2 seeds of 100 nodes \(1000 random-vector entries\) "
             r"needs about [\d.]+ KiB, more than the limit of [\d.]+ KiB")
    with pytest.raises(ValueError, match=words):
        reduced_dos(10, 0.2, vectors=5, **args)
    assert not built
    with pytest.raises(ValueError, match="vectors=5 per seed over 2 seeds"):
        reduced_dos_of([net, net], vectors=5, moments=16)


@pytest.mark.parametrize(
    "call",
    [exact_frequencies, poles, node_modes, lambda n: local_dos(n, [0.5, 1.0], eps=1e-2),
     lambda n: reduced_dos_of([n], method="exact", moments=16)],
    ids=["exact_frequencies", "poles", "node_modes", "local_dos", "reduced_dos_of"],
)
def test_dense_diagonalisation_past_the_limit_is_refused(call, monkeypatch):
    net = build_network(20, 0.2, connection="cutoff", spring="inverse", seed=0)  # 16 N^2 = 2.4 MiB
    monkeypatch.setenv(MEMORY_LIMIT_VARIABLE, "1M")
    with pytest.raises(ValueError, match=r"network of 400 nodes: .* needs about [\d.]+ MiB, "
                                         r"more than the limit of 1 MiB"):
        call(net)
    monkeypatch.setenv(MEMORY_LIMIT_VARIABLE, "16M")
    call(net)


def test_local_spectra_past_the_limit_are_refused(monkeypatch, net):
    monkeypatch.setenv(MEMORY_LIMIT_VARIABLE, str(_local_bytes(net, 50)))
    assert local_spectrum(net, nodes=range(50)).moments.shape[0] == 50
    with pytest.raises(ValueError, match=r"nodes: 51 of a network of 100 nodes needs about"):
        local_spectrum(net, nodes=range(51))
    with pytest.raises(ValueError, match=r"vectors=64 over a network of 100 nodes needs about"):
        mode_weights(net, 0.2, 0.6, method="stochastic", vectors=64)


def test_reconstruction_past_the_limit_is_refused(monkeypatch, result):
    monkeypatch.setenv(MEMORY_LIMIT_VARIABLE, "1M")
    assert result.smoothed(omega=np.linspace(0, 3, 1000)).per_seed.shape == (1, 1000)
    with pytest.raises(ValueError, match=r"moments=16 on omega of 50000 points needs about"):
        result.smoothed(omega=np.linspace(0, 3, 50_000))
    with pytest.raises(ValueError, match=r"omega of 50000 points needs about"):
        result.rescaled(2 * result.scale, omega=np.linspace(0, 3, 50_000))


def test_requests_at_the_fixed_limits_still_work():
    toy = toy_network()
    most_moments = reduced_dos_of([toy], moments=MAX_MOMENTS, vectors=1)
    assert most_moments.moments.shape == (1, MAX_MOMENTS)
    assert np.isfinite(most_moments.mean).all()
    grid = np.linspace(0.0, 3.0, MAX_GRID_POINTS)
    most = reduced_dos_of([toy], moments=8, vectors=MAX_VECTORS, omega=grid)
    assert most.per_seed.shape == (1, MAX_GRID_POINTS)
    assert most.cumulative(grid).shape == (1, MAX_GRID_POINTS)
    assert local_dos(toy, grid, eps=1e-2).shape == (MAX_GRID_POINTS, 9)
    # The default never asks for more vectors than allowed, even for the smallest network.
    assert default_vectors(9) <= MAX_VECTORS
    # The nearest rule's tightest cells, and the largest size the size check lets through.
    build_network(3, 0.2499, connection="nearest", spring="inverse", seed=0)
    with pytest.raises(ValueError, match="needs about"):  # refused for memory, not for size
        build_network(MAX_SIZE, 0.0, connection="nearest", spring="inverse", seed=0)


def test_a_huge_seed_range_is_refused_without_listing_it():
    import tracemalloc

    from bpwidgets.core.network import MAX_SEEDS

    tracemalloc.start()
    with pytest.raises(ValueError, match="seeds must be at most MAX_SEEDS"):
        build_networks(3, 0.1, connection="cutoff", spring="inverse", seeds=range(10**9))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 64 * MAX_SEEDS  # at most the limit's worth of seeds was listed
