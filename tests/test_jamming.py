"""Jammed packings: equilibrium, jamming's contact counts, the contact network, the Hessian.

Every check is made on small packings (a few hundred disks) so that the file
runs in seconds; ``benchmarks/bench_jamming.py`` times the large ones. The
references are independent of the module: the energy and forces are summed
over all pairs by brute force, the Hessian is the finite difference of those
forces, the spectra come from dense diagonalisation, the conductance from a
sparse LU solve (``oracles.py``).
"""

from __future__ import annotations

import numpy as np
import pytest

from bpwidgets import (
    ContactNetwork,
    JammedPacking,
    Network,
    debye_level,
    jammed_packing,
    reduced_dos_of,
    stiffness_tensor,
)
from bpwidgets.core.jamming import (
    FORCE_TOLERANCE,
    MIN_DISKS,
    OVERLAP_BOUND,
    PRESSURE_TOLERANCE,
    PRESSURES,
    RATTLER_CONTACTS,
    _rattlers,
)
from bpwidgets.core.fire import quench
from oracles import lu_stiffness_tensor

#: Size of the packings most checks use: large enough for jamming's scaling, seconds to make.
N = 256
SEEDS = (0, 1)


@pytest.fixture(scope="module")
def packings():
    """Packings of N disks at every pressure offered, two seeds each."""
    return {(p, s): jammed_packing(N, pressure=p, seed=s) for p in PRESSURES for s in SEEDS}


def brute_forces(positions, radii, box):
    """Net forces and energy from every pair, minimum image, V = (1/2)(1 - r/sigma)^2."""
    d = positions[None, :, :] - positions[:, None, :]  # d[i, j] from i to j
    d -= box * np.round(d / box)
    r = np.hypot(d[..., 0], d[..., 1])
    sigma = radii[:, None] + radii[None, :]
    np.fill_diagonal(r, np.inf)
    overlap = np.clip(1.0 - r / sigma, 0.0, None)
    push = overlap / sigma / r  # f / r, f = (1/sigma)(1 - r/sigma)
    forces = -(push[..., None] * d).sum(axis=1)  # j pushes i away from itself
    return forces, 0.25 * (overlap**2).sum()  # each pair counted twice


# ----------------------------------------------------------------- it is a packing


def test_every_net_force_is_below_the_tolerance(packings):
    for (p, _), packing in packings.items():
        forces, energy = brute_forces(packing.positions, packing.radii, packing.box)
        largest = np.hypot(forces[:, 0], forces[:, 1]).max()
        assert largest <= packing.force_tolerance == pytest.approx(FORCE_TOLERANCE * p,
                                                                    rel=PRESSURE_TOLERANCE)
        assert packing.max_force == pytest.approx(largest, rel=1e-6, abs=1e-3 * largest)
        assert packing.energy == pytest.approx(energy, rel=1e-12)


def test_pressure_is_the_virial_and_the_target(packings):
    for (p, _), packing in packings.items():
        virial = packing.contact_forces @ packing.contact_lengths / (2 * packing.box**2)
        assert packing.pressure == pytest.approx(virial, rel=1e-12)
        assert abs(packing.pressure / p - 1) <= PRESSURE_TOLERANCE
        area = np.pi * (packing.radii**2).sum()
        assert packing.phi == pytest.approx(area / packing.box**2, rel=1e-12)
        assert 0.83 < packing.phi < 0.9  # jammed, near phi_J ~ 0.84


def test_no_overlap_exceeds_what_the_pressure_allows(packings):
    for (p, _), packing in packings.items():
        sigma = packing.radii[packing.contacts].sum(axis=1)
        assert (packing.overlaps > 0).all()
        assert (packing.overlaps / sigma**2).max() <= OVERLAP_BOUND * p
        # Typical overlaps are of order p sigma: the mean force is about p d (Eq. (J4)).
        assert 0.2 * p < packing.contact_forces.mean() < 5 * p


def test_contacts_are_every_overlapping_pair(packings):
    packing = packings[(PRESSURES[1], 0)]
    d = packing.positions[None] - packing.positions[:, None]
    d -= packing.box * np.round(d / packing.box)
    r = np.hypot(d[..., 0], d[..., 1])
    touching = np.triu(r < packing.radii[:, None] + packing.radii[None, :], k=1)
    assert sorted(map(tuple, np.argwhere(touching))) == sorted(map(tuple, packing.contacts))
    i, j = packing.contacts.T
    np.testing.assert_allclose(packing.contact_vectors, d[i, j], atol=1e-12)
    assert (packing.positions >= 0).all() and (packing.positions < packing.box).all()


def test_non_rattlers_are_isostatic_or_above(packings):
    """At least 2 (N' - 1) + 1 contacts among the N' non-rattlers (Goodrich et al.,
    PRL 109, 095704 (2012)): Z >= 4 - 2/N', and Z >= 4 at the pressures offered."""
    for packing in packings.values():
        backbone = packing.backbone
        held = backbone.sum()
        contacts = packing.contact_numbers[backbone].sum() // 2
        assert contacts >= 2 * (held - 1) + 1
        assert packing.mean_contact_number >= 4.0
        assert (packing.contact_numbers[backbone] >= RATTLER_CONTACTS).all()
        assert len(packing.rattlers) < 0.1 * N


def test_excess_contacts_grow_like_the_square_root_of_pressure(packings):
    """Z - Z_iso ~ p^(1/2) over the pressures offered (O'Hern et al., PRE 68, 011306 (2003)).

    At N = 256 the lowest pressure is not far above the finite-size crossover
    p N^2 ~ 1 (Goodrich et al. 2012), which steepens the fit a little: 0.57
    here (measured), 0.55 at N = 512 over three seeds.
    """
    excess = []
    for p in PRESSURES:
        values = []
        for s in SEEDS:
            packing = packings[(p, s)]
            held = packing.backbone.sum()
            values.append(packing.mean_contact_number - (4.0 - 2.0 / held))
        excess.append(np.mean(values))
    assert np.all(np.diff(excess) > 0)
    exponent, _ = np.polyfit(np.log(PRESSURES), np.log(excess), 1)
    assert exponent == pytest.approx(0.5, abs=0.15)
    # The prefactor: Z - 4 ~ 6 sqrt(p) well above jamming (measured 0.60 at p = 0.01).
    assert excess[-1] == pytest.approx(6 * np.sqrt(PRESSURES[-1]), rel=0.25)


# ----------------------------------------------------------------- rattlers


def test_rattlers_are_removed_iteratively():
    core = [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]  # four disks, three contacts each
    # Disk 4 has three contacts, but one is with disk 5, which has only that one: once 5
    # is gone, 4 is left with two and goes too. Disk 6 touches nothing.
    contacts = np.array(core + [[0, 4], [1, 4], [4, 5]])
    assert _rattlers(contacts, 7).tolist() == [4, 5, 6]
    # One pass alone would have kept disk 4.
    once = np.bincount(contacts.ravel(), minlength=7) < RATTLER_CONTACTS
    assert np.flatnonzero(once).tolist() == [5, 6]
    # A triangle with a tail: disk 0 has three contacts, then none.
    assert _rattlers(np.array([[0, 1], [1, 2], [0, 2], [0, 3]]), 4).tolist() == [0, 1, 2, 3]


def test_packing_rattlers_cannot_be_held(packings):
    for packing in packings.values():
        assert _rattlers(packing.contacts, N).tolist() == packing.rattlers.tolist()
        # Adding any single rattler back leaves it with fewer than 3 contacts.
        for rattler in packing.rattlers:
            mask = packing.backbone.copy()
            mask[rattler] = True
            touching = packing.contacts[(packing.contacts == rattler).any(axis=1)]
            assert mask[touching].all(axis=1).sum() < RATTLER_CONTACTS


# ----------------------------------------------------------------- input, seeds, phi


@pytest.mark.parametrize(
    "n, kwargs, match",
    [
        (MIN_DISKS - 1, dict(pressure=1e-3), "n must be"),
        (True, dict(pressure=1e-3), "n must be"),
        (100.5, dict(pressure=1e-3), "n must be"),
        ("100", dict(pressure=1e-3), "n must be"),
        (100, dict(), "exactly one of pressure= and phi=; got neither"),
        (100, dict(pressure=1e-3, phi=0.85), "exactly one .*; got both"),
        (100, dict(pressure=0.0), "pressure must be positive"),
        (100, dict(pressure=-1e-3), "pressure must be positive"),
        (100, dict(pressure=float("nan")), "pressure must be positive"),
        (100, dict(pressure=1.0), "pressure must be"),
        (100, dict(pressure="high"), "pressure must be"),
        (100, dict(phi=1.2), "phi must be"),
        (100, dict(phi=0.1), "phi must be"),
        (100, dict(pressure=1e-3, seed=-1), "seed must be"),
        (100, dict(pressure=1e-3, seed=1.5), "seed must be"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(n, kwargs, match):
    with pytest.raises(ValueError, match=match):
        jammed_packing(n, **kwargs)


def test_a_bad_spring_law_is_refused():
    packing = jammed_packing(MIN_DISKS, pressure=1e-2, seed=0)
    with pytest.raises(ValueError, match="spring must be one of"):
        packing.network("harmonic")


def test_same_seed_same_packing_other_seed_other_packing():
    a = jammed_packing(64, pressure=1e-3, seed=7)
    b = jammed_packing(64, pressure=1e-3, seed=7)
    c = jammed_packing(64, pressure=1e-3, seed=8)
    for name in ("positions", "radii", "contacts", "contact_vectors", "rattlers"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert a.pressure == b.pressure and a.box == b.box
    assert not np.array_equal(a.positions, c.positions)
    assert isinstance(a, JammedPacking) and a.seed == 7
    with pytest.raises(AttributeError):
        a.pressure = 1.0  # frozen
    with pytest.raises(ValueError):
        a.positions[0, 0] = 0.0  # read-only


def test_packing_at_a_packing_fraction():
    jammed = jammed_packing(128, phi=0.88, seed=2)
    assert jammed.phi == pytest.approx(0.88, rel=1e-12)
    assert jammed.pressure > 1e-3 and jammed.max_force <= jammed.force_tolerance
    assert jammed.mean_contact_number > 4.0
    loose = jammed_packing(128, phi=0.75, seed=2)  # below jamming: nothing touches for good
    assert loose.pressure < 1e-12
    assert len(loose.rattlers) == 128 and np.isnan(loose.mean_contact_number)


def test_fire_quench_is_the_state_the_packing_freezes():
    """The generator's own forces (Verlet list, kept images) against all pairs, unwrapped."""
    radii = np.where(np.arange(100) < 50, 0.5, 0.7)
    disks = quench(radii, np.random.default_rng(3), pressure=1e-3)
    packing = jammed_packing(100, pressure=1e-3, seed=3)
    assert disks.steps == packing.fire_steps and disks.box == packing.box
    unwrapped = np.column_stack([disks.x, disks.y])
    assert np.array_equal(np.mod(unwrapped, disks.box), packing.positions)
    fx, fy, energy, _ = disks.forces()
    forces, brute_energy = brute_forces(unwrapped, radii, disks.box)
    assert np.abs(np.column_stack([fx, fy]) - forces).max() < 1e-15
    assert energy == pytest.approx(brute_energy, rel=1e-12)
    with pytest.raises(ValueError, match="floor= must be given"):
        quench(radii, np.random.default_rng(3), phi=0.9)
    with pytest.raises(ValueError, match="exactly one of pressure= and phi=; got both"):
        quench(radii, np.random.default_rng(3), pressure=1e-3, phi=0.9)


# ----------------------------------------------------------------- the contact network


def test_contact_network_has_the_fields_of_a_network(packings):
    packing = packings[(PRESSURES[1], 0)]
    net = packing.network()
    assert isinstance(net, ContactNetwork) and isinstance(net, Network)
    assert net.n_nodes == net.size == N and net.connection == "contact"
    assert net.box == pytest.approx(np.sqrt(N)) and net.spring == "constant"
    unit = packing.box / np.sqrt(N)
    np.testing.assert_allclose(net.positions * unit, packing.positions)
    assert (net.positions < net.box).all()
    backbone = packing.backbone[packing.contacts].all(axis=1)
    np.testing.assert_array_equal(net.bonds, packing.contacts[backbone])
    np.testing.assert_allclose(net.lengths * unit, packing.contact_lengths[backbone])
    np.testing.assert_array_equal(net.coordination, packing.contact_numbers)
    assert (net.coordination[net.rattlers] == 0).all()
    H = net.dynamical_matrix()
    assert H.shape == (N, N) and abs(H.sum(axis=1)).max() < 1e-12
    # One zero mode for the backbone and one for every rattler.
    assert net.clusters()[0] == 1 + len(packing.rattlers)
    with_rattlers = packing.network(rattlers=True)
    assert with_rattlers.n_bonds == packing.n_contacts and with_rattlers.with_rattlers


def test_spring_laws(packings):
    packing = packings[(PRESSURES[1], 0)]
    constant, inverse, contact = (packing.network(s) for s in ("constant", "inverse", "contact"))
    assert (constant.stiffness == 1).all()
    np.testing.assert_allclose(inverse.stiffness, 1 / inverse.lengths)
    sigma = packing.radii[contact.bonds].sum(axis=1)
    np.testing.assert_allclose(contact.stiffness, 1 / sigma**2)
    assert set(np.round(1 / np.sqrt(contact.stiffness), 12)) == {1.0, 1.2, 1.4}


def test_contact_network_debye_level_against_a_direct_solve(packings):
    for spring in ("constant", "inverse", "contact"):
        net = packings[(PRESSURES[0], 1)].network(spring)
        held = N - len(net.rattlers)
        # The oracle divides by all N nodes; off the lattice the sound-carrying N' count.
        direct = lu_stiffness_tensor(net) * N / held
        np.testing.assert_allclose(stiffness_tensor(net), direct, rtol=1e-10, atol=1e-12)
        assert debye_level(net) == pytest.approx(
            1 / (2 * np.pi * np.sqrt(np.linalg.det(direct))), rel=1e-10)


def test_contact_network_reduced_dos_exact_and_kpm(packings):
    nets = [packings[(PRESSURES[1], s)].network("contact") for s in SEEDS]
    exact = reduced_dos_of(nets, method="exact")
    fast = reduced_dos_of(nets, method="kpm", vectors=64, scale=exact.scale)
    assert fast.seeds == exact.seeds == SEEDS
    # Zero modes: the backbone's and one per rattler.
    expected = [(1 + len(n.rattlers)) / N for n in nets]
    np.testing.assert_allclose(exact.zero_modes, expected)
    np.testing.assert_allclose(fast.zero_modes, expected)
    # The same kernel on the same grid: the curves differ only by the stochastic trace.
    inside = exact.mean > 0.05 * exact.mean.max()
    difference = np.abs(fast.mean - exact.mean)[inside]
    assert np.mean(difference <= 3 * fast.stochastic_error[inside]) >= 0.9
    assert difference.max() <= 0.1 * exact.mean.max()
    grid = np.linspace(0.0, np.sqrt(exact.scale), 50)
    np.testing.assert_allclose(fast.cumulative(grid), exact.cumulative(grid), atol=0.01)
    np.testing.assert_allclose(fast.debye_levels, [debye_level(n) for n in nets], rtol=1e-12)


# ----------------------------------------------------------------- the Hessian


@pytest.fixture(scope="module")
def small():
    return jammed_packing(32, pressure=1e-2, seed=5)


def test_hessian_is_the_second_derivative_of_the_energy(small):
    """Central differences of the brute-force forces, with a step far below every gap to
    contact, so that no contact opens or closes (the harmonic force has a kink there)."""
    positions = small.positions
    d = positions[None] - positions[:, None]
    d -= small.box * np.round(d / small.box)
    r = np.hypot(d[..., 0], d[..., 1]) + np.eye(small.n_disks) * 1e9
    gap = np.abs(r - small.radii[:, None] - small.radii[None, :]).min()
    h = min(1e-6, gap / 10)
    columns = []
    for k in range(2 * small.n_disks):
        step = np.zeros(2 * small.n_disks)
        step[k] = h
        plus, _ = brute_forces(positions + step.reshape(-1, 2), small.radii, small.box)
        minus, _ = brute_forces(positions - step.reshape(-1, 2), small.radii, small.box)
        columns.append(-(plus - minus).ravel() / (2 * h))
    numeric = np.array(columns).T
    H = small.hessian().toarray()
    assert np.abs(H - numeric).max() <= 1e-6 * np.abs(H).max()
    # The forces themselves are the energy's gradient (the oracle checks itself).
    forces, energy = brute_forces(positions, small.radii, small.box)
    assert np.abs(forces).max() <= small.force_tolerance


def test_hessian_symmetry_zero_modes_and_tension_term(packings):
    for packing in packings.values():
        H = packing.hessian(rattlers=False)
        assert H.shape == (2 * N, 2 * N) and abs(H - H.T).max() == 0
        for shift in (np.tile([1.0, 0.0], N), np.tile([0.0, 1.0], N)):
            assert np.abs(H @ shift).max() < 1e-12
        rows = np.concatenate([2 * packing.rattlers, 2 * packing.rattlers + 1])
        assert abs(H[rows]).sum() == 0.0
        # Mechanical stability: no negative eigenvalue; the zero modes are the two
        # translations and two per rattler, every other mode is stiff (measured: the
        # lowest is above 1e-4 at p = 1e-4).
        eigenvalues = np.linalg.eigvalsh(H.toarray())
        zero = 2 + 2 * len(packing.rattlers)
        assert eigenvalues[0] > -1e-12
        assert np.abs(eigenvalues[:zero]).max() < 1e-12 and eigenvalues[zero] > 1e-5
        # The trace: each contact adds 2 (k + V'/r) (k n n^T, and the tension term's
        # I - n n^T), with V'/r = -f/r < 0: compression softens the transverse direction.
        kept = packing.backbone[packing.contacts].all(axis=1)
        sigma = packing.radii[packing.contacts[kept]].sum(axis=1)
        tension = -(packing.contact_forces / packing.contact_lengths)[kept]
        assert (tension < 0).all()
        assert H.diagonal().sum() == pytest.approx(2 * (1 / sigma**2 + tension).sum(), rel=1e-12)


def test_hessian_with_rattlers_is_the_whole_energys(packings):
    packing = packings[(PRESSURES[0], 0)]
    full, backbone = packing.hessian(), packing.hessian(rattlers=False)
    touching = packing.contacts[(~packing.backbone[packing.contacts]).any(axis=1)]
    assert (abs(full - backbone).nnz == 0) == (len(touching) == 0)
