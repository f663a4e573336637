"""Slider-to-redraw latency of the served dashboard, measured in a real browser.

Starts Voila (``python -m bpwidgets.serve``) and headless chromium, then for each
case moves the delta slider with the keyboard several times and times each move
from the key press to the moment the page shows the new result: the status
line's generation counter has grown and the DOS curves and the network have
been redrawn. Prints a table (median, min, max, and whether the busy indicator
showed).

Usage::

    python benchmarks/bench_browser.py [--moves 7] [--quick]
    python benchmarks/bench_browser.py --screenshot assets/dashboard.png

``--screenshot`` skips the timing and saves the README's picture instead: the
paper's case (cutoff, delta = 0.3, L = 60) with delta = 0.1 and 0.2 pinned and the
Boson-peak window brushed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from browser_helpers import (  # noqa: E402  (needs the path above)
    drag_brush_omega,
    free_port,
    generation,
    launch_chromium,
    open_dashboard,
    start_voila,
    stop_voila,
)

#: Targets from the issue: seconds from moving the slider to redrawn panels.
TARGETS = {60: 0.5, 200: 1.5}
#: Longest wait for one move (a 200 x 200 grid with 20 seeds is slow).
MOVE_TIMEOUT = 120_000

_WATCH_BUSY = """() => {
    window.__bpSawBusy = false;
    const status = document.querySelector('.bp-status');
    if (window.__bpObserver) window.__bpObserver.disconnect();
    window.__bpObserver = new MutationObserver(() => {
        if (status.querySelector('.bp-status-busy')) window.__bpSawBusy = true;
    });
    window.__bpObserver.observe(status, {subtree: true, childList: true, attributes: true});
}"""

_REDRAWN = """(after, dos, network, complete) => {
    const status = document.querySelector('.bp-status [data-generation]');
    if (!status || +status.dataset.generation <= after) return false;
    if (complete && !status.classList.contains('bp-status-ready')) return false;
    const paths = s => Array.from(document.querySelectorAll(s))
        .map(e => e.getAttribute('d')).join('|');
    const dots = Array.from(document.querySelectorAll('.bp-network-panel path.dot'))
        .map(e => e.getAttribute('transform') + (e.style.fill || '')).join('|');
    return paths('.bp-dos-panel path.line') !== dos
        && paths('.bp-network-panel path.line') + dots !== network;
}"""

#: Times one move in the page itself: from the key press to the first animation frame
#: (the one about to be painted) in which the panels show the new result. The check runs
#: at most once per frame and only in frames where the page changed, rather than polling
#: from Python, which would take CPU from the kernel and the drawing it measures.
_ARM = (
    """([after, dos, network]) => {
    const redrawn = """
    + _REDRAWN
    + """;
    const times = window.__bpTimes = {start: null, first: null, complete: null};
    let scheduled = false;
    const check = now => {
        scheduled = false;
        if (times.first === null && redrawn(after, dos, network, false)) times.first = now;
        if (times.first !== null && redrawn(after, dos, network, true)) {
            times.complete = now;
            observer.disconnect();
        }
    };
    const observer = new MutationObserver(() => {
        if (times.start === null || scheduled) return;
        scheduled = true;
        requestAnimationFrame(check);
    });
    observer.observe(document.body,
                     {subtree: true, childList: true, attributes: true, characterData: true});
    document.addEventListener('keydown', () => { times.start = performance.now(); },
                              {capture: true, once: true});
}"""
)

def _press(page, control, key, times=1):
    handle = page.locator(f".bp-controls .bp-{control} .noUi-handle").first
    handle.focus()
    for _ in range(times):
        page.keyboard.press(key)


def _settle(page, expected_text, timeout=MOVE_TIMEOUT):
    """Wait until the status shows a result whose summary contains ``expected_text``."""
    page.wait_for_function(
        """text => {
            const status = document.querySelector('.bp-status .bp-status-ready');
            return status && status.textContent.includes(text);
        }""",
        arg=expected_text,
        timeout=timeout,
    )


def _signatures(page):
    dos = page.evaluate(
        "() => Array.from(document.querySelectorAll('.bp-dos-panel path.line'))"
        ".map(e => e.getAttribute('d')).join('|')"
    )
    network = page.evaluate(
        """() => Array.from(document.querySelectorAll('.bp-network-panel path.line'))
            .map(e => e.getAttribute('d')).join('|')
          + Array.from(document.querySelectorAll('.bp-network-panel path.dot'))
            .map(e => e.getAttribute('transform') + (e.style.fill || '')).join('|')"""
    )
    return dos, network


def time_moves(page, moves):
    """Seconds from each key press to the first redraw and to the complete result.

    The first redraw has the new network, histogram and the DOS of the first seeds; the
    complete result the DOS averaged over all seeds (the same when there is one).
    Also returns whether the busy indicator showed.
    """
    first, complete, busy = [], [], []
    for move in range(moves):
        key = "ArrowRight" if move % 2 == 0 else "ArrowLeft"
        dos, network = _signatures(page)
        after = generation(page)
        page.evaluate(_WATCH_BUSY)
        handle = page.locator(".bp-controls .bp-delta .noUi-handle").first
        handle.focus()
        page.evaluate(_ARM, [after, dos, network])
        page.keyboard.down(key)
        page.keyboard.up(key)
        # A cheap poll for the page's own record; the timing itself is done in the page.
        page.wait_for_function(
            "() => window.__bpTimes.complete !== null", polling=100, timeout=MOVE_TIMEOUT
        )
        times = page.evaluate("() => window.__bpTimes")
        first.append((times["first"] - times["start"]) / 1000)
        complete.append((times["complete"] - times["start"]) / 1000)
        busy.append(page.evaluate("() => window.__bpSawBusy"))
    return first, complete, busy


def set_case(page, size, n_seeds, current_size, current_seeds):
    """Move the grid-size and seed sliders with the keyboard (step 10 and 1)."""
    steps = (size - current_size) // 10
    if steps:
        _press(page, "size", "ArrowRight" if steps > 0 else "ArrowLeft", abs(steps))
    seeds = n_seeds - current_seeds
    if seeds:
        _press(page, "n-seeds", "ArrowRight" if seeds > 0 else "ArrowLeft", abs(seeds))
    last = n_seeds - 1
    _settle(page, f"L = {size},")
    _settle(page, f"seeds 0–{last};")


def benchmark(page, cases, moves):
    rows = []
    size, n_seeds = 60, 10
    for case_size, case_seeds in cases:
        set_case(page, case_size, case_seeds, size, n_seeds)
        size, n_seeds = case_size, case_seeds
        first, complete, busy = time_moves(page, moves)
        rows.append((size, n_seeds, first, complete, busy))
        print(f"  L = {size:3d}, {n_seeds:2d} seeds: first redraw "
              + " ".join(f"{t:.2f}" for t in first) + "; complete "
              + " ".join(f"{t:.2f}" for t in complete), flush=True)
    return rows


def print_table(rows):
    print()
    print("| grid L | seeds | moves | first redraw: median (min-max) / s "
          "| complete: median (min-max) / s | target / s | busy shown |")
    print("|-------:|------:|------:|------------------:|------------------:|-----:|-----:|")
    for size, n_seeds, first, complete, busy in rows:
        target = TARGETS.get(size)
        print(
            f"| {size} | {n_seeds} | {len(first)} | {_spread(first)} | {_spread(complete)} | "
            f"{'-' if target is None else f'{target:.1f}'} | {sum(busy)}/{len(busy)} |"
        )


def _spread(timings):
    return f"{statistics.median(timings):.2f} ({min(timings):.2f}-{max(timings):.2f})"


def screenshot(page, path):
    """The README's picture: delta = 0.1 and 0.2 pinned, delta = 0.3 live, Boson peak brushed."""
    # Voila scrolls inside the page, so a "full page" shot is the viewport: make it tall.
    page.set_viewport_size({"width": 1700, "height": 1100})
    _press(page, "delta", "ArrowLeft", 20)
    _settle(page, "δ = 0.10,")
    page.click(".bp-pin button, button.bp-pin")
    _press(page, "delta", "ArrowRight", 10)
    _settle(page, "δ = 0.20,")
    page.click(".bp-pin button, button.bp-pin")
    _press(page, "delta", "ArrowRight", 10)
    _settle(page, "δ = 0.30,")
    drag_brush_omega(page, 0.3, 0.7)
    # The drag sends intermediate windows: wait until the final one is drawn and idle.
    page.wait_for_function(
        "() => document.querySelector('.bp-status').innerText.includes('0.30 ≤ ω ≤ 0.70')"
        " && document.querySelector('.bp-status-ready') !== null",
        timeout=MOVE_TIMEOUT,
    )
    page.mouse.move(0, 0)  # hide the figure toolbar that hovering shows
    time.sleep(0.5)  # let the colour bar fade in
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    print(f"saved {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moves", type=int, default=7, help="slider moves per case (default 7)")
    parser.add_argument("--quick", action="store_true", help="only L = 60 with 10 seeds")
    parser.add_argument("--screenshot", type=Path, help="save the README picture here instead")
    options = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    process, url = start_voila(free_port(), ROOT / "artifacts" / "bench-voila.log")
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                page = open_dashboard(browser, url)
                if options.screenshot:
                    screenshot(page, options.screenshot)
                    return 0
                cases = [(60, 10)] if options.quick else [(60, 10), (200, 1), (200, 10)]
                print(f"Key press on the slider -> redrawn DOS and network "
                      f"({options.moves} moves per case)")
                print_table(benchmark(page, cases, options.moves))
            finally:
                browser.close()
    finally:
        stop_voila(process)
    return 0


if __name__ == "__main__":
    sys.exit(main())
