"""The paper's nine-node toy model (Fig. 4, right) and the on-node Green's function."""

import numpy as np
import pytest
import scipy.signal

from bpwidgets import TOY_ADDED, TOY_REMOVED, exact_frequencies, local_dos, poles, toy_network

#: Broadening of the response curves: small against the pole spacing (> 0.2 in omega^2).
EPS = 1e-3
#: A pole found on a grid of step 1e-4 sits within a step of the exact frequency.
PEAK_TOLERANCE = 2e-4


def _peaks(network, eps=EPS):
    """Frequencies where the summed response -Im G_ii peaks, found on a fine grid."""
    omega = np.arange(0.05, 3.2, 1e-4)
    total = local_dos(network, omega, eps=eps).sum(axis=1)
    found, _ = scipy.signal.find_peaks(total, prominence=total.max() * 1e-4)
    return omega[found]


def test_crystal_has_two_poles_sqrt3_and_sqrt6():
    net = toy_network()
    np.testing.assert_array_equal(net.coordination, 4)
    np.testing.assert_allclose(poles(net), [np.sqrt(3), np.sqrt(6)], atol=1e-12)
    np.testing.assert_allclose(_peaks(net), [np.sqrt(3), np.sqrt(6)], atol=PEAK_TOLERANCE)
    omega = exact_frequencies(net)
    np.testing.assert_allclose(omega, [0] + [np.sqrt(3)] * 4 + [np.sqrt(6)] * 4, atol=1e-12)


@pytest.mark.parametrize(
    "change, z_changed",
    [(dict(add=[TOY_ADDED]), 5), (dict(remove=[TOY_REMOVED]), 3)],
)
def test_one_changed_spring_brings_exactly_two_new_poles(change, z_changed):
    crystal = set(np.round(poles(toy_network()), 9))
    net = toy_network(**change)
    pair = (change.get("add") or change["remove"])[0]
    assert set(net.coordination[list(pair)]) == {z_changed}
    assert np.count_nonzero(net.coordination != 4) == 2

    exact = poles(net)
    new = sorted(set(np.round(exact, 9)) - crystal)
    assert len(new) == 2
    # The old poles survive, and the response peaks exactly at the changed matrix's poles.
    assert crystal <= set(np.round(exact, 9))
    np.testing.assert_allclose(_peaks(net), exact, atol=PEAK_TOLERANCE)


def test_the_paper_pairs():
    assert TOY_ADDED == (4, 2) and TOY_REMOVED == (4, 1)  # centre to top-left, centre to left
    added = toy_network(add=[TOY_ADDED])
    assert added.n_bonds == 19
    np.testing.assert_allclose(added.lengths.max(), np.sqrt(2))
    assert toy_network(remove=[TOY_REMOVED]).n_bonds == 17


def test_response_integrates_to_pi_per_node():
    """-Im G_ii -> pi sum_k |u_k(i)|^2 delta(omega^2 - lambda_k): each node's weight is pi."""
    net = toy_network(add=[TOY_ADDED])
    w2 = np.linspace(-3, 12, 300_001)  # in omega^2, through every pole including zero
    eps = 0.01
    values, modes = np.linalg.eigh(net.dynamical_matrix().toarray())
    # Direct Green's function by matrix inversion at a few points: the oracle for local_dos.
    for omega in (0.7, 1.9, 2.5):
        g = np.linalg.inv((omega**2 + 1j * eps) * np.eye(9) - net.dynamical_matrix().toarray())
        np.testing.assert_allclose(local_dos(net, omega, eps=eps), -np.diag(g).imag, rtol=1e-10)
    lorentz = eps / ((w2[:, None] - values[None, :]) ** 2 + eps**2)
    weight = np.trapezoid(lorentz @ (modes**2).T, w2, axis=0)
    np.testing.assert_allclose(weight, np.pi, rtol=2e-3)


def test_local_dos_shapes():
    net = toy_network()
    assert local_dos(net, 1.0, eps=0.1).shape == (9,)
    assert local_dos(net, [1.0, 2.0], eps=0.1).shape == (2, 9)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(add=[(4, 4)]), "itself"),
        (dict(add=[(4, 5)]), "already"),
        (dict(add=[TOY_ADDED, (2, 4)]), "already"),
        (dict(remove=[(4, 8)]), "no spring"),
        (dict(add=[(0, 9)]), "0 to 8"),
        (dict(add=[(0, -1)]), "0 to 8"),
        (dict(add=[(0, 1.5)]), "0 to 8"),
        (dict(add=[3]), "pair"),
    ],
)
def test_invalid_pairs(kwargs, words):
    with pytest.raises(ValueError, match=words):
        toy_network(**kwargs)


@pytest.mark.parametrize("eps", [0, -1e-3, float("nan"), "small"])
def test_eps_must_be_positive(eps):
    with pytest.raises(ValueError, match="eps"):
        local_dos(toy_network(), 1.0, eps=eps)
