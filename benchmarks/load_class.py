"""A class on one server: many concurrent browser sessions on the served dashboard.

Starts Voila on 127.0.0.1 (``python -m bpwidgets.serve --class``: the settings
of ``voila-class.json``), opens ``--sessions`` pages at once in headless
chromium (``--per-browser`` pages per browser process, one browser context per
student: separate cookies, separate kernels),
and in each page moves the delta slider ``--moves`` times with the keyboard,
timing every move from the key press to the complete redraw (the status line's
generation counter has grown and shows a ready result). It stops by itself:
every wait is bounded and the whole run is cut off after ``--timeout`` seconds.

Reports the sessions that succeeded (page loaded, every move drawn, no error
shown on the page, no uncaught page error), the median and 95th percentile of
the page-load time and of the update latency, the resident memory of every
kernel (VmRSS from /proc, sampled during the run; the maximum is reported), and
the CPU time of the browsers, the kernels and the server. The browsers run on
the server's cores here, whereas a class brings its own machines: the CPU split
tells how much of the page-load time is theirs.

Usage::

    python benchmarks/load_class.py [--sessions 30] [--moves 3] [--query "size=60&seeds=10"]
    python benchmarks/load_class.py --no-class     # plain voila.json settings
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from browser_helpers import (  # noqa: E402  (needs the path above)
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWPORT,
    free_port,
    start_voila,
    stop_voila,
)

#: Milliseconds one move may take to be drawn under full load before it counts as failed.
MOVE_TIMEOUT = 180_000
#: Seconds between a student's moves (drawn uniformly): people do not press in lockstep.
THINK_TIME = (1.0, 3.0)
#: Seconds over which the sessions open (drawn uniformly): a class arrives within moments.
ARRIVAL_SPREAD = 5.0
#: Seconds between two samples of the kernels' memory and of every process's CPU time.
MEMORY_INTERVAL = 2.0
#: Seconds to wait for the pool of preheated kernels to fill before the class arrives
#: (a lecturer starts the server before the lecture).
POOL_TIMEOUT = 180.0
#: The server's log.
SERVER_LOG = ARTIFACTS / "load_class_voila.log"
#: What Voila logs once its pool of preheated kernels is full.
_POOL_FILLED = "is filled with"

_NEWER_READY = """after => {
    const status = document.querySelector('.bp-status [data-generation]');
    return status && +status.dataset.generation > after
        && status.classList.contains('bp-status-ready');
}"""
_GENERATION = """() => +document.querySelector('.bp-status [data-generation]').dataset.generation"""
_ERRORS_SHOWN = """() => document.querySelectorAll(
    '.jp-OutputArea-output[data-mime-type*=error], .bp-status-error').length
    + (document.body.innerText.includes('Traceback') ? 1 : 0)"""


def _preheats() -> bool:
    """True when the class settings keep a pool of preheated kernels."""
    from bpwidgets.serve import class_config

    return bool(class_config().VoilaConfiguration.get("preheat_kernel", False))


def _stop_kernels(pids):
    """SIGTERM the kernels this run's server started that outlived it (own process groups)."""
    import os
    import signal

    for pid in pids:
        try:
            if b"ipykernel" in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGTERM)
        except (OSError, ProcessLookupError):
            continue


async def _wait_for_pool(log: Path, timeout=POOL_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _POOL_FILLED in log.read_text(errors="replace"):
            return
        await asyncio.sleep(0.5)
    raise RuntimeError(f"the kernel pool did not fill within {timeout} s (see {log})")


def _descendants(pid: int) -> list[int]:
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


def _kernel_memory(server_pid: int) -> dict:
    """VmRSS in MB of every kernel process under the server."""
    memory = {}
    for pid in _descendants(server_pid):
        try:
            if b"ipykernel" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    memory[pid] = int(line.split()[1]) / 1024
        except OSError:
            continue
    return memory


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (0 once it is gone)."""
    import os

    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_by_role(server_pid: int) -> dict:
    """CPU seconds so far of every process of the run, keyed by (role, pid).

    Roles: the Voila server, its kernels, and the browsers (chromium and
    Playwright's driver, everything else below this script). In a lecture hall the
    browsers run on the students' machines; here they share the server's cores.
    """
    import os

    server_tree = set(_descendants(server_pid))
    usage = {("server", server_pid): _cpu_seconds(server_pid)}
    for pid in server_tree:
        usage[("kernels", pid)] = _cpu_seconds(pid)
    for pid in _descendants(os.getpid()):
        if pid != server_pid and pid not in server_tree:
            usage[("browsers", pid)] = _cpu_seconds(pid)
    return usage


async def _sample_usage(server_pid, peaks, cpu, stop):
    """Sample the kernels' memory (peak per kernel) and every process's CPU time
    (the last value seen: a process that ends loses at most one interval)."""
    while not stop.is_set():
        for pid, rss in (await asyncio.to_thread(_kernel_memory, server_pid)).items():
            peaks[pid] = max(peaks.get(pid, 0.0), rss)
        for key, seconds in (await asyncio.to_thread(_cpu_by_role, server_pid)).items():
            cpu[key] = max(cpu.get(key, 0.0), seconds)
        try:
            await asyncio.wait_for(stop.wait(), MEMORY_INTERVAL)
        except asyncio.TimeoutError:
            pass


async def _session(browser, url, moves, index, result, page_timeout):
    """One student: open the page, move delta ``moves`` times; fills ``result``."""
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        await asyncio.sleep(random.uniform(0.0, ARRIVAL_SPREAD))
        start = time.monotonic()
        await page.goto(url, timeout=page_timeout)
        await page.wait_for_selector(".bp-status-ready", timeout=page_timeout)
        result["load"] = time.monotonic() - start
        handle = page.locator(".bp-controls .bp-delta .noUi-handle").first
        for move in range(moves):
            await asyncio.sleep(random.uniform(*THINK_TIME))
            before = await page.evaluate(_GENERATION)
            await handle.focus()
            start = time.monotonic()
            await page.keyboard.press("ArrowLeft" if move % 2 else "ArrowRight")
            await page.wait_for_function(_NEWER_READY, arg=before, timeout=MOVE_TIMEOUT)
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
        if index == 0:
            ARTIFACTS.mkdir(exist_ok=True)
            try:
                await page.screenshot(path=str(ARTIFACTS / "load-class-session0.png"))
            except Exception:
                pass
        await context.close()


async def _run(options):
    from playwright.async_api import async_playwright

    process, base = await asyncio.to_thread(
        start_voila, free_port(), SERVER_LOG, lecture=not options.no_class
    )
    url = f"{base}?{options.query}" if options.query else base
    results = [dict(ok=False, load=None, latencies=[], error=None) for _ in range(options.sessions)]
    peaks, cpu, stop = {}, {}, asyncio.Event()
    try:
        if not options.no_class and _preheats():
            await _wait_for_pool(SERVER_LOG)
        sampler = asyncio.create_task(_sample_usage(process.pid, peaks, cpu, stop))
        async with async_playwright() as playwright:
            # A browser keeps at most 6 connections per host, shared by its contexts, and
            # a Voila page holds one open while its notebook runs: spread the students
            # over several browser processes, as a class uses many machines.
            n_browsers = -(-options.sessions // options.per_browser)
            browsers = [
                await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for _ in range(n_browsers)
            ]
            started = time.monotonic()
            sessions = [
                _session(browsers[i // options.per_browser], url, options.moves, i, r,
                         1000 * options.page_timeout)
                for i, r in enumerate(results)
            ]
            try:
                await asyncio.wait_for(asyncio.gather(*sessions), options.timeout)
            except asyncio.TimeoutError:
                for result in results:
                    if not result["ok"] and result["error"] is None:
                        result["error"] = f"cut off after {options.timeout} s"
            elapsed = time.monotonic() - started
            for browser in browsers:
                await browser.close()
        stop.set()
        await sampler
    finally:
        stop.set()
        await asyncio.to_thread(stop_voila, process)
        await asyncio.sleep(2.0)  # Voila shuts its kernels down on SIGTERM; then the rest
        _stop_kernels(list(peaks))
    return results, peaks, cpu, elapsed


def _percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def _report(options, results, peaks, cpu, elapsed):
    loads = [r["load"] for r in results if r["load"] is not None]
    latencies = [t for r in results for t in r["latencies"]]
    succeeded = sum(r["ok"] for r in results)
    print(f"settings: {'voila.json' if options.no_class else 'voila.json + voila-class.json'}; "
          f"query: {options.query or '(defaults)'}; {options.moves} moves per session")
    print(f"sessions succeeded: {succeeded} of {len(results)} (run took {elapsed:.0f} s)")
    if loads:
        print(f"page load to first result: median {statistics.median(loads):.1f} s, "
              f"95th percentile {_percentile(loads, 95):.1f} s")
    if latencies:
        print(f"delta move to complete redraw ({len(latencies)} updates): median "
              f"{statistics.median(latencies):.2f} s, 95th percentile "
              f"{_percentile(latencies, 95):.2f} s, max {max(latencies):.2f} s")
    if peaks:
        rss = list(peaks.values())
        print(f"kernels seen: {len(rss)}; peak memory per kernel: median "
              f"{statistics.median(rss):.0f} MB, max {max(rss):.0f} MB, total {sum(rss):.0f} MB")
    if cpu:
        totals = {}
        for (role, _), seconds in cpu.items():
            totals[role] = totals.get(role, 0.0) + seconds
        everything = sum(totals.values()) or 1.0
        print("CPU time of the run: " + ", ".join(
            f"{role} {totals.get(role, 0.0):.0f} s ({100 * totals.get(role, 0.0) / everything:.0f} %)"
            for role in ("browsers", "kernels", "server")
        ) + " (the browsers share this machine's cores; in a class they are the students')")
    for index, result in enumerate(results):
        if result["error"]:
            print(f"  session {index}: {result['error']}")
    return 0 if succeeded == len(results) else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=30, help="concurrent pages (default 30)")
    parser.add_argument("--moves", type=int, default=3, help="delta moves per page (default 3)")
    parser.add_argument("--query", default="", help="URL query of every page (default: none)")
    parser.add_argument("--per-browser", type=int, default=5,
                        help="sessions per browser process (default %(default)s)")
    parser.add_argument("--page-timeout", type=float, default=600.0,
                        help="seconds a page may take to become ready (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=1200.0,
                        help="seconds before the run is cut off (default %(default)s)")
    parser.add_argument("--no-class", action="store_true",
                        help="serve with voila.json alone (no preheating, no culling)")
    options = parser.parse_args(argv)
    random.seed(0)
    results, peaks, cpu, elapsed = asyncio.run(_run(options))
    return _report(options, results, peaks, cpu, elapsed)


if __name__ == "__main__":
    sys.exit(main())
