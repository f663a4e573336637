"""``Dashboard()`` inside JupyterLab itself, as a researcher uses it.

Starts JupyterLab on 127.0.0.1 (its own process group, no token) with a
temporary root holding one notebook that builds a small dashboard, opens the
notebook in headless chromium, runs the cell with Shift+Enter as a user would,
and checks that the panels render and follow the delta slider.
"""

from __future__ import annotations

import os
import subprocess
import sys

import nbformat
import pytest

from browser_helpers import (
    ARTIFACTS,
    PAGE_READY_TIMEOUT,
    VIEWPORT,
    dos_signature,
    free_port,
    generation,
    histogram_signature,
    press_delta,
    stop_voila,
    wait_for_generation,
    wait_for_server,
)

pytestmark = pytest.mark.browser

PlaywrightTimeout = pytest.importorskip("playwright.sync_api").TimeoutError

#: The notebook's only cell: what the README tells a JupyterLab user to type.
CELL = "from bpwidgets.app import Dashboard\n\nDashboard(size=20, n_seeds=2)"
#: Seconds JupyterLab may take to answer.
LAB_START_TIMEOUT = 120
#: Shift+Enter presses, and milliseconds to wait after each for the cell to start.
RUN_ATTEMPTS = 10
RUN_WAIT = 6_000


@pytest.fixture(scope="module")
def lab_notebook_url(tmp_path_factory):
    """URL of a notebook with ``Dashboard(...)`` in a JupyterLab of its own."""
    root = tmp_path_factory.mktemp("lab")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(CELL)]
    notebook.metadata["kernelspec"] = {
        "name": "python3", "display_name": "Python 3", "language": "python",
    }
    nbformat.write(notebook, root / "dashboard_in_lab.ipynb")

    port = free_port()
    # Settings, workspaces and runtime files of this server stay in the temporary root.
    environment = dict(os.environ, JUPYTER_CONFIG_DIR=str(root / "config"),
                       JUPYTER_RUNTIME_DIR=str(root / "runtime"))
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / "jupyterlab.log", "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
             "--ServerApp.ip=127.0.0.1", "--IdentityProvider.token=", "--allow-root",
             f"--ServerApp.root_dir={root}",
             f"--LabApp.workspaces_dir={root / 'workspaces'}",
             f"--LabApp.user_settings_dir={root / 'settings'}"],
            cwd=root, env=environment, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: server and kernel stop together
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_server(url + "api/status", process, LAB_START_TIMEOUT)
        yield url + "lab/tree/dashboard_in_lab.ipynb"
    finally:
        stop_voila(process)  # stops any server started in its own process group


def test_dashboard_runs_in_a_jupyterlab_notebook(lab_notebook_url, chromium):
    page = chromium.new_page(viewport=VIEWPORT)
    page_errors = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    try:
        page.goto(lab_notebook_url, timeout=PAGE_READY_TIMEOUT)
        editor = page.locator(".jp-Notebook .jp-Cell .jp-InputArea-editor").first
        prompt = page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").first
        editor.wait_for(timeout=PAGE_READY_TIMEOUT)
        # While the notebook's kernel session is still being set up, JupyterLab shows
        # "Idle" yet drops a run request (the prompt stays "[ ]"): ask again until the
        # cell is queued or running, as a user would press Shift+Enter again.
        for _ in range(RUN_ATTEMPTS):
            editor.click()
            page.keyboard.press("Shift+Enter")
            try:
                page.wait_for_function(
                    "prompt => !prompt.textContent.includes('[ ]')",
                    arg=prompt.element_handle(), timeout=RUN_WAIT,
                )
                break
            except PlaywrightTimeout:
                continue
        page.wait_for_selector(".jp-OutputArea .bp-status-ready", timeout=PAGE_READY_TIMEOUT)

        # The three panels drew: DOS curves, coordination bars, and springs and nodes.
        assert dos_signature(page)
        assert histogram_signature(page)
        assert page.locator(".bp-network-panel path.line").count() >= 1
        # The notebook is narrower than the three columns: no panel is drawn over another.
        boxes = [page.locator(selector).first.bounding_box() for selector in
                 (".bp-controls", ".bp-dos-panel", ".bp-coordination-panel", ".bp-network-panel")]
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                overlap_x = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
                overlap_y = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
                assert overlap_x <= 1 or overlap_y <= 1, (a, b)

        before, curves = generation(page), dos_signature(page)
        press_delta(page, "ArrowLeft")
        wait_for_generation(page, before)
        assert dos_signature(page) != curves
        delta = page.locator(".bp-controls .bp-delta .widget-readout").first.inner_text()
        assert delta.strip() == "0.29"  # one fine step down from the default 0.3

        shown = page.locator(
            ".jp-OutputArea-output[data-mime-type*=error], .bp-status-error"
        ).count()
        assert shown == 0
        assert not page_errors, page_errors
    finally:
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-dashboard.png"))
        page.close()
