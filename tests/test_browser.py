"""The served dashboard in a real browser: Voila + headless chromium via Playwright.

A few pages (one kernel each) of the session's one Voila server: the default
page, a small lecture state, and the layout's page, which is resized to each
screen in both modes; the tests run in file order and each leaves its page
usable for the next. Screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest

from bpwidgets.app.layout import PAGE_TITLE
from bpwidgets.session.pipeline import Request, compute
from bpwidgets.session.schema import Parameters
from bpwidgets.session.share import parse_query
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


#: Jammed disks, small and far from jamming: two packings of 400 disks in about a second.
GLASS_QUERY = "connection=jammed&size=20&seeds=2&pressure=0.01"


def test_a_glass_link_paints_its_disks(chromium, voila_url):
    page = open_dashboard(chromium, f"{voila_url}?{GLASS_QUERY}")
    try:
        assert "N = 400 jammed disks, p = 1e-2" in page.inner_text(".bp-status")
        network = compute(Request(parse_query(GLASS_QUERY)[0].relevant())).network
        # One dot per disk, and a cross on each rattler.
        dots = page.locator(".bp-network-panel path.dot")
        assert dots.count() == network.n_nodes + len(network.rattlers)
        shapes = page.evaluate(
            "() => new Set(Array.from(document.querySelectorAll("
            "'.bp-network-panel path.dot')).map(d => d.getAttribute('d'))).size")
        assert shapes >= 3  # small disks, large disks, crosses: drawn with their sizes
        assert page.locator(".bp-pressure").is_visible()
        assert not page.locator(".bp-delta").is_visible()
        assert "jammed disks, p = 1e-2" in page.inner_text(".bp-summary")
        _assert_no_error_output(page)
        _screenshot(page, "dashboard-glass")
        assert page.page_errors == []
    finally:
        page.close()


def _download(page, selector):
    with page.expect_download() as info:
        page.click(selector)
    download = info.value
    return download.suggested_filename, Path(download.path()).read_bytes()


#: Record whether the download button was ever disabled and a progress count shown.
_WATCH_EXPORT = """() => {
    const seen = window.bpExportSeen = {disabled: false, progress: false};
    const button = document.querySelector('button.bp-prepare-export');
    const line = document.querySelector('.bp-downloads');
    const look = () => {
        seen.disabled ||= button.disabled;
        seen.progress ||= /Preparing the files … [0-9] of [0-9]/.test(line.innerText);
    };
    new MutationObserver(look).observe(button, {attributes: true});
    new MutationObserver(look).observe(line, {subtree: true, childList: true, characterData: true});
}"""


def test_export_downloads_hold_what_the_page_shows(lecture_page):
    lecture_page.evaluate(_WATCH_EXPORT)
    lecture_page.click("button.bp-prepare-export")
    lecture_page.wait_for_selector("a.bp-download-npz", timeout=REDRAW_TIMEOUT)
    # The button was disabled while the files were made (off the kernel's main
    # thread), with the progress on the page, and is enabled again.
    assert lecture_page.evaluate("() => window.bpExportSeen") == {"disabled": True,
                                                                  "progress": True}
    assert lecture_page.locator("button.bp-prepare-export").is_enabled()
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


# -- the layout: every screen, both modes, nothing cut ---------------------------------------

#: Screens the page must fit: a projector, a common laptop, a full-HD monitor.
SCREENS = [(1280, 720), (1366, 768), (1920, 1080)]
#: The delta slider and the three panels: in view without scrolling.
_IN_VIEW = (".bp-controls .bp-delta", ".bp-dos-panel", ".bp-coordination-panel",
            ".bp-network-panel")

#: Buttons, labels, menus and options, readouts and tabs whose text is cut (visible ones).
_CUT_TEXT = """() => Array.from(document.querySelectorAll(
        '.bp-dashboard button, .bp-dashboard label, .bp-dashboard .widget-label, '
        + '.bp-dashboard select, .bp-dashboard option, .bp-dashboard .widget-readout, '
        + '.bp-dashboard .lm-TabBar-tabLabel'))
    .filter(e => e.tagName === 'OPTION' || e.getClientRects().length > 0)
    .filter(e => e.scrollWidth > e.clientWidth)
    .map(e => `${e.tagName} "${(e.innerText || e.textContent).trim()}": `
              + `${e.scrollWidth} > ${e.clientWidth}`)"""

#: Titles, axis labels and labels of the visible figures that stick out of their figure.
_TEXT_OUTSIDE_FIGURES = """() => {
    const out = [];
    for (const figure of document.querySelectorAll('.bp-dashboard .bqplot')) {
        if (!figure.getClientRects().length) continue;
        const f = figure.getBoundingClientRect();
        for (const t of figure.querySelectorAll('text.mainheading, text.axislabel, text.label')) {
            const r = t.getBoundingClientRect();
            if (!t.textContent.trim() || !r.width) continue;
            if (r.left < f.left - 0.5 || r.right > f.right + 0.5
                    || r.top < f.top - 0.5 || r.bottom > f.bottom + 0.5)
                out.push(`"${t.textContent}" at ${[r.left, r.top, r.right, r.bottom].map(Math.round)}`
                         + ` outside ${[f.left, f.top, f.right, f.bottom].map(Math.round)}`);
        }
    }
    return out;
}"""

#: Wait until the visible figures are redrawn at their new size: bqplot lays a figure
#: out 300 ms after its last resize; its plot area and title then stay put.
_FIGURES_SETTLED = """async () => {
    const sleep = ms => new Promise(done => setTimeout(done, ms));
    const layout = () => JSON.stringify(Array.from(document.querySelectorAll('.bp-dashboard .bqplot'))
        .filter(f => f.getClientRects().length)
        .map(f => [f, f.querySelector('.plotarea_background'), f.querySelector('text.mainheading')]
            .map(e => e && e.getBoundingClientRect())
            .map(r => r && [r.x, r.y, r.width, r.height].map(Math.round))));
    await sleep(400);
    let last = layout(), same = 0;
    for (let i = 0; i < 200 && same < 3; i++) {
        await sleep(150);
        const now = layout();
        same = now === last ? same + 1 : 0;
        last = now;
    }
    return same >= 3;
}"""

#: The Boson-peak label's box, the DOS plot area's, and what the label overlaps.
_PEAK_LABEL = """() => {
    const panel = document.querySelector('.bp-dos-panel');
    const label = Array.from(panel.querySelectorAll('text.label'))
        .find(t => t.textContent.startsWith('Boson peak'));
    if (!label) return null;
    const box = label.getBoundingClientRect();
    const area = panel.querySelector('.plotarea_events').getBoundingClientRect();
    const meets = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
    const clip = r => ({left: Math.max(r.left, area.left), right: Math.min(r.right, area.right),
                        top: Math.max(r.top, area.top), bottom: Math.min(r.bottom, area.bottom)});
    const curves = Array.from(panel.querySelectorAll('path.line'))
        .map(p => clip(p.getBoundingClientRect()))
        .filter(r => r.left <= r.right && r.top <= r.bottom && meets(r, box));
    const texts = Array.from(panel.querySelectorAll('text.mainheading, g.tick text'))
        .filter(t => meets(t.getBoundingClientRect(), box)).map(t => t.textContent);
    return {text: label.textContent, bottom: box.bottom, areaTop: area.top,
            curves: curves.length, texts: texts};
}"""

#: How often the summary sentence and the Boson-peak label's text are on the page.
_TIMES_ON_PAGE = """() => {
    const page = document.body.innerText;
    const count = text => page.split(text).length - 1;
    const summary = document.querySelector('.bp-summary-text').innerText.trim();
    const label = Array.from(document.querySelectorAll('.bp-dos-panel text.label'))
        .map(t => t.textContent).find(t => t.startsWith('Boson peak'));
    return {summary: count(summary), label: count(label)};
}"""


def _boxes(page, selectors):
    return {selector: page.locator(selector).first.bounding_box() for selector in selectors}


def _assert_in_view(page, selectors, width, height):
    for selector, box in _boxes(page, selectors).items():
        assert box is not None, f"{selector} is not shown"
        assert (box["x"] >= -0.5 and box["y"] >= -0.5 and box["x"] + box["width"] <= width + 0.5
                and box["y"] + box["height"] <= height + 0.5), (selector, box, (width, height))


def _assert_nothing_cut(page, where):
    assert page.evaluate(_CUT_TEXT) == [], where
    assert page.evaluate(_TEXT_OUTSIDE_FIGURES) == [], where


def _settle(page):
    assert page.evaluate(_FIGURES_SETTLED), "the figures kept moving"


def _set_projector(page, on):
    if page.evaluate("() => document.querySelector('.bp-dashboard')"
                     ".classList.contains('bp-projector')") != on:
        page.click("button.bp-projector")
        page.wait_for_function(
            """on => document.querySelector('.bp-dashboard').classList.contains('bp-projector')
                === on && Array.from(document.querySelectorAll('.bp-dos-panel g.tick text'))
                .every(t => (parseFloat(getComputedStyle(t).fontSize) >= 18) === on)""",
            arg=on, timeout=REDRAW_TIMEOUT)


@pytest.fixture(scope="module")
def layout_page(chromium, voila_url):
    """The dashboard as it opens (the paper's L = 60, 10 networks), on a projector's screen."""
    page = open_dashboard(chromium, voila_url, viewport={"width": 1280, "height": 720})
    yield page
    page.close()


def test_the_page_title_is_the_dashboards_name(layout_page):
    assert layout_page.title() == PAGE_TITLE


@pytest.mark.parametrize("mode, width, height", [(mode, *screen) for mode in ("normal", "projector")
                                                 for screen in SCREENS])
def test_the_page_fits_the_screen_and_cuts_no_text(layout_page, mode, width, height):
    page, name = layout_page, f"layout-{mode}-{width}x{height}"
    _set_projector(page, mode == "projector")
    page.set_viewport_size({"width": width, "height": height})
    _settle(page)
    _screenshot_view(page, name)
    # The slider and the three panels are in view, and the panels use the width.
    _assert_in_view(page, _IN_VIEW, width, height)
    right = max(b["x"] + b["width"] for b in _boxes(page, _IN_VIEW).values())
    assert right > 0.95 * width
    _assert_nothing_cut(page, name)
    # The Boson-peak label sits above the plot area, over no curve, tick or title.
    peak = page.evaluate(_PEAK_LABEL)
    assert peak is not None and peak["text"].startswith("Boson peak: ω = ")
    assert peak["bottom"] <= peak["areaTop"] + 0.5, peak
    assert peak["curves"] == 0 and peak["texts"] == [], peak
    # Each sentence once: the label on the plot, the summary beside the controls.
    assert page.evaluate(_TIMES_ON_PAGE) == {"summary": 1, "label": 1}
    if mode == "projector" and (width, height) == SCREENS[0]:
        # The controls fold into a bar; "all controls" opens the whole column.
        page.click("button.bp-side-toggle")
        page.wait_for_selector(".bp-side.bp-open button.bp-prepare-export", state="visible")
        page.locator("button.bp-prepare-export").scroll_into_view_if_needed()  # the column scrolls
        _assert_in_view(page, [".bp-side", "button.bp-prepare-export"], width, height)
        _assert_in_view(page, _IN_VIEW[1:], width, height)  # the page itself did not scroll
        _assert_nothing_cut(page, f"{name} with all controls")
        _screenshot_view(page, f"{name}-all-controls")
        page.click("button.bp-side-toggle")
        page.wait_for_selector(".bp-side.bp-open", state="detached")
    page.locator(".lm-TabBar-tab", has_text="Toy model").click()
    page.locator(".bp-toy-model .bqplot").first.wait_for()
    _settle(page)
    _screenshot_view(page, f"{name}-toy")
    _assert_in_view(page, [".bp-toy-network", ".bp-toy-response", ".bp-toy-controls"],
                    width, height)
    _assert_nothing_cut(page, f"{name}, toy model")
    page.locator(".lm-TabBar-tab", has_text="Spring networks").click()
    _assert_no_error_output(page)
    assert page.page_errors == []


def _screenshot_view(page, name):
    """What the screen shows (not the whole page), in ``artifacts/``."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
