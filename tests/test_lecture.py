"""The lecture-hall features without a browser: presets, play, projector, export, links.

Dashboards compute synchronously (``background=False``), so every click has been
drawn when it returns. The browser side (downloads, the URL query) is in
``test_browser.py``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import time
import xml.etree.ElementTree as ElementTree
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest
from ipywidgets import (
    HTML,
    Button,
    Label,
    Play,
    Text,
    ToggleButton,
    ToggleButtons,
    ValueWidget,
    Widget,
)

from bpwidgets.app import Dashboard
from bpwidgets.app import export as export_module
from bpwidgets.app.export import (
    CSV_COLUMNS,
    EXPORT_MAX_PINS,
    LINK_LIMIT,
    data_npz,
    download_links,
    export_files,
    figure_bytes,
)
from bpwidgets.app.lecture import PLAY_MAX_SEEDS, PLAY_MAX_SIZE, PLAY_STEP
from bpwidgets.app.panelbase import PROJECTOR_TICK_PX
from bpwidgets.core.paper import PAPER_DELTAS
from bpwidgets.session.pipeline import Request, compute
from bpwidgets.session.presets import PRESETS
from bpwidgets.session.schema import Parameters
from bpwidgets.serve import request_query
from bpwidgets.session.share import page_url, parse_query, state_query
from bpwidgets.views.plotdata import PIN_COLORS, result_summary

#: Smallest font the issue allows on the axes in projector mode (px).
MIN_PROJECTOR_PX = 18


def _query(link):
    return dict(parse_qsl(urlsplit(link).query))


# -- presets ---------------------------------------------------------------------------------


def test_fig2_left_sets_every_control_and_pins_the_paper_deltas(small_dashboard):
    small_dashboard.apply_preset("Fig. 2 left")
    controls = small_dashboard.controls
    assert (controls.connection.value, controls.spring.value) == ("nearest", "inverse")
    assert (controls.size.value, controls.n_seeds.value, controls.first_seed.value) == (60, 10, 0)
    assert controls.delta.value == pytest.approx(0.3)
    assert small_dashboard.snapshot.request.parameters == PRESETS["Fig. 2 left"].parameters
    assert [pin.label for pin in small_dashboard.pins] == [
        f"δ = {d:.2f}, nearest, 1/r, L = 60" for d in PAPER_DELTAS
    ]
    # Each pin is the curve the dashboard would draw at that delta.
    for delta, pin in zip(PAPER_DELTAS, small_dashboard.pins):
        expected = compute(Request(Parameters(size=60, delta=delta, connection="nearest")))
        np.testing.assert_array_equal(pin.mean, expected.dos.mean)
        np.testing.assert_array_equal(pin.fractions, expected.fractions)
    assert small_dashboard.dos_panel.pins.visible and len(small_dashboard.dos_panel.pins.y) == len(PAPER_DELTAS)
    # Nearest neighbours: every pinned histogram is the single bar Z = 4.
    assert list(small_dashboard.coordination_panel.bars.x) == [4]
    np.testing.assert_allclose(small_dashboard.coordination_panel.bars.y, 1.0)


@pytest.mark.parametrize("name, connection, spring", [
    ("Fig. 2 right", "cutoff", "inverse"),
    ("Fig. 4 left", "cutoff", "constant"),
])
def test_cutoff_presets_pin_four_deltas_and_show_a_boson_peak(small_dashboard, name, connection, spring):
    small_dashboard.apply_preset(name)
    p = small_dashboard.snapshot.request.parameters
    assert (p.connection, p.spring, p.size, p.n_seeds, p.delta) == (connection, spring, 60, 10, 0.3)
    assert len(small_dashboard.pins) == len(PAPER_DELTAS)
    assert all(f"δ = {d:.2f}, cutoff" in pin.label for d, pin in zip(PAPER_DELTAS, small_dashboard.pins))
    # The paper: a Boson peak near omega = 0.5 once Z fluctuates.
    assert small_dashboard.snapshot.peak is not None and 0.3 < small_dashboard.snapshot.peak.omega < 0.8


def test_crystal_preset_clears_pins_and_shows_no_peak(small_dashboard):
    small_dashboard.controls.pin.click()
    assert small_dashboard.pins
    small_dashboard.apply_preset("Crystal")
    assert small_dashboard.pins == () and not small_dashboard.dos_panel.pins.visible
    p = small_dashboard.snapshot.request.parameters
    assert (p.delta, p.connection) == (0.0, "nearest")
    assert small_dashboard.snapshot.peak is None
    assert "no excess over Debye" in small_dashboard.summary.value


def test_every_preset_names_its_figure_and_has_a_button(small_dashboard):
    assert list(small_dashboard.lecture.presets) == ["Fig. 2 left", "Fig. 2 right", "Fig. 4 left", "Crystal"]
    for name, preset in PRESETS.items():
        assert preset.pinned_parameters() == tuple(
            Parameters(**{**preset.parameters.__dict__, "delta": d}) for d in preset.pinned
        )
        assert name in small_dashboard.lecture.presets[name].tooltip


# -- play --------------------------------------------------------------------------------------


def test_play_frames_move_delta_at_an_interactive_size():
    dashboard = Dashboard(size=80, n_seeds=6, background=False)
    play = dashboard.lecture.play
    play.playing = True
    play.value = 4
    assert dashboard.controls.delta.value == pytest.approx(4 * PLAY_STEP)
    shown = dashboard.snapshot.request.parameters
    assert (shown.delta, shown.size, shown.n_seeds) == (0.08, PLAY_MAX_SIZE, PLAY_MAX_SEEDS)
    play.playing = False  # pause: the full request
    shown = dashboard.snapshot.request.parameters
    assert (shown.delta, shown.size, shown.n_seeds) == (0.08, 80, 6)
    dashboard.close()


def test_step_advances_one_frame_and_wraps(small_dashboard):
    play = small_dashboard.lecture.play
    assert play.value == round(0.3 / PLAY_STEP)  # play starts where the slider is
    small_dashboard.lecture.step.click()
    assert small_dashboard.snapshot.request.parameters.delta == pytest.approx(0.32)
    play.value = play.max
    small_dashboard.lecture.step.click()
    assert small_dashboard.snapshot.request.parameters.delta == 0.0


# -- projector mode ----------------------------------------------------------------------------


def test_projector_mode_enlarges_text_thickens_lines_and_keeps_the_palette(small_dashboard):
    small_dashboard.controls.pin.click()
    panels = (small_dashboard.network_panel, small_dashboard.dos_panel, small_dashboard.coordination_panel)
    lines = [m for p in panels for m in p.figure.marks if hasattr(m, "stroke_width")]
    widths = {id(m): m.stroke_width for m in lines}
    colors = (list(small_dashboard.dos_panel.mean.colors), list(small_dashboard.dos_panel.pins.colors))
    small_dashboard.lecture.projector.value = True
    for panel in panels:
        for axis in panel.figure.axes:
            assert int(axis.tick_style["font-size"].rstrip("px")) >= MIN_PROJECTOR_PX
        assert panel.figure.title_style["font-size"] == "22px"
    assert small_dashboard.dos_panel.mean.stroke_width == 2 * widths[id(small_dashboard.dos_panel.mean)]
    assert small_dashboard.dos_panel.peak_label.default_size >= MIN_PROJECTOR_PX
    assert (list(small_dashboard.dos_panel.mean.colors), list(small_dashboard.dos_panel.pins.colors)) == colors
    assert set(small_dashboard.dos_panel.pins.colors) <= set(PIN_COLORS)
    assert "bp-projector" in small_dashboard._dom_classes
    assert 'stroke-width="6.0"' in small_dashboard.dos_panel.legend.value  # the key follows the marks
    assert _query(small_dashboard.link)["projector"] == "1"
    small_dashboard.lecture.projector.value = False
    assert all(m.stroke_width == widths[id(m)] for m in lines)
    assert all(axis.tick_style == {"font-size": ""} for p in panels for axis in p.figure.axes)
    assert "bp-projector" not in small_dashboard._dom_classes and "projector" not in _query(small_dashboard.link)
    assert PROJECTOR_TICK_PX >= MIN_PROJECTOR_PX


# -- shareable state ---------------------------------------------------------------------------


def test_query_opens_the_state_and_the_link_round_trips():
    query = "delta=0.25&size=20&connection=cutoff&spring=constant&seeds=2&seed=3&projector=1"
    dashboard = Dashboard.from_query(query, background=False)
    p = dashboard.snapshot.request.parameters
    assert p == Parameters(size=20, delta=0.25, connection="cutoff", spring="constant",
                           n_seeds=2, first_seed=3)
    assert dashboard.projector and dashboard.lecture.notice.value == ""
    assert dashboard.lecture.link.value == dashboard.link
    assert _query(dashboard.link) == dict(parse_qsl(query))
    again = Dashboard.from_query(urlsplit(dashboard.link).query, background=False)
    assert again.snapshot.request.parameters == p and again.projector
    # The link follows the controls.
    dashboard.controls.connection.value = "nearest"
    assert _query(dashboard.lecture.link.value)["connection"] == "nearest"
    dashboard.close()
    again.close()


@pytest.mark.parametrize("query, key, default", [
    ("delta=abc", "delta", 0.3),
    ("delta=0.75", "delta", 0.3),
    ("delta=0.255", "delta", 0.3),
    ("delta=nan", "delta", 0.3),
    ("size=85", "size", 60),
    ("size=5000", "size", 60),
    ("seeds=0", "n_seeds", 10),
    ("seeds=2.5", "n_seeds", 10),
    ("seed=-1", "first_seed", 0),
    ("size=inf", "size", 60),
    ("seeds=1e400", "n_seeds", 10),
    ("seed=-inf", "first_seed", 0),
    ("connection=random", "connection", "cutoff"),
    ("spring=hooke", "spring", "inverse"),
])
def test_bad_query_values_fall_back_with_a_message(query, key, default):
    parameters, _, messages = parse_query(query + "&size=20" * (key != "size"))
    assert getattr(parameters, key) == default
    assert len(messages) == 1 and query in messages[0] and str(default) in messages[0]


def test_a_bad_query_still_opens_a_working_page():
    dashboard = Dashboard.from_query("delta=oops&size=20&seeds=2&colour=red", background=False)
    assert dashboard.snapshot.request.parameters.delta == 0.3
    notice = dashboard.lecture.notice.value
    assert "delta=oops" in notice and "colour" in notice and 'role="alert"' in notice
    assert "bp-status-ready" in dashboard.status.value
    dashboard.close()


def test_voila_keys_and_projector_values():
    assert parse_query("theme=dark&template=lab")[2] == []
    assert parse_query("projector=yes")[1] is True
    assert parse_query("projector=0")[1] is False
    assert parse_query("projector=maybe")[2] == ["projector=maybe is not 1 or 0: projector mode off"]


def test_every_parameter_has_a_query_key():
    parameters = Parameters(size=120, delta=0.17, connection="nearest", spring="constant",
                            n_seeds=7, first_seed=42)
    assert parse_query(state_query(parameters)) == (parameters, False, [])


def test_page_address_from_what_voila_tells_the_kernel():
    ordinary = {"VOILA_REQUEST_URL": "http://127.0.0.1:8866/?delta=0.1", "VOILA_PREHEAT": "False"}
    assert page_url(ordinary) == "http://127.0.0.1:8866/"
    # A preheated kernel learns the request later: its VOILA_REQUEST_URL is stale.
    preheated = {"VOILA_REQUEST_URL": "http://x/old", "VOILA_PREHEAT": "True",
                 "SCRIPT_NAME": "/voila/render/dashboard.ipynb", "SERVER_NAME": "host",
                 "SERVER_PORT": "8000"}
    assert page_url(preheated) == "http://host:8000/voila/render/dashboard.ipynb"
    assert page_url({}) == ""
    assert request_query({"QUERY_STRING": "delta=0.2"}) == "delta=0.2"
    assert request_query({}) == ""


# -- summary and accessibility -----------------------------------------------------------------


def test_text_summary_follows_the_result(small_dashboard):
    snapshot = small_dashboard.snapshot
    expected = result_summary(snapshot.mean_coordination, snapshot.peak,
                              snapshot.mean_coordination_error)
    assert expected in small_dashboard.summary.value
    assert " ± " in expected  # three seeds: the mean Z has an error bar
    assert 'aria-live="polite"' in small_dashboard.summary.value
    before = small_dashboard.summary.value
    small_dashboard.controls.delta.value = 0.1
    assert small_dashboard.summary.value != before
    assert f"mean Z {small_dashboard.snapshot.mean_coordination:.2f} ± " in small_dashboard.summary.value


def _widgets(root):
    """Every widget under ``root`` (children, and the values of its widget traits)."""
    seen, stack = {}, [root]
    while stack:
        widget = stack.pop()
        if id(widget) in seen:
            continue
        seen[id(widget)] = widget
        for name in widget.keys:
            value = getattr(widget, name)
            values = value if isinstance(value, (list, tuple)) else [value]
            stack.extend(v for v in values if isinstance(v, Widget))
    return list(seen.values())


def test_every_control_is_labelled_and_reachable_by_keyboard(small_dashboard):
    controls = [w for w in _widgets(small_dashboard)
                if isinstance(w, (Button, ToggleButton, ToggleButtons, Play, Text, ValueWidget))
                and not isinstance(w, (HTML, Label))]
    assert len(controls) >= 15
    for widget in controls:
        assert widget.description or widget.tooltip, type(widget).__name__
        assert widget.tabbable is not False and not getattr(widget, "disabled", False)


# -- export ------------------------------------------------------------------------------------


def _csv_table(text):
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    header = {line[2:].split(": ", 1)[0]: json.loads(line.split(": ", 1)[1])
              for line in text.splitlines() if line.startswith("# ") and ": " in line}
    return rows, header


def _curve(rows, quantity, curve, seed=""):
    chosen = [r for r in rows if (r["quantity"], r["curve"], r["seed"]) == (quantity, curve, seed)]
    return np.array([float(r["x"]) for r in chosen]), np.array([float(r["y"]) for r in chosen])


def test_csv_holds_exactly_what_the_panels_show(small_dashboard):
    small_dashboard.controls.pin.click()
    small_dashboard.controls.delta.value = 0.2
    rows, header = _csv_table(small_dashboard.export_files(figures=False)[
        "bpwidgets-cutoff-inverse-L20-d0.20.csv"].decode())
    assert tuple(rows[0]) == CSV_COLUMNS
    dos = small_dashboard.dos_panel
    omega, mean = _curve(rows, "reduced_dos", "mean")
    np.testing.assert_array_equal(omega, dos.mean.x)
    np.testing.assert_array_equal(mean, dos.mean.y)
    for seed, plotted in zip(small_dashboard.snapshot.dos.seeds, dos.per_seed.y):
        np.testing.assert_array_equal(_curve(rows, "reduced_dos", "seed", str(seed))[1], plotted)
    bars = small_dashboard.coordination_panel.bars
    z, fractions = _curve(rows, "coordination_fraction", "live")
    shown = np.asarray(bars.y)[0] > 0
    np.testing.assert_array_equal(z, np.asarray(bars.x)[shown])
    np.testing.assert_array_equal(fractions, np.asarray(bars.y)[0][shown])
    label = small_dashboard.pins[0].label
    np.testing.assert_array_equal(_curve(rows, "reduced_dos", f"pinned: {label}")[1],
                                  np.atleast_2d(dos.pins.y)[0][: len(small_dashboard.pins[0].mean)])
    assert header["parameters"]["delta"] == 0.2 and header["seeds"] == [0, 1, 2]
    assert header["debye_level"] == dos.network_debye.y[0]
    assert {"numpy", "scipy", "bpwidgets"} <= set(header["versions"])
    # The errors travel with the numbers.
    snapshot = small_dashboard.snapshot
    error_omega, error = _curve(rows, "reduced_dos_error", "mean")
    np.testing.assert_array_equal(error_omega, dos.mean.x)
    np.testing.assert_array_equal(error, snapshot.dos.mean_error)
    assert np.all(error[error_omega < 2.0] > 0)  # the band has a width wherever modes are
    assert header["debye_level_error"] == snapshot.dos.debye_level_error > 0
    pinned_omega, pinned_error = _curve(rows, "reduced_dos_error", f"pinned: {label}")
    np.testing.assert_array_equal(pinned_error, small_dashboard.pins[0].mean_error)
    assert header["mean_coordination_error"] == snapshot.mean_coordination_error > 0
    if snapshot.peak is not None:  # JSON has no NaN: an error not estimated is null
        error = snapshot.peak.excess_error
        assert header["boson_peak_excess_error"] == (error if np.isfinite(error) else None)


def test_npz_holds_the_same_arrays(small_dashboard):
    small_dashboard.controls.pin.click()
    archive = np.load(io.BytesIO(data_npz(small_dashboard.snapshot, small_dashboard.pins)))
    np.testing.assert_array_equal(archive["reduced_dos_mean"], small_dashboard.dos_panel.mean.y)
    np.testing.assert_array_equal(archive["reduced_dos_per_seed"], small_dashboard.dos_panel.per_seed.y)
    np.testing.assert_array_equal(archive["reduced_dos_mean_error"],
                                  small_dashboard.snapshot.dos.mean_error)
    np.testing.assert_array_equal(archive["seeds"], [0, 1, 2])
    np.testing.assert_array_equal(archive["pinned_reduced_dos"],
                                  np.atleast_2d(small_dashboard.dos_panel.pins.y))
    assert list(archive["pinned_labels"]) == [small_dashboard.pins[0].label]
    np.testing.assert_array_equal(archive["pinned_reduced_dos_error"],
                                  np.atleast_2d(small_dashboard.pins[0].mean_error))
    metadata = json.loads(str(archive["metadata"]))
    assert metadata["parameters"]["size"] == 20 and "numpy" in metadata["versions"]
    assert metadata["summary"] in small_dashboard.summary.value


def test_figures_open_in_their_formats(small_dashboard):
    matplotlib_image = pytest.importorskip("matplotlib.image")
    png = figure_bytes(small_dashboard.snapshot, small_dashboard.pins, "png")
    image = matplotlib_image.imread(io.BytesIO(png), format="png")
    assert image.shape[0] > 400 and image.shape[1] > 3 * image.shape[0] / 2
    assert np.ptp(image[..., :3]) > 0.5  # not blank
    svg = ElementTree.fromstring(figure_bytes(small_dashboard.snapshot, small_dashboard.pins, "svg"))
    assert svg.tag.endswith("svg")
    text = "".join(svg.itertext())
    assert "g(ω)/ω" in text or "Reduced density of states" in text
    pdf = figure_bytes(small_dashboard.snapshot, small_dashboard.pins, "pdf")
    assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF")
    with pytest.raises(ValueError, match="format"):
        figure_bytes(small_dashboard.snapshot, small_dashboard.pins, "gif")


def test_prepare_offers_every_file_as_a_download_and_clears_when_stale(small_dashboard):
    small_dashboard.lecture.prepare_export.click()
    links = small_dashboard.lecture.downloads.value
    for extension in ("png", "svg", "pdf", "csv", "npz"):
        assert f'download="bpwidgets-cutoff-inverse-L20-d0.30.{extension}"' in links
    assert links.count("data:") == 5
    small_dashboard.controls.delta.value = 0.29
    assert small_dashboard.lecture.downloads.value == ""


def test_files_prepared_while_a_new_result_is_drawn_are_not_offered(small_dashboard,
                                                                    monkeypatch):
    # The worker draws a new result while the download links are being written: links
    # to the old view must not appear, the page asks to press again.
    newer = compute(Request(Parameters(size=20, delta=0.25, n_seeds=3)))
    write_links = export_module.download_links

    def links_while_a_result_arrives(files):
        links = write_links(files)
        small_dashboard.session._deliver(newer)
        return links

    monkeypatch.setattr(export_module, "download_links", links_while_a_result_arrives)
    small_dashboard.lecture.prepare_export.click()
    message = small_dashboard.lecture.downloads.value
    assert "press again" in message and "data:" not in message


def test_download_links_inline_the_bytes():
    html = download_links({"a.csv": b"x,y\n1,2\n"})
    assert 'href="data:text/csv;base64,eCx5CjEsMgo="' in html and 'download="a.csv"' in html


def _links(html):
    """The ``href`` of every download link in the downloads line."""
    return re.findall(r'href="(data:[^"]*)"', html)


def test_a_file_too_large_for_a_link_is_named_not_linked():
    html = download_links({"big.csv": b"x" * (3 * LINK_LIMIT // 4), "small.csv": b"x"})
    assert len(_links(html)) == 1 and "CSV: 1.6 MB, too large for a download link" in html


def test_downloads_with_many_pins_stay_below_the_link_limit_and_say_what_was_left_out():
    # 20 networks and 60 pins: the whole CSV would be about 5 MB, past Chromium's
    # 2 MB limit for a link; the files hold the first EXPORT_MAX_PINS pins and say so.
    dashboard = Dashboard(size=20, n_seeds=20, background=False)
    for delta in (0.3, 0.29, 0.28):
        dashboard.controls.delta.value = delta
        for _ in range(20):
            dashboard.controls.pin.click()
    assert len(dashboard.pins) == 60
    whole = export_module.data_csv(dashboard.snapshot, dashboard.pins).encode()
    assert 4 * len(whole) / 3 > LINK_LIMIT  # all 60 pins: no link could hold the CSV
    dashboard.lecture.prepare_export.click()
    line = dashboard.lecture.downloads.value
    links = _links(line)
    assert len(links) == 5 and all(len(link) < LINK_LIMIT for link in links)
    assert f"the files hold the first {EXPORT_MAX_PINS} of the 60 pins" in line
    rows, _ = _csv_table(dashboard.export_files(figures=False)[
        "bpwidgets-cutoff-inverse-L20-d0.28.csv"].decode())
    pinned = {r["curve"] for r in rows if r["curve"].startswith("pinned: ")}
    assert pinned == {f"pinned: {pin.label}" for pin in dashboard.pins[:EXPORT_MAX_PINS]}
    archive = np.load(io.BytesIO(data_npz(dashboard.snapshot, dashboard.pins[:EXPORT_MAX_PINS])))
    assert len(archive["pinned_labels"]) == EXPORT_MAX_PINS
    assert not dashboard.lecture.prepare_export.disabled
    dashboard.close()


def test_the_figure_is_drawn_once_and_saved_in_three_formats(small_dashboard, monkeypatch):
    pytest.importorskip("matplotlib")
    import bpwidgets.figures

    drawn = []
    draw = bpwidgets.figures.dashboard_figure
    monkeypatch.setattr(bpwidgets.figures, "dashboard_figure",
                        lambda *args, **kwargs: drawn.append(1) or draw(*args, **kwargs))
    progress = []
    files = export_files(small_dashboard.snapshot, small_dashboard.pins,
                         progress=lambda done, total: progress.append((done, total)))
    assert len(drawn) == 1
    assert [name.rsplit(".", 1)[1] for name in files] == ["png", "svg", "pdf", "csv", "npz"]
    assert progress == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]


def test_prepare_shows_its_progress_with_the_button_disabled(small_dashboard):
    lecture = small_dashboard.lecture
    seen = []
    lecture.downloads.observe(
        lambda change: seen.append((change["new"], lecture.prepare_export.disabled)), "value")
    lecture.prepare_export.click()
    progress = [text for text, _ in seen if "Preparing the files" in text]
    assert [f"{k} of 5" in text for k, text in enumerate(progress[1:], 1)] == [True] * 5
    assert all(disabled for text, disabled in seen if "Preparing" in text)
    assert "Download:" in lecture.downloads.value and not lecture.prepare_export.disabled


def test_a_failed_export_is_shown_and_the_button_works_again(small_dashboard, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(export_module, "data_csv", fail)
    small_dashboard.lecture.prepare_export.click()
    line = small_dashboard.lecture.downloads.value
    assert "Could not prepare the files (OSError: disk full)" in line and 'role="alert"' in line
    assert not small_dashboard.lecture.prepare_export.disabled
    monkeypatch.undo()
    small_dashboard.lecture.prepare_export.click()
    assert len(_links(small_dashboard.lecture.downloads.value)) == 5


def test_prepare_runs_on_a_thread_of_its_own_and_ignores_presses_meanwhile(monkeypatch):
    dashboard = Dashboard(size=20, n_seeds=2)  # background: the worker thread runs
    release, calls = threading.Event(), []

    def slow_downloads(snapshot, pins, **options):
        calls.append(threading.current_thread())
        release.wait(30)
        return '<div class="bp-downloads">done</div>'

    monkeypatch.setattr(export_module, "prepare_downloads", slow_downloads)
    button = dashboard.lecture.prepare_export
    try:
        button.click()  # returns at once: the kernel's main thread stays free
        assert button.disabled and "Preparing the files" in dashboard.lecture.downloads.value
        button.click()
        deadline = time.monotonic() + 30
        while not calls and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(calls) == 1 and calls[0] is not threading.main_thread()
        assert calls[0] is not dashboard.session._worker._thread  # not the slider's worker
    finally:
        release.set()
    while button.disabled and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not button.disabled and dashboard.lecture.downloads.value.endswith("done</div>")
    assert len(calls) == 1
    dashboard.close()


def test_files_prepared_while_pins_change_are_not_offered(small_dashboard, monkeypatch):
    # A pin added while the files are made changes the view they would show.
    prepare = export_module.prepare_downloads

    def pin_meanwhile(*args, **kwargs):
        links = prepare(*args, **kwargs)
        small_dashboard.controls.pin.click()
        return links

    monkeypatch.setattr(export_module, "prepare_downloads", pin_meanwhile)
    small_dashboard.lecture.prepare_export.click()
    assert "press again" in small_dashboard.lecture.downloads.value
