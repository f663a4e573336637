"""Export what the dashboard shows: figures (PNG, SVG, PDF) and data (CSV, NPZ).

Everything is rendered on the kernel side from the :class:`~bpwidgets.session.pipeline.Snapshot`
the panels draw and the pinned references, so a file holds exactly what the page
shows. Figures are drawn once by :func:`bpwidgets.figures.dashboard_figure` with
matplotlib (imported only when a figure is asked for) and saved in each format;
the data files need numpy alone. :func:`download_links` wraps the files as
``data:`` links that a browser saves with one click; :func:`prepare_downloads`
makes the whole downloads line, reporting progress, with at most
:data:`EXPORT_MAX_PINS` pins in the files and every link below :data:`LINK_LIMIT`.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import platform
from dataclasses import asdict
from importlib import metadata

import numpy as np

from ..core.dos import crystal_reduced_dos
from ..views.plotdata import align_histograms, network_view, result_summary, snapshot_summary

__all__ = [
    "CSV_COLUMNS",
    "EXPORT_MAX_PINS",
    "FIGURE_FORMATS",
    "LINK_LIMIT",
    "MIME_TYPES",
    "data_csv",
    "data_npz",
    "download_links",
    "export_files",
    "figure_bytes",
    "figure_files",
    "file_stem",
    "package_versions",
    "prepare_downloads",
    "prepare_shown",
    "progress_html",
]

#: Columns of the CSV: one row per point of every curve and every histogram bar.
CSV_COLUMNS = ("quantity", "curve", "seed", "x", "y")
#: Figure formats matplotlib writes, in the order of the download links.
FIGURE_FORMATS = ("png", "svg", "pdf")
MIME_TYPES = {
    "png": "image/png",
    "svg": "image/svg+xml",
    "pdf": "application/pdf",
    "csv": "text/csv",
    "npz": "application/octet-stream",
}
#: Packages whose versions are written into the data files.
_PACKAGES = ("bpwidgets", "numpy", "scipy", "ipywidgets", "bqplot", "voila", "matplotlib")
#: Resolution of the PNG: sharp on a projector, a few hundred kB.
_PNG_DPI = 110
#: Projector mode: default text and line sizes of the exported figure this many times larger.
_PROJECTOR_SCALE = 1.5
#: Longest link Chromium follows (its URL limit, 2 MiB): a longer ``data:`` link saves
#: nothing. A file whose link would be longer is not offered, and the page says so.
LINK_LIMIT = 2 * 1024 * 1024
#: At most this many pinned references go into the files (the page says when more are
#: pinned). Each adds about 78 kB to the CSV (its curve, its error and its histogram):
#: with 20 seeds and 10 pins the CSV's link is about 1.76 MB, below :data:`LINK_LIMIT`.
EXPORT_MAX_PINS = 10


def package_versions() -> dict:
    """Versions of Python and of the packages behind a result (absent ones omitted)."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def file_stem(snapshot) -> str:
    """File name without extension, naming the parameters: ``bpwidgets-cutoff-inverse-L60-d0.30``.

    Jammed disks are named by their number and pressure: ``bpwidgets-jammed-inverse-N400-p0.001``.
    """
    p = snapshot.request.parameters
    if p.jammed:
        return f"bpwidgets-jammed-{p.spring}-N{p.n_disks}-p{p.pressure:g}"
    return f"bpwidgets-{p.connection}-{p.spring}-L{p.size}-d{p.delta:.2f}"


def _metadata(snapshot) -> dict:
    p = snapshot.request.parameters
    peak = snapshot.peak
    return {
        "parameters": asdict(p),
        "seeds": [int(s) for s in snapshot.dos.seeds],
        "debye_level": float(snapshot.dos.debye_level),
        "debye_level_error": _finite(snapshot.dos.debye_level_error),
        "mean_coordination": float(snapshot.mean_coordination),
        "mean_coordination_error": _finite(snapshot.mean_coordination_error),
        "boson_peak_omega": None if peak is None else peak.omega,
        "boson_peak_omega_error": None if peak is None else _finite(peak.omega_error),
        "boson_peak_excess": None if peak is None else peak.excess,
        "boson_peak_excess_error": None if peak is None else _finite(peak.excess_error),
        "summary": result_summary(snapshot.mean_coordination, peak,
                                  snapshot.mean_coordination_error),
        "rattler_fraction": float(snapshot.rattler_fraction),
        "window": None if snapshot.request.window is None else list(snapshot.request.window),
        "versions": package_versions(),
    }


def _finite(value):
    """``value`` as a float, or None when it is not known (NaN): JSON has no NaN."""
    return float(value) if np.isfinite(value) else None


def data_csv(snapshot, pins=()) -> str:
    """Every curve and histogram the panels show, as one tidy CSV table.

    ``#`` lines first carry the parameters, seeds, Debye level, mean Z, the Boson
    peak, their standard errors (``null`` when not estimated) and package
    versions (as JSON values). Then a table with :data:`CSV_COLUMNS`: ``quantity``
    is ``reduced_dos``, ``reduced_dos_error`` (the mean's standard error, NaN
    where it cannot be estimated: one seed with one random vector), ``crystal_reduced_dos`` or ``coordination_fraction``; ``curve`` is
    ``mean``, ``seed`` (with its ``seed``), ``crystal``, ``live`` or
    ``pinned: <label>``; ``x`` is omega or Z. Floats are written exactly (``repr``).

    Parameters
    ----------
    snapshot : Snapshot
        The result the panels show.
    pins : sequence of bpwidgets.session.Pin
        The pinned references.
    """
    out = io.StringIO()
    out.write("# bpwidgets dashboard export\n")
    for key, value in _metadata(snapshot).items():
        out.write(f"# {key}: {json.dumps(value, ensure_ascii=False)}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    dos = snapshot.dos
    omega = np.asarray(dos.omega)

    def rows(quantity, curve, seed, x, y):
        writer.writerows((quantity, curve, seed, repr(float(a)), repr(float(b)))
                         for a, b in zip(x, y))

    rows("reduced_dos", "mean", "", omega, dos.mean)
    rows("reduced_dos_error", "mean", "", omega, dos.mean_error)
    for seed, curve in zip(dos.seeds, np.atleast_2d(dos.per_seed)):
        rows("reduced_dos", "seed", int(seed), omega, curve)
    rows("crystal_reduced_dos", "crystal", "", omega, crystal_reduced_dos(omega))
    rows("coordination_fraction", "live", "", snapshot.coordination, snapshot.fractions)
    for pin in pins:
        rows("reduced_dos", f"pinned: {pin.label}", "", pin.omega, pin.mean)
        if pin.mean_error is not None:
            rows("reduced_dos_error", f"pinned: {pin.label}", "", pin.omega, pin.mean_error)
        rows("coordination_fraction", f"pinned: {pin.label}", "", pin.z, pin.fractions)
    return out.getvalue()


def data_npz(snapshot, pins=()) -> bytes:
    """The same data as :func:`data_csv` as a compressed ``.npz`` archive.

    Arrays: ``omega``, ``reduced_dos_mean``, ``reduced_dos_per_seed`` (seeds x omega),
    ``reduced_dos_mean_error``, ``seeds``, ``debye_level``, ``crystal_reduced_dos``,
    ``coordination``,
    ``coordination_fraction``, ``mean_coordination``; the pins as
    ``pinned_labels``, ``pinned_omega``, ``pinned_reduced_dos`` and
    ``pinned_reduced_dos_error`` (rows padded
    with NaN), ``pinned_coordination`` and ``pinned_coordination_fraction``; and
    ``metadata``, a JSON string with the parameters and package versions.
    """
    dos = snapshot.dos
    width = max([len(pin.omega) for pin in pins], default=0)
    pinned_omega = np.full((len(pins), width), np.nan)
    pinned_mean = np.full((len(pins), width), np.nan)
    pinned_error = np.full((len(pins), width), np.nan)
    for row, pin in enumerate(pins):
        pinned_omega[row, : len(pin.omega)] = pin.omega
        pinned_mean[row, : len(pin.mean)] = pin.mean
        if pin.mean_error is not None:
            pinned_error[row, : len(pin.mean_error)] = pin.mean_error
    pinned_z, pinned_fractions = align_histograms([(pin.z, pin.fractions) for pin in pins])
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        omega=np.asarray(dos.omega),
        reduced_dos_mean=np.asarray(dos.mean),
        reduced_dos_mean_error=np.asarray(dos.mean_error),
        reduced_dos_per_seed=np.atleast_2d(dos.per_seed),
        seeds=np.asarray(dos.seeds, dtype=int),
        debye_level=np.float64(dos.debye_level),
        crystal_reduced_dos=crystal_reduced_dos(np.asarray(dos.omega)),
        coordination=np.asarray(snapshot.coordination),
        coordination_fraction=np.asarray(snapshot.fractions),
        mean_coordination=np.float64(snapshot.mean_coordination),
        pinned_labels=np.array([pin.label for pin in pins], dtype=str),
        pinned_omega=pinned_omega,
        pinned_reduced_dos=pinned_mean,
        pinned_reduced_dos_error=pinned_error,
        pinned_coordination=pinned_z,
        pinned_coordination_fraction=pinned_fractions,
        metadata=np.array(json.dumps(_metadata(snapshot), ensure_ascii=False)),
    )
    return buffer.getvalue()


def figure_bytes(snapshot, pins=(), fmt="png", *, projector=False) -> bytes:
    """The three panels drawn by matplotlib, as a PNG, SVG or PDF file.

    Raises
    ------
    ValueError
        For a format not in :data:`FIGURE_FORMATS`.
    ImportError
        When matplotlib is not installed.
    """
    return figure_files(snapshot, pins, (fmt,), projector=projector)[fmt]


def figure_files(snapshot, pins=(), formats=FIGURE_FORMATS, *, projector=False,
                 progress=None) -> dict:
    """The three panels drawn once by matplotlib and saved in each format: ``{format: bytes}``.

    ``progress(format)`` is called before each format is written.

    Raises
    ------
    ValueError
        For a format not in :data:`FIGURE_FORMATS`.
    ImportError
        When matplotlib is not installed.
    """
    for fmt in formats:
        if fmt not in FIGURE_FORMATS:
            raise ValueError(f"format must be one of {FIGURE_FORMATS}, not {fmt!r}")
    from matplotlib import rc_context

    figure = _dashboard_figure(snapshot, pins, projector=projector)
    files = {}
    for fmt in formats:
        if progress is not None:
            progress(fmt)
        buffer = io.BytesIO()
        # Text stays text in the SVG (searchable, selectable), not outlines.
        with rc_context({"svg.fonttype": "none"}):
            figure.savefig(buffer, format=fmt, dpi=_PNG_DPI)
        files[fmt] = buffer.getvalue()
    return files


def _dashboard_figure(snapshot, pins, *, projector):
    """The panels as a matplotlib Figure (``bpwidgets.figures.dashboard_figure``)."""
    from matplotlib import rc_context

    from ..figures import dashboard_figure

    scale = _PROJECTOR_SCALE if projector else 1.0
    with rc_context({"font.size": 10 * scale, "axes.titlesize": 11 * scale,
                     "axes.labelsize": 10 * scale, "lines.linewidth": 1.5 * scale}):
        return dashboard_figure(
            network_view(snapshot.network), snapshot.dos, snapshot.peak, snapshot.coordination,
            snapshot.fractions, snapshot.mean_coordination, pins,
            node_coordination=snapshot.network.coordination,
            title=snapshot_summary(snapshot),
        )


def export_files(snapshot, pins=(), *, projector=False, figures=True, progress=None,
                 max_pins=EXPORT_MAX_PINS) -> dict:
    """Every export as ``{file name: bytes}``: the figures (if asked) and the data.

    Only the first ``max_pins`` pins go into the files. ``progress(done, total)`` is
    called before each file is made (``done`` counts from 1).
    """
    stem, pins = file_stem(snapshot), tuple(pins)[:max_pins]
    total = (len(FIGURE_FORMATS) if figures else 0) + 2
    made = []

    def step(_name=None):
        made.append(_name)
        if progress is not None:
            progress(len(made), total)

    files = {}
    if figures:
        drawn = figure_files(snapshot, pins, projector=projector, progress=step)
        files.update((f"{stem}.{fmt}", content) for fmt, content in drawn.items())
    step()
    files[f"{stem}.csv"] = data_csv(snapshot, pins).encode("utf-8")
    step()
    files[f"{stem}.npz"] = data_npz(snapshot, pins)
    return files


#: What the downloads line says while the files are made, and when they came too late.
PREPARING = '<div class="bp-downloads" role="status">Preparing the files …</div>'
STALE = ('<div class="bp-downloads">The view changed while the files were prepared: '
         "press again.</div>")


def progress_html(done: int, total: int) -> str:
    """The downloads line while the files are made: "Preparing the files … 2 of 5"."""
    return (f'<div class="bp-downloads" role="status">Preparing the files … {done} of {total}'
            "</div>")


def prepare_downloads(snapshot, pins=(), *, projector=False, progress=None) -> str:
    """The downloads line: a link per file of what is shown, and what was left out.

    At most :data:`EXPORT_MAX_PINS` pins go into the files (the line says so when more
    are pinned); without matplotlib, the data alone. ``progress(done, total)`` as in
    :func:`export_files`.
    """
    notes = []
    if len(pins) > EXPORT_MAX_PINS:
        notes.append(f"the files hold the first {EXPORT_MAX_PINS} of the {len(pins)} pins")
    try:
        files = export_files(snapshot, pins, projector=projector, progress=progress)
    except ImportError:
        files = export_files(snapshot, pins, projector=projector, figures=False,
                             progress=progress)
        notes.append("figures need matplotlib: pip install matplotlib")
    note = f' <span class="bp-downloads-note">({"; ".join(notes)})</span>' if notes else ""
    return download_links(files).replace("</div>", f"{note}</div>")


def download_links(files: dict) -> str:
    """HTML with one ``<a download>`` link per file, its content inlined as a data URL.

    A file whose link would be longer than :data:`LINK_LIMIT` gets no link (the
    browser would save nothing): the line names it and its size instead.
    """
    links = []
    for name, content in files.items():
        extension = name.rsplit(".", 1)[-1]
        encoded = base64.b64encode(content).decode("ascii")
        if len(encoded) + len(MIME_TYPES[extension]) + 13 > LINK_LIMIT:  # "data:…;base64,"
            links.append(
                f'<span class="bp-download-too-large" style="margin-right:1em">'
                f"{extension.upper()}: {len(content) / 1e6:.1f} MB, too large for a download "
                "link (pin fewer references or average fewer seeds)</span>"
            )
            continue
        links.append(
            f'<a class="bp-download bp-download-{extension}" download="{html.escape(name)}" '
            f'href="data:{MIME_TYPES[extension]};base64,{encoded}" '
            f'style="margin-right:1em">{extension.upper()}</a>'
        )
    return f'<div class="bp-downloads">Download: {"".join(links)}</div>'

def prepare_shown(dashboard, progress) -> None:
    """Make the downloads of what ``dashboard`` shows and write their links beside the button.

    Runs on the export's thread. The view is read under the session's lock; a count
    and the links are written only while that view (result, pins, projector mode)
    is still on the page, else the page asks to press again.
    """
    session = dashboard.session
    with session.lock:
        shown = (dashboard.snapshot, dashboard.pins, dashboard.projector)

    def unchanged():
        now = (dashboard.snapshot, dashboard.pins, dashboard.projector)
        return now[0] is shown[0] and now[1] is shown[1] and now[2] == shown[2]

    def report(done, total):  # a late count must not cover a newer view's line
        with session.lock:
            if unchanged():
                progress(done, total)

    links = prepare_downloads(shown[0], shown[1], projector=shown[2], progress=report)
    # Check and write under the lock: a result drawn in between would otherwise
    # clear the message first and then show links to the old view.
    with session.lock:
        dashboard.lecture.downloads.value = links if unchanged() else STALE
