"""Jammed packings and their contact networks' spectra, kept in the result store.

A packing of a few thousand disks takes seconds to make (:func:`jammed_packing`),
far longer than the spectrum of its contact network. Both are pure functions of
their inputs, so both are kept in the result store (:mod:`bpwidgets.core.store`):

* a packing under (disks, pressure, seed, :data:`PACKING_VERSION`), as the
  arrays and numbers that rebuild the :class:`JammedPacking` exactly
  (:func:`stored_packing`, :func:`jammed_packings`);
* the part of a reduced DOS of a contact network (a
  :class:`~bpwidgets.core.result.NetworkSpectrum`) under those and its spring
  law, method and options, for the networks :func:`contact_networks` made from
  such packings alone (:func:`contact_dos_of`, :func:`stored_contact_spectra`).
  A network made or changed by other means (``dataclasses.replace``, another
  rattler rule) is computed and never kept under the packing's name.

The dashboard's pipeline (:mod:`bpwidgets.session.pipeline`) and
``python -m bpwidgets.warm`` read and fill the store through these, so a second
visit to a pressure costs no packing at all.

Packings are made one after the other in the calling thread: FIRE's steps are
small array operations that hold the GIL, and two threads made two packings of
3600 disks more slowly than one thread did (17.0 s against 14.0 s on 2 cores,
measured).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import fields, replace

import numpy as np

from .dos import _stored as _stored_part, reduced_dos_of
from .jamming import DIAMETERS, ContactNetwork, JammedPacking, jammed_packing
from .network import _check_choice, _check_seed, _check_seed_list
from .result import NetworkSpectrum, ReducedDOS
from .store import open_store, result_key

__all__ = [
    "CONTACT_NETWORK_SPRINGS",
    "PACKING_VERSION",
    "contact_dos_of",
    "contact_networks",
    "disk_radii",
    "held_counts",
    "jammed_packings",
    "keep_contact_spectrum",
    "stored_contact_spectra",
    "stored_packing",
]

#: Version of the packing generator's output: keys include it, so packings made by an
#: older generator (another FIRE, another tolerance) are never read again. Bump it
#: whenever ``jammed_packing`` gives other positions for the same inputs.
PACKING_VERSION = 1

#: Spring laws of the contact networks named in the store: those of the model.
CONTACT_NETWORK_SPRINGS = ("inverse", "constant")

#: Every field that rebuilds a packing, as :class:`JammedPacking` declares them.
_PACKING_FIELDS = tuple(f.name for f in fields(JammedPacking))

#: The contact networks :func:`contact_networks` made from stored or made packings, with
#: the pressure asked for (the packing's own differs from it by up to its tolerance).
_named = weakref.WeakKeyDictionary()
_named_lock = threading.Lock()


def _packing_key(n, pressure, seed) -> str:
    return result_key({"kind": "jammed packing", "disks": int(n), "pressure": float(pressure),
                       "seed": int(seed), "packing": PACKING_VERSION})


def stored_packing(n, *, pressure, seed, store=None):
    """The stored packing of ``jammed_packing(n, pressure=pressure, seed=seed)``, or None.

    Reads the result store alone; nothing is made.

    Parameters
    ----------
    n : int
    pressure : float
    seed : int
        As for :func:`~bpwidgets.jammed_packing`.
    store : None, False, str, Path or ResultStore, optional
        The result store (:func:`~bpwidgets.core.store.open_store`).

    Returns
    -------
    JammedPacking or None
        Equal, array for array and bit for bit, to the packing made.

    Examples
    --------
    >>> import tempfile
    >>> where = tempfile.mkdtemp()
    >>> stored_packing(64, pressure=1e-2, seed=0, store=where) is None
    True
    >>> made, = jammed_packings(64, pressure=1e-2, seeds=[0], store=where)
    >>> again = stored_packing(64, pressure=1e-2, seed=0, store=where)
    >>> bool((again.positions == made.positions).all()), again.pressure == made.pressure
    (True, True)
    """
    store = open_store(store)
    if store is None:
        return None
    return _rebuilt(store.get(_packing_key(n, pressure, seed)))


def _rebuilt(value):
    """The packing a stored value holds, or None when it is not one (another version)."""
    if not isinstance(value, dict) or set(value) != set(_PACKING_FIELDS):
        return None
    arrays = {}
    for name, item in value.items():
        if isinstance(item, np.ndarray):
            item = item.copy()
            item.flags.writeable = False
        arrays[name] = item
    return JammedPacking(**arrays)


def _kept(packing) -> dict:
    return {name: getattr(packing, name) for name in _PACKING_FIELDS}


def jammed_packings(n, *, pressure, seeds, store=None, progress=None) -> list:
    """One jammed packing per seed: read from the result store, or made and kept there.

    Parameters
    ----------
    n : int
        Disks per packing.
    pressure : float
        As for :func:`~bpwidgets.jammed_packing`.
    seeds : iterable of int
        At least one, each a non-negative integer, none twice.
    store : None, False, str, Path or ResultStore, optional
        The result store; ``False`` makes every packing and keeps none.
    progress : callable, optional
        ``progress(done, total)`` after each packing, read or made.

    Returns
    -------
    list of JammedPacking
        Packing ``k`` equals ``jammed_packing(n, pressure=pressure, seed=seeds[k])``.

    Raises
    ------
    ValueError
        As :func:`~bpwidgets.jammed_packing` does, or for bad seeds.

    Examples
    --------
    >>> [p.seed for p in jammed_packings(64, pressure=1e-2, seeds=[3, 4], store=False)]
    [3, 4]
    """
    seeds = _check_seed_list(seeds)
    store = open_store(store)
    packings = []
    for done, seed in enumerate(seeds, start=1):
        packing = None if store is None else _rebuilt(store.get(_packing_key(n, pressure,
                                                                             seed)))
        if packing is None:
            packing = jammed_packing(n, pressure=pressure, seed=seed)
            if store is not None:
                store.put(_packing_key(n, pressure, seed), _kept(packing))
        packings.append(packing)
        if progress is not None:
            progress(done, len(seeds))
    return packings


def contact_networks(n, *, pressure, spring, seeds, store=None, progress=None) -> list:
    """The contact networks of the seeds' packings, named in the store by their inputs.

    Parameters
    ----------
    n, pressure, seeds, store, progress
        As for :func:`jammed_packings`.
    spring : {"inverse", "constant"}
        The spring law, as for the model (:meth:`JammedPacking.network`).

    Returns
    -------
    list of ContactNetwork
        ``jammed_packing(n, pressure=pressure, seed=s).network(spring)`` for each
        seed: rattlers are nodes without springs. Their spectra are kept in the
        store by :func:`contact_dos_of`.

    Examples
    --------
    >>> nets = contact_networks(64, pressure=1e-2, spring="inverse", seeds=[0, 1], store=False)
    >>> [net.seed for net in nets], nets[0].connection, nets[0].n_nodes
    ([0, 1], 'contact', 64)
    """
    spring = _check_choice("spring", spring, CONTACT_NETWORK_SPRINGS)
    packings = jammed_packings(n, pressure=pressure, seeds=seeds, store=store,
                               progress=progress)
    networks = [packing.network(spring) for packing in packings]
    with _named_lock:
        for network in networks:
            _named[network] = float(pressure)
    return networks


def disk_radii(network: ContactNetwork) -> np.ndarray:
    """Radii of a contact network's disks, in the network's length unit.

    Disks ``0 .. N // 2 - 1`` have the small diameter, the others the large one
    (:class:`JammedPacking`); the network's lengths are in units of the mean
    spacing, ``length_unit`` small diameters.

    Examples
    --------
    >>> net = contact_networks(64, pressure=1e-2, spring="inverse", seeds=[0], store=False)[0]
    >>> radii = disk_radii(net)
    >>> radii.shape, round(float(radii[-1] / radii[0]), 6)
    ((64,), 1.4)
    """
    n = network.n_nodes
    diameters = np.where(np.arange(n) < n // 2, DIAMETERS[0], DIAMETERS[1])
    return diameters / (2.0 * network.length_unit)


def held_counts(spectrum) -> np.ndarray:
    """A contact network's part's coordination counts over its held disks: rattlers left out.

    ``counts[z]`` disks of the part's network have ``z`` springs. A rattler is a
    node without springs, and every held disk has at least three contacts, so
    the rattlers are the nodes of Z = 0: their count is set to 0 here, and
    ``spectrum.n_nodes - held_counts(spectrum).sum()`` is the number of rattlers.

    Examples
    --------
    >>> nets = contact_networks(64, pressure=1e-3, spring="inverse", seeds=[0], store=False)
    >>> (part,) = contact_dos_of(nets, moments=32, vectors=4, store=False).spectra
    >>> counts = held_counts(part)
    >>> int(counts[0]), int(part.n_nodes - counts.sum()) == len(nets[0].rattlers)
    (0, True)
    """
    counts = np.array(spectrum.coordination_counts)
    counts[:1] = 0
    return counts


def _inputs(n, pressure, spring, seed, method, moments, vectors) -> dict:
    """Every input a contact network's part depends on (the store's key, and its check)."""
    inputs = {"kind": "contact spectrum", "disks": int(n), "pressure": float(pressure),
              "spring": spring, "seed": int(seed), "rattlers": False, "method": method,
              "moments": int(moments), "packing": PACKING_VERSION}
    if method == "kpm":
        inputs["vectors"] = int(vectors)
    return inputs


def _stored(store, inputs, network=None):
    """The stored part of these inputs, computed from ``network`` when given, or None.

    As a lattice network's part is looked up (``core/dos.py``), under the key of
    its own inputs, which name it a contact network's part.
    """
    return _stored_part(store, inputs, network, key=result_key(inputs))


def _name_of(network):
    """The pressure asked for if :func:`contact_networks` made ``network``, else None."""
    with _named_lock:
        return _named.get(network)


def stored_contact_spectra(n, *, pressure, spring, seeds, moments, vectors, method="kpm",
                           store=None):
    """Every seed's stored part of a contact networks' reduced DOS, or None unless all are.

    Reads the store alone: no packing is made, no spectrum computed.

    Parameters
    ----------
    n, pressure, spring, seeds
        As for :func:`contact_networks`.
    moments, vectors, method
        As for :func:`~bpwidgets.reduced_dos_of` (``vectors`` per network).
    store : None, False, str, Path or ResultStore, optional

    Returns
    -------
    tuple of NetworkSpectrum, or None
    """
    spring = _check_choice("spring", spring, CONTACT_NETWORK_SPRINGS)
    seeds = _check_seed_list(seeds)
    store = open_store(store)
    if store is None:
        return None
    spectra = []
    for seed in seeds:
        spectrum = _stored(store, _inputs(n, pressure, spring, seed, method, moments, vectors))
        if spectrum is None:
            return None
        spectra.append(spectrum)
    return tuple(spectra)


def keep_contact_spectrum(spectrum, n, *, pressure, spring, moments, vectors, method="kpm",
                          store=None) -> bool:
    """Keep a contact network's part computed elsewhere where :func:`stored_contact_spectra` finds it.

    For parts that come back from processes that cannot reach the store (the
    workers of a cluster without a shared file system), or that were computed
    without it so that the store is read once.

    Parameters
    ----------
    spectrum : NetworkSpectrum
        A part :func:`contact_dos_of` computed for a network :func:`contact_networks`
        made with these arguments (its ``inputs`` name them).
    n, pressure, spring, moments, vectors, method, store
        As for :func:`stored_contact_spectra`; the seed is the part's own.

    Returns
    -------
    bool
        Whether it was stored (False with no store, or a store that refuses writes).

    Raises
    ------
    ValueError
        For a part computed for other inputs, or not named by them.

    Examples
    --------
    >>> import tempfile
    >>> nets = contact_networks(64, pressure=1e-2, spring="inverse", seeds=[5], store=False)
    >>> (part,) = contact_dos_of(nets, moments=32, vectors=4, store=False).spectra
    >>> where = tempfile.mkdtemp()
    >>> keep_contact_spectrum(part, 64, pressure=1e-2, spring="inverse", moments=32, vectors=4,
    ...                       store=where)
    True
    >>> stored_contact_spectra(64, pressure=1e-2, spring="inverse", seeds=[5], moments=32,
    ...                        vectors=4, store=where)[0].fingerprint == part.fingerprint
    True
    """
    spring = _check_choice("spring", spring, CONTACT_NETWORK_SPRINGS)
    inputs = getattr(spectrum, "inputs", None)
    if not isinstance(spectrum, NetworkSpectrum) or not isinstance(inputs, dict):
        raise ValueError("spectrum must be a NetworkSpectrum that contact_dos_of computed for a "
                         f"network of contact_networks; got {type(spectrum).__name__}")
    expected = _inputs(n, pressure, spring, _check_seed(inputs.get("seed")), method, moments,
                       vectors)
    if inputs != expected:
        raise ValueError(f"spectrum was computed for {inputs}; not for {expected}")
    store = open_store(store)
    return store is not None and store.put(result_key(inputs), spectrum)


def contact_dos_of(networks, *, moments, vectors, method="kpm", store=None) -> ReducedDOS:
    """:func:`~bpwidgets.reduced_dos_of` of contact networks, reading and keeping their parts.

    The networks :func:`contact_networks` made are looked up in the store by
    their inputs (and the digest of their springs), and kept there once
    computed; any other network is computed and not kept.

    Parameters
    ----------
    networks : sequence of ContactNetwork
    moments, vectors, method
        As for :func:`~bpwidgets.reduced_dos_of`: ``vectors`` random vectors per network.
    store : None, False, str, Path or ResultStore, optional

    Returns
    -------
    ReducedDOS
        Equal to ``reduced_dos_of(networks, moments=moments, vectors=vectors)``.

    Examples
    --------
    >>> import tempfile
    >>> where = tempfile.mkdtemp()
    >>> nets = contact_networks(64, pressure=1e-2, spring="inverse", seeds=[0, 1], store=where)
    >>> first = contact_dos_of(nets, moments=32, vectors=4, store=where)
    >>> spectra = stored_contact_spectra(64, pressure=1e-2, spring="inverse", seeds=[0, 1],
    ...                                  moments=32, vectors=4, store=where)
    >>> bool((ReducedDOS.from_spectra(spectra).mean == first.mean).all())
    True
    """
    networks = list(networks)
    store = open_store(store)
    names = [None] * len(networks)
    spectra = [None] * len(networks)
    for k, network in enumerate(networks):
        pressure = _name_of(network)
        if pressure is not None and network.seed is not None:
            names[k] = _inputs(network.n_nodes, pressure, network.spring, network.seed, method,
                               moments, vectors)
            spectra[k] = _stored(store, names[k], network)
    missing = [k for k, spectrum in enumerate(spectra) if spectrum is None]
    if missing:
        computed = reduced_dos_of([networks[k] for k in missing], method=method,
                                  moments=moments, vectors=vectors, store=False).spectra
        for k, spectrum in zip(missing, computed):
            if names[k] is None:
                spectra[k] = spectrum
                continue
            spectra[k] = replace(spectrum, inputs=names[k])  # as a stored one reads
            if store is not None:
                store.put(result_key(names[k]), spectra[k])
    return ReducedDOS.from_spectra(spectra)
