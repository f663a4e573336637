"""Fill the result store for a lecture: ``python -m bpwidgets.warm``.

Computes, once, everything a class will ask for and keeps it in the shared
result store (:mod:`bpwidgets.core.store`): every δ of the slider and of the
sweep tab at the paper's size (L = 60, 10 seeds) for both connection rules and
both spring laws, and every preset with its pinned curves. ``--glass`` adds the
glass beside them (:func:`glass_grid`): jammed disks at the lecture size, every
pressure of its slider, both spring laws, with their packings, its time printed
apart. It is not made by default: its packings are made one after the other and
take minutes (one of 3600 disks takes about 5 s on an idle core, and there are
50); as on the page, N = size^2 is at most 10^4 (checked before anything is
warmed). Each state is computed exactly as the dashboard computes it, so every page
that asks for one of them afterwards reads it instead of computing. What is
stored already is skipped, so a second run costs seconds.

``make warm`` runs it; ``make class`` runs it before serving; Binder's
``postBuild`` runs it so that a Binder page starts warm.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

from .core.analysis import DOS_MOMENTS
from .core.dos import stored_spectra
from .core.kpm import seed_vectors
from .core.network import CONNECTIONS, SPRINGS
from .core.packings import stored_contact_spectra, stored_packing
from .core.store import STORE_ENVIRONMENT, open_store
from .session.pipeline import JAMMED_MAX_DISKS, Request, check_jammed, compute
from .session.presets import PRESETS
from .session.schema import JAMMED, PRESSURE_GRID, Parameters, field_of

__all__ = ["LECTURE_SEEDS", "LECTURE_SIZE", "glass_grid", "is_stored", "lecture_grid", "main",
           "slider_deltas", "warm"]

#: The paper's size and seed count: what a lecture shows unless someone changes them.
LECTURE_SIZE, LECTURE_SEEDS = 60, 10

#: Characters of the progress bar.
_BAR_WIDTH = 30


def slider_deltas() -> tuple:
    """Every value the δ slider can take, as the controls round them.

    Examples
    --------
    >>> deltas = slider_deltas()
    >>> len(deltas), deltas[:3], deltas[-1]
    (51, (0.0, 0.01, 0.02), 0.5)
    """
    field = field_of("delta")
    steps = round((field.high - field.low) / field.step)
    return tuple(round(field.low + k * field.step, 6) for k in range(steps + 1))


def lecture_grid(size=LECTURE_SIZE, seeds=LECTURE_SEEDS) -> list:
    """The dashboard states of a lecture: each slider δ, and each δ of the sweep tab, for
    every model, then the presets.

    Parameters
    ----------
    size, seeds : int, optional
        Grid size and number of seeds of the slider states (the presets keep theirs).

    Returns
    -------
    list of Parameters
        Without repeats, in the order they are computed.

    Examples
    --------
    >>> grid = lecture_grid()
    >>> len(grid), grid[0].delta, grid[0].size, grid[0].n_seeds
    (240, 0.0, 60, 10)
    """
    from .app.sweep_panel import DEFAULT_DELTAS

    deltas = sorted(set(slider_deltas()) | set(DEFAULT_DELTAS))
    states = [
        Parameters(size=size, delta=delta, n_seeds=seeds, connection=connection, spring=spring)
        for connection in CONNECTIONS
        for spring in SPRINGS
        for delta in deltas
    ]
    for preset in PRESETS.values():
        states.extend((preset.parameters, *preset.pinned_parameters()))
    return list(dict.fromkeys(states))


def glass_grid(size=LECTURE_SIZE, seeds=LECTURE_SEEDS) -> list:
    """The glass's dashboard states: jammed disks at every pressure of the slider, both springs.

    Parameters
    ----------
    size, seeds : int, optional
        N = size^2 disks, and the packings averaged.

    Returns
    -------
    list of Parameters
        Spring laws outermost, so that the second law's states reuse the first's packings.

    Examples
    --------
    >>> grid = glass_grid()
    >>> len(grid), grid[0].connection, grid[0].n_disks, grid[0].pressure
    (10, 'jammed', 3600, 0.0001)
    """
    return [Parameters(size=size, n_seeds=seeds, connection=JAMMED, spring=spring,
                       pressure=pressure).relevant()
            for spring in SPRINGS for pressure in PRESSURE_GRID]


def is_stored(parameters: Parameters, store=None) -> bool:
    """Whether every seed of a dashboard state is in the store (and a glass's first packing)."""
    p = parameters
    vectors = seed_vectors(p.size * p.size, p.n_seeds)
    if p.jammed:
        return (stored_contact_spectra(p.n_disks, pressure=p.pressure, spring=p.spring,
                                       seeds=p.seeds, moments=DOS_MOMENTS, vectors=vectors,
                                       store=store) is not None
                and stored_packing(p.n_disks, pressure=p.pressure, seed=p.seeds[0],
                                   store=store) is not None)
    return stored_spectra(p.size, p.delta, seeds=p.seeds, moments=DOS_MOMENTS, vectors=vectors,
                          store=store, **p.model()) is not None


def warm(states, *, progress=None) -> dict:
    """Compute every state not yet in the default store, as the dashboard would.

    Parameters
    ----------
    states : sequence of Parameters
    progress : callable, optional
        ``progress(done, total, parameters)`` after each state.

    Returns
    -------
    dict
        ``computed`` and ``stored`` (already there) counts, and ``seconds``.

    Raises
    ------
    RuntimeError
        When the result store is off or cannot be written: warming would be lost.
    """
    store = open_store(None)
    if store is None:
        raise RuntimeError(f"the result store is off ({STORE_ENVIRONMENT}="
                           f"{os.environ.get(STORE_ENVIRONMENT, '')!r}) or cannot be opened: "
                           "there is nothing to warm")
    start = time.perf_counter()
    computed = stored = 0
    for done, parameters in enumerate(states, start=1):
        if is_stored(parameters, store):
            stored += 1
        else:
            compute(Request(parameters))
            computed += 1
            if not store.writable:
                raise RuntimeError(f"the result store {store.directory} refused a write: "
                                   "there is nothing to warm")
        if progress is not None:
            progress(done, len(states), parameters)
    return {"computed": computed, "stored": stored, "seconds": time.perf_counter() - start}


def _progress_bar(stream):
    """A one-line progress bar on a terminal; a line per tenth of the work elsewhere."""
    interactive = stream.isatty()
    started = time.perf_counter()

    def show(done, total, p):
        elapsed = time.perf_counter() - started
        if interactive:
            filled = _BAR_WIDTH * done // total
            disorder = f"p={p.pressure:g}" if p.jammed else f"δ={p.delta:.2f}"
            stream.write(f"\r[{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {done}/{total} "
                         f"L={p.size} {disorder} {p.connection} {p.spring}  "
                         f"{elapsed:.0f} s ")
            if done == total:
                stream.write("\n")
        elif done == total or done * 10 // total != (done - 1) * 10 // total:
            stream.write(f"warm: {done}/{total} states, {elapsed:.0f} s\n")
        stream.flush()

    return show


def main(argv=None) -> int:
    """Warm the store for a lecture; print what was done."""
    parser = argparse.ArgumentParser(
        prog="python -m bpwidgets.warm",
        description="Fill the result store with every slider position and preset of a lecture.",
    )
    parser.add_argument("--size", type=int, default=LECTURE_SIZE,
                        help=f"grid size L of the slider states (default {LECTURE_SIZE})")
    parser.add_argument("--seeds", type=int, default=LECTURE_SEEDS,
                        help=f"seeds of the slider states (default {LECTURE_SEEDS})")
    parser.add_argument("--store", metavar="DIRECTORY",
                        help=f"the store to fill (default: ${STORE_ENVIRONMENT}, else the "
                             "user's cache directory)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--glass", action=argparse.BooleanOptionalAction, default=False,
                        help="also the glass: jammed disks of N = size^2 at every pressure "
                             "of the slider, both springs (default: no; it takes minutes); "
                             f"size at most {math.isqrt(JAMMED_MAX_DISKS)}, as on the page")
    options = parser.parse_args(argv)
    if options.store is not None:
        os.environ[STORE_ENVIRONMENT] = options.store
    try:  # the size and seeds asked for, as the controls allow them
        Parameters(size=options.size, n_seeds=options.seeds).checked()
    except ValueError as error:
        parser.error(str(error))
    if options.glass:  # before the lattice's minutes, not after them
        try:
            check_jammed(glass_grid(options.size, options.seeds)[0])
        except ValueError as error:
            parser.error(f"--glass: {error}")
    parts = [("dashboard states", lecture_grid(options.size, options.seeds))]
    if options.glass:
        parts.append(("glass states", glass_grid(options.size, options.seeds)))
    for what, states in parts:
        progress = None if options.quiet else _progress_bar(sys.stderr)
        try:
            summary = warm(states, progress=progress)
        except RuntimeError as error:
            print(f"warm: {error}", file=sys.stderr)
            return 2
        store = open_store(None)
        print(f"warm: {len(states)} {what} in {store.directory}: "
              f"{summary['computed']} computed, {summary['stored']} already stored, "
              f"{summary['seconds']:.1f} s; the store holds {store.volume() / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
