"""Independent references the tests compare against: plain dense linear algebra."""

from __future__ import annotations

import numpy as np


def exact_poles(network) -> np.ndarray:
    """Distinct non-zero frequencies of a network from a plain dense eigensolve."""
    eigenvalues = np.linalg.eigvalsh(network.dynamical_matrix().toarray())
    return np.unique(np.sqrt(eigenvalues[eigenvalues > 1e-9]).round(9))
