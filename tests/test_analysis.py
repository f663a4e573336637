"""The Boson-peak analysis of a result (bpwidgets.core.analysis)."""

from __future__ import annotations

import numpy as np
import pytest

from bpwidgets import boson_peak
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
