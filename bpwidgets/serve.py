"""Serve the dashboard with Voila: ``python -m bpwidgets.serve [--ip --port --base-url --class]``.

Voila runs from the repository root, so it reads the repository's ``voila.json``
(sources stripped, no tracebacks on the page, the forwarded headers passed to
the kernel) and serves ``notebooks/dashboard.ipynb``. ``--class`` adds the
settings of ``voila-class.json`` for a lecture hall: a pool of preheated kernels
(``--pool N`` sets its size), a cap on the number of kernels, culling of
unwatched kernels, and the limits of one visitor's request (the
``BpwidgetsLimits`` section, handed to the kernels in the environment variable
``BPWIDGETS_LIMITS``). The README's "Serving a class"
explains the choices.

The settings rank, from low to high: this module's defaults (``SERVER_DEFAULTS``),
``voila.json``, ``voila-class.json``, the command line. Options other than the
launcher's own, such as ``--MappingKernelManager.cull_idle_timeout=120``, go to Voila.

The kernel imports this module too (:func:`request_query`), so Voila and the
server's classes (``bpwidgets.serving``) are imported only when serving. A
preheated kernel waits for its page request here (:func:`wait_for_request`)
without importing Voila at all.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import logging
import os
import socket
import sys
import threading
import time
from pathlib import Path

from .session.visitor import LIMITS_VARIABLE, VisitorLimits

__all__ = [
    "CLASS_CONFIG", "DEFAULT_IP", "DEFAULT_PORT", "LIMITS_SECTION", "LIMITS_VARIABLE",
    "LIMIT_KEYS", "NOTEBOOK", "REQUEST_DEADLINE", "REQUEST_OPEN_TIMEOUT", "REQUEST_RETRY", "ROOT",
    "SERVER_DEFAULTS",
    "class_config", "class_settings", "main", "normalize_base_url", "port_in_use", "preheated",
    "request_channel", "request_query", "voila_arguments", "wait_for_request",
]

_log = logging.getLogger("bpwidgets")

#: Voila's own default port.
DEFAULT_PORT = 8866
#: Only this machine can reach the server unless told otherwise (``--ip 0.0.0.0``).
DEFAULT_IP = "127.0.0.1"
#: Repository root: Voila reads ``voila.json`` from its working directory.
ROOT = Path(__file__).resolve().parent.parent
#: The thin notebook that builds and displays the dashboard.
NOTEBOOK = ROOT / "notebooks" / "dashboard.ipynb"
#: Settings for serving a whole class, added by ``--class`` to those of ``voila.json``.
CLASS_CONFIG = ROOT / "voila-class.json"
#: The section of ``voila-class.json`` that is not Voila's: limits of one visitor's request.
LIMITS_SECTION = "BpwidgetsLimits"
#: Keys of :data:`LIMITS_SECTION` -> keys of the JSON in :data:`LIMITS_VARIABLE`.
LIMIT_KEYS = {"max_size": "size", "max_seeds": "seeds", "max_pins": "pins", "max_disks": "disks"}
#: Culling when serving one user (``make app``): a kernel whose page is gone (closed
#: without notice, or fetched by a program that never opened a connection) is shut
#: down after 15 minutes; an open tab is never culled.
SERVER_DEFAULTS = {
    "MappingKernelManager": {
        "cull_idle_timeout": 900,
        "cull_interval": 60,
        "cull_connected": False,
        "cull_busy": False,
    },
}
#: Addresses that mean "every interface": the kernels reach the server on the loopback.
_WILDCARDS = {"", "0.0.0.0", "::"}
#: Seconds one attempt of a preheated kernel to reach the server's request channel may
#: take. Voila's own client gives up after 5 s and then renders the page without its
#: request (the defaults, whatever the link asked for); a server starting a class's pool
#: on one core can be slower than that.
REQUEST_OPEN_TIMEOUT = 60.0
#: Seconds between two attempts to reach the request channel (the server still starting).
REQUEST_RETRY = 1.0
#: Seconds a preheated kernel keeps trying to reach the request channel before it gives up
#: and renders the page without its request (the defaults), as Voila's client does after
#: 5 s. A server starting a class's pool of 35 on one core took 50 to 74 s to preheat it
#: (README, "Serving a class"); a channel still out of reach after 10 minutes is a wrong
#: address (``VOILA_APP_IP``, the port, the scheme), and waiting on would hang the page of
#: every visitor handed such a kernel.
REQUEST_DEADLINE = 600.0
#: What Voila puts in a preheated kernel's environment (names of ``voila.utils.ENV_VARIABLE``,
#: checked by tests/test_serve.py): importing ``voila.utils`` would cost every kernel
#: about 2 s of CPU and its memory (it imports Voila's server, nbconvert, jupyterlab_server).
_PREHEAT, _KERNEL_ID = "VOILA_PREHEAT", "VOILA_KERNEL_ID"
_APP_IP, _APP_PORT, _SERVER_URL = "VOILA_APP_IP", "VOILA_APP_PORT", "VOILA_SERVER_URL"
_WS_PROTOCOL, _WS_BASE_URL, _QUERY = "VOILA_WS_PROTOCOL", "VOILA_WS_BASE_URL", "QUERY_STRING"


def class_settings(path: Path = CLASS_CONFIG):
    """The class settings, split into Voila's part and the request limits.

    Parameters
    ----------
    path : Path
        A JSON file of traitlets sections (``voila-class.json``), with an optional
        :data:`LIMITS_SECTION` of integers ``max_size``, ``max_seeds``, ``max_pins``,
        ``max_disks``.

    Returns
    -------
    voila_config : traitlets.config.Config
        Every section but :data:`LIMITS_SECTION`.
    limits : dict
        ``{"size": ..., "seeds": ..., "pins": ..., "disks": ...}`` (the keys present in
        the file), the value of :data:`LIMITS_VARIABLE`.

    Raises
    ------
    ValueError
        On an unknown key in :data:`LIMITS_SECTION`, or a value the kernels'
        :class:`~bpwidgets.session.visitor.VisitorLimits` would refuse (a grid
        below the smallest, no seeds, fewer than 0 pins).
    """
    from traitlets.config import Config

    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    section = raw.pop(LIMITS_SECTION, {})
    unknown = sorted(set(section) - set(LIMIT_KEYS))
    if unknown:
        raise ValueError(f"{path}: {LIMITS_SECTION} has no key(s) {unknown}; "
                         f"known: {sorted(LIMIT_KEYS)}")
    limits = {name: section[key] for key, name in LIMIT_KEYS.items() if key in section}
    # Checked as the kernels will read them: a limit they would refuse (and then serve
    # without any limit) stops the server here instead.
    try:
        VisitorLimits(**limits)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: {LIMITS_SECTION}: {error}") from None
    return Config(raw), limits


def class_config(path: Path = CLASS_CONFIG):
    """Voila's part of the class settings as a traitlets ``Config`` (section -> trait -> value)."""
    return class_settings(path)[0]


def normalize_base_url(base_url: str) -> str:
    """``bp``, ``/bp`` or ``/bp/`` -> ``/bp/``; empty -> ``/`` (Voila joins paths to it as is)."""
    parts = [part for part in base_url.split("/") if part]
    return "/" + "".join(part + "/" for part in parts)


def port_in_use(ip: str, port: int) -> bool:
    """True when something already listens on ``ip``:``port`` (a bind is refused).

    The probe sets ``SO_REUSEADDR`` as Tornado does, so a port left in TIME_WAIT by
    a server just stopped counts as free. Other bind errors (an address this
    machine does not have, a privileged port) raise ``OSError``.
    """
    infos = socket.getaddrinfo(ip or None, port, type=socket.SOCK_STREAM,
                               flags=socket.AI_PASSIVE)
    for family, kind, protocol, _, address in infos:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as error:
                if error.errno == errno.EADDRINUSE:
                    return True
                raise
    return False


def _url_host(ip: str) -> str:
    """``ip`` as it goes into a URL (an IPv6 address in brackets; a wildcard -> the loopback)."""
    if ip in _WILDCARDS or ip == "localhost":
        return "[::1]" if ip == "::" else "127.0.0.1"
    return f"[{ip}]" if ":" in ip else ip


def voila_arguments(port: int, *, ip: str = DEFAULT_IP, base_url: str = "/") -> list[str]:
    """Command-line arguments for Voila serving the dashboard on ``ip``:``port``/``base_url``.

    ``port_retries=0``: Voila would otherwise move to another port silently when this
    one is taken, and the address printed would be wrong.
    """
    return [
        str(NOTEBOOK.relative_to(ROOT)),
        f"--port={port}",
        f"--Voila.ip={ip}",
        f"--Voila.base_url={normalize_base_url(base_url)}",
        "--Voila.port_retries=0",
        "--no-browser",
    ]


def preheated(environ=None) -> bool:
    """True in a kernel of Voila's preheated pool (its page request comes later, or came)."""
    environ = os.environ if environ is None else environ
    return environ.get(_PREHEAT, "False") != "False"


def request_channel(environ=None) -> str:
    """The websocket on which Voila hands a preheated kernel its page request.

    Built from the variables Voila gives the kernel, as ``voila.utils.wait_for_request``
    builds it: ``ws://<VOILA_APP_IP>:<VOILA_APP_PORT><base>voila/query/<kernel id>``.

    Examples
    --------
    >>> request_channel({"VOILA_APP_IP": "127.0.0.1", "VOILA_APP_PORT": "8866",
    ...                  "VOILA_SERVER_URL": "/bp/", "VOILA_KERNEL_ID": "k1"})
    'ws://127.0.0.1:8866/bp/voila/query/k1'
    """
    environ = os.environ if environ is None else environ
    base = environ.get(_WS_BASE_URL, environ.get(_SERVER_URL, "/"))
    return (f"{environ.get(_WS_PROTOCOL, 'ws')}://{environ.get(_APP_IP, '127.0.0.1')}:"
            f"{environ.get(_APP_PORT, str(DEFAULT_PORT))}{base}voila/query/"
            f"{environ.get(_KERNEL_ID, '')}")


def wait_for_request(environ=None, *, open_timeout: float = REQUEST_OPEN_TIMEOUT,
                     retry: float = REQUEST_RETRY, deadline: float = REQUEST_DEADLINE):
    """Block until a page request takes this preheated kernel; put its variables in ``environ``.

    Voila's page handler sends the request's variables (``QUERY_STRING``,
    ``SERVER_NAME``, the forwarded headers of ``http_header_envs``, ...) as one
    JSON object on :func:`request_channel`, or keeps them until the kernel
    connects. This is ``voila.utils.wait_for_request`` without importing Voila,
    and slower to give up: a kernel that cannot reach the channel yet tries
    again every ``retry`` seconds, since rendering without the request would show
    a visitor the defaults instead of their link. Once the channel has been out
    of reach for ``deadline`` seconds in a row (:data:`REQUEST_DEADLINE`: a wrong
    address, not a slow server) it logs an error and returns, leaving
    ``environ`` as it was: the page then opens on the defaults instead of never.
    Once connected, it waits for its visitor as long as it takes.

    Raises
    ------
    RuntimeError
        When the server refuses the channel (an HTTP answer instead of a websocket).
    """
    from websockets.exceptions import ConnectionClosed, InvalidHandshake

    environ = os.environ if environ is None else environ
    url = request_channel(environ)
    give_up = time.monotonic() + deadline
    warned = False
    while True:
        # An attempt ends by the deadline (or one retry after it), not a whole open_timeout on.
        timeout = min(open_timeout, max(give_up - time.monotonic(), retry))
        try:
            payload = _on_own_thread(_receive_one(url, timeout))
            break
        except InvalidHandshake as error:
            raise RuntimeError(f"the server refused the page-request channel {url}: "
                               f"{error}") from None
        except (OSError, TimeoutError, asyncio.TimeoutError, ConnectionClosed) as error:
            if isinstance(error, ConnectionClosed):  # reached, then lost: out of reach from now
                give_up = time.monotonic() + deadline
            left = give_up - time.monotonic()
            if left <= 0:
                _log.error("bpwidgets: could not reach %s for %g s (%s); rendering the page "
                           "without its request (the defaults): check VOILA_APP_IP, the port "
                           "and the scheme", url, deadline, error)
                return
            if not warned:
                _log.warning("bpwidgets: cannot reach %s yet (%s); trying again every %g s "
                             "for up to %g s", url, error, retry, deadline)
                warned = True
            time.sleep(min(retry, left))
    environ.update(json.loads(payload))


async def _receive_one(url: str, open_timeout: float) -> str:
    import websockets

    async with websockets.connect(url, open_timeout=open_timeout) as channel:
        return await channel.recv()


def _on_own_thread(coroutine):
    """Run ``coroutine`` to its end on a thread of its own (the kernel's may run a loop)."""
    outcome = {}

    def run():
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as error:  # raised again on the calling thread
            outcome["error"] = error

    thread = threading.Thread(target=run, name="bpwidgets-page-request")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def request_query(environ=None) -> str:
    """The query string of the page request that started this kernel.

    In a preheated kernel (:func:`preheated`) the notebook runs before any page
    asks for it: this waits for the request (:func:`wait_for_request`), which
    then sets the same variables as for an ordinary kernel. Call it once.
    """
    environ = os.environ if environ is None else environ
    if preheated(environ):
        wait_for_request(environ)
    return environ.get(_QUERY, "")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bpwidgets.serve",
        description="Serve the bpwidgets dashboard with Voila. Other options of the form "
                    "--Class.trait=value go to Voila.",
    )
    parser.add_argument("--ip", default=DEFAULT_IP,
                        help=f"address to listen on (default {DEFAULT_IP}; 0.0.0.0: every "
                             "interface)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port to listen on (default {DEFAULT_PORT}); the server stops if "
                             "it is taken")
    parser.add_argument("--base-url", default="/",
                        help="path the dashboard is served under, e.g. /bp/ behind a reverse "
                             "proxy (default /)")
    parser.add_argument("--class", dest="lecture", action="store_true",
                        help=f"serve a class: add the settings of {CLASS_CONFIG.name} "
                             "(preheated kernels, a cap, culling, request limits)")
    parser.add_argument("--max-kernels", type=int, default=None, metavar="N",
                        help=f"most kernels at once, the pool included; past it a visitor gets "
                             f"'server full' (default: {CLASS_CONFIG.name}'s value with "
                             "--class, no cap otherwise; 0: no cap)")
    parser.add_argument("--pool", type=int, default=None, metavar="N",
                        help=f"preheated kernels kept ready for visitors, within the cap "
                             f"(default: {CLASS_CONFIG.name}'s value with --class, none "
                             "otherwise; 0: none)")
    return parser


#: Voila's own forms of ``--pool`` and ``--max-kernels``, as they may come among the options
#: passed on to Voila (``--Class.trait=value``): option -> key in :func:`_pool_arguments`.
_VOILA_FORMS = {
    "--VoilaConfiguration.default_pool_size": "default_pool_size",
    "--VoilaConfiguration.preheat_kernel": "preheat_kernel",
    "--CappedKernelManager.max_kernels": "max_kernels",
}


def _pool_arguments(options, class_voila, extra=()) -> list[str]:
    """Voila's options for ``--pool``; ``ValueError`` when the pool cannot fit under the cap.

    ``extra``: the options going to Voila as they are, which may set the pool and
    the cap too (:data:`_VOILA_FORMS`), above the class file. Setting one both
    ways is refused: Voila would get the trait twice and stop at its start.
    """
    given = {}
    for argument in extra:
        name, _, value = argument.partition("=")
        if name in _VOILA_FORMS:
            given[_VOILA_FORMS[name]] = value
    if options.pool is not None and {"default_pool_size", "preheat_kernel"} & set(given):
        raise ValueError("--pool and --VoilaConfiguration.default_pool_size/preheat_kernel "
                         "both set the pool: give one")
    if options.max_kernels is not None and "max_kernels" in given:
        raise ValueError("--max-kernels and --CappedKernelManager.max_kernels both set the "
                         "cap: give one")
    try:
        preheat = dict(class_voila.VoilaConfiguration) if options.lecture else {}
        if "default_pool_size" in given:
            preheat["default_pool_size"] = int(given["default_pool_size"])
        if "preheat_kernel" in given:
            preheat["preheat_kernel"] = given["preheat_kernel"].lower() == "true"
        cap = options.max_kernels
        if cap is None and "max_kernels" in given:
            cap = int(given["max_kernels"])
    except ValueError as error:
        raise ValueError(f"a pool size and a cap are whole numbers: {error}") from None
    pool = options.pool
    if pool is None:
        pool = preheat.get("default_pool_size", 1) if preheat.get("preheat_kernel") else 0
    if cap is None:
        cap = class_voila.CappedKernelManager.get("max_kernels", 0) if options.lecture else 0
    if cap and pool > cap:
        raise ValueError(f"a pool of {pool} kernels is more than the cap of {cap} (--pool, "
                         "--max-kernels): the rest of the pool would never start")
    if options.pool is None:
        return []
    if options.pool == 0:
        return ["--VoilaConfiguration.preheat_kernel=False"]
    return ["--VoilaConfiguration.preheat_kernel=True",
            f"--VoilaConfiguration.default_pool_size={options.pool}"]


def main(argv=None) -> int:
    """Parse the options, check the port, print the URL and run Voila until interrupted."""
    parser = _parser()
    options, extra = parser.parse_known_args(argv)
    stray = [arg for arg in extra if not (arg.startswith("--") and "." in arg.split("=")[0])]
    if stray:
        parser.error(f"unrecognized arguments: {' '.join(stray)}")
    if options.max_kernels is not None and options.max_kernels < 0:
        parser.error("--max-kernels must be 0 (no cap) or more")
    if options.pool is not None and options.pool < 0:
        parser.error("--pool must be 0 (no preheated kernels) or more")
    if not NOTEBOOK.is_file():
        parser.error(f"{NOTEBOOK} not found: run from a checkout of the repository")
    try:
        taken = port_in_use(options.ip, options.port)
    except OSError as error:
        parser.exit(1, f"{parser.prog}: error: cannot listen on {options.ip} port "
                       f"{options.port}: {error.strerror}\n")
    if taken:
        parser.exit(1, f"{parser.prog}: error: port {options.port} on {options.ip} is already "
                       "in use: stop the other server or choose another --port\n")

    from traitlets.config import Config

    from .serving import CappedKernelManager, ServingVoila

    defaults = Config(SERVER_DEFAULTS)
    defaults.VoilaConfiguration.multi_kernel_manager_class = CappedKernelManager
    overrides = Config()
    if options.lecture:
        overrides, limits = class_settings()
        if limits:
            # Kernels inherit the server's environment (pool kernels included).
            os.environ[LIMITS_VARIABLE] = json.dumps(limits)
    try:
        pool = _pool_arguments(options, overrides, extra)
    except ValueError as error:
        parser.error(str(error))
    arguments = voila_arguments(options.port, ip=options.ip, base_url=options.base_url)
    if options.max_kernels is not None:
        arguments.append(f"--CappedKernelManager.max_kernels={options.max_kernels}")
    arguments += pool
    # A preheated kernel asks the server for its page request over a websocket on this
    # address (voila.utils.wait_for_request); 127.0.0.1 would miss a server bound elsewhere.
    os.environ["VOILA_APP_IP"] = _url_host(options.ip)

    os.chdir(ROOT)
    base_url = normalize_base_url(options.base_url)
    where = " (listening on every interface of this machine)" if options.ip in _WILDCARDS else ""
    print(f"bpwidgets dashboard: http://{_url_host(options.ip)}:{options.port}{base_url}{where}",
          flush=True)
    ServingVoila.launch_instance(argv=arguments + extra, config=defaults, overrides=overrides)
    return 0


if __name__ == "__main__":
    sys.exit(main())
