"""Vibrational spectra of spring networks: the Debye-reduced density of states.

The quantity of interest is the Debye-reduced density of states g(omega)/omega,
normalised per node (the integral of g over omega is 1). In two dimensions
Debye's law is g ~ omega, so g/omega tends to a constant, the Debye level
(:mod:`bpwidgets.core.debye`), at low frequency; an excess over it is the
Boson peak.

Two ways to get it:

* ``method="exact"``: dense diagonalisation, O(N^3). The oracle for tests.
* ``method="kpm"``: the kernel polynomial method (Weisse et al., Rev. Mod.
  Phys. 78, 275 (2006); the numerics are in :mod:`bpwidgets.core.kpm`),
  O(K R nnz) for K Chebyshev moments and R random vectors. Seeds are stacked
  into block-diagonal matrices, one per core (:mod:`bpwidgets.core.linalg`),
  so that a single sparse product advances several seeds at once and the
  cores work side by side; every seed is still computed on its own.
"""

from __future__ import annotations

import hashlib
import numbers
from dataclasses import fields

import numpy as np
import scipy.linalg
import scipy.special

from . import parallel
from .debye import _levels_of, _stiffness_tensors
from .kpm import (
    DEFAULT_GRID_POINTS,
    DEFAULT_MOMENTS,
    _check_moments,
    _check_omega,
    _check_positive,
    _check_scale,
    _check_vectors,
    _exact_moments,
    _kpm_bytes,
    _kpm_moments,
    _reconstruct,
    default_vectors,
)
from .limits import _check_memory
from .linalg import ESCAPE_MAGNITUDE, _check_networks, _stacks
from .outliers import _bulk_bounds, _exact_counterparts
from .result import NetworkSpectrum, ReducedDOS
from .store import open_store, result_key
from .network import (
    Network,
    _check_choice,
    _check_network,
    _check_network_memory,
    _check_parameters,
    _check_seed,
    _check_seed_list,
    _built_from_parameters,
    build_networks,
)

__all__ = [
    "EXACT_MAX_NODES",
    "crystal_reduced_dos",
    "exact_frequencies",
    "keep_network_spectrum",
    "network_spectrum",
    "reduced_dos",
    "reduced_dos_of",
    "spectrum_bound",
    "stored_spectra",
]


#: Largest network diagonalised densely: 10^4 nodes is an 800 MB matrix and minutes of work.
EXACT_MAX_NODES = 10_000


# --------------------------------------------------------------------------- exact


def exact_frequencies(network: Network) -> np.ndarray:
    """All N vibrational frequencies of a network, ascending, by dense diagonalisation.

    Parameters
    ----------
    network : Network
        At most ``EXACT_MAX_NODES`` nodes.

    Returns
    -------
    ndarray, shape (N,)
        omega_k = sqrt(lambda_k) over the eigenvalues of the dynamical matrix.
        The zero modes, one per connected cluster, are exactly 0.

    Raises
    ------
    TypeError
        If ``network`` is not a :class:`~bpwidgets.Network`.
    ValueError
        If the network is larger than ``EXACT_MAX_NODES`` (use
        ``reduced_dos(..., method="kpm")`` there), or its dense matrix would
        need more memory than :func:`bpwidgets.core.limits.memory_limit`.

    Examples
    --------
    >>> from bpwidgets import build_network
    >>> net = build_network(3, 0.0, connection="nearest", spring="constant", seed=0)
    >>> exact_frequencies(net).round(3)
    array([0.   , 1.732, 1.732, 1.732, 1.732, 2.449, 2.449, 2.449, 2.449])
    """
    _check_network(network)
    _check_dense(network.n_nodes, "exact diagonalisation",
                 "use the fast method, reduced_dos(..., method='kpm')")
    matrix = network.dynamical_matrix()
    eigenvalues = scipy.linalg.eigvalsh(matrix.toarray())
    # Round-off leaves the zero modes at +-1e-15: set them, one per cluster, to zero.
    n_zero, _ = network.clusters()
    eigenvalues[:n_zero] = 0.0
    return np.sqrt(np.clip(eigenvalues, 0.0, None))


def _check_dense(n_nodes, task, hint, *, eigenvectors=False, extra_bytes=0) -> None:
    """Refuse to diagonalise ``n_nodes`` densely past ``EXACT_MAX_NODES`` or the memory limit.

    The N x N matrix and LAPACK's copy take 16 bytes per entry, 24 with the
    eigenvectors, and its workspace about 300 bytes per node (measured with
    tracemalloc); ``extra_bytes`` is what the caller holds besides.
    """
    if n_nodes > EXACT_MAX_NODES:
        raise ValueError(
            f"network has {n_nodes} nodes: {task} is limited to "
            f"EXACT_MAX_NODES = {EXACT_MAX_NODES}; {hint}"
        )
    needed = (24 if eigenvectors else 16) * n_nodes**2 + 512 * n_nodes + extra_bytes
    _check_memory(f"network of {n_nodes} nodes: {task}", needed)


def crystal_reduced_dos(omega, t: float = 1.0) -> np.ndarray:
    """Closed form g(omega)/omega of the infinite square-lattice crystal.

    With omega^2 = 2 t (2 - cos kx - cos ky), per node
    ``g/omega = K(m) / (pi^2 t)``, ``m = 1 - (1 - omega^2 / 4t)^2``, K the complete
    elliptic integral of the first kind. Zero outside the band
    ``0 <= omega <= 2 sqrt(2 t)``; infinite (Van Hove) at omega = 2 sqrt(t).

    Parameters
    ----------
    omega : array_like
        Frequencies, finite and >= 0, of any shape.
    t : float, optional
        Spring constant of every bond, positive and finite.

    Returns
    -------
    ndarray
        g(omega)/omega, same shape as ``omega``.

    Raises
    ------
    ValueError
        For a negative or non-finite frequency, or a bad ``t``.

    Examples
    --------
    >>> round(float(crystal_reduced_dos(1e-6) * 2 * np.pi), 9)  # the Debye level 1/(2 pi t)
    1.0
    """
    omega = _check_omega(omega, grid=False)
    t = _check_positive("t", t)
    m = 1.0 - (1.0 - omega**2 / (4.0 * t)) ** 2
    inside = (omega >= 0) & (omega <= 2.0 * np.sqrt(2.0 * t))
    with np.errstate(invalid="ignore"):
        level = scipy.special.ellipk(np.where(inside, m, 0.0)) / (np.pi**2 * t)
    return np.where(inside, level, 0.0)


# --------------------------------------------------------------------------- KPM


def reduced_dos(
    size,
    delta,
    *,
    connection,
    spring,
    seeds=10,
    omega=None,
    method="kpm",
    moments=DEFAULT_MOMENTS,
    vectors=None,
    store=None,
) -> ReducedDOS:
    """Debye-reduced DOS g(omega)/omega of networks over several random seeds.

    Parameters
    ----------
    size, delta, connection, spring
        As for :func:`bpwidgets.build_network`.
    seeds : int or sequence of int, optional
        A count n (seeds 0 .. n-1) or explicit seeds, distinct non-negative
        integers; seed s is the network ``build_network(..., seed=s)``.
    omega : array_like, optional
        Frequency grid, finite frequencies >= 0, at most ``MAX_GRID_POINTS``;
        default ``DEFAULT_GRID_POINTS`` points from 0 to the top of the bulk, sqrt(scale).
    method : {"kpm", "exact"}, optional
        ``"kpm"``: the kernel polynomial method, linear in N. ``"exact"``: dense
        diagonalisation (at most ``EXACT_MAX_NODES`` nodes), smoothed with the same
        kernel on the same grid, so that the two differ only by the stochastic
        trace.
    moments : int, optional
        Number K of Chebyshev moments (even, from 8 to ``MAX_MOMENTS``).
    vectors : int, optional
        Random vectors R per seed (KPM only), from 1 to ``MAX_VECTORS``;
        default: enough that ``N * R * seeds >= DEFAULT_SAMPLES``.
    store : None, False, str, Path or ResultStore, optional
        Where each seed's result is looked up first and kept once computed
        (:mod:`bpwidgets.core.store`): by default the store named by
        ``BPWIDGETS_STORE`` or the user's cache directory; False or ``"off"``
        for none. Only the seeds not found are built and computed; the result
        is the same either way.

    Returns
    -------
    ReducedDOS

    Raises
    ------
    ValueError
        For bad network parameters, seeds that are not a positive count or
        distinct non-negative integers, an unknown method, moments, vectors or
        omega outside the limits above, an exact computation past
        ``EXACT_MAX_NODES``, or a request (the networks, the N x R x seeds
        random vectors, the dense matrix) that would need more memory than
        :func:`bpwidgets.core.limits.memory_limit`. All is checked before any
        network is built.

    Notes
    -----
    KPM as in Weisse et al., Rev. Mod. Phys. 78, 275 (2006), with these choices
    (docs/physics.md): lambda_min is pinned at 0 (x = -1 exactly) and lambda_max comes
    from a short Lanczos run; random Rademacher vectors have their mean over
    every connected cluster removed, which projects out all zero modes exactly;
    moments come two per sparse product (Eq. (34)); the Jackson kernel damps
    them (Eq. (71)); the density is rebuilt in Jacobi polynomials with weight
    ``(1 - x)^(1/2)``, regular at x = -1, so the constant density at the 2D
    Debye edge is not biased. Finally ``g(omega)/omega = 2 rho_lambda(omega^2)``
    needs no division by omega. Modes far above the bulk (1/r springs between
    nearly coinciding nodes, delta near 0.5) would set lambda_max and coarsen
    the whole curve: each network's are found locally, projected out of the
    random vectors and of every product, and counted apart at their
    frequencies (:attr:`ReducedDOS.outlier_frequencies`), so the bound and the
    resolution are the bulk's and the integrated DOS still reaches 1
    (docs/physics.md, "Modes above the bulk").

    Examples
    --------
    >>> result = reduced_dos(60, 0.3, connection="cutoff", spring="inverse", seeds=10)
    >>> result.per_seed.shape, round(result.debye_level, 3)
    ((10, 401), 0.217)
    """
    seeds = _check_seeds(seeds)
    size, delta, connection, spring = _check_parameters(size, delta, connection, spring)
    _check_network_memory(size, delta, connection, len(seeds))
    n_moments, n_vectors, grid = _check_request(
        size * size, len(seeds), method, moments, vectors, omega
    )
    store = open_store(store)
    model = dict(size=size, delta=delta, connection=connection, spring=spring)
    spectra = [_stored(store, _spectrum_inputs(model, seed, method, n_moments, n_vectors))
               for seed in seeds]
    missing = [k for k, spectrum in enumerate(spectra) if spectrum is None]
    if missing:
        networks = build_networks(size, delta, connection=connection, spring=spring,
                                  seeds=[seeds[k] for k in missing])
        for k, spectrum in zip(missing, _network_spectra(networks, method, n_moments, n_vectors)):
            spectra[k] = spectrum
            _keep(store, spectrum)
    return ReducedDOS.from_spectra(spectra, omega=grid)


def stored_spectra(size, delta, *, connection, spring, seeds, method="kpm",
                   moments=DEFAULT_MOMENTS, vectors=None, store=None):
    """Every seed's stored part of a reduced DOS, or None unless all are stored.

    Reads the result store alone: nothing is built or computed. The dashboard
    uses it to show a stored result without building its networks.

    Parameters
    ----------
    size, delta, connection, spring, seeds, method, moments, vectors, store
        As for :func:`reduced_dos`.

    Returns
    -------
    tuple of NetworkSpectrum, or None

    Raises
    ------
    ValueError
        As :func:`reduced_dos` does for bad input.

    Examples
    --------
    >>> import tempfile
    >>> where = tempfile.mkdtemp()
    >>> stored_spectra(20, 0.2, connection="cutoff", spring="inverse", seeds=3, store=where)
    >>> computed = reduced_dos(20, 0.2, connection="cutoff", spring="inverse", seeds=3,
    ...                        store=where)
    >>> spectra = stored_spectra(20, 0.2, connection="cutoff", spring="inverse", seeds=3,
    ...                          store=where)
    >>> bool((ReducedDOS.from_spectra(spectra).mean == computed.mean).all())
    True
    """
    seeds = _check_seeds(seeds)
    size, delta, connection, spring = _check_parameters(size, delta, connection, spring)
    n_moments, n_vectors, _ = _check_request(size * size, len(seeds), method, moments, vectors,
                                             None)
    store = open_store(store)
    if store is None:
        return None
    model = dict(size=size, delta=delta, connection=connection, spring=spring)
    spectra = []
    for seed in seeds:
        spectrum = _stored(store, _spectrum_inputs(model, seed, method, n_moments, n_vectors))
        if spectrum is None:
            return None
        spectra.append(spectrum)
    return tuple(spectra)


def network_spectrum(size, delta, *, connection, spring, seed, method="kpm",
                     moments=DEFAULT_MOMENTS, vectors=None, store=None, compute=True):
    """One network's part of a reduced DOS: read from the result store, or computed and stored.

    It is the part :func:`reduced_dos` computes for ``seed`` with the same
    ``vectors``, kept under the same key: a part computed here serves
    :func:`reduced_dos` and the dashboard, and the other way round, and
    :meth:`ReducedDOS.from_spectra` of the parts of several seeds equals
    :func:`reduced_dos` of those seeds. A sweep (:mod:`bpwidgets.sweep`)
    computes its networks this way, one task each.

    Parameters
    ----------
    size, delta, connection, spring
        As for :func:`bpwidgets.build_network`.
    seed : int
        The network's seed, a non-negative integer.
    method, moments, store
        As for :func:`reduced_dos`.
    vectors : int, optional
        Random vectors of this network (KPM only). :func:`reduced_dos` of S
        seeds of N nodes each gives every seed
        ``default_vectors(N * S, networks=S)``: pass that to get its part.
        Default: a lone network's, ``default_vectors(N, networks=1)``.
    compute : bool, optional
        False: only look the part up, and return None when it is not stored.

    Returns
    -------
    NetworkSpectrum or None
        None only with ``compute=False``, for a part not in the store.

    Raises
    ------
    ValueError
        As :func:`reduced_dos` does for bad input, or for one network (its
        matrix, its random vectors) that would need more memory than
        :func:`bpwidgets.core.limits.memory_limit`; with ``compute=False`` too,
        and always before anything is built.

    Examples
    --------
    >>> part = network_spectrum(20, 0.2, connection="cutoff", spring="inverse", seed=1,
    ...                         vectors=16, store=False)
    >>> both = reduced_dos(20, 0.2, connection="cutoff", spring="inverse", seeds=[0, 1],
    ...                    vectors=16, store=False)
    >>> part.seed, bool((part.moments == both.spectra[1].moments).all())
    (1, True)
    """
    seed = _check_seed(seed)
    size, delta, connection, spring = _check_parameters(size, delta, connection, spring)
    _check_network_memory(size, delta, connection, 1)
    n_moments, n_vectors, _ = _check_request(size * size, 1, method, moments, vectors, None)
    store = open_store(store)
    inputs = _spectrum_inputs(dict(size=size, delta=delta, connection=connection, spring=spring),
                              seed, method, n_moments, n_vectors)
    spectrum = _stored(store, inputs)
    if spectrum is None and compute:
        network = build_networks(size, delta, connection=connection, spring=spring,
                                 seeds=[seed])[0]
        (spectrum,) = _network_spectra([network], method, n_moments, n_vectors)
        _keep(store, spectrum)
    return spectrum


def keep_network_spectrum(spectrum, size, delta, *, connection, spring, method="kpm",
                          moments=DEFAULT_MOMENTS, vectors=None, store=None) -> bool:
    """Keep a part computed elsewhere in the store, where :func:`network_spectrum` finds it.

    For parts that come back from processes that cannot reach the store (the
    workers of a cluster without a shared file system).

    Parameters
    ----------
    spectrum : NetworkSpectrum
        What :func:`network_spectrum` returned for these arguments.
    size, delta, connection, spring, method, moments, vectors, store
        As for :func:`network_spectrum`; the seed is the part's own.

    Returns
    -------
    bool
        Whether it was stored (False with no store, or a store that refuses writes).

    Raises
    ------
    ValueError
        For bad arguments, or a part computed for other inputs (another
        size, delta, connection, spring, method, moments or vectors).

    Examples
    --------
    >>> import tempfile
    >>> where = tempfile.mkdtemp()
    >>> part = network_spectrum(20, 0.2, connection="cutoff", spring="inverse", seed=3,
    ...                         store=False)
    >>> keep_network_spectrum(part, 20, 0.2, connection="cutoff", spring="inverse",
    ...                       store=where)
    True
    >>> network_spectrum(20, 0.2, connection="cutoff", spring="inverse", seed=3, store=where,
    ...                  compute=False).fingerprint == part.fingerprint
    True
    """
    if not isinstance(spectrum, NetworkSpectrum) or spectrum.seed is None:
        raise ValueError("spectrum must be a NetworkSpectrum of a seeded network; "
                         f"got {type(spectrum).__name__}")
    seed = _check_seed(spectrum.seed)
    size, delta, connection, spring = _check_parameters(size, delta, connection, spring)
    n_moments, n_vectors, _ = _check_request(size * size, 1, method, moments, vectors, None)
    inputs = _spectrum_inputs(dict(size=size, delta=delta, connection=connection, spring=spring),
                              seed, method, n_moments, n_vectors)
    if getattr(spectrum, "inputs", None) != inputs:
        raise ValueError(f"spectrum was computed for {getattr(spectrum, 'inputs', None)}; "
                         f"not for {inputs}")
    store = open_store(store)
    return store is not None and _keep(store, spectrum)


def reduced_dos_of(
    networks, *, omega=None, method="kpm", moments=DEFAULT_MOMENTS, vectors=None, scale=None,
    store=None,
) -> ReducedDOS:
    """Debye-reduced DOS of networks already built (see :func:`reduced_dos`).

    Use it when the networks are needed anyway, as the dashboard does.

    Parameters
    ----------
    networks : sequence of Network
        One or more networks; their seeds label the rows.
    omega, method, moments, vectors
        As for :func:`reduced_dos`.
    scale : float, optional
        Upper bound of the eigenvalues to rescale by, instead of a Lanczos run on
        these networks: give several calls the bound of all their networks
        (:func:`spectrum_bound`) and :meth:`ReducedDOS.join` their results. A bound
        below a network's own is replaced by the safe Gershgorin bound.
    store : None, False, str, Path or ResultStore, optional
        As for :func:`reduced_dos`, for the networks :func:`build_network` made
        (looked up by their parameters and seed); any other network (without a
        seed, changed afterwards, a jammed packing's contact network) is
        computed and not kept.

    Returns
    -------
    ReducedDOS

    Raises
    ------
    TypeError
        If ``networks`` is not a sequence of :class:`~bpwidgets.Network`.
    ValueError
        For no networks, networks of different sizes, a bad scale, or as
        :func:`reduced_dos` does for the other arguments.

    Examples
    --------
    >>> from bpwidgets import build_network
    >>> nets = [build_network(30, 0.1, connection="nearest", spring="inverse", seed=s)
    ...         for s in range(3)]
    >>> reduced_dos_of(nets).seeds
    (0, 1, 2)
    """
    networks = _check_networks(networks)
    n_moments, n_vectors, grid = _check_request(
        networks[0].n_nodes, len(networks), method, moments, vectors, omega
    )
    if scale is not None:
        scale = _check_scale(scale)
    store = open_store(store)
    # Only networks that build_network made from their parameters are named by them in the
    # store: a network made or changed otherwise is computed and not kept.
    named = [store is not None and n.seed is not None and _built_from_parameters(n)
             for n in networks]
    spectra = [_stored(store, _spectrum_inputs(_model_of(n), n.seed, method, n_moments,
                                               n_vectors), n) if keep else None
               for n, keep in zip(networks, named)]
    missing = [k for k, spectrum in enumerate(spectra) if spectrum is None]
    if missing:
        computed = _network_spectra([networks[k] for k in missing], method, n_moments, n_vectors)
        for k, spectrum in zip(missing, computed):
            spectra[k] = spectrum
            if named[k]:
                _keep(store, spectrum)
    return ReducedDOS.from_spectra(spectra, scale=scale, omega=grid)


def _network_spectra(networks, method, n_moments, n_vectors) -> list:
    """Every network's own part of its reduced DOS (:class:`NetworkSpectrum`).

    Each network's moments are rescaled by its own bound, the top of its bulk
    (docs/physics.md, "Modes above the bulk"), so that they depend on that
    network alone and can be stored; :meth:`ReducedDOS.from_spectra` converts
    them exactly to a common bound. The networks are split into one stack per
    core and each stack's work runs in its own thread; within a stack every
    network is still computed on its own.
    """
    stacks = _stacks(networks)
    bulk = parallel.each(_bulk_bounds, stacks)
    tensors = np.concatenate(parallel.each(_stiffness_tensors, stacks))
    bounds = np.concatenate([b for b, _, _ in bulk])
    safe = np.concatenate([stack.gershgorin_bounds() for stack in stacks])
    found = [outliers for _, part, _ in bulk for outliers in part]
    spread = [None] * len(networks)
    if method == "exact":
        rows, zero_modes, outlier_frequencies = [], [], []
        for k, (network, outliers) in enumerate(zip(networks, found)):
            frequencies = exact_frequencies(network)
            # The exact modes nearest the KPM's outliers are left out, and kept at
            # their exact frequencies; a bulk mode above the bound widens it.
            left_out = _exact_counterparts(frequencies, outliers.frequencies)
            if frequencies[~left_out][-1] ** 2 > bounds[k]:
                bounds[k] = safe[k]
            row, zero = _exact_moments([network], [frequencies], bounds[k], n_moments,
                                       [left_out])
            rows.append(row[0])
            zero_modes.append(zero[0])
            outlier_frequencies.append(frequencies[left_out])
    else:
        zero_modes = [n.clusters()[0] / n.n_nodes for n in networks]
        outlier_frequencies = [outliers.frequencies for outliers in found]
        edges = np.cumsum([0] + [stack.n_blocks for stack in stacks])
        parts = parallel.each(
            lambda item: _stack_moments(item[0], bounds[item[1]:item[2]], safe[item[1]:item[2]],
                                        n_moments, n_vectors, item[3][2]),
            [(stack, a, b, part) for stack, a, b, part in zip(stacks, edges[:-1], edges[1:], bulk)],
        )
        averages = np.concatenate([moments for moments, _ in parts])
        bounds = np.concatenate([used for _, used in parts])
        rows, spread = averages[:, 0], list(averages[:, 1:])
    levels = _levels_of(tensors)
    return [
        NetworkSpectrum(
            seed=network.seed, n_nodes=network.n_nodes, method=method,
            bound=float(bounds[k]), safe_bound=float(safe[k]),
            moments=np.asarray(rows[k]), spread=spread[k],
            debye_level=float(levels[k]), stiffness=tensors[k],
            zero_modes=float(zero_modes[k]), outlier_frequencies=outlier_frequencies[k],
            outlier_count=int(found[k].count),
            coordination_counts=np.bincount(network.coordination),
            fingerprint=_fingerprint(network),
            inputs=_spectrum_inputs(_model_of(network), network.seed, method, n_moments,
                                    n_vectors),
        )
        for k, network in enumerate(networks)
    ]


def _stack_moments(stack, bounds, safe, n_moments, n_vectors, deflation):
    """A stack's KPM moments (``_kpm_moments``), each network by its own bound, and the bounds.

    Everything computed from ``T_n(H~)`` stays of order 1 while a network's
    spectrum lies within its bound; one above it makes ``|T_n|`` grow past x = 1,
    in single precision up to overflow (NaN). A network whose mean moments exceed
    ``ESCAPE_MAGNITUDE`` in magnitude is computed again with its Gershgorin bound, which no
    eigenvalue exceeds; the others' rows come out the same, each network being
    computed on its own.
    """
    bounds = np.array(bounds, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        moments = _kpm_moments(stack, bounds, n_moments, n_vectors, deflation)
        escaped = ~np.all(np.abs(moments[:, 0]) <= ESCAPE_MAGNITUDE, axis=1)
    if escaped.any():
        bounds[escaped] = safe[escaped]
        moments = _kpm_moments(stack, bounds, n_moments, n_vectors, deflation)
    return moments, bounds


def _spectrum_inputs(model, seed, method, n_moments, n_vectors) -> dict:
    """Every input one network's part depends on: its parameters, seed and the method's options."""
    inputs = {**model, "seed": None if seed is None else int(seed), "method": method,
              "moments": int(n_moments)}
    if method == "kpm":
        inputs["vectors"] = int(n_vectors)
    return inputs


def _spectrum_key(inputs) -> str:
    """The store's key of a network's part with these inputs (:func:`_spectrum_inputs`)."""
    return result_key({"kind": "network spectrum", **inputs})


def _model_of(network) -> dict:
    return dict(size=network.size, delta=network.delta, connection=network.connection,
                spring=network.spring)


def _stored(store, inputs, network=None, *, key=None):
    """The part of these inputs in the store, or None.

    An entry is served only if it holds every field of a :class:`NetworkSpectrum`
    (an older version of the class may lack one) and was computed for exactly
    these inputs. With ``network``, it must also have been computed from the
    same positions, springs and stiffnesses (:func:`_fingerprint`). ``key``: the
    entry's key, if not a lattice network's (:func:`_spectrum_key`).
    """
    if store is None:
        return None
    spectrum = store.get(_spectrum_key(inputs) if key is None else key)
    if (not isinstance(spectrum, NetworkSpectrum)
            or any(f.name not in vars(spectrum) for f in fields(NetworkSpectrum))
            or spectrum.inputs != inputs):
        return None
    if network is not None and spectrum.fingerprint != _fingerprint(network):
        return None
    return spectrum


def _keep(store, spectrum) -> bool:
    """Keep a part in the store under its own inputs (False with no store or a refusal)."""
    return store is not None and store.put(_spectrum_key(spectrum.inputs), spectrum)


def _fingerprint(network) -> str:
    """A digest of what the dynamical matrix is made of: positions, springs, stiffnesses."""
    digest = hashlib.blake2b(digest_size=16)
    for array in (network.positions, network.bonds, network.stiffness):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def spectrum_bound(networks) -> float:
    """The bound :func:`reduced_dos_of` rescales by: above every network's bulk eigenvalues.

    The largest over the networks of each one's bound: the top Ritz value of a
    short Lanczos run plus its residual and a 2 % margin, and never above the
    network's Gershgorin bound. A network with modes far above its bulk (very
    short 1/r springs, delta near 0.5) is bounded without them: they are
    deflated (docs/physics.md, "Modes above the bulk"). A network's own bound
    does not depend on which networks it is given with.

    Parameters
    ----------
    networks : sequence of Network

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If ``networks`` is not a sequence of :class:`~bpwidgets.Network`.
    ValueError
        For no networks, or networks of different sizes.

    Examples
    --------
    >>> from bpwidgets import build_network
    >>> crystal = build_network(16, 0.0, connection="nearest", spring="constant", seed=0)
    >>> 8.0 <= spectrum_bound([crystal]) <= 8.0 * 1.03   # the crystal's top is 8
    True
    """
    stacks = _stacks(_check_networks(networks))
    return float(max(bounds.max() for bounds, _, _ in parallel.each(_bulk_bounds, stacks)))


#: The ways to get the moments of a reduced DOS.
_METHODS = ("kpm", "exact")


def _check_request(n_nodes, n_networks, method, moments, vectors, omega) -> tuple:
    """``(n_moments, n_vectors, grid)`` of a reduced DOS of ``n_networks`` of ``n_nodes`` each.

    Refuses what :func:`reduced_dos` lists, the memory included: the dense
    matrix of ``method="exact"``, or the KPM's random vectors, N x R x seeds
    entries together; the reconstruction on the grid for either.
    """
    _check_choice("method", method, _METHODS)
    n_moments = _check_moments(moments)
    total = n_nodes * n_networks
    n_vectors = (default_vectors(total, networks=n_networks)
                 if vectors is None else _check_vectors(vectors))
    grid = None if omega is None else _check_omega(omega)
    n_grid = DEFAULT_GRID_POINTS if grid is None else grid.size
    reconstruction = _kpm_bytes(0, 0, n_moments, n_grid, n_networks)
    if method == "exact":
        # One network at a time, and the Chebyshev values of its N modes.
        _check_dense(n_nodes, "exact diagonalisation", "use the fast method, method='kpm'",
                     extra_bytes=8 * n_moments * n_nodes + reconstruction)
    else:
        _check_memory(
            f"vectors={n_vectors} per seed over {n_networks} seeds of {n_nodes} nodes "
            f"({total * n_vectors} random-vector entries)",
            _kpm_bytes(total, n_vectors, n_moments, n_grid, n_networks),
        )
    return n_moments, n_vectors, grid


def _check_seeds(seeds):
    """A count n as ``range(n)`` (listed only once the memory is checked), else the seeds."""
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        if seeds <= 0:
            raise ValueError(f"seeds must be a positive count or a list of seeds; got {seeds}")
        return range(int(seeds))
    if isinstance(seeds, bool):
        raise ValueError(f"seeds must be a positive count or a list of seeds; got {seeds!r}")
    return _check_seed_list(seeds)
