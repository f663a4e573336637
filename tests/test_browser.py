"""The served dashboard in a real browser: Voila + headless chromium via Playwright.

One page (one kernel) for the module; the tests run in file order and each
leaves the page usable for the next. Screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import pytest

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
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.page_errors = errors
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


def test_refused_seed_shows_a_message_and_recovers(page):
    seed = page.locator(".bp-first-seed input")
    before = generation(page)
    seed.fill("-1")
    seed.press("Enter")
    wait_for_generation(page, before, kind="error", timeout=REDRAW_TIMEOUT)
    assert "seed" in page.inner_text(".bp-status")
    _assert_no_error_output(page)
    _screenshot(page, "dashboard-error")
    before = generation(page)
    seed.fill("0")
    seed.press("Enter")
    wait_for_generation(page, before, timeout=REDRAW_TIMEOUT)
    before = generation(page)
    press_delta(page, "ArrowRight")
    wait_for_generation(page, before, timeout=REDRAW_TIMEOUT)
    _assert_no_error_output(page)


def test_no_uncaught_page_errors(page):
    assert page.page_errors == []
