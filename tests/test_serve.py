"""Serving: ``python -m bpwidgets.serve`` and the class settings (bpwidgets/serve.py, serving.py).

The unit tests check the settings, the port check and the kernel cap without a
kernel. Two real servers (one per test, each in its own process group, stopped
with ``killpg``) check what only a running server shows: a second visitor past a
cap of one kernel gets the full page at once, a kernel whose page never
connected is culled and the pool refills, and a preheated kernel behind a
reverse proxy reads its page's query and builds the proxy's link. After each,
no kernel of the server may remain.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import pytest

from bpwidgets.serve import (
    CLASS_CONFIG,
    LIMITS_SECTION,
    LIMITS_VARIABLE,
    ROOT,
    SERVER_DEFAULTS,
    class_settings,
    normalize_base_url,
    port_in_use,
    voila_arguments,
)
from bpwidgets.session.share import page_url
from browser_helpers import ARTIFACTS, free_port, run_async, stop_voila, wait_for_server

#: Seconds a server may take to serve voila.js, and its pool to hold a started kernel.
START_TIMEOUT = 90
#: Seconds the refusal of a visitor past the cap may take (it must not wait for anything).
REFUSAL_TIMEOUT = 3
#: Seconds the kernels of a stopped server may take to exit.
EXIT_TIMEOUT = 15
#: A small page: its kernel computes in well under a second.
SMALL_QUERY = "delta=0.2&size=20&seeds=2"
#: What Voila logs when a refill of its pool has a started kernel, and when it hands one out.
POOL_FILLED = "is filled with"
POOL_USED = "Using pre-heated kernel"


# -- settings -------------------------------------------------------------------------------


def test_class_settings_hand_the_limits_to_the_kernels_not_to_voila(tmp_path):
    voila_config, limits = class_settings(CLASS_CONFIG)
    assert LIMITS_SECTION not in voila_config
    assert limits == {"size": 200, "seeds": 20, "pins": 10}
    assert json.dumps(limits) == '{"size": 200, "seeds": 20, "pins": 10}'
    path = tmp_path / "class.json"
    path.write_text(json.dumps({"Voila": {"port": 1}, LIMITS_SECTION: {"max_seeds": 3}}))
    voila_config, limits = class_settings(path)
    assert voila_config.Voila.port == 1 and limits == {"seeds": 3}
    # Refused here exactly what the kernels would refuse (and then serve with no limit).
    for bad in ({"max_seeds": 0}, {"max_seeds": "3"}, {"max_seeds": True}, {"seeds": 3},
                {"max_size": 5}, {"max_pins": -1}):
        path.write_text(json.dumps({LIMITS_SECTION: bad}))
        with pytest.raises(ValueError, match=LIMITS_SECTION):
            class_settings(path)
    path.write_text(json.dumps({LIMITS_SECTION: {"max_pins": 0}}))  # pinning off is a limit
    assert class_settings(path)[1] == {"pins": 0}


def test_class_settings_are_known_to_voila_and_free_unwatched_kernels():
    from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
    from voila.configuration import VoilaConfiguration
    from voila.voila_kernel_manager import voila_kernel_manager_factory

    from bpwidgets.serving import CappedKernelManager

    pool_manager = voila_kernel_manager_factory(CappedKernelManager, True, 1)
    known = {"VoilaConfiguration": VoilaConfiguration, "CappedKernelManager": CappedKernelManager,
             "MappingKernelManager": AsyncMappingKernelManager,
             "VoilaKernelManager": pool_manager}
    raw = json.loads(CLASS_CONFIG.read_text())
    for section, values in raw.items():
        if section != LIMITS_SECTION:
            assert set(values) <= set(known[section].class_trait_names(config=True)), section
    config = class_settings()[0]
    assert config.VoilaConfiguration.preheat_kernel is True
    assert config.VoilaConfiguration.default_pool_size >= 1
    assert config.CappedKernelManager.max_kernels > 0
    culling = config.MappingKernelManager
    # Within minutes, whether the page is open, never connected, or its kernel is stuck.
    assert 60 <= culling.cull_idle_timeout <= 1800 and culling.cull_interval <= 60
    assert culling.cull_connected is True and culling.cull_busy is True
    # The single-user settings stay in voila.json; the class file does not repeat them.
    single = json.loads((ROOT / "voila.json").read_text())
    assert not set(raw["VoilaConfiguration"]) & set(single["VoilaConfiguration"])
    assert {"X-Forwarded-Host", "X-Forwarded-Proto"} <= set(
        single["VoilaConfiguration"]["http_header_envs"])
    # One user: a kernel without a page goes, an open tab stays.
    assert SERVER_DEFAULTS["MappingKernelManager"]["cull_connected"] is False


def test_settings_rank_defaults_file_class_command_line(tmp_path):
    from traitlets.config import Config

    from bpwidgets.serving import ServingVoila

    (tmp_path / "voila.json").write_text(json.dumps({"MappingKernelManager": {
        "cull_idle_timeout": 111, "cull_interval": 222, "cull_busy": True}}))
    app = ServingVoila(config=Config(SERVER_DEFAULTS),
                       overrides=Config({"MappingKernelManager": {"cull_idle_timeout": 600,
                                                                  "cull_interval": 60}}))
    app.parse_command_line(["--MappingKernelManager.cull_interval=7"])
    app.load_config_file("voila", path=[str(tmp_path)])
    culling = app.config.MappingKernelManager
    assert culling.cull_idle_timeout == 600      # the class file over voila.json
    assert culling.cull_interval == 7            # the command line over everything
    assert culling.cull_busy is True             # voila.json over the defaults
    assert culling.cull_connected is False       # the defaults where nothing else says


def test_voila_arguments_keep_the_port_and_the_base_url():
    assert [normalize_base_url(u) for u in ("", "/", "bp", "/bp", "/bp/", "a//b")] == [
        "/", "/", "/bp/", "/bp/", "/bp/", "/a/b/"]
    arguments = voila_arguments(9000, ip="0.0.0.0", base_url="bp")
    assert "--port=9000" in arguments and "--Voila.ip=0.0.0.0" in arguments
    assert "--Voila.base_url=/bp/" in arguments
    # Voila would otherwise move to another port silently.
    assert "--Voila.port_retries=0" in arguments


def test_a_taken_port_stops_the_server_with_one_clear_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert port_in_use("127.0.0.1", port)
        result = subprocess.run([sys.executable, "-m", "bpwidgets.serve", "--port", str(port)],
                                cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"port {port}" in lines[0] and "in use" in lines[0], lines
    assert "bpwidgets dashboard:" not in result.stdout
    assert not port_in_use("127.0.0.1", port)


def test_page_link_uses_the_forwarded_headers():
    ordinary = {"VOILA_REQUEST_URL": "http://127.0.0.1:8866/bp/?delta=0.1",
                "VOILA_PREHEAT": "False", "HTTP_X_FORWARDED_HOST": "class.example.org",
                "HTTP_X_FORWARDED_PROTO": "https"}
    assert page_url(ordinary) == "https://class.example.org/bp/"
    preheated = {"VOILA_PREHEAT": "True", "SCRIPT_NAME": "/", "SERVER_NAME": "127.0.0.1",
                 "SERVER_PORT": "8866", "HTTP_X_FORWARDED_HOST": "a.org:8443, inner",
                 "HTTP_X_FORWARDED_PROTO": "HTTPS", "HTTP_X_FORWARDED_PREFIX": "/bp"}
    # The proxy removed /bp before passing the request on; the first proxy's host counts.
    assert page_url(preheated) == "https://a.org:8443/bp/"
    assert page_url({**preheated, "SCRIPT_NAME": "/bp/"}) == "https://a.org:8443/bp/"
    forged = {**ordinary, "HTTP_X_FORWARDED_HOST": "evil.org/x?", "HTTP_X_FORWARDED_PROTO":
              "javascript", "HTTP_X_FORWARDED_PREFIX": "/<b>"}
    assert page_url(forged) == "http://127.0.0.1:8866/bp/"


# -- the kernel cap, without kernels ---------------------------------------------------------


def _done(loop, value=None, error=None):
    future = loop.create_future()
    future.set_exception(error) if error else future.set_result(value)
    return future


def test_the_cap_refuses_a_visitor_and_holds_a_pool_start_back():
    from bpwidgets.serving import CappedKernelManager, ServerFull

    manager = CappedKernelManager(max_kernels=2)
    manager._kernels["running"] = object()
    manager._pending_kernels["starting"] = object()
    assert manager.kernel_count() == 2 and manager.is_full()

    async def attempts():
        with pytest.raises(ServerFull) as refused:
            await manager.start_kernel(kernel_name="python3", env={"VOILA_PREHEAT": "False"})
        assert refused.value.status_code == 503
        # A pool start waits for a seat instead of failing, and gives up at shutdown.
        pool_start = asyncio.ensure_future(
            manager.start_kernel(kernel_name="python3", env={"VOILA_PREHEAT": "True"}))
        await asyncio.sleep(0.2)
        assert not pool_start.done()
        manager._closing = True
        with pytest.raises(ServerFull):
            await asyncio.wait_for(pool_start, 5)

    run_async(attempts())


def test_only_a_started_pool_kernel_is_handed_out_under_a_cap():
    from bpwidgets.serving import CappedKernelManager

    manager = CappedKernelManager(max_kernels=3)
    # A pool kernel is busy and silent while it waits for its visitor.
    silent_since = datetime.now(timezone.utc) - timedelta(hours=1)
    manager._kernels["k"] = SimpleNamespace(last_activity=silent_since)
    loop = asyncio.new_event_loop()
    try:
        waiting, started = loop.create_future(), _done(loop, {"kernel_id": "k"})
        failed = _done(loop, error=RuntimeError("the kernel did not start"))
        manager._pools = {"nb.ipynb": [waiting, failed, started]}
        assert manager.offer_pool_kernel("nb.ipynb")
        assert manager._pools["nb.ipynb"][0] is started  # Voila hands out the first entry
        # Handed out, it counts as active from now: the culler must not take it mid-render.
        assert manager._kernels["k"].last_activity > silent_since + timedelta(minutes=59)
        manager._pools = {"nb.ipynb": [waiting]}
        assert not manager.offer_pool_kernel("nb.ipynb") and not manager.offer_pool_kernel("x")
        manager.max_kernels = 0  # without a cap nothing waits for a seat: Voila's own choice
        assert manager.offer_pool_kernel("nb.ipynb")
    finally:
        loop.close()


# -- real servers ---------------------------------------------------------------------------


def _kernel_pids(server_pid: int) -> set:
    """The kernels a server started: its child processes running ipykernel."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if parent == server_pid and b"ipykernel" in (entry / "cmdline").read_bytes():
                pids.add(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    return pids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(condition, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class _Server:
    """``python -m bpwidgets.serve`` with the given options, in its own process group."""

    def __init__(self, name: str, *options: str, base_url: str = "/"):
        self.port = free_port()
        self.log_path = ARTIFACTS / f"serve-{name}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bpwidgets.serve", "--port", str(self.port),
                 "--base-url", base_url, *options],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}{base_url}"
        self.kernels = set()
        try:
            wait_for_server(self.url + "voila/static/voila.js", self.process, START_TIMEOUT)
        except BaseException:
            self.stop()
            raise

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, count: int = 1):
        _wait_for(lambda: self.log().count(text) >= count, START_TIMEOUT,
                  f"{text!r} x{count} in {self.log_path}")

    def current_kernels(self) -> set:
        found = _kernel_pids(self.process.pid)
        self.kernels |= found
        return found

    def stop(self):
        """Stop the process group; return the kernels (ever seen) still alive after it."""
        if self.process.poll() is None:
            self.current_kernels()
        stop_voila(self.process)
        try:
            _wait_for(lambda: not any(_alive(pid) for pid in self.kernels), EXIT_TIMEOUT,
                      "the server's kernels to exit")
        except AssertionError:
            survivors = {pid for pid in self.kernels if _alive(pid)}
            for pid in survivors:  # leave nothing running, then fail
                os.kill(pid, signal.SIGKILL)
            return survivors
        return set()


def _get(url: str, timeout: float = 60):
    """(status, headers, body, seconds) of a plain GET: no browser, no websocket."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read().decode()
            return response.status, response.headers, body, time.monotonic() - started
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode(), time.monotonic() - started


def test_past_the_cap_a_visitor_gets_the_full_page_and_culling_frees_the_seat():
    # Cap 1, pool 1: the pool's kernel takes the one seat and the first visitor gets it;
    # its page is fetched without a browser (a crawler, a link preview), so nothing ever
    # connects to the kernel and the culler frees the seat for the pool to refill. Busy
    # kernels are spared here: with a 3 s timeout, a kernel slowed down by other work on
    # the machine could be taken for a stuck one while it renders.
    server = _Server("cap", "--class", "--max-kernels", "1",
                     "--VoilaConfiguration.default_pool_size=1",
                     "--VoilaKernelManager.fill_delay=0",
                     "--MappingKernelManager.cull_idle_timeout=3",
                     "--MappingKernelManager.cull_interval=1",
                     "--MappingKernelManager.cull_busy=False")
    try:
        server.wait_for_log(POOL_FILLED)
        (culled,) = server.current_kernels()  # the pool's kernel, soon the visitor's
        # The kernels inherit the class's request limits from the server.
        environ = Path(f"/proc/{culled}/environ").read_bytes().split(b"\0")
        assert f'{LIMITS_VARIABLE}={{"size": 200, "seeds": 20, "pins": 10}}'.encode() in environ
        page = f"{server.url}?{SMALL_QUERY}"
        first = {}
        visitor = threading.Thread(target=lambda: first.update(result=_get(page)))
        visitor.start()
        server.wait_for_log(POOL_USED)
        status, headers, body, seconds = _get(page)
        assert status == 503 and seconds < REFUSAL_TIMEOUT, (status, seconds)
        assert headers["Retry-After"] == "60"
        assert "The server is full: try again in a minute" in body
        assert "Traceback" not in body and "Traceback" not in server.log()
        visitor.join(START_TIMEOUT)
        assert first["result"][0] == 200
        _wait_for(lambda: not _alive(culled), 30, "the unwatched kernel to be culled")
        assert "Culling 'idle' kernel" in server.log()
        server.wait_for_log(POOL_FILLED, count=2)  # the pool took the freed seat
        assert _get(page)[0] == 200
        assert server.log().count(POOL_USED) == 2
        assert len(server.current_kernels()) == 1
    finally:
        survivors = server.stop()
    assert not survivors, f"kernels outlived the server: {survivors}"


@pytest.mark.browser
def test_a_preheated_page_behind_a_proxy_reads_its_query_and_links_to_the_proxy(chromium):
    server = _Server("proxy", "--class", "--VoilaConfiguration.default_pool_size=1",
                     base_url="/bp/")
    try:
        assert f"bpwidgets dashboard: {server.url}\n" in server.log()  # the real address
        server.wait_for_log(POOL_FILLED)
        context = chromium.new_context(extra_http_headers={
            "X-Forwarded-Host": "class.example.org", "X-Forwarded-Proto": "https"})
        try:
            page = context.new_page()
            page.goto(f"{server.url}?{SMALL_QUERY}")
            page.wait_for_selector(".bp-status-ready", timeout=START_TIMEOUT * 1000)
            link = page.input_value(".bp-link input")
            status = page.inner_text(".bp-status")
        finally:
            context.close()
        assert POOL_USED in server.log()
        assert link.startswith("https://class.example.org/bp/?"), link
        query = dict(parse_qsl(urlsplit(link).query))
        assert (query["delta"], query["size"], query["seeds"]) == ("0.2", "20", "2"), query
        assert re.search(r"δ = 0\.20\b", status), status
        assert server.current_kernels()
    finally:
        survivors = server.stop()
    assert not survivors, f"kernels outlived the server: {survivors}"
