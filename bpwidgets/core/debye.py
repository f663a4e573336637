"""The Debye level of a network, from its macroscopic stiffness.

In two dimensions Debye's law is g ~ omega, so the reduced density of states
g(omega)/omega tends to a constant at low frequency, the Debye level. For a
disordered network it is set by the network's own macroscopic stiffness, not
by the crystal's (docs/physics.md): every spring is read as a conductor,
:func:`stiffness_tensor` is the effective conductance tensor sigma of the
periodic cell, and :func:`debye_level` is ``1 / (2 pi sqrt(det sigma))``.

The conductance problem ``H u = b`` is solved by conjugate gradients,
preconditioned by the crystal's Laplacian, which the FFT inverts exactly on
the L x L torus, between two Jacobi smoothing steps (:func:`_lattice_pcg`).
A network off the lattice (a jammed packing's contact network,
:mod:`bpwidgets.core.jamming`) has no such crystal: it is solved directly
(:func:`_direct_potentials`).
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import scipy.sparse as sp
import scipy.sparse.linalg

from . import parallel
from .linalg import _row_dots, _Stack
from .network import Network, _check_network

__all__ = [
    "CONDUCTANCE_MAX_ITERATIONS",
    "CONDUCTANCE_TOLERANCE",
    "CRYSTAL_DEBYE_LEVEL",
    "SMOOTHING_WEIGHT",
    "debye_level",
    "stiffness_tensor",
]


#: Debye level of the crystal with t = 1: g/omega -> 1 / (2 pi t) as omega -> 0.
CRYSTAL_DEBYE_LEVEL = 1.0 / (2.0 * np.pi)

#: Relative residual at which the conductance solve stops. sigma is quadratic in the error,
#: so it is then good to a few 1e-7 (the tests check 1e-5 against a sparse LU solve).
CONDUCTANCE_TOLERANCE = 1e-3

#: Iteration cap of that solve: far above what the lattice preconditioner needs (tens).
CONDUCTANCE_MAX_ITERATIONS = 5_000

#: Damping w of the Jacobi smoothing steps, w / H_ii, around the lattice solve. Below 1, so
#: the smoothing converges on its own (every eigenvalue of H / H_ii is at most 2).
SMOOTHING_WEIGHT = 0.6


def stiffness_tensor(network: Network) -> np.ndarray:
    """Macroscopic stiffness of a network: its 2 x 2 effective conductance tensor.

    Every spring is read as a conductor of conductance t_ij. A unit potential
    gradient E across the periodic cell drives currents; the dissipated power
    per unit area is ``E^T sigma E``.

    Parameters
    ----------
    network : Network

    Returns
    -------
    ndarray, shape (2, 2)
        sigma, symmetric; the identity for the crystal with t = 1.

    Raises
    ------
    TypeError
        If ``network`` is not a :class:`~bpwidgets.Network`.

    Notes
    -----
    With node potentials ``V_i = E . r_i + u_i`` and u periodic, Kirchhoff's law
    at every node reads ``H u = b`` with ``b_i = sum_j t_ij E . d_ij`` (d_ij the
    minimum-image bond vector from i to j): one sparse solve per direction.
    Then ``sigma_ab = (1 / L^2) sum_bonds t (d_a + du^a)(d_b + du^b)``.
    Every cluster is solved; a finite cluster that does not wrap around the
    torus simply carries no current.

    A network off the lattice (``n_nodes != size**2``: a jammed packing's
    contact network, one node per unit area) is normalised by the N' nodes of
    its largest cluster instead of N, so that :func:`debye_level` counts modes
    per node of all N: nodes outside it (a packing's rattlers) are zero modes
    and carry no sound, and the level is ``(N'/N) / (2 pi sqrt(det sigma_A))``
    with ``sigma_A`` the tensor per unit area (docs/physics.md, "A jammed
    packing").

    Examples
    --------
    >>> from bpwidgets import build_network
    >>> net = build_network(8, 0.0, connection="nearest", spring="constant", seed=0)
    >>> stiffness_tensor(net).round(12)
    array([[1., 0.],
           [0., 1.]])
    """
    return _stiffness_tensors(_Stack([_check_network(network)]))[0]


def debye_level(network: Network) -> float:
    """Debye level of a network: the low-frequency limit of g(omega)/omega.

    ``1 / (2 pi sigma_eff)`` with ``sigma_eff = sqrt(det sigma)`` the macroscopic
    stiffness from :func:`stiffness_tensor`: in 2D with one node (unit mass) per
    unit area, the number of modes below omega per node is
    ``omega^2 / (4 pi sqrt(det sigma))``.

    Parameters
    ----------
    network : Network

    Returns
    -------
    float
        The Debye level; ``1 / (2 pi)`` for the crystal with t = 1.

    Raises
    ------
    TypeError
        If ``network`` is not a :class:`~bpwidgets.Network`.

    Examples
    --------
    >>> from bpwidgets import build_network
    >>> net = build_network(8, 0.0, connection="nearest", spring="constant", seed=0)
    >>> round(debye_level(net) * 2 * np.pi, 12)
    1.0
    """
    return float(_debye_levels(_Stack([_check_network(network)]))[0])


def _debye_levels(stack) -> np.ndarray:
    return _levels_of(_stiffness_tensors(stack))


def _levels_of(tensors) -> np.ndarray:
    """Debye levels ``1 / (2 pi sqrt(det sigma))`` of stiffness tensors, shape (n, 2, 2)."""
    return 1.0 / (2.0 * np.pi * np.sqrt(np.linalg.det(tensors)))


def _stiffness_tensors(stack) -> np.ndarray:
    """Stiffness tensors of a stack of networks, each solved on its own.

    Conjugate gradients, preconditioned by the crystal's Laplacian, which the
    FFT inverts exactly on the L x L torus, between two Jacobi smoothing steps
    (:func:`_lattice_pcg`). The networks are perturbations of that lattice, so
    the iteration count stays small and flat in L, where a sparse LU
    factorisation grows like N^1.5. Networks off the lattice are solved by
    :func:`_direct_potentials` and normalised by their sound-carrying nodes
    (:func:`_carriers`).
    """
    rhs = np.concatenate([_gradient_source(n) for n in stack.networks])
    if all(_on_lattice(n) for n in stack.networks):
        potentials = _lattice_pcg(stack, rhs)
    else:
        potentials = _direct_potentials(stack, rhs)
    tensors = np.empty((stack.n_blocks, 2, 2))
    for k, network in enumerate(stack.networks):
        u = potentials[k * network.n_nodes : (k + 1) * network.n_nodes]
        bonds, t = network.bonds, network.stiffness
        drop = network.bond_vectors + u[bonds[:, 1]] - u[bonds[:, 0]]
        tensors[k] = (drop * t[:, None]).T @ drop / _carriers(network)
    return tensors


def _on_lattice(network) -> bool:
    """Whether a network's nodes are the sites of its L x L lattice (``N = L**2``).

    :func:`bpwidgets.build_network` and :func:`bpwidgets.toy_network` make such
    networks; a jammed packing's contact network has one node per disk and
    ``size`` N instead.
    """
    return network.n_nodes == network.size * network.size


def _carriers(network) -> int:
    """The nodes a network's stiffness tensor is divided by.

    N on the lattice, as the model has always been read. Off it, the nodes of
    the largest cluster: the others (a packing's rattlers, nodes without
    springs) are zero modes that carry no sound (:func:`stiffness_tensor`).
    """
    if _on_lattice(network):
        return network.n_nodes
    _, labels = network.clusters()
    return int(np.bincount(labels).max())


def _direct_potentials(stack, rhs) -> np.ndarray:
    """Solve H u = rhs of every network of a stack by sparse LU, one node per cluster grounded.

    Off the lattice there is no crystal whose Laplacian the FFT inverts. A
    contact network is sparse and nearly planar, and SuperLU (scipy's, with its
    default column ordering) solves it exactly: about 0.1 s at N = 10^4
    (measured), as fast as conjugate gradients with a Jacobi preconditioner,
    which took 130 steps there to reach sigma to 1e-6, and without a tolerance
    to choose. Grounding one node of every cluster (u = 0 there) removes the
    kernel, one constant per cluster; a node without springs is a cluster of
    its own and keeps u = 0.
    """
    potentials = np.zeros(rhs.shape)
    start = 0
    for network in stack.networks:
        n = network.n_nodes
        _, labels = network.clusters()
        free = np.ones(n, bool)
        free[np.unique(labels, return_index=True)[1]] = False
        free = np.flatnonzero(free)
        if free.size:
            matrix = network.dynamical_matrix()[free][:, free]
            solver = scipy.sparse.linalg.splu(sp.csc_array(matrix))
            potentials[start + free] = solver.solve(rhs[start + free])
        start += n
    return potentials


def _gradient_source(network) -> np.ndarray:
    """b_i = sum_j t_ij d_ij for a unit gradient along x (column 0) and y (column 1)."""
    bonds, t, d = network.bonds, network.stiffness, network.bond_vectors
    source = np.zeros((network.n_nodes, 2))
    for axis in range(2):
        source[:, axis] = np.bincount(bonds[:, 0], t * d[:, axis], network.n_nodes)
        source[:, axis] -= np.bincount(bonds[:, 1], t * d[:, axis], network.n_nodes)
    return source


def _lattice_pcg(stack, rhs) -> np.ndarray:
    """Solve H u = rhs (consistent, singular on cluster indicators) by PCG, per network.

    The preconditioner is symmetric and two-level: a damped Jacobi step, then
    the pseudo-inverse of the unit square-lattice Laplacian, 2 (2 - cos kx -
    cos ky) in Fourier space, on the remaining residual of every block, then
    Jacobi again. The lattice solve handles the long-wavelength error and
    Jacobi the local error around unusually stiff or weak springs, for which
    the lattice solve alone needed 2 to 5 times as many steps (delta = 0.3
    and 0.5, cutoff, 1/r springs, L = 100 and 200). Kernel components that
    creep into u are constant on clusters and do not change any bond's
    potential drop. Every column of every network takes its own steps, and
    once at its own residual takes steps of zero (its products are still
    computed with the others'), so a network's potentials do not depend on
    the others in the stack. Vectors are stored
    one column per row so that the FFTs run over contiguous memory.
    """
    size, n_blocks = stack.size, stack.n_blocks
    kx = 2.0 * np.pi * np.fft.fftfreq(size)
    ky = 2.0 * np.pi * np.fft.rfftfreq(size)
    symbol = 2.0 * (2.0 - np.cos(kx)[:, None] - np.cos(ky)[None, :])
    symbol[0, 0] = np.inf  # the uniform mode: left out (pseudo-inverse)
    columns = rhs.shape[1]
    blocks = (columns, n_blocks, size * size)

    symbol = symbol.astype(np.float32)
    # Single precision for the iteration vectors and the products: they are bound by
    # memory traffic. The potentials accumulate in double; the error left in sigma is
    # set by the tolerance (quadratic in it).
    single = stack.matrix.astype(np.float32)
    # One FFT worker inside a pool thread, every usable core outside it.
    workers = parallel.fft_workers()

    diagonal = stack.diagonal
    smoother = (SMOOTHING_WEIGHT / np.where(diagonal > 0, diagonal, np.inf)).astype(np.float32)

    def lattice_solve(r):
        grids = r.reshape(columns, n_blocks, size, size)
        spectrum = scipy.fft.rfft2(grids, workers=workers) / symbol
        solved = scipy.fft.irfft2(spectrum, s=(size, size), workers=workers)
        return solved.reshape(r.shape)

    def apply(v):
        return np.stack([single @ row for row in v])

    def precondition(r):
        x = smoother * r
        x += lattice_solve(r - apply(x))
        x += smoother * (r - apply(x))
        return x

    def dot(a, b):
        return _row_dots(a.reshape(-1, size * size), b.reshape(-1, size * size)).reshape(blocks[:2])

    def scaled(c, v):
        """Each network's part of v times its own c (c of shape (columns, n_blocks))."""
        return (c[:, :, None] * v.reshape(blocks)).reshape(v.shape)

    def ratio(a, b):
        return np.divide(a, b, out=np.zeros_like(a), where=b != 0)

    residual = np.ascontiguousarray(rhs.T, dtype=np.float32)
    u = np.zeros(residual.shape)
    target = CONDUCTANCE_TOLERANCE * np.sqrt(dot(residual, residual))
    z = precondition(residual)
    direction = z.copy()
    rz = dot(residual, z)
    active = np.ones(target.shape, bool)
    for _ in range(CONDUCTANCE_MAX_ITERATIONS):
        # A solved column stops moving (step 0); a zero source (the crystal) is solved by u = 0.
        active &= np.sqrt(dot(residual, residual)) > target
        if not active.any():
            return u.T
        image = apply(direction)
        step = np.where(active, ratio(rz, dot(direction, image)), 0.0)
        u += scaled(step, direction)
        residual -= scaled(step.astype(np.float32), image)
        z = precondition(residual)
        rz_next = dot(residual, z)
        direction = z + scaled(ratio(rz_next, rz).astype(np.float32), direction)
        rz = rz_next
    raise RuntimeError("the conductance solve did not converge")
