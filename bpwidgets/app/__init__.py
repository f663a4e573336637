"""The bpwidgets dashboard: controls and three linked bqplot panels.

``Dashboard()`` is a widget: display it in a notebook, or serve
``notebooks/dashboard.ipynb`` with Voila (``python -m bpwidgets.serve``).
The plot arrays come from :mod:`bpwidgets.app.plotdata` (plain numpy), the
computation from :mod:`bpwidgets.app.state`.
"""

from .dashboard import Controls, Dashboard
from .toy_panel import ToyModel

__all__ = ["Controls", "Dashboard", "ToyModel"]
