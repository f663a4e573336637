"""The Boson-peak analysis of a result (bpwidgets.core.analysis)."""

from __future__ import annotations

import numpy as np
import pytest

from bpwidgets import boson_peak, boson_peak_of
from bpwidgets.core.analysis import lowest_frequency


def test_boson_peak_of_a_synthetic_curve():
    omega = np.linspace(0, 3, 301)
    level = 0.2
    curve = level * (1 + 0.3 * np.exp(-((omega - 0.5) / 0.2) ** 2)) + 0.02 * omega**2
    peak = boson_peak(omega, curve, level)
    assert peak.omega == pytest.approx(0.5, abs=0.05)
    assert peak.excess == pytest.approx(0.325, abs=0.01)
    assert np.all(peak.region_upper > peak.region_lower)
    assert "Boson peak: ω = 0.5" in peak.label
    # A curve rising all the way to omega_max (the crystal's) has no Boson peak.
    assert boson_peak(omega, level * (1 + omega**2), level) is None
    # Nor does a bump inside the finite-size comb.
    assert boson_peak(omega, curve, level, omega_min=0.8) is None
    assert lowest_frequency(60) == pytest.approx(0.105, abs=1e-3)


# -- errors ----------------------------------------------------------------------------------

#: How far a standard error from one sample of seeds may be from the scatter of independent
#: groups of seeds: a factor this large either way (eight groups estimate a spread to ~25 %).
ERROR_CALIBRATION_FACTOR = 1.6


def test_the_mean_curve_error_is_the_seed_scatter_over_sqrt_n():
    from bpwidgets import reduced_dos

    result = reduced_dos(24, 0.3, connection="cutoff", spring="inverse", seeds=5, moments=64)
    per_seed = result.per_seed
    np.testing.assert_allclose(result.mean_error, per_seed.std(axis=0, ddof=1) / np.sqrt(5))
    assert result.debye_level_error == pytest.approx(np.std(result.debye_levels, ddof=1) / np.sqrt(5))
    single = reduced_dos(30, 0.3, connection="cutoff", spring="inverse", seeds=1, moments=64)
    assert np.all(np.isnan(single.mean_error)) and np.isnan(single.debye_level_error)
    peak = boson_peak_of(single, 30)
    assert np.isnan(peak.omega_error) and np.isnan(peak.excess_error)
    assert " ± " not in peak.label  # not estimated, not shown


def test_peak_errors_match_the_scatter_of_independent_groups_of_seeds():
    """The jackknife errors of one group of seeds predict how far other groups fall."""
    from bpwidgets import reduced_dos

    groups = [reduced_dos(40, 0.3, connection="cutoff", spring="inverse", moments=64,
                          seeds=range(8 * g, 8 * g + 8)) for g in range(8)]
    peaks = [boson_peak_of(dos, 40) for dos in groups]
    assert all(p is not None for p in peaks)
    for value, error in (("excess", "excess_error"), ("omega", "omega_error")):
        scatter = np.std([getattr(p, value) for p in peaks], ddof=1)
        predicted = np.mean([getattr(p, error) for p in peaks])
        assert predicted / ERROR_CALIBRATION_FACTOR < scatter < predicted * ERROR_CALIBRATION_FACTOR


def test_labels_read_value_and_error():
    from dataclasses import replace

    omega = np.linspace(0, 3, 301)
    curve = 0.2 * (1 + 0.21 * np.exp(-((omega - 0.46) / 0.2) ** 2))
    peak = replace(boson_peak(omega, curve, 0.2), omega_error=0.0213, excess_error=0.018)
    assert peak.label == "Boson peak: ω = 0.46 ± 0.02, 21 ± 2 % above Debye"
    assert replace(peak, omega_error=0.001).position_text == "ω = 0.46 ± 0.01"  # never ± 0.00
    assert boson_peak(omega, curve, 0.2).label == "Boson peak: ω = 0.46, 21 % above Debye"
