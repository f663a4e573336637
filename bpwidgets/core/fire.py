"""FIRE: the relaxation that makes the jammed packings of :mod:`bpwidgets.core.jamming`.

The Fast Inertial Relaxation Engine (Bitzek, Koskinen, Gähler, Moseler and
Gumbsch, Phys. Rev. Lett. 97, 170201 (2006)) takes N soft disks from random
positions to mechanical equilibrium: molecular dynamics whose velocity is
steered towards the force, with a time step that grows while the power stays
positive. The contact law is the harmonic repulsion of Eq. (J1)-(J2) of
docs/physics.md. Neighbours come from a Verlet list, every pair closer than
the longest contact plus a skin, built with :class:`scipy.spatial.cKDTree`
(whose ``boxsize`` makes the box periodic) and rebuilt only once two disks
could have crossed the skin.

:func:`quench` relaxes random positions at a packing fraction, or steers the
packing fraction until the relaxed packing holds a pressure. The frozen
result, its contacts, rattlers and Hessian, are made in
:mod:`bpwidgets.core.jamming`, which also holds the public API
(:func:`~bpwidgets.jammed_packing`).

Units as there (docs/physics.md, "A jammed packing"): the small diameter d,
the contact energy epsilon and a disk's mass m.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "CONTACT_ENERGY", "FORCE_TOLERANCE", "PRESSURE_TOLERANCE", "pairwise_dot", "periodic_tree",
    "quench", "tolerated_force",
]

#: A relaxed packing's largest net force on a disk, in units of p d (about the mean contact
#: force, Eq. (J4) of docs/physics.md): 1e-8 of it leaves positions, pressure and the Hessian
#: unchanged to far better than anything computed from them.
FORCE_TOLERANCE = 1e-8
#: Rounding floor of that tolerance, in units of eps * box (eps the machine epsilon): a
#: force is a difference of positions of order the box, so it carries an error of a few
#: eps * box (1e-14 at N = 1000), which would make 1e-8 p d unreachable at p ~ 1e-6.
_ROUNDING = 32.0
#: Relative error of the pressure a packing is made at.
PRESSURE_TOLERANCE = 1e-3

#: Contact energy epsilon, the unit of energy (docs/physics.md, "A jammed packing"); a disk's
#: mass is the unit of mass.
CONTACT_ENERGY = 1.0

# FIRE's parameters as Bitzek et al. (2006) recommend them: N_min, f_inc, f_dec, alpha_start,
# f_alpha; the time steps, in units of sqrt(m d^2 / epsilon), are below the stability limit
# 2 / omega_max ~ 0.55 of the stiffest packings (omega_max^2 <= 2 Z_max k_max ~ 13).
_FIRE_DELAY = 5
_FIRE_INCREASE, _FIRE_DECREASE = 1.1, 0.5
_FIRE_ALPHA, _FIRE_ALPHA_DECAY = 0.1, 0.99
_FIRE_DT_START, _FIRE_DT_MAX = 0.05, 0.5
#: FIRE steps one relaxation may take before it is given up as stuck.
_MAX_FIRE_STEPS = 2_000_000

#: Verlet skin, in small diameters: the neighbour list holds every pair closer than the
#: largest contact distance plus this, and is rebuilt once two disks could have closed it.
_SKIN = 0.3

#: The quench from random positions starts at this packing fraction, above jamming
#: (phi_J ~ 0.84 for this mixture, O'Hern et al. 2003), so that it lands jammed.
_QUENCH_PHI = 0.86
#: First guess of dp/dphi near jamming: above the slopes measured at N = 1000 (0.27 to 0.32,
#: growing with p), so that the first decompression falls short rather than unjams.
_PRESSURE_SLOPE = 0.35
#: Decompressions aim at most this factor below the lowest pressure reached so far, so
#: that a step cannot unjam the packing by far.
_PRESSURE_STEP = 10.0
#: Force tolerance of the intermediate relaxations (relative, as FORCE_TOLERANCE): they
#: only steer the packing fraction; the last one is taken to FORCE_TOLERANCE.
_LOOSE_TOLERANCE = 1e-5
#: A relaxed state with a pressure below this fraction of the target has unjammed.
_UNJAMMED = 1e-4
#: Most changes of the packing fraction while aiming at a pressure.
_MAX_ADJUSTMENTS = 100
#: Highest packing fraction tried while aiming at a pressure (areas of overlaps count twice,
#: so it may exceed 1); the highest pressure a packing is made at, 0.05, needs about 0.97.
_HIGHEST_PHI = 1.2


def quench(radii, rng, *, pressure=None, phi=None, floor=None) -> _Disks:
    """Random positions relaxed by FIRE, at a pressure or at a packing fraction.

    Parameters
    ----------
    radii : ndarray, shape (N,)
        The disks' radii, in small diameters.
    rng : numpy.random.Generator
        Draws the starting positions, uniform in the box (one call, shape (2, N)).
    pressure : float, optional
        Start at ``_QUENCH_PHI`` = 0.86, above jamming, then rescale the box and
        relax again until the pressure is within ``PRESSURE_TOLERANCE`` of this
        one (:func:`_aim_at`).
    phi : float, optional
        Instead of ``pressure``: relax once, at this packing fraction.
    floor : float, optional
        The relaxations stop once every net force is below
        ``FORCE_TOLERANCE * max(p, floor) * d`` (halved, see :meth:`_Disks.relax`).
        By default ``pressure``; required with ``phi``, where the disks may not jam.

    Returns
    -------
    _Disks
        The relaxed state: unwrapped positions, the box, the FIRE steps taken.

    Raises
    ------
    ValueError
        For neither or both of ``pressure`` and ``phi``, or ``phi`` without ``floor``.
    RuntimeError
        If a relaxation, or the search for the pressure, does not converge.

    Examples
    --------
    >>> radii = np.where(np.arange(32) < 16, 0.5, 0.7)
    >>> disks = quench(radii, np.random.default_rng(0), pressure=1e-2)
    >>> fx, fy, _, virial = disks.forces()
    >>> bool(abs(disks.pressure(virial) / 1e-2 - 1) <= PRESSURE_TOLERANCE)
    True
    >>> bool(np.hypot(fx, fy).max() <= FORCE_TOLERANCE * 1e-2), disks.steps > 0
    (True, True)
    """
    if (pressure is None) == (phi is None):
        raise ValueError("give exactly one of pressure= and phi=; got "
                         + ("neither" if pressure is None else "both"))
    if floor is None:
        if pressure is None:
            raise ValueError("at a packing fraction phi= the force floor= must be given")
        floor = pressure
    start = phi if phi is not None else _QUENCH_PHI
    box = math.sqrt(math.pi * pairwise_dot(radii, radii) / start)
    disks = _Disks(radii, rng.uniform(0.0, box, (2, len(radii))), box)
    if pressure is None:
        disks.relax(FORCE_TOLERANCE, floor)
    else:
        _aim_at(disks, pressure)
    return disks


# --------------------------------------------------------------------------- FIRE


class _Disks:
    """The generator's working state: positions (unwrapped), the box, the Verlet list.

    Positions are kept as two arrays, x and y, and are not wrapped into the box
    while relaxing: each listed pair keeps the image it was found with, as a
    whole number of box lengths, which stays right while no disk moves by more
    than the skin.
    """

    def __init__(self, radii, positions, box):
        self.radii = radii
        self.x, self.y = (np.array(p, dtype=float) for p in positions)
        self.box = float(box)
        self.reach = 2.0 * radii.max() + _SKIN
        self.steps = 0  # FIRE steps taken by every relaxation
        self._listed()

    @property
    def phi(self) -> float:
        return math.pi * pairwise_dot(self.radii, self.radii) / self.box**2

    def rescale(self, phi) -> None:
        """Scale the box and the positions with it (affinely) to packing fraction ``phi``."""
        factor = math.sqrt(self.phi / phi)
        self.x *= factor
        self.y *= factor
        self.box *= factor

    def _listed(self) -> None:
        """Build the Verlet list: every pair closer than ``reach``, with its image."""
        wrapped = np.column_stack([np.mod(self.x, self.box), np.mod(self.y, self.box)])
        wrapped[wrapped >= self.box] = 0.0  # mod can round up to the box itself
        pairs = periodic_tree(wrapped, self.box).query_pairs(self.reach, output_type="ndarray")
        self.first = np.ascontiguousarray(pairs[:, 0])
        self.second = np.ascontiguousarray(pairs[:, 1])
        self.image_x = np.rint((self.x[self.second] - self.x[self.first]) / self.box)
        self.image_y = np.rint((self.y[self.second] - self.y[self.first]) / self.box)
        self.inverse_sigma = 1.0 / (self.radii[self.first] + self.radii[self.second])
        self.listed_x, self.listed_y, self.listed_box = self.x.copy(), self.y.copy(), self.box

    def _check_list(self) -> None:
        """Rebuild the list once a pair it misses could be in contact.

        A pair further apart than ``reach`` when listed is still further apart
        than the longest contact while ``2 max|displacement| + reach (1 - L/L0)``
        stays below the skin (the second term for a box that shrank).
        """
        shrink = self.box / self.listed_box
        dx = self.x - shrink * self.listed_x
        dy = self.y - shrink * self.listed_y
        moved = math.sqrt(float(np.max(dx * dx + dy * dy)))
        if 2.0 * moved + self.reach * max(0.0, 1.0 - shrink) > _SKIN:
            self._listed()

    def forces(self):
        """Net forces (fx, fy), energy and virial ``sum_contacts f r``.

        Eq. (J1)-(J2): ``f = (epsilon / sigma) (1 - r / sigma)`` along the line of
        centres for every listed pair closer than sigma, zero beyond.
        """
        n = len(self.radii)
        first, second = self.first, self.second
        dx = self.x.take(second)
        dx -= self.x.take(first)
        dx -= self.box * self.image_x
        dy = self.y.take(second)
        dy -= self.y.take(first)
        dy -= self.box * self.image_y
        r = np.sqrt(dx * dx + dy * dy)
        overlap = r * self.inverse_sigma  # r / sigma, then 1 - r / sigma, zero beyond contact
        np.subtract(1.0, overlap, out=overlap)
        np.maximum(overlap, 0.0, out=overlap)
        force = overlap * self.inverse_sigma * CONTACT_ENERGY
        # Coinciding centres (r = 0) push along no direction: count no force there.
        along = np.divide(force, r, out=np.zeros_like(r), where=r > 0)
        dx *= along
        dy *= along
        fx = np.bincount(second, dx, n)
        fx -= np.bincount(first, dx, n)
        fy = np.bincount(second, dy, n)
        fy -= np.bincount(first, dy, n)
        energy = 0.5 * CONTACT_ENERGY * pairwise_dot(overlap, overlap)
        return fx, fy, energy, pairwise_dot(force, r)

    def pressure(self, virial) -> float:
        """Eq. (J3): ``p = sum f r / (2 A)`` in two dimensions."""
        return virial / (2.0 * self.box**2)

    def relax(self, tolerance, floor) -> float:
        """FIRE until every net force is below half ``tolerance * max(p, floor) * d``; returns p.

        Half, and never below the rounding floor (:func:`tolerated_force`).

        Bitzek et al. (2006): molecular dynamics with unit masses (semi-implicit
        Euler), the velocity mixed towards the force, ``v <- (1 - alpha) v +
        alpha |v| F / |F|``; while the power ``F . v`` stays positive for more
        than ``_FIRE_DELAY`` steps the time step grows and alpha decays; when it
        turns negative the system stops (half a step back, as in FIRE 2.0,
        Guenole et al., Comput. Mater. Sci. 175, 109584 (2020)), the step is
        halved and alpha reset.
        """
        x, y = self.x, self.y
        vx, vy = np.zeros_like(x), np.zeros_like(y)
        dt, alpha, positive = _FIRE_DT_START, _FIRE_ALPHA, 0
        fx, fy, _, virial = self.forces()
        for _ in range(_MAX_FIRE_STEPS):
            squared = fx * fx + fy * fy
            limit = 0.5 * tolerated_force(tolerance, max(self.pressure(virial), floor), self.box)
            if float(squared.max()) <= limit * limit:
                return self.pressure(virial)
            self.steps += 1
            power = pairwise_dot(fx, vx) + pairwise_dot(fy, vy)
            if power > 0.0:
                positive += 1
                if positive > _FIRE_DELAY:
                    dt = min(dt * _FIRE_INCREASE, _FIRE_DT_MAX)
                    alpha *= _FIRE_ALPHA_DECAY
            else:
                positive = 0
                dt *= _FIRE_DECREASE
                alpha = _FIRE_ALPHA
                x -= 0.5 * dt * vx
                y -= 0.5 * dt * vy
                vx[:] = 0.0
                vy[:] = 0.0
            vx += dt * fx
            vy += dt * fy
            speed = math.sqrt(pairwise_dot(vx, vx) + pairwise_dot(vy, vy))
            mix = alpha * speed / math.sqrt(float(squared.sum()))
            vx *= 1.0 - alpha
            vx += mix * fx
            vy *= 1.0 - alpha
            vy += mix * fy
            x += dt * vx
            y += dt * vy
            self._check_list()
            fx, fy, _, virial = self.forces()
        raise RuntimeError(f"FIRE did not relax {len(x)} disks in {_MAX_FIRE_STEPS} steps")


def _aim_at(disks, target) -> None:
    """Rescale and relax until the relaxed pressure is within PRESSURE_TOLERANCE of ``target``.

    Near jamming p grows about linearly with phi - phi_J, so each new packing
    fraction comes from a secant through the last two jammed states (the slope
    ``_PRESSURE_SLOPE`` while there is one), aiming at most a factor
    ``_PRESSURE_STEP`` below the lowest pressure reached so that a
    decompression does not overshoot far into the unjammed side; a fraction
    that unjammed bounds the next ones from below, and the step falls back to
    bisection there.
    """
    jammed, unjammed = [], []
    tolerance = _LOOSE_TOLERANCE
    for _ in range(_MAX_ADJUSTMENTS):
        p = disks.relax(tolerance, target)
        if abs(p / target - 1.0) <= PRESSURE_TOLERANCE:
            if tolerance == FORCE_TOLERANCE:
                return
            tolerance = FORCE_TOLERANCE  # close: relax fully and look again
            continue
        phi = disks.phi
        if p > _UNJAMMED * target:
            jammed.append((phi, p))
        else:
            unjammed.append(phi)
        disks.rescale(_next_phi(jammed, unjammed, target, phi))
        tolerance = _LOOSE_TOLERANCE
    raise RuntimeError(f"no packing fraction gave the pressure {target:g} "
                       f"in {_MAX_ADJUSTMENTS} steps")


def _next_phi(jammed, unjammed, target, phi) -> float:
    """The next packing fraction to try (see :func:`_aim_at`)."""
    if not jammed:  # nothing jammed yet: compress
        return phi + 0.01
    lowest = min(p for _, p in jammed)
    aim = max(target, lowest / _PRESSURE_STEP)
    (phi1, p1) = jammed[-1]
    slope = _PRESSURE_SLOPE
    if len(jammed) > 1:
        phi0, p0 = jammed[-2]
        if phi1 != phi0 and (p1 - p0) / (phi1 - phi0) > 0:
            slope = (p1 - p0) / (phi1 - phi0)
    new = phi1 + (aim - p1) / slope
    floor = max(unjammed, default=0.0)
    if new <= floor:
        new = 0.5 * (floor + min(f for f, _ in jammed))
    return min(new, _HIGHEST_PHI)


def periodic_tree(positions, box):
    """A :class:`scipy.spatial.cKDTree` of ``positions`` (in ``[0, box)^2``) in the periodic box.

    :mod:`scipy.spatial` is imported here, when a packing is made: importing it
    takes about 50 ms, which every dashboard kernel would pay at start without
    making a packing (docs/architecture.md, "What the first page loads").

    Examples
    --------
    >>> tree = periodic_tree(np.array([[0.1, 0.1], [9.9, 9.9]]), 10.0)
    >>> tree.query_pairs(0.5, output_type="ndarray").tolist()   # neighbours across the edge
    [[0, 1]]
    """
    from scipy.spatial import cKDTree

    return cKDTree(positions, boxsize=box)


def tolerated_force(relative, pressure, box) -> float:
    """The largest net force a relaxed packing may keep: ``relative * p d``, in epsilon / d.

    Never below the forces' rounding error ``_ROUNDING eps box``. A relaxation
    stops at half of it, so that the forces recomputed from the wrapped
    positions (which round differently) are still below it; the frozen packing
    records it as :attr:`~bpwidgets.JammedPacking.force_tolerance`.

    Examples
    --------
    >>> tolerated_force(FORCE_TOLERANCE, 1e-2, 30.0) == FORCE_TOLERANCE * 1e-2
    True
    >>> tolerated_force(FORCE_TOLERANCE, 1e-9, 30.0) > FORCE_TOLERANCE * 1e-9  # rounding
    True
    """
    return float(max(relative * pressure, _ROUNDING * np.finfo(float).eps * box))


def pairwise_dot(a, b) -> float:
    """``a . b`` by numpy's own pairwise sum, not BLAS.

    BLAS adds in an order that depends on the CPU, and a relaxation through
    rearrangements amplifies the last bit: with numpy's sums a seed gives the
    same packing on every machine with the same numpy. The frozen packing's
    pressure and energy are summed the same way.

    Examples
    --------
    >>> pairwise_dot(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    11.0
    """
    return float(np.multiply(a, b).sum())
