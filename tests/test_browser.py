"""The served dashboard in a real browser: Voila + headless chromium via Playwright.

One page (one kernel) for the module; the tests run in file order and each
leaves the page usable for the next. Screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest

from bpwidgets.session.pipeline import Request, compute
from bpwidgets.session.schema import Parameters
from browser_helpers import (
    ARTIFACTS,
    dos_signature,
    drag_brush,
    generation,
    histogram_signature,
    network_signature,
    open_dashboard,
    press_delta,
    wait_for_generation,
)

pytestmark = pytest.mark.browser

#: Milliseconds allowed for one slider step at L = 60 with 10 seeds to be drawn.
REDRAW_TIMEOUT = 60_000


@pytest.fixture(scope="module")
def page(chromium, voila_url):
    page = open_dashboard(chromium, voila_url)
    yield page
    page.close()


def _screenshot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _assert_no_error_output(page):
    assert page.locator(".jp-OutputArea-output[data-mime-type*=error]").count() == 0
    assert "Traceback" not in page.content()


def test_three_panels_render(page):
    for panel in (".bp-network-panel", ".bp-dos-panel", ".bp-coordination-panel"):
        assert page.locator(f"{panel} .bqplot svg").count() >= 1, panel
    assert page.locator(".bp-dos-panel path.line").count() >= 4
    assert page.locator(".bp-coordination-panel rect.bar").count() >= 3
    # L = 60 is drawn as its bottom-left 30 x 30 corner.
    assert page.locator(".bp-network-panel path.dot").count() == 30 * 30
    assert "corner" in page.inner_text(".bp-network-panel")
    assert "Boson peak" in page.inner_text(".bp-dos-panel")
    # Voila serves the notebook without its sources (voila.json: strip_sources).
    assert "from bpwidgets.app import" not in page.content()
    _assert_no_error_output(page)
    _screenshot(page, "dashboard-initial")


def test_delta_slider_redraws_dos_and_histogram(page):
    dos, histogram = dos_signature(page), histogram_signature(page)
    network = network_signature(page)
    before = generation(page)
    press_delta(page, "ArrowLeft")
    wait_for_generation(page, before, timeout=REDRAW_TIMEOUT)
    assert "δ = 0.29" in page.inner_text(".bp-status")
    assert dos_signature(page) != dos
    assert histogram_signature(page) != histogram
    assert network_signature(page) != network
    _assert_no_error_output(page)


def test_pin_adds_a_labelled_line(page):
    lines = page.locator(".bp-dos-panel path.line").count()
    page.click(".bp-pin button, button.bp-pin")
    page.wait_for_function(
        "n => document.querySelectorAll('.bp-dos-panel path.line').length > n", arg=lines
    )
    assert "δ = 0.29" in page.inner_text(".bp-dos-panel")
    before = generation(page)
    press_delta(page, "ArrowRight")
    wait_for_generation(page, before, timeout=REDRAW_TIMEOUT)
    _screenshot(page, "dashboard-pinned")
    page.click(".bp-clear-pins button, button.bp-clear-pins")
    page.wait_for_function(
        "n => document.querySelectorAll('.bp-dos-panel path.line').length === n", arg=lines
    )


#: True when the drawn nodes' fill colours correlate with their weights (d3's bound data).
_COLOURS_FOLLOW_WEIGHTS = """() => {
    const pairs = Array.from(document.querySelectorAll('.bp-network-panel path.dot'))
        .map(d => [d.__data__ && d.__data__.color, (d.style.fill || '').match(/[0-9.]+/g)])
        .filter(([weight, rgb]) => typeof weight === 'number' && rgb && rgb.length >= 3)
        .map(([weight, rgb]) => [weight, 255 - parseFloat(rgb[1])]);
    if (pairs.length < 10) return false;
    const mean = k => pairs.reduce((s, p) => s + p[k], 0) / pairs.length;
    const [mw, md] = [mean(0), mean(1)];
    let sw = 0, sd = 0, swd = 0;
    for (const [w, d] of pairs) { sw += (w - mw) ** 2; sd += (d - md) ** 2; swd += (w - mw) * (d - md); }
    return sw > 0 && sd > 0 && swd / Math.sqrt(sw * sd) > 0.95;
}"""


def test_brush_colours_nodes_by_mode_weights(page):
    fills = page.evaluate(
        "() => Array.from(document.querySelectorAll('.bp-network-panel path.dot'))"
        ".slice(0, 200).map(d => d.style.fill || d.getAttribute('fill')).join()"
    )
    before = generation(page)
    drag_brush(page, 0.1, 0.25)
    wait_for_generation(page, before, timeout=REDRAW_TIMEOUT)
    assert "share of the modes" in page.inner_text(".bp-status")
    page.wait_for_function(
        """old => Array.from(document.querySelectorAll('.bp-network-panel path.dot'))
            .slice(0, 200).map(d => d.style.fill || d.getAttribute('fill')).join() !== old""",
        arg=fills,
    )
    # Once drawn, every node's colour follows its weight: darker (less green, along the
    # palette) for a larger share. Colours left from another update would break that.
    page.wait_for_function(_COLOURS_FOLLOW_WEIGHTS, timeout=REDRAW_TIMEOUT)
    _screenshot(page, "dashboard-brushed")
    _assert_no_error_output(page)


def test_clicking_a_bar_fades_other_nodes(page):
    page.locator(".bp-coordination-panel rect.bar").nth(2).click()
    page.wait_for_function(
        """() => Array.from(document.querySelectorAll('.bp-network-panel path.dot'))
            .some(d => parseFloat(getComputedStyle(d).opacity) < 0.5)"""
    )
    opacities = page.evaluate(
        "() => Array.from(document.querySelectorAll('.bp-network-panel path.dot'))"
        ".map(d => parseFloat(getComputedStyle(d).opacity))"
    )
    faded = sum(o < 0.5 for o in opacities)
    assert 0 < faded < len(opacities)
    _screenshot(page, "dashboard-selected")


def test_a_seed_below_the_range_is_held_at_its_bound(page):
    # The first-seed box takes its range from the parameter schema: a negative seed,
    # which the core would refuse, cannot be entered; the page stays on a good result.
    seed = page.locator(".bp-first-seed input")
    seed.fill("5")
    seed.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('.bp-status').innerText.includes('seeds 5')",
        timeout=REDRAW_TIMEOUT)
    before = generation(page)
    seed.fill("-1")
    seed.press("Enter")
    wait_for_generation(page, before, timeout=REDRAW_TIMEOUT)
    assert seed.input_value() == "0"
    assert "seeds 0" in page.inner_text(".bp-status")
    _assert_no_error_output(page)
    before = generation(page)
    press_delta(page, "ArrowRight")
    wait_for_generation(page, before, timeout=REDRAW_TIMEOUT)
    _assert_no_error_output(page)


def test_no_uncaught_page_errors(page):
    assert page.page_errors == []


# -- the lecture features: URL query, link, export, projector, presets, play -------------------

#: A small state, so the lecture page computes in a fraction of a second.
LECTURE_QUERY = "delta=0.12&size=20&connection=nearest&spring=constant&seeds=2&seed=1"
#: What the status line says for it.
LECTURE_STATUS = "L = 20, δ = 0.12, nearest, t = 1, seeds 1–2"


@pytest.fixture(scope="module")
def lecture_page(chromium, voila_url):
    page = open_dashboard(chromium, f"{voila_url}?{LECTURE_QUERY}")
    yield page
    page.close()


def test_query_string_sets_the_state_and_the_link_round_trips(lecture_page, chromium, voila_url):
    assert LECTURE_STATUS in lecture_page.inner_text(".bp-status")
    assert lecture_page.inner_text(".bp-notice").strip() == ""
    link = lecture_page.input_value(".bp-link input")
    assert link.startswith(voila_url)
    assert dict(parse_qsl(urlsplit(link).query)) == dict(parse_qsl(LECTURE_QUERY))
    other = open_dashboard(chromium, link)
    try:
        assert LECTURE_STATUS in other.inner_text(".bp-status")
        assert other.input_value(".bp-link input") == link
    finally:
        other.close()


def test_bad_query_value_gives_a_message_and_the_default(chromium, voila_url):
    page = open_dashboard(chromium, f"{voila_url}?delta=9&size=20&seeds=2")
    try:
        assert "delta=9" in page.inner_text(".bp-notice")
        assert "L = 20, δ = 0.30" in page.inner_text(".bp-status")
        _assert_no_error_output(page)
        _screenshot(page, "dashboard-bad-query")
    finally:
        page.close()


def _download(page, selector):
    with page.expect_download() as info:
        page.click(selector)
    download = info.value
    return download.suggested_filename, Path(download.path()).read_bytes()


def test_export_downloads_hold_what_the_page_shows(lecture_page):
    lecture_page.click("button.bp-prepare-export")
    lecture_page.wait_for_selector("a.bp-download-npz", timeout=REDRAW_TIMEOUT)
    name, content = _download(lecture_page, "a.bp-download-csv")
    assert name == "bpwidgets-nearest-constant-L20-d0.12.csv"
    text = content.decode("utf-8")
    assert '# parameters: {"size": 20, "delta": 0.12' in text
    rows = [r for r in csv.reader(line for line in text.splitlines() if not line.startswith("#"))]
    mean = np.array([float(r[4]) for r in rows[1:] if r[:2] == ["reduced_dos", "mean"]])
    shown = compute(Request(Parameters(size=20, delta=0.12, connection="nearest",
                                       spring="constant", n_seeds=2, first_seed=1)))
    np.testing.assert_array_equal(mean, shown.dos.mean)
    for extension, magic in (("png", b"\x89PNG"), ("pdf", b"%PDF"), ("svg", b"<?xml"),
                             ("npz", b"PK")):
        name, content = _download(lecture_page, f"a.bp-download-{extension}")
        assert name.endswith(f".{extension}") and content.startswith(magic), extension
    _assert_no_error_output(lecture_page)


def _tick_font_px(page):
    return page.evaluate(
        """() => Math.min(...Array.from(document.querySelectorAll('.bp-dos-panel g.tick text'))
            .map(t => parseFloat(getComputedStyle(t).fontSize)))"""
    )


def test_projector_mode_enlarges_the_axes(lecture_page):
    normal = _tick_font_px(lecture_page)
    lecture_page.click("button.bp-projector")
    lecture_page.wait_for_function(
        """() => Array.from(document.querySelectorAll('.bp-dos-panel g.tick text'))
            .every(t => parseFloat(getComputedStyle(t).fontSize) >= 18)"""
    )
    assert _tick_font_px(lecture_page) > normal
    assert "projector=1" in lecture_page.input_value(".bp-link input")
    _screenshot(lecture_page, "dashboard-projector")
    lecture_page.click("button.bp-projector")
    lecture_page.wait_for_function(
        "px => Array.from(document.querySelectorAll('.bp-dos-panel g.tick text'))"
        ".every(t => parseFloat(getComputedStyle(t).fontSize) === px)",
        arg=normal,
    )


def test_preset_then_play_sweeps_delta(lecture_page):
    before = generation(lecture_page)
    lecture_page.click("button.bp-preset-crystal")
    wait_for_generation(lecture_page, before, timeout=REDRAW_TIMEOUT)
    lecture_page.wait_for_function(
        "() => document.querySelector('.bp-status').innerText.includes('δ = 0.00, nearest')",
        timeout=REDRAW_TIMEOUT,
    )
    before = generation(lecture_page)
    lecture_page.locator(".bp-play button").first.click()
    wait_for_generation(lecture_page, before + 2, timeout=REDRAW_TIMEOUT, kind="ready")
    lecture_page.locator(".bp-play button").nth(1).click()  # pause
    status = lecture_page.inner_text(".bp-status")
    assert "δ = 0.00" not in status
    _assert_no_error_output(lecture_page)


def test_no_uncaught_page_errors_on_the_lecture_page(lecture_page):
    assert lecture_page.page_errors == []


def test_toy_model_tab_adds_a_spring_by_clicking_two_nodes(page):
    """The second tab: click the centre and the top-left node, two new poles appear."""
    page.locator(".lm-TabBar-tab", has_text="Toy model").click()
    toy = page.locator(".bp-toy-model")
    network = toy.locator(".bqplot").first
    dots = network.locator("path.dot")
    dots.first.wait_for()
    assert dots.count() == 9
    assert "2.646" not in toy.inner_text()  # the crystal has no pole at sqrt(7)
    dots.nth(4).click()
    dots.nth(2).click()
    page.wait_for_function(
        "() => document.querySelector('.bp-toy-model').innerText.includes('2.646')"
    )
    text = toy.inner_text()
    assert "2.000" in text and "2.646" in text  # omega = 2 and sqrt(7): the new poles
    _screenshot(page, "toy-model-added")
    _assert_no_error_output(page)
    assert page.page_errors == []
    page.locator(".lm-TabBar-tab", has_text="Spring networks").click()
