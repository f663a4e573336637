"""The bpwidgets dashboard: controls and three linked bqplot panels, and the toy model.

``Dashboard()`` is a widget: display it in a notebook, or serve
``notebooks/dashboard.ipynb`` with Voila (``python -m bpwidgets.serve``).
The plot arrays come from :mod:`bpwidgets.app.plotdata` (plain numpy), the
computation from :mod:`bpwidgets.app.state`.

The widget classes are imported on first use, so that the plain-numpy modules
(``plotdata``, ``state``, ``toyplot``), which :mod:`bpwidgets.paper` and
:mod:`bpwidgets.figures` use, load without ipywidgets or bqplot.
"""

import importlib

__all__ = ["Controls", "Dashboard", "ToyModel"]

_HOMES = {"Controls": ".dashboard", "Dashboard": ".dashboard", "ToyModel": ".toy_panel"}


def __getattr__(name):
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
