"""The grid of a sweep: its points, its seeds and its frequencies, checked before any work.

A sweep is of the lattice model (``connection`` nearest or cutoff, disordered
by δ) or of the glass (``connection="jammed"``: the contact networks of jammed
packings of soft disks, disordered by their pressure), never of both. Every
point is checked on the client, before a cluster is touched: the model's by
the core's own checks (those of :func:`bpwidgets.build_network` and
:func:`bpwidgets.reduced_dos`, with their messages), the glass's by the
ranges of :func:`bpwidgets.jammed_packing` and the checks of
:func:`bpwidgets.reduced_dos_of`. :func:`value_range` makes a range of values
as the dashboard's sliders have them.
"""

from __future__ import annotations

import itertools
import math
import numbers
import reprlib
from dataclasses import dataclass

import numpy as np

from ..core.analysis import DOS_MOMENTS
from ..core.dos import network_spectrum
from ..core.jamming import MAX_DISKS, MAX_PRESSURE, MIN_DISKS, MIN_PRESSURE
from ..core.kpm import MAX_GRID_POINTS, seed_vectors
from ..core.limits import format_bytes, memory_limit
from ..core.network import MAX_SEEDS
from ..core.packings import stored_contact_spectra
from ..session.schema import JAMMED

__all__ = ["DEFAULT_DELTA", "DEFAULT_OMEGA", "DEFAULT_PRESSURE", "GLASS_PARAMETERS", "JAMMED",
           "PARAMETERS", "Point", "sweep_points", "value_range"]

#: The model's parameters a sweep runs over, in the order of the dataset's dimensions.
PARAMETERS = ("delta", "size", "connection", "spring")
#: The glass's (``connection="jammed"``): the packings' pressure takes δ's place, and
#: ``size`` L means N = L² disks, as on the dashboard.
GLASS_PARAMETERS = ("pressure", "size", "connection", "spring")
#: δ of a model's sweep, and the pressure of a glass's, when none is given: the
#: dashboard's defaults.
DEFAULT_DELTA = 0.3
DEFAULT_PRESSURE = 1e-3
#: Sides L of a glass's sweep: N = L² disks from ``MIN_DISKS`` to ``MAX_DISKS``.
_MIN_DISK_SIDE = math.isqrt(MIN_DISKS - 1) + 1
_MAX_DISK_SIDE = math.isqrt(MAX_DISKS)

#: The frequency grid of the curves: 0 to 4 in steps of 0.01. It holds the bulk of every
#: network up to delta = 0.45 (the top of the bulk is about 4.0 there with cutoff and 1/r
#: springs, 4.15 at delta = 0.49) and resolves the Boson peak: the kernel's width is
#: about 0.07 at 64 moments.
DEFAULT_OMEGA = np.round(np.linspace(0.0, 4.0, 401), 10)

#: Largest part of the memory limit the dataset may take on the client: it holds
#: every seed's curve, points x seeds x omega doubles, besides the parts.
_DATASET_SHARE = 0.5
#: Decimals a grid value of :func:`value_range` is rounded to: 0.1 * 3 must be the 0.3
#: the dashboard asks for, or the store's keys (exact floats) would differ.
_RANGE_DECIMALS = 10


@dataclass(frozen=True)
class Point:
    """One point of a sweep's grid: the model's or the glass's parameters, all seeds apart.

    The model's points have a ``delta``; the glass's (``connection="jammed"``)
    a ``pressure`` instead, and ``size`` L stands for N = L² disks.

    Examples
    --------
    >>> Point(delta=0.3, size=60, connection="cutoff", spring="inverse").label
    'delta=0.3, size=60, connection=cutoff, spring=inverse'
    >>> glass = Point(delta=None, size=20, connection="jammed", spring="inverse", pressure=1e-3)
    >>> glass.label, glass.disks
    ('pressure=0.001, size=20, connection=jammed, spring=inverse', 400)
    """

    delta: float | None
    size: int
    connection: str
    spring: str
    pressure: float | None = None

    @property
    def jammed(self) -> bool:
        """Whether this is the glass: the contact networks of jammed packings."""
        return self.connection == JAMMED

    @property
    def parameters(self) -> tuple:
        """The names of its parameters: ``PARAMETERS``, or ``GLASS_PARAMETERS`` for the glass."""
        return GLASS_PARAMETERS if self.jammed else PARAMETERS

    @property
    def disks(self) -> int:
        """Disks of the glass's packings, N = L²."""
        return self.size * self.size

    @property
    def label(self) -> str:
        """The parameters as ``name=value`` pairs, for messages."""
        return ", ".join(f"{name}={value}" for name, value in self.values().items())

    def values(self) -> dict:
        """The parameters, by name, in the order of the dataset's dimensions."""
        return {name: getattr(self, name) for name in self.parameters}

    def model(self) -> dict:
        """``connection`` and ``spring``, as keyword arguments of the core's functions."""
        return dict(connection=self.connection, spring=self.spring)


@dataclass(frozen=True)
class _Grid:
    """A checked grid: every parameter's values, which were given as lists, the seeds."""

    values: dict
    swept: tuple
    seeds: tuple
    moments: int
    parameters: tuple = PARAMETERS

    @property
    def jammed(self) -> bool:
        """Whether this is a sweep of the glass."""
        return self.parameters == GLASS_PARAMETERS

    @property
    def shape(self) -> tuple:
        return tuple(len(self.values[name]) for name in self.parameters)

    def points(self):
        """``(index, Point)`` of every point, the last parameter varying fastest."""
        missing = dict(delta=None) if self.jammed else {}
        for index in itertools.product(*(range(n) for n in self.shape)):
            values = {name: self.values[name][k] for name, k in zip(self.parameters, index)}
            yield index, Point(**missing, **values)

    def vectors(self, point: Point) -> int:
        """Random vectors per seed: those ``reduced_dos`` gives this point's seeds."""
        n_seeds = len(self.seeds)
        return seed_vectors(point.size * point.size, n_seeds)


def value_range(start, stop, step) -> tuple:
    """Values from ``start`` to ``stop`` inclusive in steps of ``step``, as the dashboard has them.

    Every value is rounded to 10 decimals, so that 3 steps of 0.1 give the
    0.3 a slider gives (and the result store's key of 0.3).

    Parameters
    ----------
    start, stop, step : float
        ``step`` positive; ``stop`` is included when it lies on the grid
        (within a millionth of a step).

    Returns
    -------
    tuple of float

    Raises
    ------
    ValueError
        For a step that is not positive and finite, or ``stop < start``.

    Examples
    --------
    >>> value_range(0, 0.1, 0.025)
    (0.0, 0.025, 0.05, 0.075, 0.1)
    >>> value_range(0.1, 0.35, 0.1)
    (0.1, 0.2, 0.3)
    """
    start, stop, step = (float(v) for v in (start, stop, step))
    if not (math.isfinite(step) and step > 0):
        raise ValueError(f"a range's step must be positive; got {step}")
    if not (math.isfinite(start) and math.isfinite(stop) and stop >= start):
        raise ValueError(f"a range must run upwards; got {start} to {stop}")
    count = math.floor((stop - start) / step + 1e-6) + 1
    return tuple(round(start + k * step, _RANGE_DECIMALS) for k in range(count))


def sweep_points(delta=None, size=60, connection="cutoff", spring="inverse", seeds=10, *,
                 pressure=None, moments=DOS_MOMENTS) -> list:
    """Every point of a sweep's grid, checked as the sweep checks it, without computing.

    Parameters
    ----------
    delta, size, connection, spring, seeds, pressure, moments
        As for :func:`~bpwidgets.sweep.sweep`.

    Returns
    -------
    list of Point
        In the dataset's order, the last parameter varying fastest.

    Raises
    ------
    ValueError
        For an empty list, a value given twice, a grid that mixes the model
        and the glass (or gives δ to the glass, a pressure to the model), or
        any point that :func:`bpwidgets.build_network`,
        :func:`bpwidgets.reduced_dos` or, for the glass,
        :func:`bpwidgets.jammed_packing` refuses.

    Examples
    --------
    >>> [p.delta for p in sweep_points(delta=[0.1, 0.2], size=30, seeds=2)]
    [0.1, 0.2]
    >>> [p.pressure for p in sweep_points(connection="jammed", pressure=[1e-4, 1e-2], size=20)]
    [0.0001, 0.01]
    >>> sweep_points(delta=0.6, size=3, connection="cutoff")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: size must be larger than 2 (1 + delta) = 3.2 for connection='cutoff' ...
    >>> sweep_points(connection="jammed", pressure=0.1, size=20)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: pressure must be ... from MIN_PRESSURE = 1e-05 to MAX_PRESSURE = 0.05, as for ...
    """
    grid = _checked_grid(delta, size, connection, spring, seeds, moments, pressure=pressure)
    return [point for _, point in grid.points()]


def _checked_grid(delta, size, connection, spring, seeds, moments,
                  n_omega=DEFAULT_OMEGA.size, *, pressure=None) -> _Grid:
    """The grid, every point checked by the core before anything is computed or sent."""
    connections, _ = _values("connection", connection)
    jammed = _is_glass(connections)
    if jammed and delta is not None:
        raise ValueError("delta is the lattice model's displacement; jammed disks "
                         "(connection='jammed') are disordered by their pressure: give "
                         "pressure= instead of delta=")
    if not jammed and pressure is not None:
        raise ValueError("pressure is that of jammed disks (connection='jammed'); the lattice "
                         f"model (connection={connection!r}) is disordered by delta: give "
                         "delta= instead of pressure=, or connection='jammed'")
    if jammed:
        parameters = GLASS_PARAMETERS
        disorder = dict(pressure=DEFAULT_PRESSURE if pressure is None else pressure)
    else:
        parameters = PARAMETERS
        disorder = dict(delta=DEFAULT_DELTA if delta is None else delta)
    given = dict(disorder, size=size, connection=connection, spring=spring)
    values, swept = {}, []
    for name in parameters:
        listed, is_list = _values(name, given[name])
        values[name] = listed
        if is_list:
            swept.append(name)
    seeds = _checked_seeds(seeds)
    grid = _Grid(values=values, swept=tuple(swept), seeds=seeds, moments=moments,
                 parameters=parameters)
    n_points = math.prod(grid.shape)
    # The client holds every seed's curve: points x seeds x omega doubles, and a few more.
    needed = 8 * n_points * len(seeds) * (n_omega + 8)
    if needed > _DATASET_SHARE * memory_limit():
        raise ValueError(
            f"a sweep of {n_points} points x {len(seeds)} seeds needs about "
            f"{format_bytes(needed)} for its dataset, more than half the memory limit "
            f"({format_bytes(memory_limit())}); sweep fewer points or seeds"
        )
    if jammed:
        values["size"] = tuple(_checked_side(v) for v in values["size"])
        values["pressure"] = tuple(_checked_pressure(v) for v in values["pressure"])
    for _, point in grid.points():
        try:
            vectors = grid.vectors(point)
        except (TypeError, ValueError):  # not a size: the core says so in its words below
            vectors = None
        if jammed:
            _check_glass_request(point, seeds, moments, vectors)
            continue
        # The core's own checks, with its messages: build_network's for the parameters,
        # reduced_dos's for the moments and the memory one task needs.
        network_spectrum(point.size, point.delta, seed=seeds[0], moments=moments,
                         vectors=vectors, store=False, compute=False, **point.model())
    # Normalise the values as the core does (a size of 60.0 is 60) once they passed.
    values["size"] = tuple(int(v) for v in values["size"])
    if not jammed:
        values["delta"] = tuple(float(v) for v in values["delta"])
    return _Grid(values=values, swept=tuple(swept), seeds=seeds, moments=moments,
                 parameters=parameters)


def _is_glass(connections) -> bool:
    """Whether the connections are the glass's; ValueError for a mix of glass and model."""
    glass = [isinstance(c, str) and c == JAMMED for c in connections]
    if any(glass) and not all(glass):
        raise ValueError(
            f"connection lists jammed disks ({JAMMED!r}) with the lattice model's rules "
            f"({reprlib.repr([c for c, g in zip(connections, glass) if not g])}): one is "
            "disordered by its pressure, the other by delta, so they are swept apart, one "
            "sweep each")
    return all(glass)


def _checked_side(size) -> int:
    """A glass's size L, N = L² disks within jammed_packing's range."""
    allowed = (f"a whole number L from {_MIN_DISK_SIDE} to {_MAX_DISK_SIDE} for "
               f"connection={JAMMED!r}: N = L² disks, from MIN_DISKS = {MIN_DISKS} to "
               f"MAX_DISKS = {MAX_DISKS}")
    if (isinstance(size, bool) or not isinstance(size, numbers.Real)
            or not float(size).is_integer()  # also NaN and inf
            or not _MIN_DISK_SIDE <= size <= _MAX_DISK_SIDE):
        raise ValueError(f"size must be {allowed}; got {reprlib.repr(size)}")
    return int(size)


def _checked_pressure(pressure) -> float:
    """A glass's pressure, within jammed_packing's range."""
    allowed = (f"a pressure in epsilon / d^2 from MIN_PRESSURE = {MIN_PRESSURE:g} to "
               f"MAX_PRESSURE = {MAX_PRESSURE:g}, as for jammed_packing")
    if (isinstance(pressure, bool) or not isinstance(pressure, numbers.Real)
            or not MIN_PRESSURE <= pressure <= MAX_PRESSURE):  # also NaN
        raise ValueError(f"pressure must be {allowed}; got {reprlib.repr(pressure)}")
    return float(pressure)


def _check_glass_request(point, seeds, moments, vectors) -> None:
    """The checks a glass's task meets before making its packing: spring, moments, memory.

    The spring law is checked by the packings' store (its message); the
    moments, the random vectors and their memory by ``reduced_dos_of``'s
    checks of one network of N nodes, which are the same for a lattice of
    L x L nodes as for a contact network of L² disks.
    """
    stored_contact_spectra(point.disks, pressure=point.pressure, spring=point.spring,
                           seeds=seeds, moments=moments, vectors=vectors, store=False)
    network_spectrum(point.size, 0.0, connection="nearest", spring=point.spring, seed=seeds[0],
                     moments=moments, vectors=vectors, store=False, compute=False)


def _values(name, value) -> tuple:
    """``(values, given as a list)`` of one parameter: a value, or a non-empty list of them."""
    if isinstance(value, (str, bytes)) or np.ndim(value) == 0:
        return (value.item() if isinstance(value, np.generic) else value,), False
    try:
        listed = tuple(v.item() if isinstance(v, np.generic) else v for v in value)
    except TypeError:
        raise ValueError(f"{name} must be a value or a list of values; "
                         f"got {reprlib.repr(value)}") from None
    if not listed:
        raise ValueError(f"{name} must be a value or a non-empty list of values; got an empty "
                         "list, which would make an empty sweep")
    try:
        repeated = sorted({v for v in listed if listed.count(v) > 1}, key=str)
    except TypeError:  # an unhashable value: a list inside the list
        raise ValueError(f"{name} must be a value or a list of values; "
                         f"got {reprlib.repr(value)}") from None
    if repeated:
        raise ValueError(f"{name} lists {reprlib.repr(repeated)} more than once: each value "
                         "must be swept once")
    return listed, True


def _checked_seeds(seeds) -> tuple:
    """A count n as seeds 0 .. n-1, else the seeds: distinct non-negative integers."""
    allowed = "a positive count or a list of distinct non-negative integers"
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        if not 0 < seeds <= MAX_SEEDS:
            raise ValueError(f"seeds must be {allowed}, at most MAX_SEEDS = {MAX_SEEDS}; "
                             f"got {seeds}")
        return tuple(range(int(seeds)))
    try:
        listed = tuple(itertools.islice(seeds, MAX_SEEDS + 1))
    except TypeError:
        raise ValueError(f"seeds must be {allowed}; got {reprlib.repr(seeds)}") from None
    if (not listed or len(listed) > MAX_SEEDS or len(set(listed)) < len(listed)
            or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 0
                       for s in listed)):
        raise ValueError(f"seeds must be {allowed} (at most MAX_SEEDS = {MAX_SEEDS}); "
                         f"got {reprlib.repr(seeds)}")
    return tuple(int(s) for s in listed)


def _checked_omega(omega) -> np.ndarray:
    """The frequency grid: ascending finite frequencies >= 0, at most ``MAX_GRID_POINTS``."""
    try:
        grid = np.asarray(omega, dtype=float)
    except (TypeError, ValueError):
        grid = np.empty(0)
    if (grid.ndim != 1 or not 3 <= grid.size <= MAX_GRID_POINTS
            or not np.all(np.isfinite(grid)) or grid.min() < 0 or np.any(np.diff(grid) <= 0)):
        raise ValueError(f"omega must be 3 to MAX_GRID_POINTS = {MAX_GRID_POINTS} ascending "
                         f"finite frequencies >= 0; got {reprlib.repr(omega)}")
    return grid
