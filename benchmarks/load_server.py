"""The server under a class, apart from the browsers: sessions that speak the widget protocol.

``load_class.py`` runs a headless browser per student on the server's own
cores, and the browsers take most of the CPU. Here one driver process plays
every student with asyncio, as the page's script would but without drawing:

1. it GETs the page (Voila streams it while it runs the notebook) and reads the
   kernel's id from the page configuration in it; an HTTP 503 answer (the
   server saying it is full) is counted apart, not as a failure;
2. it connects to the kernel's websocket (``/api/kernels/<id>/channels`` with a
   fresh ``session_id``, the cookies the page set, the ``token`` if the page
   has one, and the ``v1.kernel.websocket.jupyter.org`` subprotocol that
   JupyterLab's client uses) and asks for the kernel's info;
3. it opens the ``jupyter.widget.control`` comm and asks for every widget's
   state (``request_states``), as the widget manager of ipywidgets 8 does. The
   page is ready once the status line's model shows a ready result;
4. it moves δ ``--moves`` times, one step right and one left in turn after
   1-3 s of thought, by a comm ``update`` of the δ slider's model (the
   FloatSlider with the ``bp-delta`` class), and times each move until the
   status line's model shows the complete result of the new δ: ready, a newer
   generation, the new δ in its text. The kernel sends the marks' data of a
   result before its status line, so by then the page has every number it
   draws.

The moves start once every page is ready or has failed, so that the server's
CPU time (the Voila process and all its kernels: utime + stime from /proc,
before and after each phase) splits into a part per page and a part per move.
The server runs under ``taskset -c --server-cores`` and the driver on the other
cores, if any are left, so the clients' CPU stays out of the server's figure.
The driver does not fetch the page's scripts and styles (static files), and
nothing is drawn: the figures are the server's alone.

``--browsers`` real headless chromium sessions (default 3, one browser each,
pinned with the driver) open the same server at the same time and check that
the pages paint and move under that load.

Each ``--sessions`` count gets a fresh server and, by default (``--store
fresh``), an empty store of per-network results (``BPWIDGETS_STORE``) shared by
that run's kernels, as on a server just started; results of an earlier run are
not reused. With a pool of preheated kernels (``--class``, ``--pool``), the
class arrives once every kernel of the pool waits for its page (the server's
log says the pool "is preheated"), as after a lecturer started the server
before the lecture; the time and server CPU that took are reported on their
own, apart from the pages'. The load average of the machine, shared with other
work, is printed with every run.

Usage::

    python benchmarks/load_server.py [--sessions 10 30 100] [--moves 3] [--server-cores 0]
    python benchmarks/load_server.py --sessions 100 --server-cores 0,1 --class
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import logging
import os
import random
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_helpers import (  # noqa: E402  (needs the path above)
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWPORT,
    free_port,
    start_voila,
    stop_voila,
)
from load_helpers import (  # noqa: E402
    ARRIVAL_SPREAD,
    THINK_TIME,
    browser_session,
    cpu_seconds,
    descendants,
    class_pool,
    kernel_memory,
    new_result,
    percentile,
    tree_cpu_seconds,
    wait_for_pool,
)

__all__ = [
    "DashboardSession", "KernelChannel", "PageError", "ServerFull", "Status", "main",
    "move_values", "parse_cores", "stop_server",
]

#: The kernel websocket's subprotocol JupyterLab's client asks for (jupyter_server 2).
WS_PROTOCOL = "v1.kernel.websocket.jupyter.org"
#: Version of the Jupyter messaging protocol in the headers sent.
MESSAGE_VERSION = "5.3"
#: The comm through which ipywidgets 8 sends every widget's state, and its protocol version.
CONTROL_TARGET = "jupyter.widget.control"
CONTROL_VERSION = "1.0.0"
#: Largest websocket message accepted: the first states carry every mark's data.
MAX_MESSAGE_SIZE = 1 << 30
#: CSS classes the dashboard puts on the widgets the driver reads and moves.
DELTA_CLASS, STATUS_CLASS = "bp-delta", "bp-status"
#: Seconds a page may take to be ready (kernel start, notebook, first result, states).
PAGE_TIMEOUT = 600.0
#: Seconds one move may take to show its complete result before it counts as failed.
MOVE_TIMEOUT = 180.0
#: Seconds one run (one --sessions count) may take before what is left is cut off.
RUN_TIMEOUT = 1200.0
#: Seconds between two samples of the kernels' memory.
MEMORY_INTERVAL = 2.0
#: Seconds Voila gets to shut its kernels down after SIGTERM before they are signalled.
KERNEL_STOP_TIMEOUT = 10.0
#: Browser sessions alongside the driver's, by default.
BROWSERS = 3
#: The server's log of the latest run, and the first browser's page at its end.
SERVER_LOG = ARTIFACTS / "load_server_voila.log"
SCREENSHOT = ARTIFACTS / "load-server-browser0.png"

_CONFIG = re.compile(
    r'<script id="jupyter-config-data" type="application/json">\s*(.*?)\s*</script>', re.S)
_STATUS = re.compile(
    r'class="[^"]*?-(?P<kind>ready|busy|error)"[^>]*?data-generation="(?P<generation>\d+)"'
    r"[^>]*>(?P<text>.*?)</div>", re.S)
_DELTA_SHOWN = re.compile(r"δ = (\d+(?:\.\d+)?)")

#: What tornado logs when a cancelled request's connection closes later: expected here
#: (a page that timed out, a run interrupted), and not an error of the server.
_CANCELLED_NOISE = "Exception after Future was cancelled"
#: Servers and kernels (``(pid, start time)``) of this process, stopped on the way out
#: whatever happens.
_SERVERS: list = []
_KERNELS: set = set()


class ServerFull(Exception):
    """The server answered 503: it is full (a kernel cap), a refusal rather than an error."""


class PageError(Exception):
    """The page or its widgets did not come up as the dashboard's do."""


@dataclass(frozen=True)
class Status:
    """What the status line says: ``kind`` ("ready", "busy", "error"), draw count, text."""

    kind: str
    generation: int
    text: str

    @classmethod
    def parse(cls, value: str) -> Status:
        """The status line from its HTML widget's value (:func:`bpwidgets.app.style.status_html`).

        Examples
        --------
        >>> Status.parse('<div class="bp-status-ready" data-generation="2" style="">'
        ...              'L = 60, δ = 0.30</div>')
        Status(kind='ready', generation=2, text='L = 60, δ = 0.30')
        >>> Status.parse("").kind
        'none'
        """
        match = _STATUS.search(value or "")
        if match is None:
            return cls("none", 0, "")
        return cls(match["kind"], int(match["generation"]), html.unescape(match["text"]))

    @property
    def delta(self) -> float | None:
        """The δ the text names, if it names one."""
        match = _DELTA_SHOWN.search(self.text)
        return None if match is None else float(match[1])


def move_values(start: float, step: float, high: float, moves: int) -> list[float]:
    """δ after each move: one step right, then back left, in turn (as the arrow keys do).

    Examples
    --------
    >>> move_values(0.3, 0.01, 0.5, 3)
    [0.31, 0.3, 0.31]
    >>> move_values(0.5, 0.01, 0.5, 2)
    [0.49, 0.5]
    """
    other = start + step if start + step <= high + 1e-12 else start - step
    return [round(other if move % 2 == 0 else start, 10) for move in range(moves)]


class KernelChannel:
    """One client's websocket to a kernel, speaking Jupyter messages in the v1 subprotocol.

    Parameters
    ----------
    connection : tornado.websocket.WebSocketClientConnection
    session_id : str
        The client's session (the ``session_id`` of the websocket's URL and of
        every header sent).
    on_comm : callable
        ``on_comm(comm_id, data)`` for every ``comm_msg`` on iopub.
    on_close : callable
        Called once when the websocket closes.
    """

    def __init__(self, connection, session_id, *, on_comm, on_close):
        self._connection = connection
        self.session_id = session_id
        self._on_comm, self._on_close = on_comm, on_close
        self._replies: dict[str, asyncio.Future] = {}
        self.closed = False
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def connect(cls, url: str, *, headers=None, timeout=PAGE_TIMEOUT, **callbacks):
        """Open the websocket at ``url`` (``ws://…/api/kernels/<id>/channels``, with any query)."""
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        session_id = uuid.uuid4().hex
        joiner = "&" if "?" in url else "?"
        request = HTTPRequest(f"{url}{joiner}session_id={session_id}", headers=headers,
                              connect_timeout=timeout, request_timeout=timeout)
        connection = await websocket_connect(request, subprotocols=[WS_PROTOCOL],
                                             max_message_size=MAX_MESSAGE_SIZE)
        if connection.selected_subprotocol != WS_PROTOCOL:
            connection.close()
            raise PageError(f"the server did not accept the {WS_PROTOCOL} subprotocol")
        return cls(connection, session_id, **callbacks)

    async def send(self, channel: str, msg_type: str, content: dict, *, metadata=None,
                   msg_id=None) -> str:
        """Send one message on ``channel`` (``"shell"``, …); return its ``msg_id``."""
        from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1

        msg_id = msg_id or uuid.uuid4().hex
        header = dict(msg_id=msg_id, msg_type=msg_type, username="load-server",
                      session=self.session_id, date=datetime.now(timezone.utc).isoformat(),
                      version=MESSAGE_VERSION)
        parts = [json.dumps(part).encode() for part in (header, {}, metadata or {}, content)]
        await self._connection.write_message(serialize_msg_to_ws_v1(parts, channel), binary=True)
        return msg_id

    async def request(self, channel: str, msg_type: str, content: dict) -> dict:
        """Send a request and return the content of its reply."""
        msg_id = uuid.uuid4().hex
        reply = self._replies[msg_id] = asyncio.get_running_loop().create_future()
        await self.send(channel, msg_type, content, msg_id=msg_id)
        return await reply

    def close(self):
        """Close the websocket (the kernel keeps running, as when a tab closes)."""
        self._connection.close()

    async def _read(self):
        from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1

        try:
            while (message := await self._connection.read_message()) is not None:
                channel, parts = deserialize_msg_from_ws_v1(message)
                # Only the header is read of most messages: the marks' data (the
                # buffers after the four JSON parts) is never decoded.
                msg_type = json.loads(parts[0])["msg_type"]
                if channel == "iopub" and msg_type == "comm_msg":
                    content = json.loads(parts[3])
                    self._on_comm(content["comm_id"], content["data"])
                elif msg_type.endswith("_reply"):
                    reply = self._replies.pop(json.loads(parts[1]).get("msg_id"), None)
                    if reply is not None and not reply.done():
                        reply.set_result(json.loads(parts[3]))
        finally:
            self.closed = True
            for reply in self._replies.values():
                if not reply.done():
                    reply.set_exception(ConnectionError("the kernel's websocket closed"))
            self._on_close()


class DashboardSession:
    """One visitor without a browser: the page over HTTP, the widgets over the kernel's websocket.

    Parameters
    ----------
    url : str
        The dashboard's page, with any query (``http://127.0.0.1:8866/?size=30``).

    Attributes
    ----------
    kernel_id : str or None
    models : dict
        ``{model_id: state}`` of every widget, kept up to date from the kernel's updates.
    delta_id, status_id : str or None
        Models of the δ slider and of the status line.
    """

    def __init__(self, url: str):
        self.url = url
        self.kernel_id = None
        self.models: dict[str, dict] = {}
        self.delta_id = self.status_id = None
        self._channel: KernelChannel | None = None
        self._control_id = None
        self._changed = asyncio.Event()

    @property
    def status(self) -> Status:
        """The status line as the kernel last sent it."""
        return Status.parse(self.models.get(self.status_id, {}).get("value", ""))

    @property
    def delta(self) -> float:
        """The δ slider's value as the kernel last sent it."""
        return self.models[self.delta_id]["value"]

    async def open(self, http, timeout: float = PAGE_TIMEOUT) -> float:
        """Load the page and its widgets; return the seconds until it is ready.

        Raises
        ------
        ServerFull
            The server answered 503.
        PageError
            Any other answer, a page without a kernel, widgets not found, an error shown.
        asyncio.TimeoutError
            Not ready within ``timeout`` seconds.
        """
        start = time.monotonic()
        await asyncio.wait_for(self._open(http, timeout), timeout)
        return time.monotonic() - start

    async def _open(self, http, timeout):
        response = await http.fetch(self.url, raise_error=False, request_timeout=timeout,
                                    connect_timeout=timeout)
        if response.code == 503:
            raise ServerFull("HTTP 503")
        if response.code != 200:
            raise PageError(f"HTTP {response.code}: {response.error or response.reason}")
        found = _CONFIG.search(response.body.decode("utf-8", errors="replace"))
        if found is None:
            raise PageError("no page configuration in the page")
        config = json.loads(found[1])
        self.kernel_id = config.get("kernelId")
        if not self.kernel_id:
            raise PageError("no kernel id in the page configuration")
        self._channel = await KernelChannel.connect(
            self._channel_url(config), headers=_cookie_header(response), timeout=timeout,
            on_comm=self._comm_message, on_close=self._changed.set)
        await self._channel.request("shell", "kernel_info_request", {})
        self._control_id = uuid.uuid4().hex
        await self._channel.send(
            "shell", "comm_open",
            {"comm_id": self._control_id, "target_name": CONTROL_TARGET, "data": {}},
            metadata={"version": CONTROL_VERSION})
        await self._channel.send("shell", "comm_msg", {"comm_id": self._control_id,
                                                       "data": {"method": "request_states"}})
        await self._until(lambda: bool(self.models))
        self._find_widgets()
        await self._until(lambda: self._ready_or_error(0))

    def _channel_url(self, config) -> str:
        """The kernel's websocket URL, as the page's script builds it."""
        parts = urlsplit(self.url)
        base = config.get("baseUrl") or "/"
        query = {}
        token = config.get("token") or parse_qs(parts.query).get("token", [""])[0]
        if token:
            query["token"] = token
        url = f"ws://{parts.netloc}{base.rstrip('/')}/api/kernels/{self.kernel_id}/channels"
        return f"{url}?{urlencode(query)}" if query else url

    def _find_widgets(self):
        for model_id, state in self.models.items():
            classes = state.get("_dom_classes") or []
            if state.get("_model_name") == "FloatSliderModel" and DELTA_CLASS in classes:
                self.delta_id = model_id
            elif state.get("_model_name") == "HTMLModel" and STATUS_CLASS in classes:
                self.status_id = model_id
        if self.delta_id is None or self.status_id is None:
            raise PageError(f"no δ slider or status line among {len(self.models)} widgets")

    def _comm_message(self, comm_id, data):
        method = data.get("method")
        if comm_id == self._control_id and method == "update_states":
            self.models = {model_id: dict(model["state"]) for model_id, model in
                           data["states"].items()}
        elif method in ("update", "echo_update") and comm_id in self.models:
            self.models[comm_id].update(data.get("state", {}))
        else:
            return
        self._changed.set()

    async def _until(self, condition):
        """Wait until ``condition()`` holds, re-checked after every change the kernel sends."""
        while not condition():
            if self._channel.closed:
                raise PageError("the kernel's websocket closed")
            self._changed.clear()
            await self._changed.wait()

    def _ready_or_error(self, after: int) -> bool:
        status = self.status
        if status.generation > after and status.kind == "error":
            raise PageError(f"the page shows an error: {status.text}")
        return status.generation > after and status.kind == "ready"

    async def move(self, value: float, timeout: float = MOVE_TIMEOUT) -> float:
        """Set δ to ``value`` as the slider would; return the seconds until the result is shown.

        Raises
        ------
        PageError
            An error shown instead, or a result that names another δ.
        asyncio.TimeoutError
            No complete result within ``timeout`` seconds.
        """
        before = self.status.generation
        start = time.monotonic()
        await self._channel.send("shell", "comm_msg", {
            "comm_id": self.delta_id,
            "data": {"method": "update", "state": {"value": value}, "buffer_paths": []},
        })
        await asyncio.wait_for(self._until(lambda: self._ready_or_error(before)), timeout)
        latency = time.monotonic() - start
        shown = self.status.delta
        if shown is not None and abs(shown - value) > 1e-6 + 0.005:
            raise PageError(f"moved δ to {value} but the result shown is for δ = {shown}")
        return latency

    async def close(self):
        """Close the websocket, as a closed tab does."""
        if self._channel is not None:
            self._channel.close()


def _cookie_header(response) -> dict:
    """The cookies the page set, sent back with the websocket's request as a browser would."""
    cookies = [value.split(";", 1)[0] for value in response.headers.get_list("Set-Cookie")]
    return {"Cookie": "; ".join(cookies)} if cookies else {}


# -- the server ----------------------------------------------------------------------------

def stop_server(process, timeout: float = KERNEL_STOP_TIMEOUT):
    """Stop a server by its process group, then any of its kernels that outlived it.

    Voila shuts its kernels down on SIGTERM; each kernel leads its own process
    group, so one still there after ``timeout`` seconds gets SIGTERM to its group,
    then SIGKILL.
    """
    kernels = set()
    if process.poll() is None:
        kernels = {kernel for pid in descendants(process.pid) if (kernel := _kernel(pid))}
    stop_voila(process)
    _SERVERS[:] = [server for server in _SERVERS if server is not process]
    _stop_kernel_groups(kernels | _KERNELS, timeout)


def _kernel(pid: int):
    """``(pid, start time)`` of a kernel process, None for any other process.

    The start time tells the same process from a later one given the same id
    (other people's kernels may run on this machine).
    """
    try:
        if b"ipykernel" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return None
        return pid, int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _stop_kernel_groups(kernels, timeout):
    """Wait up to ``timeout`` seconds for ``kernels`` to end; signal the groups of the rest."""
    deadline = time.monotonic() + timeout
    while (alive := [k for k in kernels if _kernel(k[0]) == k]) and time.monotonic() < deadline:
        time.sleep(0.2)
    for sent in (signal.SIGTERM, signal.SIGKILL):
        for kernel in alive:
            if _kernel(kernel[0]) == kernel:
                try:
                    os.killpg(kernel[0], sent)
                except OSError:
                    pass
        if not (alive := [k for k in alive if _kernel(k[0]) == k]):
            break
        time.sleep(1.0)
    _KERNELS.difference_update(kernels)


def parse_cores(text: str) -> set[int]:
    """The cores of a ``taskset -c`` list.

    Examples
    --------
    >>> sorted(parse_cores("0,2-3"))
    [0, 2, 3]
    """
    cores = set()
    for item in text.split(","):
        low, _, high = item.strip().partition("-")
        cores.update(range(int(low), int(high or low) + 1))
    return cores


# -- one run -------------------------------------------------------------------------------

async def _sample_memory(server_pid, peaks, stop):
    """Peak VmRSS of every kernel; every kernel seen is also remembered for the clean-up."""
    while not stop.is_set():
        for pid, rss in (await asyncio.to_thread(kernel_memory, server_pid)).items():
            peaks[pid] = max(peaks.get(pid, 0.0), rss)
            if kernel := _kernel(pid):
                _KERNELS.add(kernel)
        try:
            await asyncio.wait_for(stop.wait(), MEMORY_INTERVAL)
        except asyncio.TimeoutError:
            pass


async def _open_page(session, http, result, options):
    await asyncio.sleep(random.uniform(0.0, ARRIVAL_SPREAD))
    try:
        result["load"] = await session.open(http, options.page_timeout)
    except ServerFull:
        result["full"] = True
    except asyncio.TimeoutError:
        result["error"] = f"page not ready within {options.page_timeout:.0f} s"
    except Exception as error:  # counted and reported, never fatal for the other sessions
        result["error"] = f"page: {type(error).__name__}: {error}"


async def _move(session, result, options):
    if result["load"] is None:
        return
    delta = session.models[session.delta_id]
    values = move_values(delta["value"], delta["step"], delta["max"], options.moves)
    for number, value in enumerate(values, 1):
        await asyncio.sleep(random.uniform(*THINK_TIME))
        try:
            result["latencies"].append(await session.move(value, options.move_timeout))
        except asyncio.TimeoutError:
            result["error"] = f"move {number} not shown within {options.move_timeout:.0f} s"
            return
        except Exception as error:
            result["error"] = f"move {number}: {type(error).__name__}: {error}"
            return
    result["ok"] = True


async def _within(work: dict, deadline: float, what: str):
    """Wait for the tasks of ``work`` (task -> its result) until ``deadline``.

    The tasks left are cancelled and their results marked as cut off.
    """
    if not work:
        return
    _, pending = await asyncio.wait(work, timeout=max(0.0, deadline - time.monotonic()))
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in pending:
        if work[task]["error"] is None:
            work[task]["error"] = f"cut off during the {what}"


def _task(work: list, coroutine) -> asyncio.Task:
    """A task for ``coroutine``, remembered in ``work``."""
    work.append(asyncio.ensure_future(coroutine))
    return work[-1]


async def _first_of(event, task):
    """Wait until ``event`` is set or ``task`` has ended."""
    waiter = asyncio.ensure_future(event.wait())
    await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()


async def _run(options, sessions: int) -> dict:
    """One run: a fresh server, ``sessions`` driver sessions and the browsers; the figures."""
    from tornado.simple_httpclient import SimpleAsyncHTTPClient

    fresh = options.store in ("fresh", "warm")
    store = tempfile.mkdtemp(prefix="bpwidgets-load-store-") if fresh else None
    env = {"BPWIDGETS_STORE": store or "off"} if options.store != "keep" else None
    if options.store == "warm":
        # The lecturer's preparation (make class warms first): not part of the figures.
        subprocess.run([sys.executable, "-m", "bpwidgets.warm", "--quiet", "--store", store],
                       check=True)
    pool = [] if options.pool is None else ["--pool", str(options.pool)]
    pool += options.serve_arg
    port = options.port or free_port()
    # Started on this thread: a Ctrl-C meanwhile cancels the run only once the server is
    # known (and so stopped) below.
    launched, background = time.monotonic(), os.getloadavg()[0]
    process, base = start_voila(port, SERVER_LOG, lecture=options.lecture,
                                cores=options.server_cores, env=env, args=pool)
    _SERVERS.append(process)
    url = f"{base}?{options.query}" if options.query else base
    results = [new_result() for _ in range(sessions)]
    browser_results = [new_result() for _ in range(options.browsers)]
    drivers = [DashboardSession(url) for _ in range(sessions)]
    http = SimpleAsyncHTTPClient(force_instance=True, max_clients=sessions + 1,
                                 max_body_size=MAX_MESSAGE_SIZE)
    peaks, stop = {}, asyncio.Event()
    figures = dict(sessions=sessions, results=results, browsers=browser_results, peaks=peaks)
    work = []  # every task of the sessions: ended before what they use is closed
    sampler = asyncio.ensure_future(_sample_memory(process.pid, peaks, stop))
    playwright = None
    try:
        if _pool_size(options):
            # The lecturer starts the server before the class: every pool kernel waits
            # for a page when it arrives. Filling the pool is reported as its own figure,
            # not in the pages' CPU time.
            await wait_for_pool(SERVER_LOG)
            memory = await asyncio.to_thread(kernel_memory, process.pid)
            figures["pool"] = dict(
                kernels=_pool_size(options), seconds=time.monotonic() - launched,
                cpu=tree_cpu_seconds(process.pid), load=os.getloadavg()[0],
                memory=statistics.median(memory.values()) if memory else None)
        deadline = time.monotonic() + options.timeout
        if options.browsers:
            from playwright.async_api import async_playwright

            playwright = await async_playwright().start()
        browsers = [await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                    for _ in range(options.browsers)]
        moves_start = asyncio.Event()
        loaded = [asyncio.Event() for _ in browsers]

        def between(event):
            async def wait():
                event.set()
                await moves_start.wait()
            return wait

        # The machine is shared: its load is said with every figure. Before the server
        # started it is other people's work (and the warming of the store); when the
        # class comes it also counts the pool's kernels that were just preheated.
        figures["load"] = [background, os.getloadavg()[0]]
        cpu, clients = [tree_cpu_seconds(process.pid)], _client_cpu(process.pid)
        busy = _busy_seconds(parse_cores(options.server_cores))
        started = time.monotonic()
        browser_tasks = {_task(work, browser_session(
            browser, url, options.moves, result, page_timeout=1000 * options.page_timeout,
            viewport=VIEWPORT, screenshot=SCREENSHOT if i == 0 else None,
            between=between(loaded[i]))): result
            for i, (browser, result) in enumerate(zip(browsers, browser_results, strict=True))}
        await _within({_task(work, _open_page(session, http, result, options)): result
                       for session, result in zip(drivers, results, strict=True)},
                      deadline, "page loads")
        try:  # the browsers' pages too: the moves' CPU time must not include a page load
            await asyncio.wait_for(asyncio.gather(*(
                _first_of(event, task) for event, task in zip(loaded, browser_tasks, strict=True))),
                max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            pass  # cut off below, with the browser sessions
        cpu.append(tree_cpu_seconds(process.pid))
        figures["pages_time"] = time.monotonic() - started
        moves_start.set()
        await _within({_task(work, _move(session, result, options)): result
                       for session, result in zip(drivers, results, strict=True)},
                      deadline, "moves")
        await _within(browser_tasks, deadline, "browser sessions")
        cpu.append(tree_cpu_seconds(process.pid))
        figures["load"].append(os.getloadavg()[0])
        figures["elapsed"] = time.monotonic() - started
        figures["cpu_pages"], figures["cpu_moves"] = cpu[1] - cpu[0], cpu[2] - cpu[1]
        figures["clients"] = {role: seconds - clients.get(role, 0.0)
                              for role, seconds in _client_cpu(process.pid).items()}
        # Other people's work on the server's cores: what those cores did besides this
        # run (its clients too, when they share the cores).
        figures["busy"] = _busy_seconds(parse_cores(options.server_cores)) - busy
        figures["others"] = figures["busy"] - cpu[2] + cpu[0] - (
            0.0 if options.driver_cores else sum(figures["clients"].values()))
        for browser in browsers:
            await browser.close()
    finally:
        stop.set()
        for task in work:
            task.cancel()
        await asyncio.gather(sampler, *work, return_exceptions=True)
        for session in drivers:
            await session.close()
        http.close()
        if playwright is not None:
            await playwright.stop()  # ends its browsers too
        stop_server(process)
        if store:
            shutil.rmtree(store, ignore_errors=True)
    return figures


def _pool_size(options) -> int:
    """Preheated kernels of the server this run starts."""
    if options.pool is not None:
        return options.pool
    return class_pool() if options.lecture else 0


async def _run_stoppable(options, sessions: int) -> dict:
    """:func:`_run`, cancelled by SIGTERM as by Ctrl-C: its clean-up runs either way."""
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await _run(options, sessions)
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def _busy_seconds(cores: set[int]) -> float:
    """Seconds the given cores have spent on any work so far (not idle), from /proc/stat."""
    busy = 0
    for line in Path("/proc/stat").read_text().splitlines():
        name, *ticks = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cores:
            # user nice system idle iowait irq softirq steal: all but idle and iowait.
            user, nice, system, _, _, irq, softirq, steal = map(int, ticks[:8])
            busy += user + nice + system + irq + softirq + steal
    return busy / os.sysconf("SC_CLK_TCK")


def _client_cpu(server_pid: int) -> dict:
    """CPU seconds so far of the driver (this process) and of the browsers (its children)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    server_tree = {server_pid, *descendants(server_pid)}
    browsers = sum(cpu_seconds(pid) for pid in descendants(os.getpid()) if pid not in server_tree)
    return {"driver": usage.ru_utime + usage.ru_stime, "browsers": browsers}


# -- the report ----------------------------------------------------------------------------

def _median_p95(values, digits) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.{digits}f} s / {percentile(values, 95):.{digits}f} s"


def _browsers_cell(results) -> str:
    if not results:
        return "none"
    ok = sum(r["ok"] for r in results)
    full = sum(r["full"] for r in results)
    loads = [r["load"] for r in results if r["load"] is not None]
    moves = [t for r in results for t in r["latencies"]]
    text = f"{ok} of {len(results)} painted and moved"
    if full:
        text += f", {full} got the full page"
    if loads:
        text += f" (page {statistics.median(loads):.0f} s"
        text += f", move {statistics.median(moves):.1f} s)" if moves else ")"
    return text


def _row(options, figures) -> dict:
    results = figures["results"]
    loads = [r["load"] for r in results if r["load"] is not None]
    latencies = [t for r in results for t in r["latencies"]]
    browsers = figures["browsers"]
    pages = len(loads) + sum(r["load"] is not None for r in browsers)
    moves = len(latencies) + sum(len(r["latencies"]) for r in browsers)
    rss = list(figures["peaks"].values())
    full = sum(r["full"] for r in results)
    succeeded = sum(r["ok"] for r in results)
    return {
        "sessions": str(figures["sessions"]),
        "server cores": options.server_cores,
        "settings": ("class" if options.lecture else "voila.json")
        + ("" if options.pool is None else f", pool {options.pool}")
        + "".join(f", {arg.lstrip('-')}" for arg in options.serve_arg)
        + f", store {options.store}",
        "succeeded": f"{succeeded} of {len(results)}",
        "server full": str(full),
        "failed": str(len(results) - succeeded - full),
        "page ready (median / 95th pct.)": _median_p95(loads, 1),
        "δ update (median / 95th pct.)": _median_p95(latencies, 2),
        "server CPU per page": f"{figures['cpu_pages'] / pages:.1f} s" if pages else "-",
        "server CPU per move": f"{figures['cpu_moves'] / moves:.2f} s" if moves else "-",
        "memory per kernel (median)": f"{statistics.median(rss):.0f} MB" if rss else "-",
        "pool ready before the class (time / server CPU)": _pool_cell(figures.get("pool")),
        "browsers": _browsers_cell(browsers),
        "load average (before the server / class / end)": "{:.1f} / {:.1f} / {:.1f}".format(
            *figures["load"]),
    }


def _pool_cell(pool) -> str:
    if pool is None:
        return "no pool"
    return f"{pool['kernels']} kernels: {pool['seconds']:.0f} s / {pool['cpu']:.0f} s"


def _report_run(options, figures):
    """What one run did, in detail (the table comes at the end)."""
    results, browsers = figures["results"], figures["browsers"]
    pages = sum(r["load"] is not None for r in results + browsers)
    moves = sum(len(r["latencies"]) for r in results + browsers)
    print(f"\n== {figures['sessions']} sessions: pages phase {figures['pages_time']:.0f} s, "
          f"whole run {figures['elapsed']:.0f} s")
    pool = figures.get("pool")
    if pool is not None:
        memory = "-" if pool["memory"] is None else f"{pool['memory']:.0f} MB"
        print(f"pool: {pool['kernels']} kernels preheated {pool['seconds']:.0f} s after the "
              f"server was started, {pool['cpu']:.1f} s of server CPU (Voila's own start included), "
              f"{memory} per waiting kernel (median), load average {pool['load']:.1f}")
    print("load average (1 min): {:.1f} before the server started, {:.1f} when the class "
          "came, {:.1f} at the end".format(*figures["load"]))
    print(f"server CPU (Voila and its kernels): {figures['cpu_pages']:.1f} s for {pages} pages, "
          f"{figures['cpu_moves']:.1f} s for {moves} moves "
          f"(the browsers' {sum(r['load'] is not None for r in browsers)} pages and "
          f"{sum(len(r['latencies']) for r in browsers)} moves included)")
    for number in range(max((len(r["latencies"]) for r in results), default=0)):
        # The first move of a class computes a δ nobody has asked for yet; later ones
        # may find it in the shared store.
        times = [r["latencies"][number] for r in results if len(r["latencies"]) > number]
        print(f"δ update, move {number + 1}: median {statistics.median(times):.2f} s, "
              f"max {max(times):.2f} s ({len(times)} sessions)")
    rss = list(figures["peaks"].values())
    if rss:
        print(f"kernels seen: {len(rss)}; peak memory per kernel: median "
              f"{statistics.median(rss):.0f} MB, max {max(rss):.0f} MB, total {sum(rss):.0f} MB")
    clients = figures["clients"]
    print(f"clients' CPU: driver {clients['driver']:.1f} s, browsers {clients['browsers']:.1f} s")
    print(f"other processes on the server's cores: {max(0.0, figures['others']):.0f} CPU s "
          f"of {figures['busy']:.0f} s busy during the run (this machine is shared)")
    for index, result in enumerate(results):
        if result["error"]:
            print(f"  session {index}: {result['error']}")
    for index, result in enumerate(browsers):
        if result["error"]:
            print(f"  browser {index}: {result['error']}")


def _table(rows) -> str:
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(row[key] for key in header) + " |" for row in rows]
    return "\n".join(lines)


def _pin_driver(server_cores: set[int]):
    """Pin this process (and so the browsers it starts) to the cores the server does not use."""
    available = os.sched_getaffinity(0)
    if not server_cores <= available:
        raise SystemExit(f"--server-cores {sorted(server_cores)}: this process may use only "
                         f"cores {sorted(available)}")
    rest = available - server_cores
    if rest:
        os.sched_setaffinity(0, rest)
    return rest


class _QuietCancelled(logging.Filter):
    """Drops tornado's report of a cancelled request's connection closing (see above)."""

    def filter(self, record):
        return not record.getMessage().startswith(_CANCELLED_NOISE)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[10, 30, 100],
                        help="simultaneous sessions; several counts run in turn, each with a "
                             "fresh server (default: 10 30 100)")
    parser.add_argument("--moves", type=int, default=3, help="δ moves per session (default 3)")
    parser.add_argument("--server-cores", default="0",
                        help="cores of the server and its kernels, as for taskset -c "
                             "(default 0); the driver runs on the others")
    parser.add_argument("--class", dest="lecture", action="store_true",
                        help="serve with the class settings (python -m bpwidgets.serve --class)")
    parser.add_argument("--port", type=int, default=0,
                        help="the server's port (default: a free one)")
    parser.add_argument("--browsers", type=int, default=BROWSERS,
                        help=f"real headless browser sessions alongside (default {BROWSERS}; "
                             "0: none)")
    parser.add_argument("--query", default="", help="URL query of every page (default: none)")
    parser.add_argument("--store", choices=("fresh", "warm", "off", "keep"), default="fresh",
                        help="per-network result store of the kernels: an empty one per run "
                             "(default), a new one filled by python -m bpwidgets.warm before "
                             "the server starts, none, or the usual one (BPWIDGETS_STORE "
                             "unchanged)")
    parser.add_argument("--serve-arg", action="append", default=[], metavar="OPTION",
                        help="an option for the server, e.g. "
                             "--serve-arg=--VoilaKernelManager.fill_delay=600 (repeatable)")
    parser.add_argument("--pool", type=int, default=None,
                        help="preheated kernels of the class settings (default: "
                             "voila-class.json's)")
    parser.add_argument("--page-timeout", type=float, default=PAGE_TIMEOUT,
                        help="seconds a page may take to be ready (default %(default)s)")
    parser.add_argument("--move-timeout", type=float, default=MOVE_TIMEOUT,
                        help="seconds a move may take (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=RUN_TIMEOUT,
                        help="seconds before a run is cut off (default %(default)s)")
    options = parser.parse_args(argv)
    if options.browsers and not os.path.exists(CHROMIUM):
        parser.error(f"{CHROMIUM} is missing: run `make chromium`, or pass --browsers 0")
    driver_cores = options.driver_cores = _pin_driver(parse_cores(options.server_cores))
    print(f"server on core(s) {options.server_cores}, driver and browsers on "
          f"{','.join(map(str, sorted(driver_cores))) if driver_cores else 'the same cores'}; "
          f"{'voila.json + voila-class.json' if options.lecture else 'voila.json'}; "
          f"query: {options.query or '(defaults)'}; {options.moves} moves per session; "
          f"store: {options.store}", flush=True)
    random.seed(0)
    logging.getLogger("tornado.application").addFilter(_QuietCancelled())
    rows = []
    try:
        for sessions in options.sessions:
            figures = asyncio.run(_run_stoppable(options, sessions))
            _report_run(options, figures)
            rows.append(_row(options, figures))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("\ninterrupted: the server and its kernels are stopped", file=sys.stderr)
        return 130
    finally:
        for process in list(_SERVERS):  # a run interrupted beyond its own clean-up
            stop_server(process)
        _stop_kernel_groups(set(_KERNELS), 0.0)
    if not rows:
        return 1
    print()
    print(_table(rows))
    failed = sum(int(row["failed"]) for row in rows)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
