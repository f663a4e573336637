"""The Debye level: the conductance solve against a sparse LU oracle, the crystal, every seed."""

import numpy as np
import pytest

from bpwidgets import CRYSTAL_DEBYE_LEVEL, build_network, debye_level, reduced_dos, stiffness_tensor
from oracles import STIFFNESS_TOLERANCE, lu_stiffness_tensor


def test_crystal_stiffness_and_debye_level():
    net = build_network(16, 0.0, connection="nearest", spring="constant", seed=0)
    np.testing.assert_allclose(stiffness_tensor(net), np.eye(2), atol=1e-12)
    assert debye_level(net) == pytest.approx(CRYSTAL_DEBYE_LEVEL, rel=1e-12)


@pytest.mark.parametrize(
    "delta, connection, spring",
    [(0.1, "cutoff", "inverse"), (0.3, "cutoff", "constant"), (0.45, "cutoff", "inverse"),
     (0.3, "nearest", "inverse")],
)
def test_stiffness_tensor_equals_a_direct_solve(delta, connection, spring):
    net = build_network(24, delta, connection=connection, spring=spring, seed=1)
    sigma, direct = stiffness_tensor(net), lu_stiffness_tensor(net)
    # Entries to a relative 1e-5 of the tensor: an off-diagonal entry near zero is only
    # known to that absolute accuracy, and the Debye level depends on the whole tensor.
    np.testing.assert_allclose(sigma, direct, rtol=0, atol=STIFFNESS_TOLERANCE * abs(direct).max())
    np.testing.assert_allclose(sigma, sigma.T, rtol=1e-6)
    assert debye_level(net) == pytest.approx(1 / (2 * np.pi * np.sqrt(np.linalg.det(sigma))))
    assert debye_level(net) == pytest.approx(
        1 / (2 * np.pi * np.sqrt(np.linalg.det(direct))), rel=STIFFNESS_TOLERANCE
    )


def test_reduced_dos_carries_each_networks_debye_level():
    result = reduced_dos(24, 0.3, connection="cutoff", spring="inverse", seeds=[4, 9])
    levels = [
        debye_level(build_network(24, 0.3, connection="cutoff", spring="inverse", seed=s))
        for s in (4, 9)
    ]
    np.testing.assert_allclose(result.debye_levels, levels, rtol=STIFFNESS_TOLERANCE)
    assert result.debye_level == pytest.approx(np.mean(levels))
