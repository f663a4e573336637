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
from browser_helpers import (
    ARTIFACTS,
    VIEWPORT,
    free_port,
    run_async,
    stop_voila,
    wait_for_server,
)

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
    assert limits == {"size": 200, "seeds": 20, "pins": 10, "disks": 36000}
    assert json.dumps(limits) == '{"size": 200, "seeds": 20, "pins": 10, "disks": 36000}'
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


def test_the_pool_option_fits_under_the_cap():
    from traitlets.config import Config

    from bpwidgets.serve import _parser, _pool_arguments

    class_voila = class_settings()[0]
    pool = class_voila.VoilaConfiguration.default_pool_size
    cap = class_voila.CappedKernelManager.max_kernels
    assert 1 <= pool <= cap  # a class's worth of kernels waits, and visitors still find seats

    def arguments(*argv, voila=class_voila, extra=()):
        return _pool_arguments(_parser().parse_args(list(argv)), voila, extra)

    assert arguments("--class") == []  # the file's own pool
    assert arguments("--class", "--pool", "12") == [
        "--VoilaConfiguration.preheat_kernel=True", "--VoilaConfiguration.default_pool_size=12"]
    assert arguments("--pool", "0") == ["--VoilaConfiguration.preheat_kernel=False"]
    assert arguments("--pool", "3", voila=Config()) == [  # without --class: no cap
        "--VoilaConfiguration.preheat_kernel=True", "--VoilaConfiguration.default_pool_size=3"]
    with pytest.raises(ValueError, match=f"a pool of {cap + 1} kernels is more than the cap "
                                         f"of {cap}"):
        arguments("--class", "--pool", str(cap + 1))
    with pytest.raises(ValueError, match=f"a pool of {pool} kernels is more than the cap of 5"):
        arguments("--class", "--max-kernels", "5")  # the file's pool under a smaller cap
    assert arguments("--class", "--max-kernels", "0", "--pool", "100")  # 0: no cap
    # Voila's own options set the pool and the cap as well as --pool and --max-kernels do.
    assert arguments("--class", "--max-kernels", "1",
                     extra=["--VoilaConfiguration.default_pool_size=1"]) == []
    with pytest.raises(ValueError, match="a pool of 2 kernels is more than the cap of 1"):
        arguments("--class", "--max-kernels", "1",
                  extra=["--VoilaConfiguration.default_pool_size=2"])
    with pytest.raises(ValueError, match=f"a pool of {pool} kernels is more than the cap of 20"):
        arguments("--class", extra=["--CappedKernelManager.max_kernels=20"])
    assert arguments("--class", extra=[f"--CappedKernelManager.max_kernels={pool}"]) == []
    assert arguments("--class", "--pool", "20",
                     extra=["--CappedKernelManager.max_kernels=20"]) == [
        "--VoilaConfiguration.preheat_kernel=True", "--VoilaConfiguration.default_pool_size=20"]
    # Both forms at once would give Voila the trait twice, which stops it at its start.
    with pytest.raises(ValueError, match="both set the cap"):
        arguments("--class", "--max-kernels", "20", extra=["--CappedKernelManager.max_kernels=20"])
    with pytest.raises(ValueError, match="both set the pool"):
        arguments("--class", "--pool", "2", extra=["--VoilaConfiguration.default_pool_size=2"])
    with pytest.raises(ValueError, match="whole numbers"):
        arguments("--class", extra=["--CappedKernelManager.max_kernels=many"])
    result = subprocess.run([sys.executable, "-m", "bpwidgets.serve", "--port", str(free_port()),
                             "--class", "--pool", str(cap + 1)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "is more than the cap" in result.stderr
    assert "bpwidgets dashboard:" not in result.stdout
    result = subprocess.run([sys.executable, "-m", "bpwidgets.serve", "--port", str(free_port()),
                             "--class", f"--CappedKernelManager.max_kernels={pool - 1}"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and f"more than the cap of {pool - 1}" in result.stderr
    assert "bpwidgets dashboard:" not in result.stdout


# -- a preheated kernel's page request, without Voila in the kernel ----------------------------

#: A preheated kernel's side, in a process of its own: it waits for its page request and
#: says what it got and whether Voila was imported.
_KERNEL_SIDE = """
import json, os, sys
from bpwidgets.serve import request_query
query = request_query()
voila = sorted(name for name in sys.modules if name.split(".")[0] == "voila")
print(json.dumps({"query": query, "host": os.environ.get("HTTP_X_FORWARDED_HOST"),
                  "voila": voila}))
"""


class _ChannelServer:
    """A tornado application on a thread of its own (Voila's request channel, and nothing else)."""

    def __init__(self, port, routes, **settings):
        from tornado.web import Application

        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)

            async def listen():
                self.server = Application(routes, **settings).listen(port, "127.0.0.1")

            self.loop.run_until_complete(listen())
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert started.wait(10)

    def call(self, function, *args):
        """``function(*args)`` on the server's loop (a websocket is written to from there alone)."""
        async def call():
            return function(*args)
        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(10)

    def close(self):
        self.call(self.server.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def test_the_kernel_side_reads_the_variables_voila_sets():
    from voila.utils import ENV_VARIABLE

    from bpwidgets import serve

    names = [serve._PREHEAT, serve._KERNEL_ID, serve._APP_IP, serve._APP_PORT,
             serve._SERVER_URL, serve._WS_PROTOCOL, serve._WS_BASE_URL, serve._QUERY]
    assert set(names) <= {variable.value for variable in ENV_VARIABLE}
    assert serve.preheated({"VOILA_PREHEAT": "True"})
    assert not serve.preheated({"VOILA_PREHEAT": "False"}) and not serve.preheated({})


def test_a_preheated_kernel_waits_for_its_request_without_importing_voila():
    from voila.request_info_handler import RequestInfoSocketHandler

    from bpwidgets.serving import PageRequestChannel

    port, noted = free_port(), []
    environ = {**os.environ, "VOILA_PREHEAT": "True", "VOILA_APP_IP": "127.0.0.1",
               "VOILA_APP_PORT": str(port), "VOILA_SERVER_URL": "/bp/",
               "VOILA_KERNEL_ID": "k1"}
    kernel = subprocess.Popen([sys.executable, "-c", _KERNEL_SIDE], env=environ, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server = None
    try:
        # The kernel is up before the server listens (a pool filling while Voila starts):
        # it says so and keeps trying, instead of rendering the page without its request.
        first = kernel.stderr.readline()
        assert "trying again" in first and f"127.0.0.1:{port}/bp/voila/query/k1" in first
        server = _ChannelServer(port, [(r"/bp/voila/query/(\w+)", PageRequestChannel)],
                                kernel_manager=SimpleNamespace(note_waiting=noted.append))
        _wait_for(lambda: "k1" in RequestInfoSocketHandler._waiters, 30, "the kernel to wait")
        assert kernel.poll() is None  # waiting, not rendering
        server.call(RequestInfoSocketHandler.send_updates, {"kernel_id": "k1", "payload": {
            "QUERY_STRING": "delta=0.2&size=20", "HTTP_X_FORWARDED_HOST": "class.example.org"}})
        stdout, _ = kernel.communicate(timeout=30)
    finally:
        if kernel.poll() is None:
            kernel.kill()
            kernel.wait()
        if server is not None:
            server.close()
    assert json.loads(stdout) == {"query": "delta=0.2&size=20", "host": "class.example.org",
                                  "voila": []}
    assert noted and "k1" in noted[0]  # the server heard of one more kernel waiting


#: A preheated kernel's side with a short deadline (``argv[1]`` seconds): what it got, and when.
_KERNEL_WITH_DEADLINE = """
import json, os, sys, time
from bpwidgets.serve import wait_for_request
start = time.monotonic()
wait_for_request(deadline=float(sys.argv[1]), retry=0.2)
print(json.dumps({"query": os.environ.get("QUERY_STRING"), "seconds": time.monotonic() - start}))
"""
#: Seconds of the short deadline, and what giving up may take on top of it (a Python start).
SHORT_DEADLINE, DEADLINE_SLACK = 2.0, 8.0


def test_a_kernel_that_cannot_reach_the_channel_gives_up_and_renders_the_defaults():
    """A wrong address (nothing listens on the port) must not hang the page for ever."""
    port = free_port()
    environ = {**os.environ, "VOILA_PREHEAT": "True", "VOILA_APP_IP": "127.0.0.1",
               "VOILA_APP_PORT": str(port), "VOILA_KERNEL_ID": "k2"}
    environ.pop("QUERY_STRING", None)
    result = subprocess.run([sys.executable, "-c", _KERNEL_WITH_DEADLINE, str(SHORT_DEADLINE)],
                            env=environ, cwd=ROOT, capture_output=True, text=True,
                            timeout=SHORT_DEADLINE + 60)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["query"] is None  # no request: the dashboard's defaults
    assert SHORT_DEADLINE <= outcome["seconds"] < SHORT_DEADLINE + DEADLINE_SLACK
    assert "trying again every 0.2 s for up to 2 s" in result.stderr
    assert f"could not reach ws://127.0.0.1:{port}/voila/query/k2 for 2 s" in result.stderr
    assert "without its request" in result.stderr


def test_a_kernel_that_reached_the_channel_waits_past_the_deadline_for_its_visitor():
    """The deadline is for reaching the channel; a pool kernel then waits for its visitor."""
    from voila.request_info_handler import RequestInfoSocketHandler

    from bpwidgets.serving import PageRequestChannel

    port = free_port()
    server = _ChannelServer(port, [(r"/voila/query/(\w+)", PageRequestChannel)])
    environ = {**os.environ, "VOILA_PREHEAT": "True", "VOILA_APP_IP": "127.0.0.1",
               "VOILA_APP_PORT": str(port), "VOILA_KERNEL_ID": "k3"}
    kernel = subprocess.Popen([sys.executable, "-c", _KERNEL_WITH_DEADLINE, str(SHORT_DEADLINE)],
                              env=environ, cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: "k3" in RequestInfoSocketHandler._waiters, 30, "the kernel to wait")
        time.sleep(SHORT_DEADLINE + 1)
        assert kernel.poll() is None  # still waiting for its page
        server.call(RequestInfoSocketHandler.send_updates,
                    {"kernel_id": "k3", "payload": {"QUERY_STRING": "delta=0.3"}})
        stdout, stderr = kernel.communicate(timeout=30)
    finally:
        if kernel.poll() is None:
            kernel.kill()
            kernel.wait()
        server.close()
    assert json.loads(stdout)["query"] == "delta=0.3"
    assert "could not reach" not in stderr


def test_a_refused_request_channel_is_an_error_not_a_page_without_its_request():
    from bpwidgets.serve import wait_for_request

    port = free_port()
    server = _ChannelServer(port, [])  # the server answers, but not as Voila: HTTP 404
    try:
        environ = {"VOILA_APP_IP": "127.0.0.1", "VOILA_APP_PORT": str(port),
                   "VOILA_KERNEL_ID": "k1"}
        with pytest.raises(RuntimeError, match="refused the page-request channel"):
            wait_for_request(environ, open_timeout=10)
        assert "QUERY_STRING" not in environ
    finally:
        server.close()


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


def test_the_pool_refills_only_once_pages_stop_coming(monkeypatch):
    import bpwidgets.serving as serving

    monkeypatch.setattr(serving, "SEAT_POLL_INTERVAL", 0.01)
    manager = serving.CappedKernelManager(max_kernels=5, refill_quiet=3600)
    assert manager.is_quiet()  # no page yet: a new server fills its pool at once

    now = datetime.now(timezone.utc)
    waiting = SimpleNamespace(last_activity=now)  # a pool kernel, just preheated
    working = SimpleNamespace(last_activity=now)  # a student's kernel, just moved δ
    manager._kernels.update(waiting=waiting, working=working)

    async def refill():
        loop = asyncio.get_running_loop()
        manager._pools = {"nb.ipynb": [_done(loop, {"kernel_id": "waiting"})]}
        manager.note_page()  # a class arriving
        pool_start = asyncio.ensure_future(manager._wait_for_turn())
        await asyncio.sleep(0.2)
        assert not pool_start.done() and not manager.is_quiet()
        manager._last_page -= 3600  # the last page came an hour ago ...
        await asyncio.sleep(0.2)
        assert not pool_start.done()  # ... but a student works
        working.last_activity -= timedelta(hours=1)  # ... and an hour ago
        await asyncio.wait_for(pool_start, 5)
        assert manager.is_quiet()  # the pool's own waiting kernel does not count

    run_async(refill())


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


def test_a_pool_kernel_that_died_before_its_visitor_is_replaced():
    from bpwidgets.serving import CappedKernelManager

    manager = CappedKernelManager()
    refills = []
    manager.fill_if_needed = lambda **options: refills.append(options)  # Voila's, in the pool
    loop = asyncio.new_event_loop()
    try:
        rendering = loop.create_future()
        alive, dead = _done(loop, {"kernel_id": "alive"}), _done(
            loop, {"kernel_id": "dead", "task": rendering})
        failed, starting = _done(loop, error=RuntimeError("no seat")), loop.create_future()
        manager._pools = {"nb.ipynb": [alive, dead, failed, starting]}
        manager._kernels["alive"] = SimpleNamespace(last_activity=None)
        assert manager.drop_failed_pool_kernels() == 2
        assert manager._pools["nb.ipynb"] == [alive, starting]
        assert rendering.cancelled()  # its notebook is not rendered on for anyone
        assert refills == [{"delay": 0, "notebook_name": "nb.ipynb"}]
        assert manager.drop_failed_pool_kernels() == 0 and len(refills) == 1
    finally:
        loop.close()


def test_the_server_says_when_every_pool_kernel_waits_for_a_page(caplog):
    from bpwidgets.serving import POOL_PREHEATED, CappedKernelManager

    manager = CappedKernelManager()
    loop = asyncio.new_event_loop()
    try:
        starting = loop.create_future()
        manager._pools = {"nb.ipynb": [_done(loop, {"kernel_id": "a"}), starting]}
        with caplog.at_level("INFO", logger=manager.log.name):
            manager.note_waiting({"a"})  # one kernel still starting
            starting.set_result({"kernel_id": "b"})
            manager.note_waiting({"a"})  # started, but still importing
            assert POOL_PREHEATED not in caplog.text
            manager.note_waiting({"a", "b", "someone else's"})
        assert caplog.text.count(POOL_PREHEATED) == 1
        assert "nb.ipynb is preheated: 2 kernel(s) wait for a page" in caplog.text
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
        limits = '{"size": 200, "seeds": 20, "pins": 10, "disks": 36000}'
        assert f"{LIMITS_VARIABLE}={limits}".encode() in environ
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


def test_a_preheated_kernel_builds_the_dashboard_before_its_request(monkeypatch, tmp_path):
    import bpwidgets.app.dashboard as dashboard_module
    from bpwidgets.session import Parameters

    built, asked = [], []

    class Recorded(dashboard_module.Dashboard):
        def __init__(self, **options):
            super().__init__(**options)
            built.append(self.snapshot)

    def request_query():
        asked.append(len(built))
        return "delta=0.1&size=20&seeds=2&projector=1&spring=oops"

    monkeypatch.setenv("BPWIDGETS_STORE", str(tmp_path))
    monkeypatch.setenv("VOILA_PREHEAT", "True")
    monkeypatch.setattr(dashboard_module, "request_query", request_query)
    dashboard = Recorded.from_query(background=False, page="https://class.example.org/bp/")
    try:
        # Built, with the defaults' result drawn, before the request was asked for.
        assert asked == [1] and built[0].network.size == Parameters().size
        # Then the request's state, exactly as a kernel started for it would open it.
        expected = dashboard_module.Dashboard.from_query(
            "delta=0.1&size=20&seeds=2&projector=1&spring=oops", background=False,
            page="https://class.example.org/bp/")
        try:
            assert dashboard.controls.parameters == expected.controls.parameters
            assert (dashboard.snapshot.network.size, dashboard.snapshot.network.delta) == (20, 0.1)
            assert dashboard.projector and expected.projector
            assert dashboard.link == expected.link
            assert dashboard.link.startswith("https://class.example.org/bp/?")
            assert dashboard.lecture.notice.value == expected.lecture.notice.value
            assert "spring=oops" in dashboard.lecture.notice.value
            assert dashboard.status.value.count("ready") and "L = 20" in dashboard.status.value
        finally:
            expected.close()
    finally:
        dashboard.close()


@pytest.mark.browser
def test_preheated_pages_behind_a_proxy_read_their_own_query_and_link_to_the_proxy(chromium):
    # Two visitors with two links take the pool's two kernels, built before either came:
    # each page shows its own link's state, never the other's.
    from bpwidgets.serving import POOL_PREHEATED

    server = _Server("proxy", "--class", "--pool", "2", base_url="/bp/")
    other_query = "delta=0.1&size=30&seeds=2&projector=1"
    try:
        assert f"bpwidgets dashboard: {server.url}\n" in server.log()  # the real address
        server.wait_for_log(POOL_PREHEATED)
        contexts = [chromium.new_context(viewport=VIEWPORT, extra_http_headers={  # two visitors
            "X-Forwarded-Host": "class.example.org", "X-Forwarded-Proto": "https"})
            for _ in range(2)]
        seen = []
        try:
            pages = [context.new_page() for context in contexts]
            for page, query in zip(pages, (SMALL_QUERY, other_query), strict=True):
                page.goto(f"{server.url}?{query}")
            for page in pages:
                page.wait_for_selector(".bp-status-ready", timeout=START_TIMEOUT * 1000)
                seen.append((page.input_value(".bp-link input"), page.inner_text(".bp-status"),
                             page.locator(".bp-dashboard.bp-projector").count()))
        finally:
            for context in contexts:
                context.close()
        assert server.log().count(POOL_USED) == 2
        (link, status, projector), (other_link, other_status, other_projector) = seen
        assert link.startswith("https://class.example.org/bp/?"), link
        query = dict(parse_qsl(urlsplit(link).query))
        assert (query["delta"], query["size"], query["seeds"]) == ("0.2", "20", "2"), query
        assert "projector" not in query and projector == 0
        assert re.search(r"L = 20, δ = 0\.20\b", status), status
        query = dict(parse_qsl(urlsplit(other_link).query))
        assert (query["delta"], query["size"], query["projector"]) == ("0.1", "30", "1"), query
        assert re.search(r"L = 30, δ = 0\.10\b", other_status) and other_projector == 1
        assert server.current_kernels()
    finally:
        survivors = server.stop()
    assert not survivors, f"kernels outlived the server: {survivors}"
