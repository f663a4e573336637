"""Every example in the package's docstrings runs and prints what it says."""

import doctest
import importlib
import pkgutil

import pytest

import bpwidgets

MODULES = sorted(m.name for m in pkgutil.walk_packages(bpwidgets.__path__, "bpwidgets."))
#: Modules whose public functions have no runnable example: widgets that need a page
#: (their tests drive them), file writers, the thread pool, the worker thread, plain
#: data and the server launcher.
NO_EXAMPLES = {
    "bpwidgets.app", "bpwidgets.app.controls", "bpwidgets.app.export", "bpwidgets.app.lecture",
    "bpwidgets.app.style", "bpwidgets.core.parallel",
    "bpwidgets.session", "bpwidgets.session.presets",
    "bpwidgets.views",
}


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name),
                             optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert (result.attempted > 0) == (name not in NO_EXAMPLES)
