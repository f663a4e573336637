"""The dashboard's parameters, described once.

Every parameter the page lets a user set is one :class:`Field` of
:data:`FIELDS`: its range, step, default, label, URL key and, for a choice,
the options, taken from the core's own constants. Everything else is derived
from this table: the :class:`Parameters` defaults, the controls
(:mod:`bpwidgets.app.controls`), the URL query parser
(:mod:`bpwidgets.session.share`) and the README's parameter table
(:func:`markdown_table`). Changing a slider's range is a one-line change here.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields, replace

from ..core.jamming import PRESSURES
from ..core.network import CONNECTIONS, SPRINGS

__all__ = ["FIELDS", "JAMMED", "KINDS", "PRESSURE_GRID", "Choice", "Field", "Parameters",
           "field_of", "markdown_table", "pressure_text", "short_name"]

#: The third kind of network: the contact network of a jammed packing of soft disks
#: (:mod:`bpwidgets.core.jamming`). The core's ``build_network`` keeps its two lattice
#: rules (``CONNECTIONS``); the session makes packings for this one.
JAMMED = "jammed"
#: Every value of ``connection``: the lattice's two rules, then the glass.
KINDS = CONNECTIONS + (JAMMED,)
#: Pressures the pressure slider offers, in epsilon / d^2: the core's decades
#: (``PRESSURES``) and the half-decades between them, which take about as long to make
#: (N = 400: 0.9, 1.2, 0.7, 0.6 and 0.4 s from 1e-4 to 1e-2, measured).
PRESSURE_GRID = tuple(sorted(set(PRESSURES) | {3e-4, 3e-3}))


@dataclass(frozen=True)
class Choice:
    """One option of a choice: the core's value, its label, a short name, a tooltip."""

    value: str
    label: str
    short: str
    tooltip: str


#: The core's connection rules and spring laws, in the physics' words.
_CHOICES = {
    "nearest": Choice("nearest", "nearest neighbours", "nearest",
                      "lattice neighbours: Z = 4 everywhere"),
    "cutoff": Choice("cutoff", "cutoff a + δ", "cutoff",
                     "a spring between every pair closer than a + δ"),
    "inverse": Choice("inverse", "t = 1/r", "1/r", "stiffness t = 1/r"),
    "constant": Choice("constant", "constant t = 1", "t = 1",
                       "stiffness t = 1 for every spring"),
    JAMMED: Choice(JAMMED, "jammed disks", "jammed disks",
                   "a jammed packing of soft disks: its contacts are the springs"),
}


@dataclass(frozen=True)
class Field:
    """One parameter: how it is named, bounded, shown and written in a link.

    Attributes
    ----------
    name : str
        The :class:`Parameters` attribute.
    key : str
        Its key in the page's URL query.
    label : str
        The control's label.
    default : int, float or str
    low, high, step : number, optional
        Range and step of a number; a value off the steps cannot be shown by a slider.
    choices : tuple of Choice, optional
        The options of a choice, in the core's order.
    help : str
        One line saying what it is (the README table, tooltips).
    control : {"slider", "box", "toggle", "selection"}
        How the page sets it: a slider, a number box, toggle buttons for a choice,
        or a slider over ``values``.
    values : tuple of float, optional
        The only values a number may take (a log grid), ascending; then
        ``low``, ``high`` and ``step`` are not used.
    """

    name: str
    key: str
    label: str
    default: object
    low: object = None
    high: object = None
    step: object = None
    choices: tuple = ()
    help: str = ""
    control: str = "slider"
    values: tuple = ()

    @property
    def kind(self) -> type:
        """``int``, ``float`` or ``str``: the type of the value."""
        return type(self.default)

    def check(self, value):
        """``value`` as this field's type, or ValueError saying what is allowed.

        Examples
        --------
        >>> field_of("size").check(80)
        80
        >>> field_of("size").check(85)
        Traceback (most recent call last):
        ...
        ValueError: size must be an integer from 10 to 300 in steps of 10; got 85
        >>> field_of("pressure").check(0.003)
        0.003
        """
        if self.values:
            number = _as_number(value, float)
            for allowed in self.values:
                if number is not None and math.isclose(number, allowed, rel_tol=1e-9):
                    return allowed
            raise ValueError(f"{self.name} must be {self.describe()}; got {value!r}")
        if self.choices:
            allowed = [choice.value for choice in self.choices]
            if isinstance(value, str) and value in allowed:
                return value
            raise ValueError(
                f"{self.name} must be one of {' or '.join(allowed)}; got {value!r}"
            )
        number = _as_number(value, self.kind)
        if number is None or not (self.low <= number <= self.high) or not self._on_step(number):
            raise ValueError(f"{self.name} must be {self.describe()}; got {value!r}")
        return round(number, 6) if self.kind is float else int(number)

    def describe(self) -> str:
        """What the field allows, in words: "an integer from 10 to 300 in steps of 10"."""
        if self.choices:
            return " or ".join(choice.value for choice in self.choices)
        if self.values:
            return "one of " + ", ".join(pressure_text(v) for v in self.values)
        what = "an integer" if self.kind is int else "a number"
        step = "" if self.step in (None, 1) else f" in steps of {self.step}"
        return f"{what} from {self.low} to {self.high}{step}"

    def _on_step(self, number) -> bool:
        if self.step is None:
            return True
        steps = (number - self.low) / self.step
        return abs(steps - round(steps)) <= 1e-6


def _as_number(value, kind):
    """``value`` as a finite int or float, or None (bools and strings are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    value = float(value)
    if not math.isfinite(value):
        return None
    if kind is int:
        return int(value) if value == int(value) else None
    return value


#: The parameters, in the order of the controls (the pressure's slider takes δ's place
#: for jammed disks) and of a link's query.
FIELDS = (
    Field("delta", "delta", "displacement δ / a", 0.3, 0.0, 0.5, 0.01,
          help="distance every node is pushed off its lattice site"),
    Field("size", "size", "grid size L (disks N = L²)", 60, 10, 300, 10,
          help="linear size of the periodic L × L lattice (the paper: 60); "
               "jammed disks: N = L² disks"),
    Field("connection", "connection", "springs", "cutoff",
          choices=tuple(_CHOICES[c] for c in KINDS), control="toggle",
          help="lattice neighbours (Z = 4), every pair closer than a + δ (Z fluctuates), "
               "or the contacts of jammed disks"),
    Field("spring", "spring", "spring strength", "inverse",
          choices=tuple(_CHOICES[s] for s in SPRINGS), control="toggle",
          help="stiffness t = 1/r, or t = 1 for every spring"),
    Field("n_seeds", "seeds", "random networks", 10, 1, 20, 1,
          help="number of random networks averaged (the paper: 10)"),
    Field("first_seed", "seed", "first seed", 0, 0, 10**9, 1,
          help="seed of the first network; the others follow consecutively", control="box"),
    Field("pressure", "pressure", "pressure p (ε/d²)", 1e-3, values=PRESSURE_GRID,
          control="selection",
          help="pressure of the jammed disks (their disorder control; jammed disks only)"),
)

_BY_NAME = {f.name: f for f in FIELDS}


def field_of(name: str) -> Field:
    """The :class:`Field` of a :class:`Parameters` attribute."""
    return _BY_NAME[name]


def short_name(value: str) -> str:
    """Short name of a connection rule or spring law, for labels: ``"1/r"``."""
    return _CHOICES[value].short


def pressure_text(pressure: float) -> str:
    """A pressure as labels write it: ``"1e-3"``, ``"3e-4"``.

    Examples
    --------
    >>> pressure_text(0.001), pressure_text(3e-4), pressure_text(0.0125)
    ('1e-3', '3e-4', '1.25e-2')
    """
    mantissa, exponent = f"{pressure:e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}"


@dataclass(frozen=True)
class Parameters:
    """The model parameters the controls set (defaults from :data:`FIELDS`).

    The values are not checked here: the core refuses what it cannot build,
    and :meth:`checked` holds them to the controls' ranges.

    Attributes
    ----------
    delta : float
        Displacement of every node from its lattice site (the lattice's kinds).
    size : int
        Linear grid size L; jammed disks: N = L² disks.
    connection : {"nearest", "cutoff", "jammed"}
        The lattice's connection rules, or the contacts of jammed disks.
    spring : {"inverse", "constant"}
    n_seeds : int
        Number of random networks (or packings) averaged.
    first_seed : int
        Seed of the first network; the others follow consecutively.
    pressure : float
        Pressure of the jammed packings, in epsilon / d^2 (jammed disks only).
    """

    # The order of the fields is that of exported files' metadata: keep it.
    size: int = field_of("size").default
    delta: float = field_of("delta").default
    connection: str = field_of("connection").default
    spring: str = field_of("spring").default
    n_seeds: int = field_of("n_seeds").default
    first_seed: int = field_of("first_seed").default
    pressure: float = field_of("pressure").default

    @property
    def jammed(self) -> bool:
        """Whether these are jammed disks rather than the lattice model."""
        return self.connection == JAMMED

    @property
    def n_disks(self) -> int:
        """Disks of a packing, N = L^2 (one per lattice node of the model)."""
        return self.size * self.size

    def relevant(self) -> "Parameters":
        """The same state with what its kind ignores at a fixed value.

        Jammed disks ignore δ (0.0, a packing is disordered by itself); the
        lattice ignores the pressure (its default). Requests are made of these,
        so a control the kind ignores neither recomputes nor changes a key.

        Examples
        --------
        >>> Parameters(connection="jammed", delta=0.2).relevant().delta
        0.0
        >>> Parameters(pressure=0.01).relevant().pressure
        0.001
        """
        if self.jammed:
            return replace(self, delta=0.0)
        return replace(self, pressure=field_of("pressure").default)

    @property
    def seeds(self) -> tuple:
        """Seeds of the averaged networks."""
        return tuple(range(self.first_seed, self.first_seed + self.n_seeds))

    def model(self) -> dict:
        """Keyword arguments shared by ``build_network`` and ``reduced_dos``."""
        return dict(connection=self.connection, spring=self.spring)

    def checked(self) -> "Parameters":
        """The same parameters with every value held to its field's range and type.

        Raises
        ------
        ValueError
            Naming the first value outside what the controls allow.
        """
        return Parameters(**{f.name: field_of(f.name).check(getattr(self, f.name))
                             for f in fields(self)})


def markdown_table() -> str:
    """The README's table of parameters: URL key, control, default, range, meaning.

    Examples
    --------
    >>> print(markdown_table().splitlines()[2])
    | `delta` | displacement δ / a | 0.3 | a number from 0.0 to 0.5 in steps of 0.01 | distance every node is pushed off its lattice site |
    """
    rows = ["| key | control | default | allowed | meaning |", "| --- | --- | --- | --- | --- |"]
    for f in FIELDS:
        rows.append(f"| `{f.key}` | {f.label} | {f.default} | {f.describe()} | {f.help} |")
    return "\n".join(rows)
