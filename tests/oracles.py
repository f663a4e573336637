"""Independent references the tests compare against: plain dense or direct linear algebra."""

from __future__ import annotations

import numpy as np
import scipy.sparse.csgraph as csgraph
import scipy.sparse.linalg as spla


def exact_poles(network) -> np.ndarray:
    """Distinct non-zero frequencies of a network from a plain dense eigensolve."""
    eigenvalues = np.linalg.eigvalsh(network.dynamical_matrix().toarray())
    return np.unique(np.sqrt(eigenvalues[eigenvalues > 1e-9]).round(9))


#: The conductance solve stops at a 1e-3 relative residual; sigma's error is quadratic in it,
#: so it matches :func:`lu_stiffness_tensor` to this.
STIFFNESS_TOLERANCE = 1e-5


def lu_stiffness_tensor(net):
    """Oracle: grounded sparse LU solve on the largest cluster, sigma from the dissipated power."""
    H = net.dynamical_matrix()
    _, labels = csgraph.connected_components(H, directed=False)
    giant = np.flatnonzero(labels == np.bincount(labels).argmax())[1:]
    b = np.zeros((net.n_nodes, 2))
    for (i, j), t, d in zip(net.bonds, net.stiffness, net.bond_vectors):
        b[i] += t * d
        b[j] -= t * d
    u = np.zeros((net.n_nodes, 2))
    u[giant] = spla.splu(H[giant][:, giant].tocsc()).solve(b[giant])
    sigma = np.zeros((2, 2))
    for (i, j), t, d in zip(net.bonds, net.stiffness, net.bond_vectors):
        drop = d + u[j] - u[i]
        sigma += t * np.outer(drop, drop)
    return sigma / net.n_nodes
