"""Shared fixtures: one Voila server and one headless chromium per test session.

Voila starts a kernel for every page load and keeps it, so the whole session
shares one server (in its own process group, stopped with ``killpg``) and the
browser tests share one page. The helpers live in ``browser_helpers.py`` so
that ``benchmarks/bench_browser.py`` drives the page the same way.
"""

from __future__ import annotations

import os

import pytest

# Tests compute what they check: the result store stays off for the whole session
# (Voila servers and notebook kernels started by tests inherit it), except where a
# test passes a store of its own (tests/test_store.py).
os.environ["BPWIDGETS_STORE"] = "off"

from browser_helpers import ARTIFACTS, CHROMIUM, free_port, launch_chromium, start_voila, stop_voila


@pytest.fixture(scope="session")
def voila_url():
    """URL of the dashboard served by Voila for the whole session."""
    process, url = start_voila(free_port(), ARTIFACTS / "voila.log")
    try:
        yield url
    finally:
        stop_voila(process)


@pytest.fixture(scope="session")
def chromium():
    """A headless chromium browser for the whole session."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: run `make chromium`")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def small_dashboard():
    """A dashboard small enough to recompute in milliseconds, without a worker thread."""
    from bpwidgets.app import Dashboard

    dashboard = Dashboard(size=20, delta=0.3, n_seeds=3, background=False)
    yield dashboard
    dashboard.close()
