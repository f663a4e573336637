"""What the dashboard's widgets share: the status line's look, figure options, held sync."""

from __future__ import annotations

import html
from contextlib import ExitStack, contextmanager

__all__ = ["FIGURE_OPTIONS", "STATUS_STYLE", "held", "status_html"]

#: Look of a status line for each kind of message.
STATUS_STYLE = {
    "ready": "color:#333",
    "busy": "color:#0072B2;font-weight:bold",
    "error": "color:#D55E00;font-weight:bold;border:1px solid #D55E00;padding:0.3em",
}
#: Figures never animate: a transition would only delay the redraw.
FIGURE_OPTIONS = dict(animation_duration=0, background_style={"fill": "white"})


@contextmanager
def held(widgets):
    """Hold the sync of several widgets: each sends its changes as one message on exit."""
    with ExitStack() as stack:
        for widget in dict.fromkeys(widgets):  # each once, in order
            stack.enter_context(widget.hold_sync())
        yield


def status_html(text: str, kind: str, css_class: str, **data) -> str:
    """A status line: escaped ``text`` styled as ``kind``, with ``data-*`` attributes."""
    attributes = "".join(f' data-{name}="{value}"' for name, value in data.items())
    return (f'<div class="{css_class}-{kind}"{attributes} style="{STATUS_STYLE[kind]}">'
            f"{html.escape(text)}</div>")
