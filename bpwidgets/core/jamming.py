"""Jammed packings of soft disks: a real glass beside the spring networks.

:func:`jammed_packing` makes a two-dimensional jammed packing, the standard
model glass of jamming theory (O'Hern, Silbert, Liu and Nagel, Phys. Rev. E
68, 011306 (2003)): N disks, half of diameter 1 and half of diameter 1.4, in a
periodic square box, repelling each other with a one-sided harmonic spring
when they overlap. Random positions are relaxed to mechanical equilibrium by
FIRE (Bitzek, Koskinen, Gähler, Moseler and Gumbsch, Phys. Rev. Lett. 97,
170201 (2006)) and the box is rescaled until the packing holds the pressure
asked for; the relaxation and its Verlet list live in :mod:`bpwidgets.core.fire`.

The result, a frozen :class:`JammedPacking`, gives

* its contact network (:meth:`JammedPacking.network`): a :class:`ContactNetwork`,
  a :class:`~bpwidgets.Network` with one node per disk and one spring per
  contact, which :func:`~bpwidgets.reduced_dos_of`, :func:`~bpwidgets.debye_level`
  and the mode weights take as they take the lattice model;
* its full Hessian (:meth:`JammedPacking.hessian`), 2N x 2N, central forces
  with the tension term.

Units (docs/physics.md, "A jammed packing"): the small diameter is the unit of
length, the contact energy epsilon the unit of energy and a disk's mass the
unit of mass, so pressures are in epsilon / d^2 and frequencies in
sqrt(epsilon / (m d^2)).
"""

from __future__ import annotations

import math
import numbers
import reprlib
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

# The relaxation's tolerances are FIRE's; they are this module's too (__all__).
from .fire import (
    CONTACT_ENERGY,
    FORCE_TOLERANCE,
    PRESSURE_TOLERANCE,
    pairwise_dot,
    periodic_tree,
    quench,
    tolerated_force,
)
from .limits import _check_memory
from .network import Network, _check_choice, _check_seed

__all__ = [
    "CONTACT_SPRINGS",
    "DIAMETERS",
    "FORCE_TOLERANCE",
    "MAX_DISKS",
    "MAX_PHI",
    "MAX_PRESSURE",
    "MIN_DISKS",
    "MIN_PHI",
    "MIN_PRESSURE",
    "OVERLAP_BOUND",
    "PRESSURES",
    "PRESSURE_TOLERANCE",
    "RATTLER_CONTACTS",
    "ContactNetwork",
    "JammedPacking",
    "jammed_packing",
]


#: Diameters of the two species, small and large, in units of the small one: the 1 : 1.4
#: bidisperse mixture of O'Hern et al. (2003), which does not crystallise in 2D.
DIAMETERS = (1.0, 1.4)

#: Spring laws of a contact network: t = 1, t = 1/r (both as for the model), or the
#: contact's own stiffness k = epsilon / sigma_ij^2 (the second derivative of its potential).
CONTACT_SPRINGS = ("constant", "inverse", "contact")

#: Fewest disks: the box must exceed twice the longest contact plus the Verlet skin
#: (2 (1.4 + 0.3) = 3.4) at every packing fraction, for every pair to be its own minimum image.
MIN_DISKS = 16
#: Most disks. 10^4 disks take about 30 s at p = 1e-3 (75 s at 1e-4), and FIRE's steps grow
#: with N (12 000, 26 000 and 36 000 at N = 1 000, 4 000 and 10 000 at p = 1e-3, measured by
#: benchmarks/bench_jamming.py): 10^6 disks would take many hours.
MAX_DISKS = 1_000_000

#: Pressures a packing may be made at, in epsilon / d^2. Near jamming the softest modes
#: slow FIRE down: at N = 1000 it took 18 000 steps at 1e-4, 39 000 at 1e-5 and 164 000
#: (a minute) at 1e-6 (measured), where the forces also near their rounding error
#: (``_ROUNDING`` in bpwidgets/core/fire.py). At 0.05 the packing fraction is about 0.97
#: and the typical overlap (about p sigma^2, Eq. (J4) of docs/physics.md) 5 %: far from
#: jamming.
MIN_PRESSURE = 1e-5
MAX_PRESSURE = 5e-2
#: Packing fractions a packing may be made at: below jamming (about 0.84) the relaxed disks
#: do not touch; at 0.95 the pressure is about 0.04 (measured).
MIN_PHI = 0.5
MAX_PHI = 0.95

#: The pressures the tests and the dashboard offer: a decade apart, from near jamming, where
#: Z - 4 is about 0.05, to well above it, where it is about 0.6 (measured at N = 256 and 512).
PRESSURES = (1e-4, 1e-3, 1e-2)

#: Contacts a disk needs to be held in 2D (d + 1 = 3); disks with fewer are rattlers.
RATTLER_CONTACTS = 3

#: Largest overlap delta / (p sigma_ij^2) the checks accept. A contact's force is
#: f = epsilon delta / sigma^2 (Eq. (J2)), about p d on average (Eq. (J4)), and contact
#: forces in jammed packings have an exponential tail: over 222 packings of 16 to 1 000
#: disks at the pressures offered the largest was 6.3 (measured); 20 leaves room.
OVERLAP_BOUND = 20.0

#: Memory per disk while a packing is made: positions, the Verlet list, forces (measured
#: with tracemalloc: a peak of about 580 bytes per disk at N = 1000 and 3000; rounded up).
_BYTES_PER_DISK = 1024


@dataclass(frozen=True, eq=False)
class JammedPacking:
    """A frozen jammed packing of bidisperse soft disks in a periodic square box.

    Disks ``0 .. n // 2 - 1`` have diameter 1, the others 1.4. Contact ``c``
    joins ``contacts[c, 0] < contacts[c, 1]``, two disks that overlap;
    ``contact_vectors[c]`` is the minimum-image vector from the first to the second.

    Attributes
    ----------
    seed : int or None
        Seed of the random starting positions.
    positions : ndarray, shape (N, 2)
        Disk centres, in ``[0, box)^2``.
    radii : ndarray, shape (N,)
        0.5 or 0.7.
    box : float
        Side of the periodic box.
    pressure : float
        The packing's pressure ``p = (1 / 2A) sum_contacts f r`` (Eq. (J3) of
        docs/physics.md), in epsilon / d^2.
    phi : float
        Packing fraction: the disks' areas summed (overlaps counted for both) over the box's.
    contacts : ndarray of int, shape (C, 2)
        Every overlapping pair once.
    contact_vectors : ndarray, shape (C, 2)
        Minimum-image vector from ``contacts[:, 0]`` to ``contacts[:, 1]``.
    rattlers : ndarray of int
        The disks with fewer than ``RATTLER_CONTACTS`` contacts once the other
        rattlers are taken away (found iteratively), ascending.
    max_force : float
        The largest net force on a disk, in epsilon / d.
    force_tolerance : float
        What ``max_force`` is below: ``FORCE_TOLERANCE * max(pressure, floor)``
        with the target pressure as the floor (``MIN_PRESSURE`` when made at a
        packing fraction), and never below the forces' rounding error, 32
        machine epsilons times the box.
    energy : float
        Potential energy of all contacts, in epsilon.
    fire_steps : int
        FIRE steps all relaxations took together.

    Examples
    --------
    >>> packing = jammed_packing(64, pressure=1e-2, seed=0)
    >>> packing.n_disks, abs(packing.pressure / 1e-2 - 1) <= PRESSURE_TOLERANCE
    (64, True)
    >>> bool(packing.max_force <= packing.force_tolerance), packing.mean_contact_number >= 4
    (True, True)
    """

    seed: int | None
    positions: np.ndarray
    radii: np.ndarray
    box: float
    pressure: float
    phi: float
    contacts: np.ndarray
    contact_vectors: np.ndarray
    rattlers: np.ndarray
    max_force: float
    force_tolerance: float
    energy: float
    fire_steps: int

    @property
    def n_disks(self) -> int:
        """Number of disks, N."""
        return len(self.radii)

    @property
    def n_contacts(self) -> int:
        """Number of contacts, C (those of rattlers included)."""
        return len(self.contacts)

    @property
    def contact_lengths(self) -> np.ndarray:
        """Centre distance r of every contact."""
        return np.hypot(self.contact_vectors[:, 0], self.contact_vectors[:, 1])

    @property
    def overlaps(self) -> np.ndarray:
        """Overlap ``delta = sigma_ij - r`` of every contact (sigma_ij the sum of the radii)."""
        i, j = self.contacts.T
        return self.radii[i] + self.radii[j] - self.contact_lengths

    @property
    def contact_forces(self) -> np.ndarray:
        """Repulsive force ``f = epsilon delta / sigma_ij^2`` of every contact (Eq. (J2))."""
        i, j = self.contacts.T
        sigma = self.radii[i] + self.radii[j]
        return CONTACT_ENERGY * self.overlaps / sigma**2

    @property
    def backbone(self) -> np.ndarray:
        """Boolean mask of the disks that are not rattlers."""
        mask = np.ones(self.n_disks, bool)
        mask[self.rattlers] = False
        return mask

    @property
    def held_contacts(self) -> np.ndarray:
        """Boolean mask of the contacts between two disks that are not rattlers, shape (C,).

        The contacts the network, the Hessian and the elastic moduli keep unless
        asked for the rattlers' too.
        """
        return self.backbone[self.contacts].all(axis=1)

    @property
    def contact_numbers(self) -> np.ndarray:
        """Contacts of every disk with non-rattlers (0 for a rattler), int, shape (N,)."""
        kept = self.contacts[self.held_contacts]
        return np.bincount(kept.ravel(), minlength=self.n_disks)

    @property
    def mean_contact_number(self) -> float:
        """Mean contact number Z of the non-rattlers, among themselves (NaN without any)."""
        backbone = self.backbone
        if not backbone.any():
            return math.nan
        return float(self.contact_numbers[backbone].mean())

    def net_forces(self) -> np.ndarray:
        """Net force on every disk from its contacts, shape (N, 2), in epsilon / d.

        Examples
        --------
        >>> packing = jammed_packing(64, pressure=1e-2, seed=0)
        >>> bool(np.abs(packing.net_forces()).max() <= packing.force_tolerance)
        True
        """
        r = self.contact_lengths
        along = (self.contact_forces / r)[:, None] * self.contact_vectors
        forces = np.zeros((self.n_disks, 2))
        for axis in range(2):
            forces[:, axis] = (np.bincount(self.contacts[:, 1], along[:, axis], self.n_disks)
                               - np.bincount(self.contacts[:, 0], along[:, axis], self.n_disks))
        return forces

    def network(self, spring="constant", *, rattlers=False) -> "ContactNetwork":
        """The contact network: one node per disk, one spring per contact.

        Parameters
        ----------
        spring : {"constant", "inverse", "contact"}, optional
            ``"constant"``: t = 1; ``"inverse"``: t = 1/r, r in the network's
            length unit (below), as for the model; ``"contact"``: the contact's
            own stiffness ``k = epsilon / sigma_ij^2``, in epsilon / (m d^2).
        rattlers : bool, optional
            Keep the rattlers' contacts. By default they are left out and every
            rattler is a node without springs: a zero mode of its own.

        Returns
        -------
        ContactNetwork
            Lengths in units of the mean spacing ``sqrt(A / N)``, so that there
            is one node per unit area as in the model (``box = sqrt(N)``).

        Raises
        ------
        ValueError
            For a spring law not listed above.

        Examples
        --------
        >>> from bpwidgets import debye_level
        >>> net = jammed_packing(64, pressure=1e-2, seed=0).network("contact")
        >>> net.n_nodes, net.connection, round(float(net.box), 6)
        (64, 'contact', 8.0)
        >>> bool(debye_level(net) > 0)
        True
        """
        spring = _check_choice("spring", spring, CONTACT_SPRINGS)
        rattlers = bool(rattlers)
        keep = np.ones(self.n_contacts, bool) if rattlers else self.held_contacts
        unit = self.box / math.sqrt(self.n_disks)  # packing lengths per network length
        bonds = self.contacts[keep]
        vectors = self.contact_vectors[keep] / unit
        lengths = np.hypot(vectors[:, 0], vectors[:, 1])
        if spring == "constant":
            stiffness = np.ones(len(bonds))
        elif spring == "inverse":
            stiffness = 1.0 / lengths
        else:
            stiffness = CONTACT_ENERGY / (self.radii[bonds[:, 0]] + self.radii[bonds[:, 1]]) ** 2
        arrays = dict(
            positions=self.positions / unit,
            bonds=bonds,
            bond_vectors=vectors,
            lengths=lengths,
            stiffness=stiffness,
            coordination=np.bincount(bonds.ravel(), minlength=self.n_disks),
        )
        for array in arrays.values():
            array.flags.writeable = False
        return ContactNetwork(
            size=self.n_disks, delta=0.0, connection="contact", spring=spring, seed=self.seed,
            box=math.sqrt(self.n_disks), length_unit=unit, pressure=self.pressure, phi=self.phi,
            rattlers=self.rattlers, with_rattlers=rattlers, **arrays,
        )

    def hessian(self, *, rattlers=True) -> sp.csr_array:
        """The Hessian of the packing's energy, 2N x 2N, central forces with the tension term.

        Degrees of freedom ``2 i`` and ``2 i + 1`` are disk i's x and y. With
        unit masses it is the dynamical matrix of the packing's vibrations.

        Parameters
        ----------
        rattlers : bool, optional
            Keep the rattlers' contacts (the default: the whole energy's
            Hessian). Without them every rattler's two rows are zero.

        Returns
        -------
        scipy.sparse.csr_array, shape (2N, 2N)
            Symmetric; for a contact (i, j) with unit vector n from i to j, the
            block ``H_ij = -(k n n^T + (V'(r) / r) (I - n n^T))`` with
            ``k = V''(r) = epsilon / sigma_ij^2`` and ``V'(r) = -f`` (Eq. (J5) of
            docs/physics.md), and ``H_ii = -sum_j H_ij``.

        Examples
        --------
        >>> packing = jammed_packing(64, pressure=1e-2, seed=0)
        >>> H = packing.hessian()
        >>> H.shape, float(abs(H - H.T).max())
        ((128, 128), 0.0)
        >>> shift = np.tile([1.0, 0.0], 64)   # a uniform translation costs nothing
        >>> bool(np.abs(H @ shift).max() < 1e-12)
        True
        """
        keep = np.ones(self.n_contacts, bool) if rattlers else self.held_contacts
        return _hessian(self.contacts[keep], self.contact_blocks(rattlers=rattlers),
                        self.n_disks)

    def contact_blocks(self, *, rattlers=True) -> np.ndarray:
        """Every contact's 2 x 2 stiffness block ``K = k n n^T + (V'(r) / r)(I - n n^T)``.

        ``k = V''(r) = epsilon / sigma_ij^2`` and ``V'(r) = -f`` (Eq. (J5) of
        docs/physics.md): the contact's energy changes to second order by
        ``(1/2) dd^T K dd`` when its vector changes by a small ``dd``. :meth:`hessian` puts ``-K`` off its
        diagonal; :func:`~bpwidgets.elastic_moduli` strains the contacts with it.

        Parameters
        ----------
        rattlers : bool, optional
            Keep the rattlers' contacts (the default); without them, the
            contacts of :attr:`held_contacts` alone, in their order.

        Returns
        -------
        ndarray, shape (C, 2, 2)
            Symmetric blocks, in the order of :attr:`contacts`.

        Examples
        --------
        >>> packing = jammed_packing(64, pressure=1e-2, seed=0)
        >>> blocks = packing.contact_blocks()
        >>> blocks.shape == (packing.n_contacts, 2, 2)
        True
        >>> bool((blocks == blocks.swapaxes(1, 2)).all())
        True
        """
        keep = np.ones(self.n_contacts, bool) if rattlers else self.held_contacts
        i, j = self.contacts[keep].T
        return _contact_blocks(self.contact_vectors[keep], self.radii[i] + self.radii[j])

    def __repr__(self) -> str:
        return (
            f"JammedPacking(n_disks={self.n_disks}, seed={self.seed}, "
            f"pressure={self.pressure:.4g}, phi={self.phi:.4f}, n_contacts={self.n_contacts}, "
            f"rattlers={len(self.rattlers)}, mean_contact_number={self.mean_contact_number:.3f})"
        )


@dataclass(frozen=True, eq=False)
class ContactNetwork(Network):
    """The contact network of a jammed packing, a :class:`~bpwidgets.Network` off the lattice.

    Node ``i`` is disk ``i``; every contact is a spring. It has the fields of
    the lattice model's networks, so the spectra, the Debye level and the mode
    weights take it as they are. It differs in these:

    Attributes
    ----------
    size : int
        The number of disks N, which is also :attr:`n_nodes` (there is no
        lattice; networks of packings of one N stack together).
    delta : float
        0.0: a packing is disordered by itself.
    connection : str
        ``"contact"``.
    spring : {"constant", "inverse", "contact"}
        The spring law (:meth:`JammedPacking.network`).
    positions, bond_vectors, lengths
        In units of the mean spacing, ``length_unit`` small diameters: one node
        per unit area, as the model's lattice.
    box : float
        Side of the periodic cell in those units, ``sqrt(N)``.
    length_unit : float
        The packing's length per network length, ``sqrt(A / N)``.
    pressure, phi : float
        The packing's.
    rattlers : ndarray of int
        The packing's rattlers.
    with_rattlers : bool
        Whether the rattlers' contacts are springs; if not, each rattler is a
        node without springs (one zero mode each), and the Debye level counts
        only the nodes that carry sound (:func:`bpwidgets.stiffness_tensor`).

    Examples
    --------
    >>> net = jammed_packing(64, pressure=1e-2, seed=0).network()
    >>> net.n_nodes == net.size == 64, bool((net.coordination[net.rattlers] == 0).all())
    (True, True)
    """

    box: float
    length_unit: float
    pressure: float
    phi: float
    rattlers: np.ndarray
    with_rattlers: bool

    @property
    def n_nodes(self) -> int:
        """Number of nodes, N, one per disk."""
        return self.size

    def __repr__(self) -> str:
        return (
            f"ContactNetwork(n_nodes={self.n_nodes}, spring={self.spring!r}, seed={self.seed}, "
            f"pressure={self.pressure:.4g}, n_bonds={self.n_bonds}, "
            f"rattlers={len(self.rattlers)}, with_rattlers={self.with_rattlers}, "
            f"mean_coordination={self.coordination.mean():.3f})"
        )


def jammed_packing(n, *, pressure=None, phi=None, seed=None) -> JammedPacking:
    """A jammed packing of ``n`` bidisperse soft disks at a pressure or a packing fraction.

    Parameters
    ----------
    n : int
        Number of disks, from ``MIN_DISKS`` = 16 to ``MAX_DISKS``; half of them
        (``n // 2``) have diameter 1, the others 1.4.
    pressure : float
        Target pressure in epsilon / d^2, from ``MIN_PRESSURE`` = 1e-5 to
        ``MAX_PRESSURE`` = 0.05; reached to a relative ``PRESSURE_TOLERANCE``.
    phi : float
        Instead of ``pressure``: the packing fraction, from ``MIN_PHI`` = 0.5 to
        ``MAX_PHI`` = 0.95. Below jamming (about 0.84) the result does not jam:
        its pressure is (nearly) zero and every disk is a rattler.
    seed : int, optional
        Seed of the random starting positions; the same seed gives the same
        packing.

    Returns
    -------
    JammedPacking

    Raises
    ------
    ValueError
        For ``n`` outside its range (a bool is not a number of disks), neither
        or both of ``pressure`` and ``phi``, either outside its range, a bad
        seed, or a packing needing more memory than
        :func:`bpwidgets.core.limits.memory_limit`.
    RuntimeError
        If a relaxation does not converge (not seen in practice).

    Notes
    -----
    Disks of radii R_i interact with ``V(r) = (epsilon / 2) (1 - r / sigma_ij)^2``
    for ``r < sigma_ij = R_i + R_j`` (Eq. (J1) of docs/physics.md). The
    ``n`` centres are drawn uniformly in the box by
    ``numpy.random.default_rng(seed)``, and FIRE relaxes them until every net
    force is below ``FORCE_TOLERANCE p d`` (:attr:`JammedPacking.force_tolerance`).
    At a pressure, the quench starts at phi = 0.86, above jamming; the box is
    then rescaled, the positions with it, and relaxed again, steering phi by
    secants of p(phi) (at most a factor 10 down in pressure per step,
    bisecting when a step unjams) until the pressure is within
    ``PRESSURE_TOLERANCE`` of the target (docs/physics.md, "A jammed packing").

    Examples
    --------
    >>> packing = jammed_packing(100, pressure=1e-3, seed=3)
    >>> round(packing.pressure, 5), bool(0.83 < packing.phi < 0.86)
    (0.001, True)
    >>> bool(4.0 <= packing.mean_contact_number < 4.5), bool(len(packing.rattlers) < 10)
    (True, True)
    >>> again = jammed_packing(100, pressure=1e-3, seed=3)
    >>> bool((again.positions == packing.positions).all())
    True
    """
    n = _check_disks(n)
    if (pressure is None) == (phi is None):
        raise ValueError("give exactly one of pressure= and phi=; got "
                         + ("neither" if pressure is None else "both"))
    if pressure is not None:
        pressure = _check_range("pressure", pressure, MIN_PRESSURE, MAX_PRESSURE,
                                "a positive pressure in epsilon / d^2")
    else:
        phi = _check_range("phi", phi, MIN_PHI, MAX_PHI, "a packing fraction")
    if seed is not None:
        seed = _check_seed(seed)
    _check_memory(f"a packing of {n} disks", n * _BYTES_PER_DISK)

    radii = np.where(np.arange(n) < n // 2, DIAMETERS[0], DIAMETERS[1]) / 2
    floor = MIN_PRESSURE if pressure is None else pressure
    disks = quench(radii, np.random.default_rng(seed), pressure=pressure, phi=phi, floor=floor)
    return _packing(disks, seed, floor)


def _packing(disks, seed, floor) -> JammedPacking:
    """Freeze the relaxed state: contacts, rattlers, forces, pressure."""
    box = disks.box
    n = len(disks.radii)
    positions = np.column_stack([np.mod(disks.x, box), np.mod(disks.y, box)])
    positions[positions >= box] = 0.0
    pairs = periodic_tree(positions, box).query_pairs(2.0 * disks.radii.max(),
                                                      output_type="ndarray")
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))] if len(pairs) else pairs.reshape(0, 2)
    vectors = positions[pairs[:, 1]] - positions[pairs[:, 0]]
    vectors -= box * np.round(vectors / box)
    r = np.hypot(vectors[:, 0], vectors[:, 1])
    touching = r < disks.radii[pairs[:, 0]] + disks.radii[pairs[:, 1]]
    contacts, vectors, r = pairs[touching], vectors[touching], r[touching]
    sigma = disks.radii[contacts[:, 0]] + disks.radii[contacts[:, 1]]
    overlap = 1.0 - r / sigma
    force = CONTACT_ENERGY * overlap / sigma
    along = (force / r)[:, None] * vectors
    net = np.zeros((n, 2))
    for axis in range(2):
        net[:, axis] = (np.bincount(contacts[:, 1], along[:, axis], n)
                        - np.bincount(contacts[:, 0], along[:, axis], n))
    pressure = pairwise_dot(force, r) / (2.0 * box * box)
    arrays = dict(
        positions=positions,
        radii=disks.radii.copy(),
        contacts=contacts.astype(np.intp),
        contact_vectors=vectors,
        rattlers=_rattlers(contacts, n),
    )
    for array in arrays.values():
        array.flags.writeable = False
    return JammedPacking(
        seed=seed, box=box, pressure=pressure, phi=disks.phi,
        max_force=float(np.sqrt((net * net).sum(axis=1)).max()),
        force_tolerance=tolerated_force(FORCE_TOLERANCE, max(pressure, floor), box),
        energy=0.5 * CONTACT_ENERGY * pairwise_dot(overlap, overlap), fire_steps=disks.steps,
        **arrays,
    )


def _rattlers(contacts, n) -> np.ndarray:
    """Disks left with fewer than RATTLER_CONTACTS contacts once the other rattlers are gone.

    Taking a rattler away can leave a neighbour with too few contacts, so the
    count is repeated until no disk is removed.

    Examples
    --------
    Four disks all touching each other have three contacts each and are held;
    disk 4 touches nothing:

    >>> _rattlers(np.array([[0, 1], [1, 2], [0, 2], [0, 3], [1, 3], [2, 3]]), 5)
    array([4])

    In a triangle with a tail only disk 0 has three contacts, and it loses
    them once disks 1, 2 and 3 are gone:

    >>> _rattlers(np.array([[0, 1], [1, 2], [0, 2], [0, 3]]), 4)
    array([0, 1, 2, 3])
    """
    held = np.ones(n, bool)
    while True:
        kept = contacts[held[contacts].all(axis=1)]
        count = np.bincount(kept.ravel(), minlength=n)
        loose = held & (count < RATTLER_CONTACTS)
        if not loose.any():
            return np.flatnonzero(~held)
        held &= ~loose


def _contact_blocks(vectors, sigma) -> np.ndarray:
    """``K = k n n^T + (V'/r)(I - n n^T)`` of contacts with these vectors and sigma (Eq. (J5))."""
    r = np.hypot(vectors[:, 0], vectors[:, 1])
    unit = vectors / r[:, None]
    stiffness = CONTACT_ENERGY / sigma**2  # V''(r)
    # V'(r) / r, negative when compressed.
    tension = -CONTACT_ENERGY / sigma * (1.0 - r / sigma) / r
    blocks = (stiffness - tension)[:, None, None] * (unit[:, :, None] * unit[:, None, :])
    blocks += tension[:, None, None] * np.eye(2)
    return blocks


def _hessian(contacts, blocks, n) -> sp.csr_array:
    """The 2N x 2N Hessian of contacts with these blocks (:func:`_contact_blocks`, Eq. (J5))."""
    i, j = contacts[:, 0], contacts[:, 1]
    # Off the diagonal -K at (i, j) and (j, i), each once; on it the sums of K, each of the
    # three distinct entries summed once, so that the matrix is exactly symmetric.
    a, b = np.meshgrid(np.arange(2), np.arange(2), indexing="ij")
    rows = [(2 * i[:, None, None] + a).ravel(), (2 * j[:, None, None] + a).ravel()]
    cols = [(2 * j[:, None, None] + b).ravel(), (2 * i[:, None, None] + b).ravel()]
    values = [-blocks.ravel(), -blocks.ravel()]
    both = np.concatenate([i, j])
    diagonal = np.empty((n, 2, 2))
    for p, q in ((0, 0), (0, 1), (1, 1)):
        diagonal[:, p, q] = np.bincount(both, np.tile(blocks[:, p, q], 2), n)
    diagonal[:, 1, 0] = diagonal[:, 0, 1]
    nodes = np.arange(n)
    rows.append((2 * nodes[:, None, None] + a).ravel())
    cols.append((2 * nodes[:, None, None] + b).ravel())
    values.append(diagonal.ravel())
    matrix = sp.coo_array(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(2 * n, 2 * n)
    )
    return sp.csr_array(matrix)


# --------------------------------------------------------------------------- input


def _check_disks(n) -> int:
    allowed = f"a whole number from MIN_DISKS = {MIN_DISKS} to MAX_DISKS = {MAX_DISKS}"
    if isinstance(n, bool) or not isinstance(n, numbers.Real):
        raise ValueError(f"n must be {allowed}; got {reprlib.repr(n)}")
    if not (isinstance(n, numbers.Integral) or float(n).is_integer()):  # also NaN, inf
        raise ValueError(f"n must be {allowed}; got {n!r}")
    if not MIN_DISKS <= n <= MAX_DISKS:
        raise ValueError(f"n must be {allowed}; got {n!r}")
    return int(n)


def _check_range(name, value, low, high, what) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be {what} from {low:g} to {high:g}; "
                         f"got {reprlib.repr(value)}")
    value = float(value)
    if name == "pressure" and not value > 0:
        raise ValueError(f"pressure must be positive (from {low:g} to {high:g}); got {value:g}")
    if not low <= value <= high:  # also NaN
        raise ValueError(f"{name} must be {what} from {low:g} to {high:g}; got {value:g}")
    return value
