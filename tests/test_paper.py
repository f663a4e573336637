"""The numbers the figure notebooks state, against the physics (docs/physics.md and the paper).

At the paper's size (L = 60, ten seeds) every delta and both connection rules;
at L = 500, where the finite-size comb is gone, the strongest disorder.
"""

from __future__ import annotations


import numpy as np
import pytest

from bpwidgets import CRYSTAL_DEBYE_LEVEL, reduced_dos
from bpwidgets.core.analysis import DOS_MOMENTS
from bpwidgets.core.paper import (
    LOW_OMEGA_WINDOW,
    PAPER_DELTAS,
    dos_numbers,
    large_series,
    numbers_table,
    paper_series,
    parse_numbers_table,
)

#: Debye's law holds when g/omega stays this close to the Debye level at low omega
#: (the crystal itself rises 3 % by omega = 0.4: lattice dispersion).
DEBYE_TOLERANCE = 0.05
#: A Boson peak worth the name: at least this far above the Debye level.
MIN_BOSON_EXCESS = 0.10
#: Where the paper puts the Boson peak (omega = 0.5), with room for the kernel's resolution.
BOSON_PEAK_RANGE = (0.3, 0.8)
#: Van Hove peak of the square lattice with t = 1: omega = 2 (docs/physics.md, "Exact results").
VAN_HOVE_RANGE = (1.8, 2.2)
#: Mean Z of the cutoff networks from an independent dense computation
#: (docs/physics.md, "Choices the paper leaves open").
REFERENCE_MEAN_Z = {0.1: 3.21, 0.2: 3.75, 0.3: 4.31}
MEAN_Z_TOLERANCE = 0.01


@pytest.fixture(scope="module")
def paper():
    """Numbers of Fig. 2 (both panels) and Fig. 4 (left), keyed by (connection, spring, delta)."""
    rows = {}
    for connection, spring in (("nearest", "inverse"), ("cutoff", "inverse"),
                               ("cutoff", "constant")):
        for numbers in paper_series(connection, spring).numbers():
            rows[(connection, spring, numbers.delta)] = numbers
    return rows


@pytest.fixture(scope="module")
def large():
    """The same at L = 500, for delta = 0.3."""
    nearest = large_series("nearest", deltas=(0.3,))
    cutoff = large_series("cutoff", deltas=(0.3,))
    return {"nearest": nearest.numbers()[0], "cutoff": cutoff.numbers()[0],
            "series": (nearest, cutoff)}


def _debye_law_holds(numbers):
    return (abs(numbers.low_omega_min - 1) < DEBYE_TOLERANCE
            and abs(numbers.low_omega_max - 1) < DEBYE_TOLERANCE)


def _has_boson_peak(numbers):
    return (numbers.peak_omega is not None and numbers.peak_excess > MIN_BOSON_EXCESS
            and BOSON_PEAK_RANGE[0] < numbers.peak_omega < BOSON_PEAK_RANGE[1])


@pytest.mark.parametrize("delta", PAPER_DELTAS)
def test_nearest_neighbours_obey_debye_and_have_no_boson_peak(paper, delta):
    numbers = paper[("nearest", "inverse", delta)]
    assert numbers.mean_coordination == 4.0
    assert _debye_law_holds(numbers)
    assert numbers.peak_omega is None
    assert VAN_HOVE_RANGE[0] < numbers.van_hove_omega < VAN_HOVE_RANGE[1]


@pytest.mark.parametrize("spring", ["inverse", "constant"])
@pytest.mark.parametrize("delta", PAPER_DELTAS[1:])
def test_cutoff_networks_have_a_boson_peak_below_omega_one(paper, spring, delta):
    numbers = paper[("cutoff", spring, delta)]
    assert _has_boson_peak(numbers)
    assert numbers.low_omega_min > 1 + DEBYE_TOLERANCE
    # The excess lies in "roughly omega in [0, 1]" (paper, Sec. III).
    assert 0.0 <= numbers.excess_from < numbers.peak_omega < numbers.excess_to < 1.2
    # The measured level is the networks' own, far above the crystal's at small delta.
    assert numbers.debye_level > CRYSTAL_DEBYE_LEVEL


def test_the_crystal_is_the_same_in_both_rules_and_has_no_peak(paper):
    nearest = paper[("nearest", "inverse", 0.0)]
    cutoff = paper[("cutoff", "inverse", 0.0)]
    assert cutoff.mean_coordination == 4.0
    assert cutoff.peak_omega is None
    assert cutoff.debye_level == pytest.approx(CRYSTAL_DEBYE_LEVEL, rel=1e-6)
    assert cutoff.low_omega_max == pytest.approx(nearest.low_omega_max, rel=1e-9)


@pytest.mark.parametrize("delta", PAPER_DELTAS[1:])
def test_mean_coordination_matches_the_reference_and_is_below_four_at_small_delta(paper, delta):
    numbers = paper[("cutoff", "inverse", delta)]
    assert numbers.mean_coordination == pytest.approx(REFERENCE_MEAN_Z[delta],
                                                      abs=MEAN_Z_TOLERANCE)
    assert (numbers.mean_coordination < 4) == (delta < 0.25)
    # Z depends on positions only: the spring law cannot change it.
    assert paper[("cutoff", "constant", delta)].mean_coordination == numbers.mean_coordination


@pytest.mark.parametrize("delta", PAPER_DELTAS[1:])
def test_spring_strength_changes_the_boson_peak_very_little(paper, delta):
    inverse = paper[("cutoff", "inverse", delta)]
    constant = paper[("cutoff", "constant", delta)]
    assert abs(constant.peak_omega - inverse.peak_omega) < 0.02
    assert abs(constant.peak_excess - inverse.peak_excess) < 0.01


def test_cutoff_high_frequency_peak_survives_but_moves_up_with_delta(paper):
    """Not in the paper's text: the cutoff networks' Van Hove peak shifts with delta."""
    positions = [paper[("cutoff", "inverse", d)].van_hove_omega for d in PAPER_DELTAS[1:]]
    assert VAN_HOVE_RANGE[0] < positions[0] < VAN_HOVE_RANGE[1]
    assert positions[0] < positions[1] < positions[2]
    assert positions[2] > VAN_HOVE_RANGE[1]


def test_same_conclusions_at_l_500(paper, large):
    nearest, cutoff = large["nearest"], large["cutoff"]
    assert nearest.size == cutoff.size == 500
    assert _debye_law_holds(nearest) and nearest.peak_omega is None
    assert VAN_HOVE_RANGE[0] < nearest.van_hove_omega < VAN_HOVE_RANGE[1]
    assert _has_boson_peak(cutoff)
    assert cutoff.mean_coordination == pytest.approx(REFERENCE_MEAN_Z[0.3], abs=MEAN_Z_TOLERANCE)
    small = paper[("cutoff", "inverse", 0.3)]
    assert abs(cutoff.peak_omega - small.peak_omega) < 0.1
    assert cutoff.debye_level == pytest.approx(small.debye_level, rel=0.02)


def test_large_series_are_drawn_finer_but_read_through_the_dashboard_kernel(large):
    nearest, cutoff = large["series"]
    dos = cutoff.results[0]
    assert dos.moments.shape[1] > DOS_MOMENTS
    read = dos_numbers(dos.smoothed(moments=DOS_MOMENTS), size=500, delta=0.3,
                       connection="cutoff", spring="inverse")
    assert read == large["cutoff"]


def test_low_omega_ratio_reads_the_window():
    dos = reduced_dos(20, 0.0, connection="nearest", spring="constant", seeds=1,
                      moments=DOS_MOMENTS, omega=np.linspace(0.0, 2.0, 201))
    numbers = dos_numbers(dos, size=20, delta=0.0, connection="nearest", spring="constant")
    inside = (dos.omega >= LOW_OMEGA_WINDOW[0]) & (dos.omega <= LOW_OMEGA_WINDOW[1])
    ratio = dos.mean[inside] / dos.debye_level
    assert numbers.low_omega_min == ratio.min()
    assert numbers.low_omega_max == ratio.max()


def test_table_round_trip(paper):
    rows = [paper[("cutoff", "inverse", d)] for d in PAPER_DELTAS]
    text = "some output\n" + numbers_table(rows) + "\nmore output"
    parsed = parse_numbers_table(text)
    assert len(parsed) == len(rows)
    for row, numbers in zip(parsed, rows):
        assert row["delta"] == pytest.approx(numbers.delta)
        assert row["mean Z"] == pytest.approx(numbers.mean_coordination, abs=5e-4)
        if numbers.peak_omega is None:
            assert row["peak omega"] is None and row["peak excess %"] is None
        else:
            assert row["peak excess %"] == pytest.approx(100 * numbers.peak_excess, abs=0.05)


def test_bad_model_is_refused():
    with pytest.raises(ValueError, match="connection"):
        paper_series("diagonal")
