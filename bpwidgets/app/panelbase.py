"""What the bqplot panels share: projector mode, held sync, round axes, the HTML key.

:class:`Projectable` remembers a panel's normal and projector look trait by
trait; :func:`hold` sends a panel's changes as one message; the legend helpers
draw a key in HTML, in the marks' own colours and dashes.
"""

from __future__ import annotations

import html
import math
from contextlib import contextmanager

import numpy as np
from bqplot import Lines
from ipywidgets import VBox

from .style import held

__all__ = [
    "PROJECTOR_LINE_FACTOR",
    "PROJECTOR_TEXT_PX",
    "PROJECTOR_TICK_PX",
    "LazyTab",
    "Projectable",
    "box_sample",
    "hold",
    "legend_item",
    "line_sample",
    "round_up",
    "tick_values",
]

#: Projector mode: tick labels in px (the issue asks for at least 18 px on the axes).
PROJECTOR_TICK_PX = 20
#: Projector mode: titles and labels drawn in the plots, in px.
PROJECTOR_TEXT_PX = 22
#: Projector mode: every line this many times thicker.
PROJECTOR_LINE_FACTOR = 2.0
#: Projector mode: extra figure margin (px) for the larger tick labels.
_PROJECTOR_MARGIN = 25


class Projectable:
    """Mixin: remembers a panel's normal look and its projector look, trait by trait.

    ``set_projector`` only reassigns traits of the existing marks, axes and figure.
    """

    def _remember_styles(self, changes):
        """``changes``: (widget, trait, projector value); the current value is the normal one.

        A style dict's normal value names every key the projector sets, with ``""``
        (CSS: no inline value): the browser keeps an inline style that is merely
        left out, so ``{}`` would not restore the normal look.
        """
        self._styles = []
        for widget, name, big in changes:
            normal = getattr(widget, name)
            if name.endswith("_style"):
                normal = {**{key: "" for key in big}, **normal}
                setattr(widget, name, normal)
            self._styles.append((widget, name, normal, big))

    def _projector_changes(self, figure, labels=(), *, top=0, title_style=None):
        """Larger ticks, titles, labels and margins, thicker lines: the common part.

        ``top``: px added to the top margin in projector mode; ``title_style``: more of
        the title's style, kept in projector mode.
        """
        changes = [(axis, "tick_style", {"font-size": f"{PROJECTOR_TICK_PX}px"})
                   for axis in figure.axes]
        changes.append((figure, "title_style",
                        {**(title_style or {}), "font-size": f"{PROJECTOR_TEXT_PX}px"}))
        margin = dict(figure.fig_margin)
        margin.update(bottom=margin["bottom"] + _PROJECTOR_MARGIN,
                      left=margin["left"] + _PROJECTOR_MARGIN, top=margin["top"] + top)
        changes.append((figure, "fig_margin", margin))
        changes += [(mark, "stroke_width", mark.stroke_width * PROJECTOR_LINE_FACTOR)
                    for mark in figure.marks if isinstance(mark, Lines) and mark.stroke_width]
        changes += [(label, "default_size", float(PROJECTOR_TEXT_PX)) for label in labels]
        return changes

    def set_projector(self, on: bool):
        """Projector look (large text, thick lines, darker greys) or the normal one."""
        for widget, name, normal, big in self._styles:
            setattr(widget, name, big if on else normal)


@contextmanager
def hold(panel):
    """Hold the sync of every mark, scale and axis of a panel's figure (and the panel).

    Inside, data can be reassigned trait by trait; each widget sends its changes as
    one message on exit, so the browser never sees new x with old y.
    """
    figure = panel.figure
    widgets = [figure, *figure.marks, *figure.axes, panel, *panel.children]
    for mark in figure.marks:
        widgets.extend(mark.scales.values())
    with held(widgets):
        yield panel


def round_up(value: float, step: float) -> float:
    """The smallest multiple of ``step`` at or above ``value`` (to 1e-9 of a step)."""
    return step * math.ceil(value / step - 1e-9)


def tick_values(top: float, most: int = 6) -> np.ndarray:
    """Ticks from 0 to ``top`` at a round step, at most ``most`` steps: a short axis stays legible.

    Examples
    --------
    >>> tick_values(0.45)
    array([0. , 0.1, 0.2, 0.3, 0.4])
    """
    steps = (0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0)
    step = next((d for d in steps if top / d <= most + 1e-9), top / most)
    return np.round(np.arange(0.0, top + 1e-9, step), 10)


#: SVG dash patterns of bqplot's line styles, for the HTML legend.
_DASHES = {"solid": "", "dashed": "6,3", "dotted": "1.5,3", "dash_dotted": "6,3,1.5,3"}


def line_sample(color, width, style) -> str:
    return (
        f'<svg width="30" height="10" style="vertical-align:middle">'
        f'<line x1="0" y1="5" x2="30" y2="5" stroke="{color}" stroke-width="{width}" '
        f'stroke-dasharray="{_DASHES.get(style, "")}"/></svg>'
    )


def box_sample(color) -> str:
    return (
        f'<span style="display:inline-block;width:30px;height:10px;background:{color};'
        f'vertical-align:middle"></span>'
    )


def legend_item(sample, text) -> str:
    # The sample stays with the first word; the rest wraps: a whole item kept on one
    # line would set the legend's width, wider than a narrow panel.
    first, _, rest = text.partition(" ")
    return (
        f'<span class="bp-legend-item" style="margin-right:1em">'
        f'<span style="white-space:nowrap">{sample} {html.escape(first)}</span> '
        f"{html.escape(rest)}</span>"
    )


class LazyTab(VBox):
    """A dashboard tab that stays empty until its content is first asked for.

    Nobody sees a tab before opening it, so the first page is sent without its
    widgets; the dashboard asks for :attr:`content` when the tab is selected.

    Parameters
    ----------
    build : callable
        Makes the content: a widget with ``set_projector(on)``.
    css_class : str
        The tab's class on the page.

    Examples
    --------
    >>> from ipywidgets import HTML
    >>> class Text(HTML, Projectable):
    ...     def __init__(self, value):
    ...         super().__init__(value)
    ...         self._remember_styles([(self, "style", {"font_size": "24px"})])
    >>> tab = LazyTab(lambda: Text("hello"), "bp-demo-tab")
    >>> tab.built, len(tab.children)
    (False, 0)
    >>> tab.set_projector(True)
    >>> tab.content.value, tab.built, tab.children == (tab.content,)
    ('hello', True, True)
    >>> tab.content.style.font_size  # built in the tab's projector mode
    '24px'
    """

    def __init__(self, build, css_class):
        super().__init__([])
        self.add_class(css_class)
        self._build = build
        self._content = None
        self._projector = False

    @property
    def built(self) -> bool:
        """Whether the content has been built."""
        return self._content is not None

    @property
    def content(self):
        """The content, built (in the tab's current projector mode) on first access."""
        if self._content is None:
            self._content = self._build()
            self._content.set_projector(self._projector)
            self.children = (self._content,)
        return self._content

    def set_projector(self, on: bool):
        """Projector look for the content, now if it is built, else when it is."""
        self._projector = bool(on)
        if self._content is not None:
            self._content.set_projector(on)

    def close(self):
        if getattr(self, "_content", None) is not None:
            self._content.close()
        super().close()
