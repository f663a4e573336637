"""What the load benchmarks share: how a class arrives, a student in a browser, /proc accounting.

Used by ``load_class.py`` (every student in a headless browser) and
``load_server.py`` (students speaking the widget protocol, plus a few
browsers). The processes are read from ``/proc``: the benchmarks run on Linux.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from pathlib import Path

__all__ = [
    "ARRIVAL_SPREAD", "BROWSER_MOVE_TIMEOUT", "FULL_STATUS", "POOL_TIMEOUT", "THINK_TIME",
    "browser_session", "class_pool", "cpu_seconds", "descendants", "kernel_memory", "new_result",
    "percentile", "preheats", "stop_kernels", "tree_cpu_seconds", "wait_for_pool",
]

#: Milliseconds one move may take to be drawn in a browser under full load before it
#: counts as failed.
BROWSER_MOVE_TIMEOUT = 180_000
#: Seconds between a student's moves (drawn uniformly): people do not press in lockstep.
THINK_TIME = (1.0, 3.0)
#: Seconds over which the sessions open (drawn uniformly): a class arrives within moments.
ARRIVAL_SPREAD = 5.0
#: Seconds to wait for the pool of preheated kernels to be ready before the class arrives
#: (a lecturer starts the server before the lecture): 30 kernels on one busy core took
#: about a minute.
POOL_TIMEOUT = 600.0
#: The HTTP status of the server's "server is full" page (a kernel cap): a refusal,
#: counted apart from the failures.
FULL_STATUS = 503
#: The marker of a kernel process in its command line.
_KERNEL_MARK = b"ipykernel"

_NEWER_READY = """after => {
    const status = document.querySelector('.bp-status [data-generation]');
    return status && +status.dataset.generation > after
        && status.classList.contains('bp-status-ready');
}"""
_GENERATION = """() => +document.querySelector('.bp-status [data-generation]').dataset.generation"""
_ERRORS_SHOWN = """() => document.querySelectorAll(
    '.jp-OutputArea-output[data-mime-type*=error], .bp-status-error').length
    + (document.body.innerText.includes('Traceback') ? 1 : 0)"""


def new_result() -> dict:
    """What a session reports: ``ok``, ``load`` (s), ``latencies`` (s, one per move),
    ``error``, and ``full`` when the server refused it with its "server is full" page."""
    return dict(ok=False, load=None, latencies=[], error=None, full=False)


def percentile(values, q):
    """The ``q``-th percentile of ``values`` (nearest rank; no interpolation)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


# -- the server's pool of preheated kernels ----------------------------------------------------

def preheats() -> bool:
    """True when the class settings keep a pool of preheated kernels."""
    return class_pool() > 0


def class_pool() -> int:
    """Preheated kernels of the class settings (``voila-class.json``), 0 for none."""
    from bpwidgets.serve import class_config

    voila = class_config().VoilaConfiguration
    return int(voila.get("default_pool_size", 1)) if voila.get("preheat_kernel", False) else 0


async def wait_for_pool(log: Path, timeout: float = POOL_TIMEOUT):
    """Wait until the server writing ``log`` says every kernel of its pool waits for a page.

    Not Voila's "is filled with": Voila says it once the pool's kernels have
    started, and they then still import and build the dashboard for a second or
    more each (``bpwidgets.serving.POOL_PREHEATED``).
    """
    from bpwidgets.serving import POOL_PREHEATED

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if POOL_PREHEATED in log.read_text(errors="replace"):
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the kernel pool was not preheated within {timeout} s (see {log})")


# -- processes, from /proc ---------------------------------------------------------------------

def _stat_fields(pid: int) -> list[str]:
    """Fields of ``/proc/<pid>/stat`` after the command name (which may hold spaces)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def descendants(pid: int) -> list[int]:
    """All processes below ``pid`` (from /proc/*/stat parent ids)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, stack = [], [pid]
    while stack:
        for child in parents.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    """User plus system CPU time a process has used so far (0 once it is gone).

    ``reaped=True`` adds the time of the children it has waited for (a kernel
    that ended during a run keeps counting in its server's figure).
    """
    try:
        fields = _stat_fields(pid)
    except OSError:
        return 0.0
    # Fields 14-17 of proc(5): utime, stime, cutime, cstime (here shifted by two).
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a server and everything below it (its kernels), reaped ones included."""
    return cpu_seconds(pid, reaped=True) + sum(cpu_seconds(child) for child in descendants(pid))


def kernel_memory(server_pid: int) -> dict:
    """VmRSS in MB of every kernel process under the server."""
    memory = {}
    for pid in descendants(server_pid):
        try:
            if _KERNEL_MARK not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    memory[pid] = int(line.split()[1]) / 1024
        except OSError:
            continue
    return memory


def stop_kernels(pids):
    """SIGTERM the kernels of a stopped server that outlived it.

    Each kernel leads its own process group (jupyter_client starts it in a new
    session): the group is signalled, after checking that the process id still
    belongs to a kernel.
    """
    for pid in pids:
        try:
            if _KERNEL_MARK in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.killpg(pid, signal.SIGTERM)
        except (OSError, ProcessLookupError):
            continue


# -- a student in a browser --------------------------------------------------------------------

async def browser_session(browser, url, moves, result, *, page_timeout, viewport=None,
                          screenshot=None, between=None):
    """One student in a browser: open the page, move delta ``moves`` times; fills ``result``.

    Parameters
    ----------
    browser : playwright.async_api.Browser
        Every session gets its own context: its own cookies, its own kernel.
    url : str
    moves : int
        Arrow-key presses on the delta slider, right and left in turn, each timed
        from the key press to the complete redraw (the status line's generation
        counter has grown and shows a ready result).
    result : dict
        From :func:`new_result`; ``ok`` once the page loaded, every move was drawn
        and no error shows on the page; ``full`` for the server's "full" page.
    page_timeout : float
        Milliseconds the page may take to show its first result.
    viewport : dict, optional
        ``{"width": ..., "height": ...}`` of the page (Playwright's default otherwise).
    screenshot : pathlib.Path, optional
        Where to save the page at the end.
    between : callable, optional
        Coroutine function awaited once the page is ready and before the first
        move (a benchmark that times pages and moves apart waits there).
    """
    context = await browser.new_context(viewport=viewport)
    page = await context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        await asyncio.sleep(random.uniform(0.0, ARRIVAL_SPREAD))
        start = time.monotonic()
        response = await page.goto(url, timeout=page_timeout)
        if response is not None and response.status == FULL_STATUS:
            result["full"] = True
            return
        await page.wait_for_selector(".bp-status-ready", timeout=page_timeout)
        result["load"] = time.monotonic() - start
        if between is not None:
            await between()
        handle = page.locator(".bp-controls .bp-delta .noUi-handle").first
        for move in range(moves):
            await asyncio.sleep(random.uniform(*THINK_TIME))
            before = await page.evaluate(_GENERATION)
            await handle.focus()
            start = time.monotonic()
            await page.keyboard.press("ArrowLeft" if move % 2 else "ArrowRight")
            await page.wait_for_function(_NEWER_READY, arg=before, timeout=BROWSER_MOVE_TIMEOUT)
            result["latencies"].append(time.monotonic() - start)
        shown = await page.evaluate(_ERRORS_SHOWN)
        if shown:
            result["error"] = f"{shown} error(s) shown on the page"
        elif errors:
            result["error"] = f"page error: {errors[0]}"
        else:
            result["ok"] = True
    except Exception as error:  # counted and reported, never fatal for the other sessions
        result["error"] = f"{type(error).__name__}: {str(error).splitlines()[0]}"
    finally:
        if screenshot is not None:
            screenshot.parent.mkdir(exist_ok=True)
            try:
                await page.screenshot(path=str(screenshot))
            except Exception:  # a page that never loaded has nothing worth keeping
                pass
        try:
            await context.close()
        except Exception:  # the browser is gone already (a run interrupted)
            pass
