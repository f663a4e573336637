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
from load_helpers import (  # noqa: E402  (this script's directory is on the path)
    browser_session,
    cpu_seconds,
    descendants,
    kernel_memory,
    new_result,
    percentile,
    preheats,
    stop_kernels,
    wait_for_pool,
)

#: Seconds between two samples of the kernels' memory and of every process's CPU time.
MEMORY_INTERVAL = 2.0
#: The server's log.
SERVER_LOG = ARTIFACTS / "load_class_voila.log"
#: The first session's page at the end of the run.
SCREENSHOT = ARTIFACTS / "load-class-session0.png"


def _cpu_by_role(server_pid: int) -> dict:
    """CPU seconds so far of every process of the run, keyed by (role, pid).

    Roles: the Voila server, its kernels, and the browsers (chromium and
    Playwright's driver, everything else below this script). In a lecture hall the
    browsers run on the students' machines; here they share the server's cores.
    """
    import os

    server_tree = set(descendants(server_pid))
    usage = {("server", server_pid): cpu_seconds(server_pid)}
    for pid in server_tree:
        usage[("kernels", pid)] = cpu_seconds(pid)
    for pid in descendants(os.getpid()):
        if pid != server_pid and pid not in server_tree:
            usage[("browsers", pid)] = cpu_seconds(pid)
    return usage


async def _sample_usage(server_pid, peaks, cpu, stop):
    """Sample the kernels' memory (peak per kernel) and every process's CPU time
    (the last value seen: a process that ends loses at most one interval)."""
    while not stop.is_set():
        for pid, rss in (await asyncio.to_thread(kernel_memory, server_pid)).items():
            peaks[pid] = max(peaks.get(pid, 0.0), rss)
        for key, seconds in (await asyncio.to_thread(_cpu_by_role, server_pid)).items():
            cpu[key] = max(cpu.get(key, 0.0), seconds)
        try:
            await asyncio.wait_for(stop.wait(), MEMORY_INTERVAL)
        except asyncio.TimeoutError:
            pass


async def _run(options):
    from playwright.async_api import async_playwright

    process, base = await asyncio.to_thread(
        start_voila, free_port(), SERVER_LOG, lecture=not options.no_class
    )
    url = f"{base}?{options.query}" if options.query else base
    results = [new_result() for _ in range(options.sessions)]
    peaks, cpu, stop = {}, {}, asyncio.Event()
    try:
        if not options.no_class and preheats():
            await wait_for_pool(SERVER_LOG)
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
                browser_session(browsers[i // options.per_browser], url, options.moves, r,
                                page_timeout=1000 * options.page_timeout, viewport=VIEWPORT,
                                screenshot=SCREENSHOT if i == 0 else None)
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
        stop_kernels(list(peaks))
    return results, peaks, cpu, elapsed


def _report(options, results, peaks, cpu, elapsed):
    loads = [r["load"] for r in results if r["load"] is not None]
    latencies = [t for r in results for t in r["latencies"]]
    succeeded = sum(r["ok"] for r in results)
    print(f"settings: {'voila.json' if options.no_class else 'voila.json + voila-class.json'}; "
          f"query: {options.query or '(defaults)'}; {options.moves} moves per session")
    full = sum(r["full"] for r in results)
    print(f"sessions succeeded: {succeeded} of {len(results)} (run took {elapsed:.0f} s)"
          + (f"; {full} got the server's \"full\" page" if full else ""))
    if loads:
        print(f"page load to first result: median {statistics.median(loads):.1f} s, "
              f"95th percentile {percentile(loads, 95):.1f} s")
    if latencies:
        print(f"delta move to complete redraw ({len(latencies)} updates): median "
              f"{statistics.median(latencies):.2f} s, 95th percentile "
              f"{percentile(latencies, 95):.2f} s, max {max(latencies):.2f} s")
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
