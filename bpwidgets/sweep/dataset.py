"""A sweep's xarray Dataset: each point's seeds joined as ``reduced_dos`` joins them; files.

:func:`_dataset` fills the dataset from the parts that came back, NaN where
one did not; :func:`save` and :func:`load` write and read it as netCDF or
zarr, and :func:`failures` lists a sweep's failed tasks. xarray is imported
inside the functions.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import __version__
from ..core.analysis import boson_peak_of
from ..core.packings import held_counts
from ..core.result import ReducedDOS, standard_error
from ..core.store import NUMERICS_VERSION
from .grid import _Grid

__all__ = ["failures", "load", "save"]


def _dataset(grid: _Grid, points: dict, omega: np.ndarray, parts: dict):
    """Assemble the dataset: each point's seeds joined as reduced_dos joins them."""
    import xarray as xr

    shape, n_seeds = grid.shape, len(grid.seeds)
    seed_shape = shape + (n_seeds,)
    curves = np.full(seed_shape + (omega.size,), np.nan)
    per_seed = {name: np.full(seed_shape, np.nan)
                for name in ("debye_level", "mean_z", "var_z", "zero_modes")}
    done = np.zeros(seed_shape, dtype=bool)
    mean_curve = np.full(shape + (omega.size,), np.nan)
    mean_error = np.full(shape + (omega.size,), np.nan)
    per_point = {name: np.full(shape, np.nan) for name in (
        "debye_level_mean", "debye_level_error", "pooled_mean_z", "pooled_mean_z_error",
        "pooled_var_z", "peak_omega", "peak_omega_error", "peak_excess", "peak_excess_error",
        "peak_reduced_dos")}
    glass_seed = {name: np.full(seed_shape, np.nan) for name in _GLASS_PER_SEED if grid.jammed}
    glass_point = {name: np.full(shape, np.nan) for name in _GLASS_PER_POINT if grid.jammed}
    found = np.zeros(shape, dtype=bool)
    complete = np.zeros(shape, dtype=bool)
    vectors = np.zeros(shape, dtype=np.int64)
    for index, point in points.items():
        vectors[index] = grid.vectors(point)
        present = [(k, parts[index, s]) for k, s in enumerate(grid.seeds) if (index, s) in parts]
        if not present:
            continue
        rows = [k for k, _ in present]
        spectra = [spectrum for _, spectrum in present]
        dos = ReducedDOS.from_spectra(spectra, omega=omega)
        done[index][rows] = True
        curves[index][rows] = dos.per_seed
        per_seed["debye_level"][index][rows] = dos.debye_levels
        per_seed["zero_modes"][index][rows] = dos.zero_modes
        means, squares = zip(*(_z_moments(s) for s in spectra))
        per_seed["mean_z"][index][rows] = means
        per_seed["var_z"][index][rows] = np.array(squares) - np.array(means) ** 2
        if grid.jammed:
            held = [_held_disks(s) for s in spectra]
            glass_seed["rattlers"][index][rows] = [s.coordination_counts[0] / s.n_nodes
                                                   for s in spectra]
            glass_seed["held_mean_z"][index][rows] = [z / disks for disks, z in held]
        if len(present) < n_seeds:
            continue  # the point is missing: its seeds' values are kept, its own are NaN
        complete[index] = True
        mean_curve[index] = dos.mean
        mean_error[index] = dos.mean_error
        values = per_point  # the point's own numbers, as reduced_dos and boson_peak_of give them
        values["debye_level_mean"][index] = dos.debye_level
        values["debye_level_error"][index] = dos.debye_level_error
        values["pooled_mean_z"][index] = float(np.mean(means))
        values["pooled_mean_z_error"][index] = dos.mean_coordination_error
        values["pooled_var_z"][index] = float(np.mean(squares) - np.mean(means) ** 2)
        if grid.jammed:  # as the dashboard's summary: the disks that are not rattlers
            disks, z_total = np.sum(held, axis=0)
            glass_point["pooled_held_mean_z"][index] = z_total / disks
            glass_point["pooled_held_mean_z_error"][index] = float(
                standard_error(glass_seed["held_mean_z"][index]))
        peak = boson_peak_of(dos, point.size)
        if peak is not None:
            found[index] = True
            values["peak_omega"][index] = peak.omega
            values["peak_omega_error"][index] = peak.omega_error
            values["peak_excess"][index] = peak.excess
            values["peak_excess_error"][index] = peak.excess_error
            values["peak_reduced_dos"][index] = peak.reduced_dos
    point_dims, seed_dims = grid.parameters, grid.parameters + ("seed",)
    variables = {
        "reduced_dos": (seed_dims + ("omega",), curves),
        **{name: (seed_dims, array) for name, array in per_seed.items()},
        **{name: (seed_dims, array) for name, array in glass_seed.items()},
        "done": (seed_dims, done),
        "reduced_dos_mean": (point_dims + ("omega",), mean_curve),
        "reduced_dos_error": (point_dims + ("omega",), mean_error),
        **{name: (point_dims, array) for name, array in per_point.items()},
        **{name: (point_dims, array) for name, array in glass_point.items()},
        "peak_found": (point_dims, found),
        "complete": (point_dims, complete),
        "vectors": (point_dims, vectors),
    }
    coords = {name: np.array(grid.values[name]) for name in grid.parameters}
    coords.update(seed=np.array(grid.seeds, dtype=np.int64), omega=omega)
    title = _GLASS_TITLE if grid.jammed else _MODEL_TITLE
    dataset = xr.Dataset(
        {name: (dims, array, {"description": _DESCRIPTIONS[name]})
         for name, (dims, array) in variables.items()},
        coords=coords,
        attrs=dict(title=title, bpwidgets_version=__version__,
                   numerics_version=NUMERICS_VERSION, method="kpm", moments=grid.moments),
    )
    described = _COORDINATE_DESCRIPTIONS | (_GLASS_COORDINATE_DESCRIPTIONS if grid.jammed
                                            else {})
    for name in dataset.coords:
        dataset[name].attrs["description"] = described[name]
    fixed = {name: 0 for name in grid.parameters if name not in grid.swept}
    return dataset.isel(fixed)


def _z_moments(spectrum) -> tuple:
    """Mean of Z and of Z squared over a network's nodes, from its coordination counts."""
    counts = np.asarray(spectrum.coordination_counts, dtype=float)
    z = np.arange(counts.size)
    return float(z @ counts / spectrum.n_nodes), float(z**2 @ counts / spectrum.n_nodes)


def _held_disks(spectrum) -> tuple:
    """``(disks, Z summed)`` over a packing's held disks (:func:`held_counts`)."""
    counts = held_counts(spectrum).astype(float)
    return float(counts.sum()), float(np.arange(counts.size) @ counts)


_DESCRIPTIONS = {
    "reduced_dos": "g(omega)/omega of each seed, per node",
    "debye_level": "each seed's Debye level 1/(2 pi sigma_eff)",
    "mean_z": "each seed's mean number of springs per node",
    "var_z": "variance of the number of springs per node over each seed's nodes",
    "zero_modes": "each seed's fraction of zero modes (connected clusters / N)",
    "done": "whether the seed's result came back (False: NaN in every variable of the seed)",
    "reduced_dos_mean": "g(omega)/omega averaged over the seeds",
    "reduced_dos_error": "standard error of the mean g(omega)/omega",
    "debye_level_mean": "the seeds' mean Debye level",
    "debye_level_error": "standard error of the mean Debye level",
    "pooled_mean_z": "mean Z over every node of every seed",
    "pooled_mean_z_error": "standard error of the mean Z over the seeds",
    "pooled_var_z": "variance of Z over every node of every seed",
    "peak_omega": "Boson peak position (NaN: no peak found, or the point is incomplete)",
    "peak_omega_error": "jackknife standard error of the peak position",
    "peak_excess": "Boson peak height above the Debye level, relative",
    "peak_excess_error": "jackknife standard error of the peak's excess",
    "peak_reduced_dos": "g(omega)/omega at the Boson peak",
    "peak_found": "whether a Boson peak was found (a complete point only)",
    "complete": "whether every seed of the point came back (False: the point is missing)",
    "vectors": "random vectors per seed of the kernel polynomial method",
}
#: The glass's own variables, besides the model's.
_GLASS_PER_SEED = ("rattlers", "held_mean_z")
_GLASS_PER_POINT = ("pooled_held_mean_z", "pooled_held_mean_z_error")
_DESCRIPTIONS.update(
    rattlers="each packing's fraction of rattlers (disks without springs)",
    held_mean_z="each packing's mean Z over the disks that are not rattlers",
    pooled_held_mean_z="mean Z over every disk of every packing that is not a rattler",
    pooled_held_mean_z_error="standard error over the seeds of the mean Z without rattlers",
)
_MODEL_TITLE = "Boson peak sweep of 2D spring networks (bpwidgets)"
_GLASS_TITLE = ("Boson peak sweep of the contact networks of jammed packings of soft disks "
                "(bpwidgets)")
_COORDINATE_DESCRIPTIONS = {
    "delta": "displacement of every node from its lattice site, in lattice constants",
    "size": "linear size L of the periodic L x L lattice",
    "connection": "springs between lattice neighbours, or every pair closer than a + delta",
    "spring": "spring law: stiffness 1/r (inverse) or 1 (constant)",
    "seed": "seed of the random network",
    "omega": "frequency",
}
_GLASS_COORDINATE_DESCRIPTIONS = {
    "pressure": "pressure of the jammed packings, in epsilon / d^2",
    "size": "L: each packing has N = L^2 disks",
    "connection": "jammed: the contacts of a jammed packing of soft disks are the springs",
    "seed": "seed of the packing's random starting positions",
}


def save(dataset, path) -> Path:
    """Write a sweep's dataset to netCDF (``.nc``) or zarr (``.zarr``).

    netCDF goes through h5netcdf or netCDF4 when one is installed, else
    scipy's netCDF3 writer, which needs nothing more. zarr needs the ``zarr``
    package.

    Parameters
    ----------
    dataset : xarray.Dataset
    path : str or Path
        A file name ending in ``.nc`` (or ``.nc4``, ``.cdf``), or ``.zarr``.

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        For another suffix.

    Examples
    --------
    >>> import tempfile
    >>> from bpwidgets.sweep import sweep
    >>> data = sweep(delta=[0.1, 0.3], size=20, seeds=2, client=False, store=False,
    ...              progress=False)
    >>> path = save(data, Path(tempfile.mkdtemp()) / "sweep.nc")
    >>> load(path).identical(data)
    True
    """
    path = Path(path)
    if path.suffix == ".zarr":
        dataset.to_zarr(path, mode="w")
    elif path.suffix in _NETCDF_SUFFIXES:
        dataset.to_netcdf(path, engine=_netcdf_engine())
    else:
        raise ValueError(f"a sweep is saved as netCDF ({', '.join(_NETCDF_SUFFIXES)}) or zarr "
                         f"(.zarr); got {path.name!r}")
    return path


def load(path):
    """A sweep's dataset saved by :func:`save`, read whole into memory (the file is closed).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    xarray.Dataset
    """
    import xarray as xr

    path = Path(path)
    if path.suffix == ".zarr":
        return xr.open_zarr(path).load()
    with xr.open_dataset(path, engine=_netcdf_engine()) as dataset:
        return dataset.load()


def failures(dataset) -> list:
    """The failed tasks of a sweep: dicts of the parameters, the seed and the error.

    Examples
    --------
    >>> from bpwidgets.sweep import sweep
    >>> failures(sweep(delta=0.2, size=20, seeds=1, client=False, store=False, progress=False))
    []
    """
    return json.loads(dataset.attrs.get("failures", "[]"))


_NETCDF_SUFFIXES = (".nc", ".nc4", ".cdf")


def _netcdf_engine() -> str:
    import importlib.util

    for module, engine in (("h5netcdf", "h5netcdf"), ("netCDF4", "netcdf4")):
        if importlib.util.find_spec(module) is not None:
            return engine
    return "scipy"
