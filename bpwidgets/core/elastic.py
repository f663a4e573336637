"""A jammed packing's elastic moduli, its full vibrational spectrum and its Debye level.

The scalar contact network of a packing (:meth:`JammedPacking.network`) goes
through :func:`~bpwidgets.reduced_dos_of` like the lattice model. The packing
itself vibrates in two dimensions: its 2N x 2N Hessian
(:meth:`JammedPacking.hessian`, central forces with the tension term) is the
dynamical matrix of unit masses. This module gives

* :func:`elastic_moduli`: the packing's elastic tensor by the non-affine
  linear response, an affine term from the Hessian's contact blocks minus the
  relaxation ``Xi^T H^+ Xi`` (one sparse LU solve), its bulk and shear moduli
  and the Debye level of its sound waves (docs/physics.md, "Elastic moduli and
  the Debye level of the packing");
* :func:`vibrational_dos`: the reduced DOS g(omega)/omega of the Hessian by
  the kernel polynomial method of the scalar networks (Lanczos bound,
  Chebyshev moments, Jackson kernel, Jacobi reconstruction,
  :mod:`bpwidgets.core.kpm`), per degree of freedom, as a
  :class:`~bpwidgets.ReducedDOS` whose Debye level is
  :attr:`ElasticModuli.debye_level`.

Everything is in the packing's units (docs/physics.md, "A jammed packing"):
lengths in small diameters d, moduli and stresses in epsilon / d^2,
frequencies in sqrt(epsilon / (m d^2)). The contact network's rescaling of
lengths to the mean spacing plays no part here.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg

from .jamming import JammedPacking
from .kpm import (
    DEFAULT_GRID_POINTS,
    DEFAULT_MOMENTS,
    _check_moments,
    _check_omega,
    _check_vectors,
    _kpm_bytes,
    _recursion_moments,
    _vector_groups,
    default_vectors,
)
from .limits import _check_memory
from .linalg import ESCAPE_MAGNITUDE, _chebyshev_vectors, _ThreadedMatrix, _upper_bounds
from .result import NetworkSpectrum, ReducedDOS

__all__ = [
    "DEBYE_ANGLES",
    "FLOPPY_TOLERANCE",
    "ElasticModuli",
    "elastic_moduli",
    "vibrational_dos",
]


#: Directions of the trapezoidal rule over theta in the Debye level's angular average
#: (Eq. (E6) of docs/physics.md). tr Gamma(theta)^-1 is smooth and 2 pi periodic, so the
#: rule converges geometrically: 256 points give it to rounding error even for a tensor
#: anisotropic by a factor 10 (1/det of a trigonometric polynomial of degree 2).
DEBYE_ANGLES = 256

#: A rattler's motion counts as a zero mode of the Hessian (with ``rattlers=True``) when
#: its singular value is below this times the largest diagonal entry. Every other mode of
#: a relaxed packing is far stiffer (the lowest is above 1e-5 at p = 1e-4, N = 256), and a
#: rattler's contact force, which stiffens its floppy direction, is below the packing's
#: force tolerance, 1e-8 p d.
FLOPPY_TOLERANCE = 1e-9

#: Index pairs (alpha, beta) of the Voigt notation in 2D: xx, yy, xy.
_VOIGT = ((0, 0), (1, 1), (0, 1))


@dataclass(frozen=True, eq=False)
class ElasticModuli:
    """A packing's elastic response at zero temperature, per unit area, in epsilon / d^2.

    Attributes
    ----------
    tensor : ndarray, shape (3, 3)
        The stress-strain coefficients ``B_ijkl = d sigma_ij / d epsilon_kl`` in
        Voigt notation (rows and columns xx, yy, xy; engineering shear
        strain ``2 epsilon_xy``): how the Cauchy stress of the relaxed packing
        changes under a small symmetric strain of its box and disks (Eq. (E4)
        of docs/physics.md). For an isotropic solid
        ``[[B + G, B - G, 0], [B - G, B + G, 0], [0, 0, G]]``.
    affine : ndarray, shape (3, 3)
        The same without relaxation: every disk follows the strain.
    wave_tensor : ndarray, shape (2, 2, 2, 2)
        ``A_abgd``, the second derivative of the relaxed energy per unit area
        in the displacement gradient ``du_a / dx_b`` (Eq. (E2)): the tensor
        sound waves feel, ``rho omega^2 e_a = A_abgd k_b k_d e_g``. It holds
        the pre-stress, ``A = C + delta_ag sigma_bd`` (Eq. (E3)).
    stress : ndarray, shape (2, 2)
        The Cauchy stress of the contacts kept, ``(1 / A) sum V'(r) r n n^T``
        (negative: compression).
    pressure : float
        ``-tr(stress) / 2``; the packing's own pressure when every contact is kept.
    bulk, shear : float
        The isotropic part of :attr:`tensor`, its projection on the isotropic
        tensors, which is its average over the orientations of the axes:
        ``B = (C11 + C22 + C12 + C21) / 4`` (the response of the pressure to a
        dilation, ``-A dp/dA``) and ``G = (C11 + C22 - C12 - C21 + 4 C66) / 8``.
    debye_level : float
        The low-frequency limit of g(omega)/omega per degree of freedom over
        all 2N (Eq. (E6)): ``(N' / N) (1 / 8 pi^2) int_0^2pi tr Gamma(theta)^-1
        dtheta`` with the acoustic tensor of :meth:`acoustic_tensor`; for an
        isotropic solid ``(1 / 4 pi) (1 / (B + G) + 1 / G)``. Infinite when some
        direction has no restoring force: small packings often have a negative
        modulus for some shear (docs/physics.md).
    carriers : float
        N', the disks that carry sound: ``(2N - zero modes + 2) / 2``, which is
        N minus the rattlers when they are left out.
    density : float
        Their mass per unit area, ``N' / A`` (unit masses).
    n_disks : int
    box : float
        Side of the periodic box, in small diameters.
    rattlers : bool
        Whether the rattlers' contacts were kept.

    Examples
    --------
    >>> from bpwidgets import jammed_packing
    >>> moduli = elastic_moduli(jammed_packing(128, pressure=1e-2, seed=0))
    >>> bool(moduli.bulk > moduli.shear > 0), round(moduli.pressure, 4)
    (True, 0.01)
    >>> isotropic = (1 / (moduli.bulk + moduli.shear) + 1 / moduli.shear) / (4 * np.pi)
    >>> bool(abs(moduli.debye_level / isotropic - 1) < 0.2)
    True
    """

    tensor: np.ndarray
    affine: np.ndarray
    wave_tensor: np.ndarray
    stress: np.ndarray
    pressure: float
    bulk: float
    shear: float
    debye_level: float
    carriers: float
    density: float
    n_disks: int
    box: float
    rattlers: bool

    def acoustic_tensor(self, angles) -> np.ndarray:
        """``Gamma_ag(n) = A_abgd n_b n_d`` for unit vectors n at ``angles``, per unit area.

        Parameters
        ----------
        angles : array_like
            Directions theta of the wave vector, in radians.

        Returns
        -------
        ndarray, shape ``angles.shape + (2, 2)``
            Symmetric; ``rho omega^2 = k^2`` times its eigenvalues.

        Examples
        --------
        >>> from bpwidgets import jammed_packing
        >>> moduli = elastic_moduli(jammed_packing(64, pressure=1e-2, seed=0))
        >>> gamma = moduli.acoustic_tensor([0.0, 1.0])
        >>> gamma.shape, bool(np.allclose(gamma, gamma.swapaxes(-1, -2)))
        ((2, 2, 2), True)
        """
        return _acoustic(self.wave_tensor, np.asarray(angles, dtype=float))

    def sound_speeds(self, angles) -> np.ndarray:
        """The two speeds of sound along ``angles``, ascending: ``sqrt(eig Gamma / rho)``.

        Examples
        --------
        >>> from bpwidgets import jammed_packing
        >>> moduli = elastic_moduli(jammed_packing(64, pressure=1e-2, seed=0))
        >>> slow, fast = moduli.sound_speeds(0.0)
        >>> bool(0 < slow < fast)
        True
        """
        gamma = self.acoustic_tensor(angles)
        return np.sqrt(np.clip(np.linalg.eigvalsh(gamma), 0.0, None) / self.density)

    @property
    def lowest_frequency(self) -> float:
        """The box's slowest plane wave, of the first ones ``(1, 0)`` and ``(0, 1)``.

        Below a few times it the finite box's spectrum is a comb: what
        :func:`~bpwidgets.boson_peak_of` takes as ``lowest`` for the Hessian's DOS.

        Examples
        --------
        >>> from bpwidgets import jammed_packing
        >>> moduli = elastic_moduli(jammed_packing(64, pressure=1e-2, seed=0))
        >>> bool(moduli.lowest_frequency == moduli.plane_wave_frequencies([[1, 0], [0, 1]]).min())
        True
        """
        return float(self.plane_wave_frequencies([[1, 0], [0, 1]]).min())

    def plane_wave_frequencies(self, modes) -> np.ndarray:
        """Frequencies ``c_s(k) |k|`` of the box's plane waves ``k = (2 pi / box) (n1, n2)``.

        Parameters
        ----------
        modes : array_like of int, shape (..., 2)
            Whole numbers (n1, n2) of wavelengths across the box.

        Returns
        -------
        ndarray, shape (..., 2)
            The two polarisations' frequencies of each, ascending. A packing's
            lowest modes sit near the first ones (``(1, 0)`` and ``(0, 1)``).

        Examples
        --------
        >>> from bpwidgets import jammed_packing
        >>> moduli = elastic_moduli(jammed_packing(64, pressure=1e-2, seed=0))
        >>> moduli.plane_wave_frequencies([[1, 0], [2, 0]]).shape
        (2, 2)
        """
        modes = np.asarray(modes, dtype=float)
        k = 2.0 * np.pi / self.box * np.hypot(modes[..., 0], modes[..., 1])
        return k[..., None] * self.sound_speeds(np.arctan2(modes[..., 1], modes[..., 0]))


def elastic_moduli(packing, *, rattlers=False) -> ElasticModuli:
    """A packing's elastic moduli by the non-affine linear response, and its Debye level.

    Parameters
    ----------
    packing : JammedPacking
    rattlers : bool, optional
        Keep the rattlers' contacts (the whole energy). By default they are
        left out, as :meth:`JammedPacking.hessian` leaves them out with
        ``rattlers=False``: every rattler is free, two zero modes.

    Returns
    -------
    ElasticModuli

    Raises
    ------
    ValueError
        If ``packing`` is not a :class:`~bpwidgets.JammedPacking`, or it has no
        disk that is not a rattler.

    Notes
    -----
    A homogeneous displacement gradient ``epsilon`` (any 2 x 2 matrix) moves
    every contact's vector d to ``d + epsilon d + w_j - w_i``; the harmonic
    energy is ``(1/2) sum_c (epsilon d + dw)^T K_c (epsilon d + dw)`` with
    ``K_c`` the contact's Hessian block (Eq. (J5)), tension term included. The
    disks relax, ``H w = -Xi epsilon`` with ``Xi`` the forces the affine
    motion leaves, so per unit area (Eq. (E2) of docs/physics.md)

        ``A = (1 / A_box) [sum_c K_c (x) d d  -  Xi^T H^+ Xi]``.

    ``H`` is singular by the two translations and the rattlers' motions: the
    solve pins one disk that is not a rattler and leaves out the rattlers'
    rows (their zero modes), by a sparse LU factorisation. The stress-strain
    coefficients :attr:`~ElasticModuli.tensor` follow from A and the stress
    (Eq. (E4)), the Debye level from A alone (Eq. (E6)).

    Examples
    --------
    >>> from bpwidgets import jammed_packing
    >>> moduli = elastic_moduli(jammed_packing(128, pressure=1e-3, seed=1))
    >>> moduli.tensor.shape, round(moduli.pressure, 5)
    ((3, 3), 0.001)
    >>> bool(np.all(np.diag(moduli.tensor) <= np.diag(moduli.affine)))  # relaxing softens
    True
    """
    packing = _check_packing(packing, "packing")
    rattlers = bool(rattlers)
    hessian = packing.hessian(rattlers=rattlers)
    keep = _kept_contacts(packing, rattlers)
    contacts, vectors = packing.contacts[keep], packing.contact_vectors[keep]
    zero = _ZeroModes(packing, hessian, rattlers)
    area = packing.box**2
    blocks = packing.contact_blocks(rattlers=rattlers)  # the Hessian's own (Eq. (J5))
    # Eq. (E1): sum_c K_ag d_b d_d, indices (a b), (g d) flattened to 4 each.
    affine = np.einsum("cag,cb,cd->abgd", blocks, vectors, vectors).reshape(4, 4)
    xi = _affine_forces(packing.n_disks, contacts, vectors, blocks)
    relaxation = xi.T @ _relaxed(hessian, xi, zero, packing)
    wave = ((affine - relaxation) / area).reshape(2, 2, 2, 2)
    wave = 0.5 * (wave + wave.transpose(2, 3, 0, 1))  # exactly symmetric: a second derivative
    stress = -np.einsum("c,ca,cb->ab", _forces_over_lengths(packing, keep), vectors,
                        vectors) / area
    tensor = _voigt(_stress_strain(wave, stress))
    unrelaxed = _voigt(_stress_strain(affine.reshape(2, 2, 2, 2) / area, stress))
    carriers = (2 * packing.n_disks - zero.count + 2) / 2
    bulk, shear = _isotropic(tensor)
    level = carriers / packing.n_disks * _angular_level(wave)
    return ElasticModuli(
        tensor=tensor, affine=unrelaxed, wave_tensor=wave, stress=stress,
        pressure=float(-np.trace(stress) / 2), bulk=bulk, shear=shear, debye_level=level,
        carriers=float(carriers), density=carriers / area, n_disks=packing.n_disks,
        box=float(packing.box), rattlers=rattlers,
    )


def vibrational_dos(packings, *, omega=None, moments=DEFAULT_MOMENTS, vectors=None,
                    rattlers=False) -> ReducedDOS:
    """Reduced DOS g(omega)/omega of packings' full Hessians, by the kernel polynomial method.

    Parameters
    ----------
    packings : JammedPacking or sequence of JammedPacking
        One packing, or several of one number of disks N, averaged as the
        seeds of :func:`~bpwidgets.reduced_dos` are; their seeds label the rows.
    omega : array_like, optional
        Frequency grid (finite, >= 0); default ``DEFAULT_GRID_POINTS`` points
        from 0 to the top of the spectrum.
    moments : int, optional
        Chebyshev moments K, even, from 8 to ``MAX_MOMENTS``.
    vectors : int, optional
        Random vectors R per packing, from 1 to ``MAX_VECTORS``; default:
        enough that ``2N * R * packings >= DEFAULT_SAMPLES`` (at least 8 for a
        lone packing, whose error bars come from their spread).
    rattlers : bool, optional
        Keep the rattlers' contacts (see :func:`elastic_moduli`).

    Returns
    -------
    ReducedDOS
        Per degree of freedom over all 2N (:attr:`~ReducedDOS.spectra` hold
        ``n_nodes = 2N``): ``integral g = 1`` with the zero modes (two
        translations and the rattlers' motions, :attr:`~ReducedDOS.zero_modes`)
        at omega = 0, and ``integral omega^2 g = tr(H) / 2N``. Its
        :attr:`~ReducedDOS.debye_level` is the packings' mean
        :attr:`ElasticModuli.debye_level` and its ``mean_coordination`` their
        mean contact number over all N disks (rattlers count 0 unless kept).
        Frequencies are in the packing's units, sqrt(epsilon / (m d^2)).

    Raises
    ------
    ValueError
        For something that is not a packing, packings of different N, bad
        moments, vectors or grid, or a request needing more memory than
        :func:`bpwidgets.core.limits.memory_limit`.

    Notes
    -----
    As for the scalar networks (docs/physics.md, "Computing the DOS fast"):
    each packing's bound is the top of a 40-step Lanczos run plus its residual
    and 2 %; Rademacher vectors on the 2N degrees of freedom, projected off
    every zero mode (the uniform translations in x and in y, the rattlers'
    rows, and with ``rattlers=True`` the floppy motions of rattlers that touch
    something), so that the moments see only the non-zero modes,
    normalised to ``mu_0 = (2N - zero modes) / 2N``; two moments per product;
    Jackson kernel; Jacobi reconstruction, regular at omega = 0. A packing's
    spectrum ends in a continuum (its top eigenvalues at N = 256 are 4.2 to
    4.9, within 17 % of the 99th percentile, with no gap below them), so no
    modes above the bulk are deflated (:mod:`bpwidgets.core.outliers`).

    Examples
    --------
    >>> from bpwidgets import jammed_packing
    >>> packings = [jammed_packing(64, pressure=1e-2, seed=s) for s in range(2)]
    >>> dos = vibrational_dos(packings, moments=64)
    >>> dos.per_seed.shape, dos.spectra[0].n_nodes, dos.seeds
    ((2, 401), 128, (0, 1))
    >>> bool(dos.debye_level == np.mean([elastic_moduli(p).debye_level for p in packings]))
    True
    """
    packings = _check_packings(packings)
    n_moments = _check_moments(moments)
    dofs = 2 * packings[0].n_disks
    total = dofs * len(packings)
    n_vectors = (default_vectors(total, networks=len(packings)) if vectors is None
                 else _check_vectors(vectors))
    grid = None if omega is None else _check_omega(omega)
    n_grid = DEFAULT_GRID_POINTS if grid is None else grid.size
    _check_memory(f"vectors={n_vectors} per packing over {len(packings)} packings of "
                  f"{dofs} degrees of freedom",
                  _kpm_bytes(total, n_vectors, n_moments, n_grid, len(packings)))
    rattlers = bool(rattlers)
    hessians = [p.hessian(rattlers=rattlers) for p in packings]
    zeros = [_ZeroModes(p, h, rattlers) for p, h in zip(packings, hessians)]
    stack = _HessianStack(hessians)
    bounds = _upper_bounds(stack)
    safe = stack.gershgorin_bounds()
    with np.errstate(over="ignore", invalid="ignore"):
        rows = _hessian_moments(stack, zeros, packings, bounds, n_moments, n_vectors)
        escaped = ~np.all(np.abs(rows[:, 0]) <= ESCAPE_MAGNITUDE, axis=1)
    if escaped.any():  # an eigenvalue above the Lanczos bound: the safe one for those
        bounds[escaped] = safe[escaped]
        rows = _hessian_moments(stack, zeros, packings, bounds, n_moments, n_vectors)
    levels = [elastic_moduli(p, rattlers=rattlers).debye_level for p in packings]
    spectra = [
        NetworkSpectrum(
            seed=p.seed, n_nodes=dofs, method="kpm", bound=float(bounds[k]),
            safe_bound=float(safe[k]), moments=rows[k, 0], spread=rows[k, 1:],
            debye_level=float(levels[k]), stiffness=np.full((2, 2), np.nan),
            zero_modes=zeros[k].count / dofs, outlier_frequencies=np.empty(0),
            outlier_count=0, coordination_counts=_dof_contact_counts(p, rattlers),
            fingerprint=_packing_digest(p),
            inputs=dict(kind="vibrational", n_disks=p.n_disks, seed=p.seed, method="kpm",
                        moments=n_moments, vectors=n_vectors, rattlers=rattlers),
        )
        for k, p in enumerate(packings)
    ]
    return ReducedDOS.from_spectra(spectra, omega=grid)


# --------------------------------------------------------------------------- the response


def _kept_contacts(packing, rattlers) -> np.ndarray:
    """Mask of the contacts :meth:`JammedPacking.hessian` keeps."""
    if rattlers:
        return np.ones(packing.n_contacts, bool)
    return packing.held_contacts


def _forces_over_lengths(packing, keep) -> np.ndarray:
    """``f / r`` of the kept contacts: ``-V'(r) / r``, the tension term's weight (Eq. (J5))."""
    return (packing.contact_forces / packing.contact_lengths)[keep]


def _affine_forces(n_disks, contacts, vectors, blocks) -> np.ndarray:
    """``Xi``, shape (2N, 4): the energy's gradient in the disks' displacements per unit
    displacement gradient, ``Xi[(j a), (g d)] = sum_c (+-) K_ag d_d`` (+ for the
    contact's second disk j, - for its first)."""
    per_contact = np.einsum("cag,cd->cagd", blocks, vectors).reshape(len(vectors), 8)
    xi = np.zeros((n_disks, 8))
    np.add.at(xi, contacts[:, 1], per_contact)
    np.subtract.at(xi, contacts[:, 0], per_contact)
    return xi.reshape(n_disks, 2, 4).reshape(2 * n_disks, 4)


def _relaxed(hessian, xi, zero, packing) -> np.ndarray:
    """``H^+ Xi`` on the non-zero modes, by one sparse LU factorisation.

    One disk that is not a rattler is pinned (its rows and columns left out),
    which removes the translations; the rattlers' zero modes are either whole
    rows left out (a rattler touching nothing) or floppy motions V of rattlers
    that touch something, lifted to ``H + V V^T`` with ``Xi`` projected off
    them. What the pinned solution differs from ``H^+ Xi`` by is a
    translation, which ``Xi`` (a sum of equal and opposite forces) does not see.
    """
    free = np.ones(hessian.shape[0], bool)
    free[zero.removed] = False
    backbone = np.flatnonzero(packing.backbone)
    if backbone.size == 0:
        raise ValueError("packing has no disk that is not a rattler: it has no elastic response")
    free[2 * backbone[0]:2 * backbone[0] + 2] = False
    free = np.flatnonzero(free)
    matrix = sp.csc_array(hessian[free][:, free])
    source = xi[free].copy()
    if zero.floppy.shape[1]:
        floppy = zero.floppy[free]
        source -= floppy @ (floppy.T @ source)
        floppy = sp.csc_array(floppy)  # a few rattlers' rows: V V^T stays sparse
        matrix = sp.csc_array(matrix + floppy @ floppy.T)
    solution = np.zeros(xi.shape)
    solution[free] = scipy.sparse.linalg.splu(matrix).solve(source)
    return solution


def _stress_strain(wave, stress) -> np.ndarray:
    """The stress-strain coefficients from the wave tensor and the stress (Eq. (E4)).

    ``B_abgd = (A_abgd + A_abdg) / 2 + (sigma_ad delta_bg + sigma_ag delta_bd) / 2
    - sigma_ab delta_gd``: the derivative of the Cauchy stress ``P F^T / det F``
    in a symmetric strain.

    Examples
    --------
    An isotropic solid under pressure p with Lame constants lam, mu (of A's
    unstressed part C) has ``B = K + G`` on xx-xx with K = lam + mu, G = mu - p:

    >>> p, lam, mu = 0.1, 1.0, 0.5
    >>> d = np.eye(2)
    >>> C = (lam * np.einsum("ab,gd->abgd", d, d)
    ...      + mu * (np.einsum("ag,bd->abgd", d, d) + np.einsum("ad,bg->abgd", d, d)))
    >>> A = C + np.einsum("ag,bd->abgd", d, -p * d)
    >>> B = _stress_strain(A, -p * d)
    >>> round(float(B[0, 0, 0, 0]), 12), round(float(B[0, 1, 0, 1]), 12)
    (1.9, 0.4)
    """
    delta = np.eye(2)
    return (0.5 * (wave + wave.transpose(0, 1, 3, 2))
            + 0.5 * (np.einsum("ad,bg->abgd", stress, delta)
                     + np.einsum("ag,bd->abgd", stress, delta))
            - np.einsum("ab,gd->abgd", stress, delta))


def _voigt(tensor) -> np.ndarray:
    """A 2D tensor ``T_abgd`` as the 3 x 3 Voigt matrix (xx, yy, xy)."""
    return np.array([[tensor[a, b, g, d] for g, d in _VOIGT] for a, b in _VOIGT])


def _isotropic(voigt) -> tuple:
    """Bulk and shear modulus of the isotropic part of a Voigt matrix (see ElasticModuli)."""
    c = voigt
    bulk = (c[0, 0] + c[1, 1] + c[0, 1] + c[1, 0]) / 4.0
    shear = (c[0, 0] + c[1, 1] - c[0, 1] - c[1, 0] + 4.0 * c[2, 2]) / 8.0
    return float(bulk), float(shear)


def _acoustic(wave, angles) -> np.ndarray:
    """``Gamma_ag(theta) = A_abgd n_b n_d``, ``n = (cos theta, sin theta)``."""
    n = np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    return np.einsum("abgd,...b,...d->...ag", wave, n, n)


def _angular_level(wave) -> float:
    """``(1 / 8 pi^2) int_0^2pi tr Gamma(theta)^-1 dtheta`` (Eq. (E6)), by the trapezoidal rule.

    Infinite if some direction has no restoring force (a mechanically unstable solid).

    Examples
    --------
    An isotropic tensor gives ``(1 / 4 pi)(1 / (K + G) + 1 / G)`` (Eq. (E7)):

    >>> K, G = 2.0, 0.5
    >>> d = np.eye(2)
    >>> A = ((K - G) * np.einsum("ab,gd->abgd", d, d)
    ...      + G * (np.einsum("ag,bd->abgd", d, d) + np.einsum("ad,bg->abgd", d, d)))
    >>> bool(np.isclose(_angular_level(A), (1 / (K + G) + 1 / G) / (4 * np.pi)))
    True
    """
    angles = 2.0 * np.pi * np.arange(DEBYE_ANGLES) / DEBYE_ANGLES
    gamma = _acoustic(wave, angles)
    determinant = gamma[:, 0, 0] * gamma[:, 1, 1] - gamma[:, 0, 1] * gamma[:, 1, 0]
    trace = gamma[:, 0, 0] + gamma[:, 1, 1]
    if not np.all((determinant > 0) & (trace > 0)):
        return math.inf
    # (1 / 8 pi^2) * 2 pi * mean over theta.
    return float(np.mean(trace / determinant) / (4.0 * np.pi))


# --------------------------------------------------------------------------- zero modes


class _ZeroModes:
    """The Hessian's zero modes: the translations, and what the rattlers can do for free.

    * ``removed``: degrees of freedom whose rows are zero (disks without a
      contact kept), each a zero mode of its own;
    * ``floppy``: with ``rattlers=True``, orthonormal motions of the rattlers
      that touch something which no contact resists (``H V = 0``, found by an
      SVD of the rattlers' columns of H), shape (2N, m);
    * ``basis``: the two translations of the other disks with ``floppy``,
      orthonormalised, shape (2N, 2 + m);
    * ``count``: how many zero modes there are in all.
    """

    def __init__(self, packing, hessian, rattlers):
        n = packing.n_disks
        dofs = 2 * n
        # A disk without a contact has two rows of zeros (stored or not).
        self.removed = np.flatnonzero(abs(hessian).sum(axis=1) == 0)
        floppy = np.zeros((dofs, 0))
        if rattlers:
            touching = np.setdiff1d(np.concatenate([2 * packing.rattlers,
                                                    2 * packing.rattlers + 1]), self.removed)
            if touching.size:
                floppy = _null_columns(hessian, touching, dofs)
        self.floppy = floppy
        translations = np.zeros((dofs, 2))
        translations[0::2, 0] = 1.0
        translations[1::2, 1] = 1.0
        translations[self.removed] = 0.0
        self.basis, _ = np.linalg.qr(np.concatenate([translations, floppy], axis=1))
        self.count = self.removed.size + self.basis.shape[1]

    def project(self, vectors) -> np.ndarray:
        """The vectors (rows: degrees of freedom) with every zero mode taken out."""
        vectors = vectors.copy()
        vectors[self.removed] = 0.0
        vectors -= self.basis @ (self.basis.T @ vectors)
        return vectors


def _null_columns(hessian, columns, dofs) -> np.ndarray:
    """Orthonormal vectors supported on ``columns`` that H sends to zero, shape (dofs, m)."""
    block = hessian[:, columns].toarray()
    block = block[np.any(block != 0.0, axis=1)]
    _, singular, right = np.linalg.svd(block, full_matrices=True)
    scale = np.abs(hessian.diagonal()).max()
    rank = int(np.count_nonzero(singular > FLOPPY_TOLERANCE * scale))
    null = np.zeros((dofs, len(columns) - rank))
    null[columns] = right[rank:].T
    return null


# --------------------------------------------------------------------------- the spectrum


class _HessianStack:
    """Hessians of packings of one N stacked block-diagonally, for the Lanczos bound.

    It has what :func:`bpwidgets.core.linalg._upper_bounds` reads of a stack of
    networks; every block is still bounded on its own.
    """

    def __init__(self, hessians):
        self.n_blocks = len(hessians)
        self.block_rows = hessians[0].shape[0]
        stacked = sp.block_diag(hessians, format="csr")
        self.matrix = _ThreadedMatrix(stacked)
        self._row_sums = np.asarray(abs(stacked).sum(axis=1)).ravel()

    def gershgorin_bounds(self) -> np.ndarray:
        """Each block's largest absolute row sum: no eigenvalue exceeds it.

        Not ``2 max H_ii`` as for a scalar network: the Hessian's off-diagonal
        blocks are not negative entries summing to ``-H_ii``.
        """
        return self._row_sums.reshape(self.n_blocks, self.block_rows).max(axis=1)


def _random_start(packing, zero, n_vectors) -> np.ndarray:
    """A packing's Rademacher vectors on its 2N degrees of freedom, zero modes projected out.

    Drawn from its own seed, so its moments do not depend on the packings beside it.
    """
    seed = 0 if packing.seed is None else packing.seed
    rng = np.random.default_rng([2 * packing.n_disks, seed])
    return zero.project(rng.choice([-1.0, 1.0], size=(2 * packing.n_disks, n_vectors)))


def _hessian_moments(stack, zeros, packings, bounds, n_moments, n_vectors) -> np.ndarray:
    """Stochastic Chebyshev moments of every packing's Hessian, each by its own bound.

    Shape ``(packings, 1 + G, K)``: the moments over all random vectors, then
    over G groups of them (their spread is the trace's stochastic error), as
    :func:`bpwidgets.core.kpm._kpm_moments` gives them for networks,
    normalised per degree of freedom to ``mu_0 = (2N - zero modes) / 2N``.
    """
    dofs, n_blocks = stack.block_rows, stack.n_blocks
    start = np.concatenate([_random_start(p, z, n_vectors) for p, z in zip(packings, zeros)])
    # Single precision for the recursion (bound by memory traffic), pairwise sums in double.
    start = start.astype(np.float32)
    groups = _vector_groups(n_vectors)

    def per_packing(a, b):
        products = np.multiply(a, b).reshape(n_blocks, dofs, n_vectors)
        total = products.reshape(n_blocks, -1).sum(axis=1).astype(np.float64)
        by_vector = products.sum(axis=1, dtype=np.float64)
        return np.concatenate([(total / (dofs * n_vectors))[:, None],
                               (by_vector @ groups) / dofs], axis=1)

    alphas = _chebyshev_vectors(stack.matrix, start, np.repeat(bounds, dofs))
    moments = _recursion_moments(alphas, per_packing, n_moments, n_blocks)
    nonzero = np.array([(dofs - z.count) / dofs for z in zeros])
    moments *= (nonzero / moments[:, 0, 0])[:, None, None]
    return moments


def _dof_contact_counts(packing, rattlers) -> np.ndarray:
    """Degrees of freedom of disks with 0, 1, 2, ... contacts kept (each disk twice), so
    that ``NetworkSpectrum.mean_coordination`` is the mean contact number over all N."""
    kept = packing.contacts[_kept_contacts(packing, rattlers)]
    per_disk = np.bincount(kept.ravel(), minlength=packing.n_disks)
    return 2 * np.bincount(per_disk)


def _packing_digest(packing) -> str:
    """A digest of what the packing's Hessian is made of: positions, radii, box, contacts.

    The ``fingerprint`` of the packing's spectrum, as a network's spectrum has
    the digest of its positions, springs and stiffnesses (``bpwidgets.core.dos``).
    """
    digest = hashlib.blake2b(digest_size=16)
    for array in (packing.positions, packing.radii, np.array([packing.box]), packing.contacts):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------- input


def _check_packing(packing, name) -> JammedPacking:
    if not isinstance(packing, JammedPacking):
        raise ValueError(f"{name} must be a JammedPacking (from bpwidgets.jammed_packing); "
                         f"got {type(packing).__name__}")
    return packing


def _check_packings(packings) -> list:
    """One packing as a list of one, else a non-empty sequence of packings of one N."""
    if isinstance(packings, JammedPacking):
        return [packings]
    if isinstance(packings, (str, bytes)) or not hasattr(packings, "__iter__"):
        raise ValueError("packings must be a JammedPacking or a sequence of them; got "
                         f"{type(packings).__name__}")
    packings = [_check_packing(p, f"packings[{k}]") for k, p in enumerate(packings)]
    if not packings:
        raise ValueError("packings must hold at least one JammedPacking; got none")
    sizes = sorted({p.n_disks for p in packings})
    if len(sizes) > 1:
        raise ValueError(f"packings must all have the same number of disks; got {sizes}")
    return packings
