"""The page layout: a CSS grid that fits the window, and the parts that place widgets in it.

The "Spring networks" tab is a grid: the controls in a column of their own on
the left (the delta slider first; the column scrolls when it is taller than
the window), the reduced DOS above the coordination histogram in the middle,
the network on the right. Its height is the window's height less what sits
above it on the Voila page, so at 1280 x 720 the slider and the three panels
are in view without scrolling, and on a wider screen the panels take the width.
The figures fill their grid cells: bqplot redraws a figure when its element is
resized.

In projector mode on a window lower than :data:`COMPACT_MAX_HEIGHT_PX` (a
1280 x 720 projector) the large text leaves no room for a column of controls:
they fold into a bar above the three panels, which stand side by side. The bar
holds the delta slider, play and step, the projector toggle and "all controls",
which opens the whole column over the panels.

Where the dashboard is narrower than :data:`WIDE_MIN_PX` (a JupyterLab
notebook beside its file browser), the network moves below the others and the
figures take fixed heights; below :data:`NARROW_MAX_PX` everything is one
column. Every rule is scoped to the dashboard's own ``bp-*`` classes.
"""

from __future__ import annotations

from ipywidgets import HTML, GridBox, Layout, ToggleButton, VBox

__all__ = ["COMPACT_MAX_HEIGHT_PX", "LAYOUT_CSS", "NARROW_MAX_PX", "PAGE_TITLE", "WIDE_MIN_PX",
           "networks_page", "page_title", "sidebar", "stylesheet"]

#: The dashboard's name: the page's title and the heading beside the tabs.
PAGE_TITLE = "bpwidgets: where does the Boson peak come from?"
#: A dashboard wider than this (px) has its three panels side by side.
WIDE_MIN_PX = 1000
#: A dashboard at most this wide has one column.
NARROW_MAX_PX = 700
#: In projector mode, a window at most this high folds the controls into a bar.
COMPACT_MAX_HEIGHT_PX = 860

_CSS = """<style>
.bp-dashboard {
  /* The controls' column; what sits above the grid on the Voila page (tab bar, margins). */
  --bp-side: 17.5rem;
  --bp-top: 62px;
  --bp-height: max(28rem, calc(100vh - var(--bp-top)));
  container: bp-dashboard / inline-size;
  position: relative;
}
.bp-dashboard.bp-projector { --bp-side: 20.5rem; --bp-top: 70px; }
.bp-dashboard > .bp-title { position: absolute; top: 0; right: 4px; z-index: 1; margin: 0; }
.bp-dashboard .bp-title h1 {
  margin: 0; font-size: 15px; font-weight: bold; line-height: 30px; white-space: nowrap;
}
.bp-projector .bp-title h1 { font-size: 18px; line-height: 36px; }
.bp-dashboard .bp-css { display: none; }
.bp-dashboard .widget-tab-contents { padding: 6px 8px !important; }
.bp-dashboard .lm-TabBar-tab {
  flex: 0 0 auto !important; min-width: max-content !important; max-width: none !important;
}
.bp-dashboard .lm-TabBar-tabLabel { overflow: visible !important; }
.bp-projector .lm-TabBar-tab { font-size: 18px !important; min-height: 36px !important; }

/* -- the controls' column -- */
.bp-side { grid-area: side; min-height: 0; overflow-y: auto; overflow-x: hidden;
           padding-right: 6px; box-sizing: border-box; }
.bp-side > *, .bp-side .bp-controls > *, .bp-side .bp-lecture > * {
  max-width: 100%; flex-shrink: 0;  /* the column scrolls; its rows keep their height */
}
.bp-side .widget-inline-hbox, .bp-side .widget-toggle-buttons {
  display: flex; flex-wrap: wrap; height: auto !important; width: 100% !important;
  margin-bottom: 2px;
}
.bp-side .widget-inline-hbox > .widget-label, .bp-side .widget-toggle-buttons > .widget-label {
  flex: 0 0 100%; width: 100% !important; max-width: none !important; text-align: left !important;
  white-space: normal; overflow: visible; line-height: 1.3; min-height: 0; margin: 2px 0 0 0;
}
.bp-dashboard .widget-readout { width: auto !important; min-width: 3em; overflow: visible; }
.bp-side .widget-hslider .slider-container { flex: 1 1 0; min-width: 6rem; }
.bp-side .widget-text { flex: 1 1 7rem; width: auto !important; }
.bp-side .widget-text input { min-width: 4.5em; }
.bp-row { flex-wrap: wrap; gap: 4px; align-items: flex-end; width: 100%; }
.bp-dashboard .widget-button, .bp-dashboard .widget-toggle-button {
  width: auto !important; max-width: 100%; flex: 0 0 auto; overflow: visible;
}
.bp-dashboard .widget-toggle-buttons .widget-toggle-button { margin-bottom: 2px; }
.bp-side .widget-toggle-buttons > div { display: flex; flex-wrap: wrap; }
.bp-side .bp-row > .widget-html { flex: 0 0 100%; }
.bp-side .bp-link input { width: 100%; }
.bp-side .bp-summary-text { font-weight: bold; margin: 4px 0; }
.bp-dashboard .widget-html-content { line-height: 1.4; }
.bp-dashboard .bp-side-toggle { display: none; }

/* -- the panels -- */
.bp-networks {
  display: grid !important; width: 100%; height: var(--bp-height);
  grid-template-columns: var(--bp-side) minmax(0, 1.35fr) minmax(0, 1fr);
  grid-template-rows: minmax(0, 1.4fr) minmax(0, 1fr);
  grid-template-areas: "side dos net" "side hist net";
  column-gap: 12px; row-gap: 4px;
}
.bp-networks > .bp-dos-panel { grid-area: dos; container-type: inline-size; }
/* The Boson-peak label (above the plot area, from its left edge) shrinks rather than
   run out of a narrow panel: its text is at most about 30 em long; 13 px and 18 px
   are its sizes (panels.py), 60 px and 85 px the margin left of the plot area. */
.bp-networks > .bp-dos-panel text.label {
  font-size: min(13px, calc((100cqw - 70px) / 30)) !important;
}
.bp-projector .bp-networks > .bp-dos-panel text.label {
  font-size: min(18px, calc((100cqw - 95px) / 30)) !important;
}
.bp-networks > .bp-coordination-panel { grid-area: hist; }
.bp-networks > .bp-network-panel { grid-area: net; container-type: inline-size; }
.bp-networks > .bp-panel { min-width: 0; min-height: 0; overflow: hidden; margin: 0; }
.bp-panel > .bqplot { width: 100%; min-width: 0; }
.bp-networks > .bp-dos-panel > .bqplot, .bp-networks > .bp-coordination-panel > .bqplot {
  flex: 1 1 0; height: auto; min-height: max(6rem, 55%);
}
/* Legends long with pins scroll rather than squeeze the figure above them. */
.bp-networks > .bp-panel > .widget-html { flex: 0 1 auto; min-height: 0; overflow-y: auto; }
/* The network's plot area stays square: its margins differ by 50 px (left and
   right 145, top and bottom 95, the same in projector mode). */
.bp-networks > .bp-network-panel > .bqplot {
  --bp-net: min(calc(100cqw - 50px), calc(var(--bp-height) - 6rem));
  flex: 0 0 auto; height: var(--bp-net); width: calc(var(--bp-net) + 50px); max-width: 100%;
}
.bp-panel .bp-legend { line-height: 1.35; }
.bp-panel .widget-html-content { min-width: 0; }
.bp-panel .bp-caption { color: #444; }

/* -- the toy model's tab -- */
.bp-toy-model { --bp-toy-h: clamp(16rem, calc(var(--bp-height) - 10.5rem), 46rem);
                --bp-toy-top: 40px; }
.bp-projector .bp-toy-model { --bp-toy-h: clamp(16rem, calc(var(--bp-height) - 12rem), 46rem);
                              --bp-toy-top: 50px; }
.bp-toy-figures { flex-wrap: nowrap; gap: 8px; width: 100%; }
/* The 3 x 3 cell's plot area is square: margins 20 px wide, 10 + the title's high.
   (!important: on its own, without this sheet, the toy model keeps fixed sizes.) */
.bp-dashboard .bp-toy-figures > .bp-toy-network {
  flex: 0 0 auto; height: var(--bp-toy-h) !important;
  width: calc(var(--bp-toy-h) - var(--bp-toy-top) + 10px) !important;
}
.bp-dashboard .bp-toy-figures > .bp-toy-response {
  flex: 1 1 0; height: var(--bp-toy-h) !important; width: auto !important; min-width: 18rem;
}
.bp-toy-controls { flex-wrap: wrap; gap: 4px; align-items: center; width: 100%; }
.bp-dashboard .widget-dropdown { width: auto !important; }
.bp-dashboard .widget-dropdown > select { flex: 0 0 auto; width: auto; min-width: 5em; }
.bp-dashboard .widget-dropdown > .widget-label, .bp-toy-eps > .widget-label {
  width: auto !important; max-width: none !important; overflow: visible; padding-right: 4px;
}
.bp-toy-eps { width: min(100%, 34rem) !important; }

/* -- the sweep's tab -- */
.bp-sweep-controls { flex-wrap: wrap; gap: 4px; align-items: center; width: 100%; }

/* -- projector mode on a low window: the controls fold into a bar above the panels -- */
@media (max-height: COMPACT_MAX_HEIGHT_PXpx) {
  .bp-projector .bp-networks {
    position: relative;
    grid-template-columns: minmax(0, 1.45fr) minmax(0, 0.95fr) minmax(0, 1.1fr);
    grid-template-rows: auto minmax(0, 1fr);
    grid-template-areas: "side side side" "dos hist net";
  }
  .bp-projector .bp-side-toggle { display: inline-block; }
  .bp-projector .bp-side:not(.bp-open) {
    flex-direction: row; flex-wrap: wrap; align-items: center; column-gap: 18px;
    overflow: visible;
  }
  .bp-projector .bp-side:not(.bp-open)
    > :not(.bp-controls):not(.bp-lecture):not(.bp-side-toggle):not(.bp-summary),
  .bp-projector .bp-side:not(.bp-open) .bp-controls > :not(.bp-delta),
  .bp-projector .bp-side:not(.bp-open) .bp-lecture > :not(.bp-row-play):not(.bp-row-modes),
  .bp-projector .bp-side:not(.bp-open) .bp-prepare-export { display: none !important; }
  .bp-projector .bp-side:not(.bp-open) .bp-lecture {
    flex-direction: row; align-items: center; column-gap: 18px; width: auto;
  }
  .bp-projector .bp-side:not(.bp-open) .bp-row { width: auto; flex-wrap: nowrap; }
  .bp-projector .bp-side:not(.bp-open) .bp-play { width: auto !important; }
  .bp-projector .bp-side:not(.bp-open) .bp-controls { width: 30rem; }
  .bp-projector .bp-side:not(.bp-open) .bp-delta { flex-wrap: nowrap; }
  .bp-projector .bp-side:not(.bp-open) .bp-delta > .widget-label {
    flex: 0 0 auto; width: auto !important; margin: 0 8px 0 0;
  }
  .bp-projector .bp-side:not(.bp-open) .bp-side-toggle { order: 10; }
  .bp-projector .bp-side:not(.bp-open) .bp-summary { order: 11; flex: 1 0 100%; }
  .bp-projector .bp-side:not(.bp-open) .bp-summary-text { margin: 0; }
  .bp-projector .bp-side.bp-open {
    position: absolute; z-index: 10; top: 0; left: 0; width: var(--bp-side);
    height: var(--bp-height); padding: 6px; background: var(--jp-layout-color1, white);
    box-shadow: 0 0 12px rgba(0, 0, 0, 0.35);
  }
  .bp-projector .bp-networks > .bp-network-panel > .bqplot {
    --bp-net: min(calc(100cqw - 50px), calc(var(--bp-height) - 10rem));
  }
}

/* -- a dashboard narrower than the three columns: the network below -- */
@container bp-dashboard (max-width: WIDE_MIN_PXpx) {
  .bp-dashboard > .bp-title { position: static; }
  .bp-dashboard .bp-title h1 { line-height: 1.4; white-space: normal; }
  .bp-networks {
    height: auto; grid-template-columns: var(--bp-side) minmax(0, 1fr);
    grid-template-rows: auto auto auto; grid-template-areas: "side dos" "side hist" "net net";
  }
  .bp-side { overflow: visible; }
  .bp-networks > .bp-dos-panel > .bqplot { flex: none; height: 26rem; }
  .bp-networks > .bp-coordination-panel > .bqplot { flex: none; height: 19rem; }
  .bp-networks > .bp-network-panel > .bqplot { --bp-net: min(calc(100cqw - 50px), 36rem); }
  .bp-toy-figures { flex-wrap: wrap; }
  .bp-dashboard .bp-toy-model { --bp-toy-h: 24rem; }
}
@container bp-dashboard (max-width: NARROW_MAX_PXpx) {
  .bp-networks {
    grid-template-columns: minmax(0, 1fr); grid-template-areas: "side" "dos" "hist" "net";
  }
}
</style>"""
#: The style sheet of the dashboard's layout (shown by :func:`stylesheet`).
LAYOUT_CSS = (_CSS.replace("COMPACT_MAX_HEIGHT_PX", str(COMPACT_MAX_HEIGHT_PX))
              .replace("WIDE_MIN_PX", str(WIDE_MIN_PX))
              .replace("NARROW_MAX_PX", str(NARROW_MAX_PX)))


def page_title() -> HTML:
    """The dashboard's name, beside the tabs (its own line where the dashboard is narrow).

    Examples
    --------
    >>> page_title().value
    '<h1>bpwidgets: where does the Boson peak come from?</h1>'
    """
    title = HTML(f"<h1>{PAGE_TITLE}</h1>")
    title.add_class("bp-title")
    return title


def stylesheet() -> HTML:
    """The layout's style sheet, as a widget that takes no room."""
    css = HTML(LAYOUT_CSS)
    css.add_class("bp-css")
    return css


def sidebar(children) -> VBox:
    """The controls' column: ``children`` one under the other; it scrolls when too tall.

    Its first child is the "all controls" toggle, shown where the column folds into a
    bar (projector mode on a low window): it opens the whole column over the panels.
    """
    more = ToggleButton(description="all controls", icon="sliders",
                        tooltip="show every control (projector mode on a small screen "
                                "shows the δ slider and play alone)")
    more.add_class("bp-side-toggle")
    side = VBox([more, *children])
    side.add_class("bp-side")
    more.observe(lambda change: (side.add_class if change["new"] else side.remove_class)(
        "bp-open"), "value")
    return side


def networks_page(controls, dos_panel, coordination_panel, network_panel) -> GridBox:
    """The "Spring networks" tab: the ``controls`` (a list) in a column beside the three panels."""
    side = sidebar(controls)
    for panel in (dos_panel, coordination_panel, network_panel):
        panel.add_class("bp-panel")
    page = GridBox([side, dos_panel, coordination_panel, network_panel], layout=Layout())
    page.add_class("bp-networks")
    return page
