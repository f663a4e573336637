"""The paper's settings and the numbers its figures are read by (no widgets, no matplotlib).

The notebooks under ``notebooks/fig*.ipynb`` rebuild the figures of C. Jiang,
*Microscopic origin of Boson peak in amorphous solids*, from the compute core;
this module computes what they draw and the numbers they state: mean
coordination, the low-frequency ratio to Debye's level, where the excess over
Debye appears and peaks, and where the high-frequency (Van Hove) peak sits, at
the paper's size and at a size where finite-size effects are gone.

Examples
--------
>>> series = paper_series("cutoff", deltas=(0.3,), seeds=2)
>>> (numbers,) = series.numbers()
>>> 0.3 < numbers.peak_omega < 0.8, round(numbers.mean_coordination, 1)
(True, 4.3)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .analysis import BOSON_PEAK_OMEGA_MAX, DOS_MOMENTS, boson_peak_of
from .dos import reduced_dos
from .result import ReducedDOS
from .kpm import seed_vectors
from .network import CONNECTIONS, SPRINGS

__all__ = [
    "LARGE_MOMENTS",
    "LARGE_SEEDS",
    "LARGE_SIZE",
    "LARGE_VECTORS",
    "LOW_OMEGA_WINDOW",
    "PAPER_DELTAS",
    "PAPER_SEEDS",
    "PAPER_SIZE",
    "DOSNumbers",
    "Series",
    "dos_numbers",
    "large_series",
    "numbers_table",
    "paper_series",
    "parse_numbers_table",
]

#: The paper's grid (Fig. 2 caption: "a 60 x 60 grid is used").
PAPER_SIZE = 60
#: The paper's random seeds per delta (Fig. 2 caption: "averaged over ten times").
PAPER_SEEDS = 10
#: The paper's displacements (Fig. 2): the crystal and three disorder levels.
PAPER_DELTAS = (0.0, 0.1, 0.2, 0.3)
#: A size where the finite-size comb is gone: lowest frequency 2 sin(pi / 500) ~ 0.013.
LARGE_SIZE = 500
#: One network of 250 000 nodes self-averages: its KPM estimate has 10^6 samples.
LARGE_SEEDS = 1
#: Chebyshev moments at L = 500: resolution ~ 0.02, fine enough to show the low-omega
#: detail that the L = 60 comb hides. Numbers are read at ``DOS_MOMENTS`` at both sizes.
LARGE_MOMENTS = 256
#: Random vectors of the L = 500 network: a few seconds on two cores.
LARGE_VECTORS = 4
#: Where the low-frequency ratio to Debye's level is read: above the L = 60 comb
#: (2 x 0.105) and below omega = 0.4, where the crystal's own g/omega is within 3 %
#: of its Debye level (dispersion of the lattice).
LOW_OMEGA_WINDOW = (0.2, 0.4)


@dataclass(frozen=True)
class DOSNumbers:
    """What one curve of Fig. 2 or Fig. 4 (left) says, in numbers.

    Attributes
    ----------
    size, delta, connection, spring, n_seeds
        The model and the average.
    mean_coordination : float
        Mean Z over all nodes of all seeds.
    debye_level : float
        The networks' own Debye level 1/(2 pi sigma_eff).
    low_omega_min, low_omega_max : float
        Smallest and largest g/omega divided by the Debye level in ``LOW_OMEGA_WINDOW``.
    peak_omega, peak_excess : float or None
        Boson peak position and relative height above the Debye level; None
        when there is no peak.
    excess_from, excess_to : float or None
        The frequencies between which g/omega is above the Debye level around
        the peak (the shaded region).
    van_hove_omega : float
        Position of the largest g/omega above ``BOSON_PEAK_OMEGA_MAX``.
    """

    size: int
    delta: float
    connection: str
    spring: str
    n_seeds: int
    mean_coordination: float
    debye_level: float
    low_omega_min: float
    low_omega_max: float
    peak_omega: float | None
    peak_excess: float | None
    excess_from: float | None
    excess_to: float | None
    van_hove_omega: float


def dos_numbers(dos: ReducedDOS, *, size, delta, connection, spring, moments=DOS_MOMENTS):
    """Read a reduced DOS: Debye ratio, Boson peak, excess region, Van Hove peak.

    Parameters
    ----------
    dos : ReducedDOS
        Seed-averaged reduced DOS from :func:`bpwidgets.reduced_dos`.
    size, delta, connection, spring
        The model it was computed for (labels, and the finite-size cut-off).
    moments : int, optional
        A DOS with more Chebyshev moments is re-smoothed to this many first, so
        that numbers at different sizes are read through the same kernel.

    Returns
    -------
    DOSNumbers
    """
    if dos.moments.shape[1] > moments:
        dos = dos.smoothed(moments=moments)
    low = (dos.omega >= LOW_OMEGA_WINDOW[0]) & (dos.omega <= LOW_OMEGA_WINDOW[1])
    ratio = dos.mean[low] / dos.debye_level
    high = np.flatnonzero(dos.omega > BOSON_PEAK_OMEGA_MAX)
    peak = boson_peak_of(dos, size)
    return DOSNumbers(
        size=int(size),
        delta=float(delta),
        connection=connection,
        spring=spring,
        n_seeds=len(dos.seeds),
        mean_coordination=float(np.mean(dos.mean_coordination)),
        debye_level=float(dos.debye_level),
        low_omega_min=float(ratio.min()),
        low_omega_max=float(ratio.max()),
        peak_omega=None if peak is None else peak.omega,
        peak_excess=None if peak is None else peak.excess,
        excess_from=None if peak is None else float(peak.region_omega[0]),
        excess_to=None if peak is None else float(peak.region_omega[-1]),
        van_hove_omega=float(dos.omega[high[np.argmax(dos.mean[high])]]),
    )


@dataclass(frozen=True)
class Series:
    """Reduced DOS of one model (connection, spring law) at several displacements.

    Attributes
    ----------
    size : int
    connection, spring : str
    deltas : tuple of float
    results : tuple of ReducedDOS
        One per delta, in the same order.
    """

    size: int
    connection: str
    spring: str
    deltas: tuple
    results: tuple

    def numbers(self) -> tuple:
        """:class:`DOSNumbers` of every delta."""
        return tuple(
            dos_numbers(dos, size=self.size, delta=delta, connection=self.connection,
                        spring=self.spring)
            for delta, dos in zip(self.deltas, self.results)
        )


def paper_series(connection, spring="inverse", *, deltas=PAPER_DELTAS, size=PAPER_SIZE,
                 seeds=PAPER_SEEDS) -> Series:
    """The paper's setting: L = 60, ten seeds, smoothed as the dashboard smooths.

    ``DOS_MOMENTS`` Chebyshev moments (the dashboard's) blur the comb of the
    60 x 60 cell's plane waves; each seed gets the dashboard's random vectors.

    Parameters
    ----------
    connection : {"nearest", "cutoff"}
    spring : {"inverse", "constant"}, optional
    deltas : sequence of float, optional
    size, seeds : int, optional

    Returns
    -------
    Series
    """
    vectors = seed_vectors(size * size, seeds)
    return _series(connection, spring, deltas, size, seeds, DOS_MOMENTS, vectors)


def large_series(connection, spring="inverse", *, deltas=PAPER_DELTAS[1:], size=LARGE_SIZE,
                 seeds=LARGE_SEEDS) -> Series:
    """The same model at L = 500: ``LARGE_MOMENTS`` moments, ``LARGE_VECTORS`` vectors.

    Returns
    -------
    Series
    """
    return _series(connection, spring, deltas, size, seeds, LARGE_MOMENTS, LARGE_VECTORS)


def _series(connection, spring, deltas, size, seeds, moments, vectors):
    if connection not in CONNECTIONS or spring not in SPRINGS:
        raise ValueError(
            f"connection must be one of {CONNECTIONS} and spring one of {SPRINGS}; "
            f"got {connection!r}, {spring!r}"
        )
    deltas = tuple(float(d) for d in deltas)
    results = tuple(
        reduced_dos(size, delta, connection=connection, spring=spring, seeds=seeds,
                    moments=moments, vectors=vectors)
        for delta in deltas
    )
    return Series(size=size, connection=connection, spring=spring, deltas=deltas,
                  results=results)


#: Columns of :func:`numbers_table`: header, attribute, format.
_COLUMNS = (
    ("L", "size", "{:d}"),
    ("delta", "delta", "{:.2f}"),
    ("springs", "connection", "{}"),
    ("t", "spring", "{}"),
    ("seeds", "n_seeds", "{:d}"),
    ("mean Z", "mean_coordination", "{:.3f}"),
    ("Debye level", "debye_level", "{:.4f}"),
    ("low-omega ratio min", "low_omega_min", "{:.3f}"),
    ("low-omega ratio max", "low_omega_max", "{:.3f}"),
    ("peak omega", "peak_omega", "{:.2f}"),
    ("peak excess %", "peak_excess", "{:.1f}"),
    ("excess from", "excess_from", "{:.2f}"),
    ("excess to", "excess_to", "{:.2f}"),
    ("Van Hove omega", "van_hove_omega", "{:.2f}"),
)


def numbers_table(numbers) -> str:
    """A plain-text table of :class:`DOSNumbers`, one row per curve, ``|``-separated.

    ``peak excess %`` is in per cent; ``-`` marks no Boson peak. The notebooks
    print it and the tests read it back with :func:`parse_numbers_table`.
    """
    lines = [" | ".join(header for header, _, _ in _COLUMNS)]
    for row in numbers:
        cells = []
        for _, name, fmt in _COLUMNS:
            value = getattr(row, name)
            if name == "peak_excess" and value is not None:
                value = 100 * value
            cells.append("-" if value is None else fmt.format(value))
        lines.append(" | ".join(cells))
    return "\n".join(lines)


def parse_numbers_table(text: str) -> list:
    """Rows of a table printed by :func:`numbers_table`, as dicts (numbers as floats).

    Lines that are not rows of such a table are skipped, so ``text`` may be a
    whole notebook output.
    """
    headers = [header for header, _, _ in _COLUMNS]
    rows = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) != len(headers) or cells == headers:
            continue
        row = {}
        for header, cell in zip(headers, cells):
            if cell == "-":
                row[header] = None
            else:
                try:
                    row[header] = float(cell)
                except ValueError:
                    row[header] = cell
        rows.append(row)
    return rows
