"""The lecture-hall controls: presets, play, projector mode, export, link, summary.

:class:`LectureTools` builds and labels the widgets, and keeps play and step in
step with the delta slider (:meth:`LectureTools.bind`), and runs the export
off the kernel's main thread (:meth:`LectureTools.prepare`); the dashboard wires
the rest to its session (``dashboard.py``).
"""

from __future__ import annotations

import html
import logging
import threading
from dataclasses import replace

from ipywidgets import HTML, Button, HBox, Layout, Play, Text, ToggleButton, VBox

from ..session.presets import PRESETS
from .export import PREPARING, progress_html
from .style import STATUS_STYLE

__all__ = [
    "PLAY_DELTA_MAX",
    "PLAY_INTERVAL_MS",
    "PLAY_MAX_SEEDS",
    "PLAY_MAX_SIZE",
    "PLAY_STEP",
    "PROJECTOR_CSS",
    "LectureTools",
]

#: Play sweeps delta from 0 to this value (the paper's range, 0 to 0.3, and a bit beyond).
PLAY_DELTA_MAX = 0.4
#: Delta step of one frame (two slider steps: 21 frames from 0 to 0.4).
PLAY_STEP = 0.02
#: Milliseconds between frames: a 60 x 60 grid with three networks takes about 0.35 s
#: on one core, so every frame is a real computation with room for drawing.
PLAY_INTERVAL_MS = 700
#: While playing the grid is at most this size and at most this many networks are
#: averaged, so frames keep up; pausing computes the full request.
PLAY_MAX_SIZE = 60
PLAY_MAX_SEEDS = 3
_log = logging.getLogger("bpwidgets")
#: What the note under play says: its limits, or why it is off.
_PLAY_NOTE = (f'<span class="bp-play-note">while playing: L ≤ {PLAY_MAX_SIZE}, '
              f"≤ {PLAY_MAX_SEEDS} networks</span>")
_PLAY_OFF_NOTE = ('<span class="bp-play-note">play and step move δ: jammed disks have '
                  "none (their disorder is the pressure)</span>")
#: Projector mode for everything outside the bqplot figures (their styles are traits).
PROJECTOR_CSS = """<style>
.bp-projector .widget-label, .bp-projector .widget-readout, .bp-projector .widget-button,
.bp-projector .widget-toggle-button, .bp-projector .widget-text input,
.bp-projector .bp-legend, .bp-projector .bp-status, .bp-projector .bp-summary,
.bp-projector .bp-peak, .bp-projector .bp-downloads, .bp-projector .bp-play-note,
.bp-projector .widget-dropdown select, .bp-projector .bp-toy-status
{ font-size: 18px !important; }
.bp-projector .bqplot .axislabel { font-size: 22px !important; }
.bp-projector .bp-summary { font-weight: bold; color: #000; }
.bp-dashboard :focus-visible { outline: 3px solid #0072B2; outline-offset: 1px; }
</style>"""


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-").replace("--", "-")


class LectureTools(VBox):
    """Widgets for teaching with the dashboard, each labelled for keyboard and screen readers.

    Attributes
    ----------
    presets : dict of str -> ipywidgets.Button
        One button per :data:`~bpwidgets.session.presets.PRESETS` entry.
    play : ipywidgets.Play
        Frame counter: frame ``k`` shows delta = ``k * PLAY_STEP``.
    step : ipywidgets.Button
        Advances delta by one frame (wraps to 0 after ``PLAY_DELTA_MAX``).
    projector : ipywidgets.ToggleButton
    prepare_export : ipywidgets.Button
        Disabled while the files are prepared (:meth:`prepare`).
    downloads : ipywidgets.HTML
        The download links, filled by ``prepare_export``, or its progress.
    link : ipywidgets.Text
        The URL of the current state, to copy.
    link_anchor : ipywidgets.HTML
        The same link, to open.
    notice : ipywidgets.HTML
        Messages about the page's URL query (refused values).
    """

    def __init__(self):
        style = {"description_width": "10em"}
        self.presets = {
            name: Button(description=name, tooltip=f"{name}: {preset.description}",
                         layout=Layout(width="auto"))
            for name, preset in PRESETS.items()
        }
        for name, button in self.presets.items():
            button.add_class("bp-preset")
            button.add_class(f"bp-preset-{_slug(name)}")
        self.play = Play(
            value=0, min=0, max=round(PLAY_DELTA_MAX / PLAY_STEP), step=1,
            interval=PLAY_INTERVAL_MS, repeat=False, show_repeat=False,
            description="play δ", tooltip=f"sweep δ from 0 to {PLAY_DELTA_MAX}", style=style,
        )
        self.step = Button(description="step δ", icon="step-forward",
                           tooltip=f"increase δ by {PLAY_STEP}", layout=Layout(width="auto"))
        self.play_note = HTML(_PLAY_NOTE)
        self.projector = ToggleButton(
            description="projector mode", icon="television",
            tooltip="large text, thick lines, high contrast",
        )
        self.prepare_export = Button(
            description="prepare downloads", icon="download",
            tooltip="render the panels (PNG, SVG, PDF) and the data (CSV, NPZ) for download",
            layout=Layout(width="auto"),
        )
        self.downloads = HTML()
        self.link = Text(description="link to this view", style=style,
                         layout=Layout(width="100%"), tooltip="copy this URL to share the view")
        self.link_anchor = HTML()
        self.notice = HTML()
        self.css = HTML(PROJECTOR_CSS)
        for name in ("play", "step", "projector", "prepare_export", "downloads", "link",
                     "link_anchor", "notice"):
            getattr(self, name).add_class(f"bp-{name.replace('_', '-')}")
        self._exporting = threading.Lock()
        preset_label = HTML('<span class="widget-label">presets</span>')
        rows = [HBox([preset_label, *self.presets.values()]), HBox([self.play, self.step]),
                HBox([self.projector, self.prepare_export])]
        for row, name in zip(rows, ("presets", "play", "modes")):
            row.add_class("bp-row")  # wraps where the column is narrow
            row.add_class(f"bp-row-{name}")
        super().__init__(
            [
                self.notice,
                rows[0],
                rows[1],
                self.play_note,
                rows[2],
                self.downloads,
                self.link,
                self.link_anchor,
                self.css,
            ]
        )
        self.add_class("bp-lecture")

    def bind(self, delta):
        """Drive the ``delta`` slider from play and step, and keep the frame at its value.

        A play frame sets delta; a delta set by hand moves the frame, so play
        starts where the slider is; step advances one frame and wraps to 0.
        """
        syncing = False

        def frame_to_delta(change):
            if not syncing:
                delta.value = round(change["new"] * PLAY_STEP, 6)

        def delta_to_frame(change=None):
            nonlocal syncing
            syncing = True
            try:
                self.play.value = round(min(delta.value, PLAY_DELTA_MAX) / PLAY_STEP)
            finally:
                syncing = False

        def step(_button=None):
            self.play.playing = False
            self.play.value = self.play.value + 1 if self.play.value < self.play.max else self.play.min

        self.play.observe(frame_to_delta, "value")
        delta.observe(delta_to_frame, "value")
        self.step.on_click(step)
        delta_to_frame()

    def enable_play(self, on: bool):
        """Enable play and step, or stop and disable them (jammed disks have no δ)."""
        if not on:
            self.play.playing = False
        self.play.disabled = self.step.disabled = not on
        self.play_note.value = _PLAY_NOTE if on else _PLAY_OFF_NOTE

    def prepare(self, job, *, background=True):
        """Run ``job(progress)``, which writes the download links, with the button disabled.

        ``background=True`` runs it on a thread of its own: the kernel's main thread
        stays free for the page, and the slider's worker for the slider.
        ``progress(done, total)`` shows "Preparing the files … 2 of 5". A failure is
        logged and shown on the downloads line; the button is enabled again after.
        A press while the files are prepared does nothing.
        """
        if not self._exporting.acquire(blocking=False):
            return
        self.prepare_export.disabled = True
        self.downloads.value = PREPARING

        def run():
            try:
                job(lambda done, total: setattr(self.downloads, "value",
                                                progress_html(done, total)))
            except Exception as error:  # shown beside the button, never raised into the page
                _log.error("bpwidgets: preparing the downloads failed", exc_info=error)
                self.downloads.value = (
                    f'<div class="bp-downloads" role="alert" style="{STATUS_STYLE["error"]}">'
                    f"Could not prepare the files ({html.escape(type(error).__name__)}: "
                    f"{html.escape(str(error))}); the details are in the server's log</div>")
            finally:
                self.prepare_export.disabled = False
                self._exporting.release()

        if not background:
            run()
            return
        try:
            threading.Thread(target=run, name="bpwidgets-export", daemon=True).start()
        except RuntimeError as error:  # no thread to be had: say so, free the button
            _log.error("bpwidgets: no thread for the downloads", exc_info=error)
            self.downloads.value = ""
            self.prepare_export.disabled = False
            self._exporting.release()

    def reduce(self, parameters):
        """The request's parameters, reduced to an interactive size while playing."""
        if not self.play.playing:
            return parameters
        return replace(parameters, size=min(parameters.size, PLAY_MAX_SIZE),
                       n_seeds=min(parameters.n_seeds, PLAY_MAX_SEEDS))

    def show_notice(self, messages):
        """List messages (e.g. refused URL values) above the lecture controls; [] clears."""
        items = "".join(f"<li>{html.escape(m)}</li>" for m in messages)
        self.notice.value = (
            f'<div role="alert" class="bp-notice-text" style="{STATUS_STYLE["error"]}">'
            f'The link had values the dashboard cannot use:<ul style="margin:0.2em 0">{items}</ul>'
            "</div>" if messages else ""
        )

    def show_link(self, link):
        """Show the URL of the current view, to copy and to open."""
        self.link.value = link
        self.link_anchor.value = (f'<a class="bp-link-open" href="{html.escape(link)}" '
                                  'target="_blank">open this view in a new tab</a>')
