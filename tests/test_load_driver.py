"""The server load benchmark's driver against a real server: one session, one move, no browser.

``benchmarks/load_server.py`` plays students by speaking the widget protocol
over the kernel's websocket. Here one such session opens a small page of the
test session's Voila server (``voila_url``, in its own process group, stopped
with ``killpg``), moves δ once and checks that the kernel really computed the
new δ: its status line names it. Without a server, the benchmark's wait for
a preheated pool is checked against the server's log lines.
"""

from __future__ import annotations

import math
import sys

import pytest

from browser_helpers import ROOT, run_async

sys.path.insert(0, str(ROOT / "benchmarks"))

from load_helpers import wait_for_pool  # noqa: E402
from load_server import DashboardSession, move_values  # noqa: E402  (needs the path above)

#: A page that computes in well under a second: the test times the protocol, not the core.
QUERY = "size=30&seeds=2&delta=0.2"
#: Seconds for the page (a kernel start) and for the move.
PAGE_TIMEOUT, MOVE_TIMEOUT = 120.0, 60.0


async def _one_move(url):
    from tornado.simple_httpclient import SimpleAsyncHTTPClient

    http = SimpleAsyncHTTPClient(force_instance=True)
    session = DashboardSession(f"{url}?{QUERY}")
    try:
        load = await session.open(http, PAGE_TIMEOUT)
        before = session.status
        slider = session.models[session.delta_id]
        (value,) = move_values(slider["value"], slider["step"], slider["max"], 1)
        latency = await session.move(value, MOVE_TIMEOUT)
        return dict(load=load, before=before, value=value, latency=latency,
                    after=session.status, delta=session.delta)
    finally:
        await session.close()
        http.close()


def test_the_class_comes_once_the_pool_waits_for_pages_not_once_it_started(tmp_path):
    # Voila's "is filled with" comes when the pool's kernels have started; they then
    # import and build the dashboard for a second or more each: a class arriving then
    # would pay for that, and the pages' CPU figure would count it.
    from bpwidgets.serving import POOL_PREHEATED

    log = tmp_path / "voila.log"
    log.write_text("[ServingVoila] Kernel pool of dashboard.ipynb is filled with 2 kernel(s)\n")
    with pytest.raises(RuntimeError, match="not preheated within"):
        run_async(wait_for_pool(log, timeout=0.5))
    with log.open("a") as lines:
        lines.write(f"[ServingVoila] Kernel pool of dashboard.ipynb {POOL_PREHEATED}: "
                    "2 kernel(s) wait for a page\n")
    run_async(wait_for_pool(log, timeout=5))


@pytest.mark.browser
def test_one_session_moves_delta(voila_url):
    seen = run_async(_one_move(voila_url))
    assert 0 < seen["load"] < PAGE_TIMEOUT
    before, after = seen["before"], seen["after"]
    assert before.kind == "ready" and before.delta == pytest.approx(0.2)
    assert seen["value"] == pytest.approx(0.21)
    assert math.isfinite(seen["latency"]) and 0 < seen["latency"] < MOVE_TIMEOUT
    # The kernel took the new value and drew its complete result.
    assert seen["delta"] == pytest.approx(0.21)
    assert after.kind == "ready" and after.generation > before.generation
    assert after.delta == pytest.approx(0.21)
    assert "L = 30" in after.text
