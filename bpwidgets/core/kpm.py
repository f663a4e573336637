"""The kernel polynomial method's numerics: Chebyshev moments, kernel, reconstruction.

After Weisse et al., Rev. Mod. Phys. 78, 275 (2006), with the choices of
docs/physics.md. ``H~ = 2 H / scale - 1`` maps the spectrum [0, scale] of the
dynamical matrix onto [-1, 1], with lambda = 0 at x = -1 exactly. The
moments ``mu_n = (1/N) Tr T_n(H~)`` come

* from random Rademacher vectors, each connected cluster's mean removed so
  that no zero mode is seen (:func:`_random_vectors`, :func:`_kpm_moments`),
  two moments per sparse product (Eq. (34), :func:`_doubled_moments`);
* or from exact eigenvalues (:func:`_exact_moments`), the stochastic
  estimate's expectation value.

The density is rebuilt from them with the Jackson kernel (Eq. (71),
:func:`_jackson`) in orthonormal Jacobi polynomials of weight
``(1 - x)^alpha (1 + x)^beta`` (:func:`_jacobi_orthonormal`,
:func:`_chebyshev_to_jacobi`); beta = 0 is regular at x = -1, so the constant
density at the 2D Debye edge is not biased (:func:`_reconstruct`,
:func:`_cumulative`). :func:`_rescaled_moments` converts moments to another
rescaling bound exactly.
"""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np
import scipy.fft
import scipy.sparse as sp
import scipy.special

from .linalg import _chebyshev_vectors

__all__ = [
    "DEFAULT_GRID_POINTS",
    "DEFAULT_MOMENTS",
    "DEFAULT_SAMPLES",
    "JACOBI_ALPHA",
    "JACOBI_BETA",
    "LONE_NETWORK_VECTORS",
    "MAX_GRID_POINTS",
    "MAX_MOMENTS",
    "MAX_VECTORS",
    "default_vectors",
    "seed_vectors",
]


#: Default number of Chebyshev moments: resolution about pi omega_max / (2K) ~ 0.04.
DEFAULT_MOMENTS = 128

#: Default random vectors: enough that nodes x vectors over all seeds reaches this many samples.
#: The stochastic trace error of a smoothed density falls as 1 / sqrt(N R).
DEFAULT_SAMPLES = 300_000

#: Jacobi weight (1 - x)^alpha (1 + x)^beta of the edge-exact reconstruction (docs/physics.md):
#: beta = 0 keeps a density that is constant at lambda = 0 (the 2D Debye edge) unbiased.
JACOBI_ALPHA, JACOBI_BETA = 0.5, 0.0

#: Default frequency grid: points from 0 to the top of the bulk (modes far above it are apart).
DEFAULT_GRID_POINTS = 401

#: Entries of the T_n values held at once while moments are converted to a wider bound
#: (:func:`_rescaled_moments`): 128 MiB, one row of 4096 moments at a time.
_CONVERSION_ENTRIES = 2**24

#: Most moments: resolution about 1e-3 in omega, and each K x K conversion matrix takes 128 MiB.
MAX_MOMENTS = 4096

#: Most random vectors per seed: the trace error 1/sqrt(N R) is then below 0.1 % even at N = 9.
MAX_VECTORS = 100_000

#: Most frequencies in a grid: 250 times the default, far finer than the kernel resolves.
MAX_GRID_POINTS = 100_000

#: Bytes per entry of the N x R block of random vectors while the moments run: the float64
#: draw, then the float32 recursion's vectors (measured with tracemalloc: 18 to 25).
_BYTES_PER_VECTOR_ENTRY = 24
#: Bytes per node besides: the stacked matrix's copies, the conductance solve (measured: ~260).
_BYTES_PER_KPM_NODE = 256


def default_vectors(total_nodes, *, networks=None) -> int:
    """Random vectors per seed when none are given: ``total_nodes * R >= DEFAULT_SAMPLES``.

    A lone network (``networks=1``) gets at least ``LONE_NETWORK_VECTORS``, so that
    their spread estimates its stochastic error; past ``2 * SPREAD_GROUPS_MAX``
    the count is rounded up to a multiple of ``SPREAD_GROUPS_MAX``, so that the
    groups of vectors whose spread is measured are all of one size.

    Parameters
    ----------
    total_nodes : int
        Nodes over all the seeds computed together.
    networks : int, optional
        How many networks they are (only a lone one changes the count).

    Returns
    -------
    int
        At least 1.

    Raises
    ------
    ValueError
        If ``total_nodes`` is not a positive integer.

    Examples
    --------
    >>> default_vectors(10 * 60 * 60), default_vectors(1000 * 1000)
    (9, 1)
    >>> default_vectors(1000 * 1000, networks=1), default_vectors(20 * 20, networks=1)
    (8, 768)
    """
    if (isinstance(total_nodes, bool) or not isinstance(total_nodes, numbers.Integral)
            or total_nodes < 1):
        raise ValueError(f"total_nodes must be a positive integer; got {total_nodes!r}")
    count = max(1, -(-DEFAULT_SAMPLES // int(total_nodes)))
    if networks == 1:
        count = max(count, LONE_NETWORK_VECTORS)
    if count > 2 * SPREAD_GROUPS_MAX:
        count = -(-count // SPREAD_GROUPS_MAX) * SPREAD_GROUPS_MAX
    return count


def seed_vectors(n_nodes, n_seeds) -> int:
    """Random vectors each of ``n_seeds`` networks of ``n_nodes`` nodes gets, averaged together.

    What :func:`~bpwidgets.reduced_dos` gives every seed by default, and so the
    count a seed's part is stored and found under (its random vectors are part
    of its key): the dashboard, ``warm``, the sweeps and the paper's figures all
    take it from here, so that they share the store's entries.

    Examples
    --------
    >>> seed_vectors(60 * 60, 10) == default_vectors(10 * 60 * 60, networks=10)
    True
    >>> seed_vectors(20 * 20, 1)
    768
    """
    return default_vectors(int(n_nodes) * int(n_seeds), networks=int(n_seeds))


def _check_moments(moments) -> int:
    if (isinstance(moments, bool) or not isinstance(moments, numbers.Integral)
            or not 8 <= moments <= MAX_MOMENTS):
        raise ValueError(
            f"moments must be an integer from 8 to MAX_MOMENTS = {MAX_MOMENTS}; got {moments!r}"
        )
    return int(moments) + int(moments) % 2


def _check_vectors(vectors) -> int:
    if (isinstance(vectors, bool) or not isinstance(vectors, numbers.Integral)
            or not 1 <= vectors <= MAX_VECTORS):
        raise ValueError(
            f"vectors must be an integer from 1 to MAX_VECTORS = {MAX_VECTORS}; got {vectors!r}"
        )
    return int(vectors)


def _check_positive(name, value) -> float:
    """A positive finite number (not a bool) as a float, or a ValueError naming it."""
    try:
        number = float(value) if isinstance(value, numbers.Real) else math.nan
    except OverflowError:  # an int too large for a float
        number = math.inf
    if isinstance(value, bool) or not (math.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be a positive finite number; got {value!r}")
    return number


def _check_scale(scale) -> float:
    return _check_positive("scale", scale)


def _check_omega(omega, *, name="omega", grid=True) -> np.ndarray:
    """Frequencies: finite, >= 0; with ``grid``, a non-empty 1D array of at most
    ``MAX_GRID_POINTS``, else any shape."""
    try:
        values = np.asarray(omega, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be frequencies (numbers); got {omega!r}") from None
    if grid and (values.ndim != 1 or values.size == 0):
        raise ValueError(
            f"{name} must be a non-empty 1D array of frequencies; got shape {values.shape}"
        )
    if grid and values.size > MAX_GRID_POINTS:
        raise ValueError(
            f"{name} must have at most MAX_GRID_POINTS = {MAX_GRID_POINTS} points; "
            f"got {values.size}"
        )
    if not np.all(np.isfinite(values)):
        bad = values[~np.isfinite(values)][0]
        raise ValueError(f"{name} must hold finite frequencies; got {bad}")
    if values.size and values.min() < 0:
        raise ValueError(f"{name} must hold frequencies >= 0; got {values.min()}")
    return values


def _kpm_bytes(n_nodes, n_vectors, n_moments, n_grid, n_rows) -> int:
    """About the most memory a KPM request holds: its N x R random-vector block over
    ``n_nodes`` (all seeds together) and what each node needs besides, then the
    reconstruction's K x K conversions and K x G polynomial values, and the S x G curves."""
    return (n_nodes * (_BYTES_PER_VECTOR_ENTRY * n_vectors + _BYTES_PER_KPM_NODE)
            + 8 * (3 * n_moments**2 + n_moments * n_grid + 2 * n_rows * n_grid))


# --------------------------------------------------------------------------- moments


def _random_vectors(networks, n_vectors):
    """Rademacher vectors for stacked networks, one block of rows per network.

    Each network draws its own vectors from its own seed, so a seed's row does
    not depend on which other seeds are computed with it. Every connected
    cluster's mean is removed: the vectors have no weight on any zero mode.
    """
    parts = []
    for network in networks:
        count, labels = network.clusters()
        rng = np.random.default_rng([network.size, 0 if network.seed is None else network.seed])
        vectors = rng.choice([-1.0, 1.0], size=(network.n_nodes, n_vectors))
        clusters = sp.csr_array(
            (np.ones(network.n_nodes), (labels, np.arange(network.n_nodes))),
            shape=(count, network.n_nodes),
        )
        vectors -= (clusters @ vectors / np.bincount(labels)[:, None])[labels]
        parts.append(vectors)
    return np.concatenate(parts)


def _kpm_moments(stack, scale, n_moments, n_vectors, deflation=None):
    """Stochastic Chebyshev moments of every network of a stack (Weisse et al., Eq. (34)).

    ``scale`` is one bound for every network, or one per network.

    Returns an array of shape ``(networks, 1 + G, K)``: row 0 holds each
    network's moments averaged over all its random vectors, rows 1 .. G the
    averages over G groups of its vectors (each vector alone while there are at
    most ``SPREAD_GROUPS_MAX`` of them), whose spread is the stochastic error of
    the trace estimate (:attr:`ReducedDOS.stochastic_error`).

    With ``deflation`` (:class:`bpwidgets.core.outliers._Deflation`) the vectors
    are projected off each network's outliers before and after every product:
    the moments are those of the bulk, normalised to its share of the modes,
    ``mu_0 = (N - zero modes - outliers) / N`` (docs/physics.md, "Modes above
    the bulk").
    """
    networks = stack.networks
    sizes = np.array([n.n_nodes for n in networks])
    start = _random_vectors(networks, n_vectors)
    project = None if deflation is None else deflation.project
    if project is not None:
        start = project(start)
    # Single precision: the recursion reads the matrix and the vectors 2K times and is
    # bound by memory traffic, which this halves. Per-network dots are summed pairwise.
    start = start.astype(np.float32)
    n_blocks = stack.n_blocks

    groups = _vector_groups(n_vectors)
    ones = np.ones((1, start.shape[0] // n_blocks), dtype=np.float32)

    def per_seed(a, b):
        # Each network's rows are one contiguous run: a dot per network. The moments are
        # results, so the N R terms are summed pairwise (error ~ eps log n), not by BLAS.
        products = np.multiply(a, b)
        dots = products.reshape(n_blocks, -1).sum(axis=1).astype(np.float64)
        # The groups' dots only measure the spread: one BLAS product per network.
        vectors = np.matmul(ones, products.reshape(n_blocks, -1, n_vectors))[:, 0]
        return np.concatenate([(dots / (sizes * n_vectors))[:, None],
                               (vectors.astype(np.float64) @ groups) / sizes[:, None]], axis=1)

    # One bound for the stack, or each network's own for its block of rows.
    scale = np.asarray(scale, dtype=float)
    row_scale = scale if scale.ndim == 0 else np.repeat(scale, stack.block_rows)
    alphas = _chebyshev_vectors(stack.matrix, start, row_scale, project)
    moments = _recursion_moments(alphas, per_seed, n_moments, n_blocks)
    # The vectors carry the weight of the non-zero modes (one zero mode per cluster);
    # normalise to the whole node count, every group by its network's mean mu_0.
    n_zero = np.array([n.clusters()[0] for n in networks])
    if deflation is not None:
        n_zero = n_zero + deflation.counts  # the outliers are counted apart too
    nonzero = (sizes - n_zero) / sizes
    moments *= (nonzero / moments[:, 0, 0])[:, None, None]
    return moments


#: Random vectors a lone network gets at least by default: the spread of eight is a fair
#: estimate of its stochastic error (against the crystal's exact spectrum, the mean
#: squared deviation over the error is about 1), where two can be far off.
LONE_NETWORK_VECTORS = 8

#: Groups of random vectors whose spread estimates the stochastic error: up to twice this
#: many vectors each count alone; more are pooled in this many groups of nearly equal size.
SPREAD_GROUPS_MAX = 32


def _recursion_moments(alphas, per_block, n_moments, n_blocks) -> np.ndarray:
    """Chebyshev moments from the recursion's vectors, two per product (the doubling trick).

    ``alphas`` yields the vectors T_k(H~) r of a stack; ``per_block(a, b)`` gives, for
    every block (network or packing), its dot of ``a`` and ``b`` over all random
    vectors and over each group of them, shape ``(blocks, 1 + G)``. Returns the
    moments, shape ``(blocks, 1 + G, K)``, before their normalisation to ``mu_0``.
    """
    squares, crosses = [], []
    alpha = next(alphas)
    for _ in range(n_moments // 2):
        alpha_next = next(alphas)
        squares.append(per_block(alpha, alpha))
        crosses.append(per_block(alpha_next, alpha))
        alpha = alpha_next
    # (K/2, blocks, 1 + G) -> one row of moments per block and average.
    rows = [np.array(part).transpose(1, 2, 0).reshape(-1, n_moments // 2)
            for part in (squares, crosses)]
    return _doubled_moments(*rows).reshape(n_blocks, -1, n_moments)


def _vector_groups(n_vectors) -> np.ndarray:
    """``(R, G)`` matrix averaging R vectors' dots into G groups (each vector alone
    while ``R <= 2 * SPREAD_GROUPS_MAX``); G = 1 leaves no spread to estimate."""
    n_groups = n_vectors if n_vectors <= 2 * SPREAD_GROUPS_MAX else SPREAD_GROUPS_MAX
    member = np.arange(n_vectors) % n_groups
    groups = np.zeros((n_vectors, n_groups))
    groups[np.arange(n_vectors), member] = 1.0 / np.bincount(member)[member]
    return groups


def _doubled_moments(squares, crosses) -> np.ndarray:
    """Moments from ``<a_n|a_n>`` and ``<a_n+1|a_n>``, n = 0 .. K/2 - 1 (one row each).

    Two moments per product (Weisse et al., Eq. (34)): ``mu_2n = 2 <a_n|a_n> - mu_0``
    and ``mu_2n+1 = 2 <a_n+1|a_n> - mu_1``, with ``a_n = T_n(H~) a_0``; n = 0 gives
    mu_0 and mu_1 themselves.
    """
    moments = np.empty((squares.shape[0], 2 * squares.shape[1]))
    moments[:, 0::2] = 2.0 * squares - squares[:, :1]
    moments[:, 1::2] = 2.0 * crosses - crosses[:, :1]
    return moments


def _exact_moments(networks, frequencies, scale, n_moments, left_out=None):
    """Chebyshev moments of the exact non-zero modes: the KPM's expectation value.

    ``left_out``, per network a boolean mask over its frequencies, marks the modes
    the KPM deflates (its outliers' exact counterparts): they are left out of the
    moments, and not counted as zero modes.
    """
    rows, zero_fraction = [], []
    masks = [None] * len(networks) if left_out is None else left_out
    for network, omega, mask in zip(networks, frequencies, masks):
        n_zero = np.count_nonzero(omega == 0)
        nonzero = omega[(omega > 0) if mask is None else (omega > 0) & ~mask]
        x = 2.0 * nonzero**2 / scale - 1.0
        rows.append(_chebyshev_values(x, n_moments).sum(axis=1) / network.n_nodes)
        zero_fraction.append(n_zero / network.n_nodes)
    return np.array(rows), np.array(zero_fraction)


def _chebyshev_values(x, n_moments):
    """T_n(x) for n < n_moments, shape ``(n_moments,) + x.shape``, by the recurrence."""
    x = np.asarray(x, dtype=float)
    values = np.empty((n_moments,) + x.shape)
    values[0] = 1.0
    values[1] = x
    for n in range(2, n_moments):
        values[n] = 2.0 * x * values[n - 1] - values[n - 2]
    return values


def _rescaled_moments(moments, ratios) -> np.ndarray:
    """Chebyshev moments for a wider bound: ``scale / ratio`` for moments rescaled by ``scale``.

    ``T_n(2 lambda / wider - 1) = T_n(r x + r - 1)`` with ``x = 2 lambda / scale - 1``
    and ``r = scale / wider``: a polynomial of degree n < K in x, so the new
    moments are exact combinations of the old ones. Its Chebyshev series is
    given exactly by its values at the K Chebyshev nodes
    ``x_j = cos(pi (j + 1/2) / K)`` (discrete orthogonality), so
    ``mu'_n = (2 / K) sum_j T_n(r x_j + r - 1) h_j`` with
    ``h_j = sum_m w_m mu_m T_m(x_j)`` (``w_0 = 1/2``, else 1): the old series at the
    nodes. Every row of ``moments`` (shape ``(S, ..., K)``) has its own ratio
    (shape ``(S,)``, each in (0, 1]), and all are converted at once.
    """
    moments = np.asarray(moments, dtype=float)
    n_rows, n_moments = len(moments), moments.shape[-1]
    ratios = np.asarray(ratios, dtype=float)
    # Past 1 the nodes leave [-1, 1], where the recurrence for T_n grows without bound.
    if ratios.shape != (n_rows,) or not np.all((ratios > 0) & (ratios <= 1)):
        raise ValueError(f"ratios must be one per row, each in (0, 1]; got {ratios}")
    nodes = np.cos(np.pi * (np.arange(n_moments) + 0.5) / n_moments)
    weighted = moments.reshape(n_rows, -1, n_moments).copy()
    weighted[..., 0] *= 0.5
    series = weighted @ _chebyshev_values(nodes, n_moments)  # h at the nodes: (S, G, K)
    converted = np.empty_like(series)
    # T_n at the nodes mapped by each distinct ratio, (ratios, K, K), a bounded number of
    # ratios at a time; the rows of one ratio are converted by one product.
    distinct, row_ratio = np.unique(ratios, return_inverse=True)
    chunk = max(1, _CONVERSION_ENTRIES // n_moments**2)
    for start in range(0, len(distinct), chunk):
        part = distinct[start:start + chunk, None]
        values = _chebyshev_values(part * nodes + (part - 1.0), n_moments).transpose(1, 2, 0)
        for k, matrix in enumerate(values):
            rows = row_ratio == start + k
            converted[rows] = series[rows] @ matrix
    return (converted * (2.0 / n_moments)).reshape(moments.shape)


# --------------------------------------------------------------------------- reconstruction


def _jackson(n_moments) -> np.ndarray:
    """Jackson damping factors g_n (Weisse et al., Eq. (71))."""
    n = np.arange(n_moments)
    q = np.pi / (n_moments + 1)
    return ((n_moments - n + 1) * np.cos(q * n) + np.sin(q * n) / np.tan(q)) / (n_moments + 1)


def _jacobi_orthonormal(x, degree):
    """Orthonormal Jacobi polynomials p_m(x), m < degree, for weight (1-x)^a (1+x)^b.

    Three-term recurrence ``x p_m = a_m+1 p_m+1 + b_m p_m + a_m p_m-1``; shape (degree, len(x)).
    """
    a, b = JACOBI_ALPHA, JACOBI_BETA
    m = np.arange(degree, dtype=float)
    s = 2.0 * m + a + b
    diagonal = (b * b - a * a) / (s * (s + 2.0))
    k = m[1:]
    sk = 2.0 * k + a + b
    off = (2.0 / sk) * np.sqrt(k * (k + a) * (k + b) * (k + a + b) / ((sk - 1.0) * (sk + 1.0)))
    log_norm = (a + b + 1) * np.log(2.0) + scipy.special.gammaln(a + 1) + scipy.special.gammaln(
        b + 1
    ) - scipy.special.gammaln(a + b + 2)
    values = np.empty((degree, len(x)))
    values[0] = np.exp(-0.5 * log_norm)
    if degree > 1:
        values[1] = (x - diagonal[0]) * values[0] / off[0]
    for j in range(1, degree - 1):
        values[j + 1] = ((x - diagonal[j]) * values[j] - off[j - 1] * values[j - 1]) / off[j]
    return values


@functools.lru_cache(maxsize=16)
def _chebyshev_to_jacobi(n_moments) -> np.ndarray:
    """Matrix C with p_m = sum_n C[m, n] T_n, so Jacobi moments are C @ Chebyshev moments.

    Exact: p_m has degree < n_moments, and the DCT at n_moments Chebyshev nodes
    recovers the Chebyshev coefficients of any such polynomial.
    """
    nodes = np.cos(np.pi * (np.arange(n_moments) + 0.5) / n_moments)
    coefficients = scipy.fft.dct(_jacobi_orthonormal(nodes, n_moments), type=2, axis=1)
    coefficients /= n_moments
    coefficients[:, 0] /= 2.0
    coefficients.flags.writeable = False
    return coefficients


def _density_x(moment_rows, x):
    """Density rho(x) per node on [-1, 1] from Chebyshev moments (Jacobi reconstruction)."""
    n_moments = moment_rows.shape[1]
    jacobi_moments = moment_rows @ _chebyshev_to_jacobi(n_moments).T
    damped = jacobi_moments * _jackson(n_moments)
    weight = (1.0 - x) ** JACOBI_ALPHA * (1.0 + x) ** JACOBI_BETA
    return (damped @ _jacobi_orthonormal(x, n_moments)) * weight


def _reconstruct(moment_rows, scale, omega):
    """g(omega)/omega = 2 rho_lambda(omega^2) = (4 / scale) rho_x(x(omega^2)); 0 off the band."""
    x = 2.0 * omega**2 / scale - 1.0
    inside = x <= 1.0
    reduced = np.zeros((len(moment_rows), len(omega)))
    reduced[:, inside] = (4.0 / scale) * _density_x(moment_rows, x[inside])
    return reduced


#: Points of the quadrature that integrates the reconstructed density (cumulative DOS).
_CUMULATIVE_POINTS = 4001


def _cumulative(moment_rows, scale, omega):
    """Fraction of non-zero modes below omega, integrating the reconstructed density."""
    # Uniform in theta, x = -cos(theta): dense near both band edges, where the density bends.
    theta = np.linspace(0.0, np.pi, _CUMULATIVE_POINTS)
    x = -np.cos(theta)
    integrand = _density_x(moment_rows, x) * np.sin(theta)
    steps = 0.5 * (integrand[:, 1:] + integrand[:, :-1]) * np.diff(theta)
    running = np.concatenate([np.zeros((len(moment_rows), 1)), np.cumsum(steps, axis=1)], axis=1)
    target = np.clip(2.0 * omega**2 / scale - 1.0, -1.0, 1.0)
    return np.stack([np.interp(target, x, row) for row in running])
