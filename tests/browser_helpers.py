"""Start Voila, launch chromium and drive the dashboard page (tests and benchmarks).

Used by ``conftest.py`` and ``benchmarks/bench_browser.py``. The page is read
through stable hooks: the ``bp-*`` classes the dashboard puts on its widgets and
the ``data-generation`` counter of its status line, which grows by one every
time a result (or an error) has been drawn.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

__all__ = [
    "ARTIFACTS", "CHROMIUM", "CHROMIUM_ARGS", "ROOT", "dos_signature", "drag_brush",
    "drag_brush_omega",
    "free_port", "generation", "histogram_signature", "launch_chromium", "network_signature",
    "open_dashboard", "press_delta", "start_voila", "stop_voila", "wait_for_generation",
]

ROOT = Path(__file__).resolve().parent.parent
#: Screenshots and server logs of the browser tests (ignored by git).
ARTIFACTS = ROOT / "artifacts"
#: Debian's chromium: Playwright's own browser download is not available here.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Seconds to wait for Voila to answer, and to stop after SIGTERM.
SERVER_START_TIMEOUT = 90
SERVER_STOP_TIMEOUT = 10


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_server(url: str, process, timeout: float):
    """Wait until ``url`` answers 200 (a server starting in ``process``); raise if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode} "
                               f"before serving {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"Voila did not serve {url} within {timeout} s")


def start_voila(port: int, log_path: Path, *, lecture: bool = False, cores: str | None = None,
                env: dict | None = None, args=()):
    """Start ``python -m bpwidgets.serve`` in its own process group; return (process, url).

    ``lecture=True`` serves with the class settings (``--class``). ``cores``, a
    ``taskset -c`` list such as ``"0"`` or ``"0,1"``, pins the server to those
    cores (its kernels inherit them). ``env`` adds variables to the server's
    environment, which its kernels inherit too. ``args`` go on the server's command
    line (``--Class.trait=value`` options reach Voila).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "w")
    # taskset execs the server: the process (and its group) is the server itself.
    pinned = ["taskset", "-c", cores] if cores else []
    process = subprocess.Popen(
        pinned + [sys.executable, "-m", "bpwidgets.serve", "--port", str(port)]
        + (["--class"] if lecture else []) + list(args),
        cwd=ROOT,
        env=None if env is None else {**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: killpg stops Voila and its kernels
    )
    log.close()
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_server(url + "voila/static/voila.js", process, SERVER_START_TIMEOUT)
    except BaseException:  # Ctrl-C while waiting too: leave no server behind
        stop_voila(process)
        raise
    return process, url


def stop_voila(process):
    """Stop the server's whole process group (server and kernels)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(SERVER_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(SERVER_STOP_TIMEOUT)
    except ProcessLookupError:
        pass


def launch_chromium(playwright):
    """Debian's headless chromium through Playwright."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


#: Seconds a page may take to show its first result (kernel start plus first computation).
PAGE_READY_TIMEOUT = 120_000
#: Viewport wide enough for the three panels side by side.
VIEWPORT = {"width": 1700, "height": 1000}


def open_dashboard(browser, url, *, timeout=PAGE_READY_TIMEOUT, viewport=None):
    """Open the served dashboard in a new page and wait for its first result.

    ``viewport``: ``{"width": ..., "height": ...}``, :data:`VIEWPORT` by default.
    Uncaught page errors, from the first script on, collect in ``page.page_errors``.
    """
    page = browser.new_page(viewport=viewport or VIEWPORT)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.page_errors = errors
    page.goto(url)
    page.wait_for_selector(".bp-status-ready", timeout=timeout)
    return page


def generation(page) -> int:
    """How many results or errors the page has drawn."""
    return int(page.get_attribute(".bp-status [data-generation]", "data-generation"))


def wait_for_generation(page, after: int, *, timeout=60_000, kind="ready"):
    """Wait for a result (``kind="ready"``) or an error (``"error"``) newer than ``after``."""
    page.wait_for_function(
        """([after, kind]) => {
            const status = document.querySelector('.bp-status [data-generation]');
            return status && +status.dataset.generation > after
                && status.classList.contains('bp-status-' + kind);
        }""",
        arg=[after, kind],
        timeout=timeout,
    )


def _signature(page, selector, attributes):
    return page.evaluate(
        """([selector, attributes]) => Array.from(document.querySelectorAll(selector))
            .map(e => attributes.map(a => e.getAttribute(a) || e.style[a] || '').join(' '))
            .join('|')""",
        [selector, attributes],
    )


def dos_signature(page) -> str:
    """The SVG paths of the reduced-DOS panel."""
    return _signature(page, ".bp-dos-panel path.line", ["d"])


def histogram_signature(page) -> str:
    """Positions and heights of the coordination bars."""
    return _signature(page, ".bp-coordination-panel rect.bar", ["x", "y", "height"])


def network_signature(page) -> str:
    """Springs, node positions and colours of the network panel."""
    springs = _signature(page, ".bp-network-panel path.line", ["d"])
    nodes = _signature(page, ".bp-network-panel path.dot", ["transform", "fill", "opacity"])
    return springs + nodes


def press_delta(page, key="ArrowRight"):
    """Move the delta slider by one step with the keyboard, as a user would."""
    handle = page.locator(".bp-controls .bp-delta .noUi-handle").first
    handle.focus()
    page.keyboard.press(key)


def drag_brush(page, start=0.3, stop=0.7):
    """Drag across the DOS panel's plot area from ``start`` to ``stop`` (fractions of its width)."""
    area = page.locator(".bp-dos-panel .plotarea_events").first.bounding_box()
    y = area["y"] + 0.5 * area["height"]
    page.mouse.move(area["x"] + start * area["width"], y)
    page.mouse.down()
    page.mouse.move(area["x"] + 0.5 * (start + stop) * area["width"], y, steps=4)
    page.mouse.move(area["x"] + stop * area["width"], y, steps=4)
    page.mouse.up()


def _omega_to_page_x(page):
    """Linear map omega -> page x from the tick marks of the DOS panel's omega axis."""
    ticks = page.evaluate(
        """() => {
            const axis = document.querySelector('.bp-dos-panel g.axis');
            return Array.from(axis.querySelectorAll('g.tick')).map(t => {
                const box = t.querySelector('line').getBoundingClientRect();
                return [parseFloat(t.textContent), box.x + box.width / 2];
            });
        }"""
    )
    (omega0, x0), (omega1, x1) = ticks[0], ticks[-1]
    return lambda omega: x0 + (omega - omega0) * (x1 - x0) / (omega1 - omega0)


def drag_brush_omega(page, low, high):
    """Brush the omega window [low, high] on the DOS panel."""
    to_x = _omega_to_page_x(page)
    area = page.locator(".bp-dos-panel .plotarea_events").first.bounding_box()
    y = area["y"] + 0.5 * area["height"]
    page.mouse.move(to_x(low), y)
    page.mouse.down()
    page.mouse.move(to_x(0.5 * (low + high)), y, steps=4)
    page.mouse.move(to_x(high), y, steps=4)
    page.mouse.up()


def run_async(coroutine):
    """``asyncio.run(coroutine)`` on a thread of its own, and its result.

    Playwright's sync API, alive for the whole test session once a browser test
    has run, keeps an event loop running in the main thread, where
    ``asyncio.run`` refuses to start.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()

