"""Packings and their contact networks' spectra in the result store (bpwidgets/core/packings.py)."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pytest

import bpwidgets.core.packings as packings_module
from bpwidgets import jammed_packing, reduced_dos_of
from bpwidgets.core.jamming import DIAMETERS, JammedPacking
from bpwidgets.core.packings import (
    PACKING_VERSION,
    contact_dos_of,
    contact_networks,
    disk_radii,
    jammed_packings,
    stored_contact_spectra,
    stored_packing,
)
from bpwidgets.core.store import ResultStore, result_key

#: Small and quick: 100 disks far from jamming take about 0.1 s.
DISKS, PRESSURE = 100, 1e-2
#: Moments and random vectors of the spectra here: enough to compare, cheap.
MOMENTS, VECTORS = 32, 4


def _refuse(*args, **kwargs):
    raise AssertionError("made again what the store holds")


def _same_packing(a: JammedPacking, b: JammedPacking):
    for f in fields(JammedPacking):
        first, second = getattr(a, f.name), getattr(b, f.name)
        if isinstance(first, np.ndarray):
            assert first.dtype == second.dtype and first.shape == second.shape, f.name
            assert first.tobytes() == second.tobytes(), f.name  # bit for bit
            assert not second.flags.writeable, f.name
        else:
            assert type(first) is type(second) and first == second, f.name


def test_a_stored_packing_equals_the_made_one_bit_for_bit(tmp_path, monkeypatch):
    assert stored_packing(DISKS, pressure=PRESSURE, seed=2, store=tmp_path) is None
    made = jammed_packing(DISKS, pressure=PRESSURE, seed=2)
    seen = []
    (kept,) = jammed_packings(DISKS, pressure=PRESSURE, seeds=[2], store=tmp_path,
                              progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 1)]
    _same_packing(made, kept)
    _same_packing(made, stored_packing(DISKS, pressure=PRESSURE, seed=2, store=tmp_path))
    # A second visit makes nothing.
    monkeypatch.setattr(packings_module, "jammed_packing", _refuse)
    (again,) = jammed_packings(DISKS, pressure=PRESSURE, seeds=[2], store=tmp_path)
    _same_packing(made, again)
    # Another pressure or seed is another packing.
    assert stored_packing(DISKS, pressure=1e-3, seed=2, store=tmp_path) is None
    assert stored_packing(DISKS, pressure=PRESSURE, seed=3, store=tmp_path) is None


def test_an_entry_of_another_form_is_not_a_packing(tmp_path):
    store = ResultStore(tmp_path)
    key = result_key({"kind": "jammed packing", "disks": DISKS, "pressure": PRESSURE,
                      "seed": 0, "packing": PACKING_VERSION})
    store.put(key, {"positions": np.zeros((DISKS, 2))})  # an older layout: fields missing
    assert stored_packing(DISKS, pressure=PRESSURE, seed=0, store=store) is None
    (made,) = jammed_packings(DISKS, pressure=PRESSURE, seeds=[0], store=store)
    _same_packing(jammed_packing(DISKS, pressure=PRESSURE, seed=0), made)


def test_contact_networks_are_the_packings_networks():
    networks = contact_networks(DISKS, pressure=PRESSURE, spring="constant", seeds=[0, 1],
                                store=False)
    for seed, network in zip((0, 1), networks):
        expected = jammed_packing(DISKS, pressure=PRESSURE, seed=seed).network("constant")
        for name in ("positions", "bonds", "bond_vectors", "stiffness", "coordination",
                     "rattlers"):
            np.testing.assert_array_equal(getattr(network, name), getattr(expected, name))
        assert (network.seed, network.spring, network.box) == (seed, "constant", expected.box)
    with pytest.raises(ValueError, match="spring"):
        contact_networks(DISKS, pressure=PRESSURE, spring="contact", seeds=[0], store=False)


def test_disk_radii_are_the_packings_radii_in_network_units():
    packing = jammed_packing(DISKS, pressure=PRESSURE, seed=0)
    network = packing.network()
    np.testing.assert_allclose(disk_radii(network), packing.radii / network.length_unit,
                               rtol=1e-12)
    assert set(np.round(packing.radii * 2, 9)) == set(DIAMETERS)


def test_contact_spectra_are_stored_and_read_back_equal(tmp_path, monkeypatch):
    networks = contact_networks(DISKS, pressure=PRESSURE, spring="inverse", seeds=[0, 1],
                                store=tmp_path)
    direct = reduced_dos_of(networks, moments=MOMENTS, vectors=VECTORS)
    assert stored_contact_spectra(DISKS, pressure=PRESSURE, spring="inverse", seeds=[0, 1],
                                  moments=MOMENTS, vectors=VECTORS, store=tmp_path) is None
    first = contact_dos_of(networks, moments=MOMENTS, vectors=VECTORS, store=tmp_path)
    np.testing.assert_array_equal(first.mean, direct.mean)
    np.testing.assert_array_equal(first.per_seed, direct.per_seed)
    assert first.debye_level == direct.debye_level
    spectra = stored_contact_spectra(DISKS, pressure=PRESSURE, spring="inverse", seeds=[0, 1],
                                     moments=MOMENTS, vectors=VECTORS, store=tmp_path)
    assert [s.seed for s in spectra] == [0, 1]
    # Read back, not computed: the core's reduced DOS is not called again.
    monkeypatch.setattr(packings_module, "reduced_dos_of", _refuse)
    again = contact_dos_of(networks, moments=MOMENTS, vectors=VECTORS, store=tmp_path)
    np.testing.assert_array_equal(again.mean, direct.mean)
    # Other options, another spring law or pressure are not served by these entries.
    for changed in (dict(moments=2 * MOMENTS), dict(spring="constant"),
                    dict(pressure=1e-3)):
        asked = dict(pressure=PRESSURE, spring="inverse", seeds=[0, 1], moments=MOMENTS,
                     vectors=VECTORS, store=tmp_path) | changed
        assert stored_contact_spectra(DISKS, **asked) is None, changed


def test_a_network_changed_after_it_was_made_is_never_stored_under_its_name(tmp_path):
    store = ResultStore(tmp_path)
    (network,) = contact_networks(DISKS, pressure=PRESSURE, spring="inverse", seeds=[0],
                                  store=store)
    entries = len(store)  # the packing
    stiffer = replace(network, stiffness=2.0 * network.stiffness)
    changed = contact_dos_of([stiffer], moments=MOMENTS, vectors=VECTORS, store=store)
    assert len(store) == entries
    # A plain packing's network (not made by contact_networks) is not named either.
    plain = jammed_packing(DISKS, pressure=PRESSURE, seed=0).network("inverse")
    contact_dos_of([plain], moments=MOMENTS, vectors=VECTORS, store=store)
    assert len(store) == entries
    # The named one is stored, and the changed one's result is its own.
    named = contact_dos_of([network], moments=MOMENTS, vectors=VECTORS, store=store)
    assert len(store) == entries + 1
    assert not np.allclose(changed.debye_level, named.debye_level)
