"""The bpwidgets dashboard: controls and three linked bqplot panels, and the toy model.

``Dashboard()`` is a widget: display it in a notebook, or serve
``notebooks/dashboard.ipynb`` with Voila (``python -m bpwidgets.serve``). It is
a thin view over a :class:`bpwidgets.session.Session`; the plot arrays come from
:mod:`bpwidgets.views`.
"""

from .controls import Controls
from .dashboard import Dashboard
from .toy_panel import ToyModel

__all__ = ["Controls", "Dashboard", "ToyModel"]
