"""The Boson-peak analysis of a result (bpwidgets.core.analysis)."""

from __future__ import annotations

import numpy as np
import pytest

from bpwidgets import boson_peak, boson_peak_of, reduced_dos_of
from bpwidgets.core.analysis import DOS_MOMENTS, FINITE_SIZE_MODES, lowest_frequency


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
    # One network: the error is that of its trace estimate, from its random vectors.
    single = reduced_dos(60, 0.3, connection="cutoff", spring="inverse", seeds=1, moments=64,
                         vectors=16)  # each vector its own group
    assert np.isnan(single.debye_level_error)
    np.testing.assert_array_equal(single.mean_error, single.stochastic_error)
    curves = single.group_curves()[0]
    # The groups' dots are BLAS sums in single precision, the mean's pairwise ones.
    np.testing.assert_allclose(curves.mean(axis=0), single.mean, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(single.mean_error, curves.std(axis=0, ddof=1) / np.sqrt(len(curves)))
    peak = boson_peak_of(single, 60)
    assert np.isfinite(peak.omega_error) and np.isfinite(peak.excess_error)
    by_default = reduced_dos(30, 0.3, connection="cutoff", spring="inverse", seeds=1)
    assert np.all(np.isfinite(by_default.mean_error))  # 334 vectors in 32 groups
    # One network and one vector: nothing to estimate from, nothing shown.
    lone = reduced_dos(60, 0.3, connection="cutoff", spring="inverse", seeds=1, moments=64,
                       vectors=1)
    assert np.all(np.isnan(lone.mean_error)) and lone.group_curves() is None
    peak = boson_peak_of(lone, 60)
    assert np.isnan(peak.omega_error) and " ± " not in peak.label


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


def _crystal_exact_curve(size, scale, n_moments, omega):
    """The L x L crystal's reduced DOS from its exact eigenvalues, through the same kernel."""
    from bpwidgets.core.kpm import _reconstruct

    k = np.pi * np.arange(size) / size
    eigenvalues = 4.0 * (np.sin(k)[:, None] ** 2 + np.sin(k)[None, :] ** 2).ravel()
    x = 2.0 * np.sort(eigenvalues)[1:] / scale - 1.0  # the uniform zero mode is left out
    moments = np.cos(np.arange(n_moments)[:, None] * np.arccos(np.clip(x, -1, 1))).sum(axis=1)
    return _reconstruct(moments[None, :] / size**2, scale, omega)[0]


@pytest.mark.parametrize("size, vectors", [(200, 8), (500, None)])
def test_one_networks_error_covers_its_distance_from_the_exact_spectrum(size, vectors):
    """The crystal, one seed: the stochastic error against the exact eigenvalues.

    At L = 500 the default vectors leave the curve a few per cent off near ω = 0.44:
    the reported error must say how far, not hide it.
    """
    from bpwidgets import reduced_dos

    result = reduced_dos(size, 0.0, connection="nearest", spring="constant", seeds=1,
                         moments=128, vectors=vectors)
    exact = _crystal_exact_curve(size, result.scale, 128, result.omega)
    inside = (result.omega > 0.2) & (result.omega < 2.6)
    z = (result.mean - exact)[inside] / result.mean_error[inside]
    assert np.all(np.isfinite(z))
    assert 0.25 < np.mean(z**2) < 4.0  # the deviations are as large as the errors say
    assert np.mean(np.abs(z) < 3) > 0.95


def test_the_peak_of_a_network_off_the_lattice_looks_above_its_own_cells_lowest_frequency():
    from bpwidgets import build_network, jammed_packing
    from bpwidgets.core.analysis import cell_side

    lattice = build_network(20, 0.3, connection="cutoff", spring="inverse", seed=0)
    dos = reduced_dos_of([lattice], moments=DOS_MOMENTS)
    by_network, by_size = boson_peak_of(dos, lattice), boson_peak_of(dos, 20)
    assert (by_network.omega, by_network.excess) == (by_size.omega, by_size.excess)
    contact = jammed_packing(400, pressure=1e-2, seed=0).network()
    assert cell_side(contact) == pytest.approx(20.0)  # sqrt(N), not N
    glass = reduced_dos_of([contact], moments=DOS_MOMENTS)
    by_network, by_side = boson_peak_of(glass, contact), boson_peak_of(glass, 20.0)
    assert by_network is not None and by_network.omega == by_side.omega
    assert by_network.omega > FINITE_SIZE_MODES * lowest_frequency(20.0)
    packing = jammed_packing(400, pressure=1e-2, seed=0)  # its box is in diameters, not spacings
    for bad in (1, 0.5, "20", None, True, packing):
        with pytest.raises(ValueError, match="cell's side"):
            cell_side(bad)


def test_the_cells_lowest_frequency_may_be_given_in_place_of_its_side():
    # A packing's Hessian has no lattice side: its slowest plane wave is given instead.
    from bpwidgets import reduced_dos

    dos = reduced_dos(30, 0.3, connection="cutoff", spring="inverse", seeds=3,
                      moments=DOS_MOMENTS)
    by_side = boson_peak_of(dos, 30)
    by_lowest = boson_peak_of(dos, lowest=lowest_frequency(30))
    assert by_side is not None
    assert (by_lowest.omega, by_lowest.excess, by_lowest.omega_error) == (
        by_side.omega, by_side.excess, by_side.omega_error)
    # Nothing below FINITE_SIZE_MODES times the lowest frequency is taken as the peak.
    cut = 1.01 * by_side.omega / FINITE_SIZE_MODES
    above = boson_peak_of(dos, lowest=cut)
    assert above is None or above.omega >= FINITE_SIZE_MODES * cut
    for size, lowest, message in ((30, 0.2, "not both"), (None, None, "not neither"),
                                  (None, 0.0, "positive"), (None, "0.2", "positive"),
                                  (None, True, "positive")):
        with pytest.raises(ValueError, match=message):
            boson_peak_of(dos, size, lowest=lowest)


def test_a_packings_slowest_plane_wave_sets_the_hessians_cut():
    from bpwidgets import elastic_moduli, jammed_packing, vibrational_dos

    packing = jammed_packing(256, pressure=1e-2, seed=1)
    moduli = elastic_moduli(packing)
    speeds = moduli.sound_speeds(np.array([0.0, np.pi / 2]))  # along x, along y
    assert moduli.lowest_frequency == pytest.approx(2 * np.pi / moduli.box * speeds.min())
    dos = vibrational_dos([packing], moments=128)
    peak = boson_peak_of(dos, lowest=moduli.lowest_frequency)
    assert peak is None or peak.omega >= FINITE_SIZE_MODES * moduli.lowest_frequency
