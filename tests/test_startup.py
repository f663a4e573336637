"""A kernel that starts light: the first page imports and builds only what it shows.

Every visitor of a class server gets a kernel of their own, so whatever the
first page imports or builds without showing it is paid once per student.
matplotlib draws only the downloads (``app/export.py`` imports it when a file
is asked for), the toy model's tab is built when it is opened (``ToyTab``),
and so is the sweep's (``SweepTab``), whose Dask and xarray are imported only
when a sweep runs. Each check runs in a fresh interpreter, since this test
session has long imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Modules the first page must not import: the downloads' plotting library and its figures.
DOWNLOAD_ONLY = ("matplotlib", "bpwidgets.figures")
#: Modules only a sweep needs: the sweep tab imports them when "Run sweep" is pressed.
SWEEP_ONLY = ("dask", "distributed", "xarray", "bpwidgets.sweep")
#: Builds the first page the way the served notebook does, and reports what it loaded.
FIRST_PAGE = """
import json, sys
from bpwidgets.app import Dashboard
imported = sorted(m for m in {names} if m in sys.modules)
dashboard = Dashboard(size=20, n_seeds=1, background=False)
built = sorted(m for m in {names} if m in sys.modules)
toy_built = dashboard.toy_tab.built
sweep_built = dashboard.sweep_tab.built
dashboard.export_files()  # "prepare downloads": now the figures are drawn
exported = sorted(m for m in {names} if m in sys.modules)
sweep = sorted(m for m in {sweep_names} if m in sys.modules)
dashboard.tabs.selected_index = 2  # the sweep's tab opened, no sweep run yet
sweep_opened = sorted(m for m in ("dask", "distributed", "xarray") if m in sys.modules)
print(json.dumps(dict(imported=imported, built=built, toy_built=toy_built,
                      sweep_built=sweep_built, exported=exported, sweep=sweep,
                      sweep_opened=sweep_opened, sweep_tab=dashboard.sweep_tab.built)))
dashboard.close()
"""


def _first_page() -> dict:
    code = FIRST_PAGE.format(names=repr(DOWNLOAD_ONLY), sweep_names=repr(SWEEP_ONLY))
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_first_page_imports_no_matplotlib_and_builds_no_toy_model():
    report = _first_page()
    assert report["imported"] == [] and report["built"] == []
    assert report["toy_built"] is False and report["sweep_built"] is False
    # Neither the page nor its downloads load the sweeps' Dask and xarray.
    assert report["sweep"] == []
    # Opening the sweep's tab builds it, and still loads no Dask or xarray.
    assert report["sweep_tab"] is True and report["sweep_opened"] == []
    # The check sees an import when there is one: the downloads bring matplotlib in.
    assert report["exported"] == sorted(DOWNLOAD_ONLY)
