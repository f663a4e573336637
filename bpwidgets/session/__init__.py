"""The session layer: what one page shows and computes, without widgets.

:mod:`~bpwidgets.session.schema` describes the parameters once;
:mod:`~bpwidgets.session.pipeline` computes a request in stages;
:mod:`~bpwidgets.session.worker` runs it off the page's thread, latest request
wins; :mod:`~bpwidgets.session.session` holds one user's state, pins and
selection; :mod:`~bpwidgets.session.share` and :mod:`~bpwidgets.session.presets`
turn links and presets into parameters; :mod:`~bpwidgets.session.visitor` holds
them to what a shared server allows a visitor. Imports only the core.
"""

from .pipeline import Request, Snapshot, compute, compute_stages
from .schema import FIELDS, Parameters
from .session import Listener, Pin, Session, Status
from .visitor import LimitError, VisitorLimits

__all__ = [
    "FIELDS",
    "LimitError",
    "Listener",
    "Parameters",
    "Pin",
    "Request",
    "Session",
    "Snapshot",
    "Status",
    "VisitorLimits",
    "compute",
    "compute_stages",
]
