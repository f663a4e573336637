"""The Voila server behind ``python -m bpwidgets.serve``: a cap on kernels and a clear refusal.

Voila starts one kernel (a Python process of about 155 MB) for every page load.
:class:`CappedKernelManager` keeps the number of kernels at or below
``max_kernels``, the preheated pool included; past it a new visitor gets
:func:`full_page` with HTTP 503 and ``Retry-After`` at once, instead of a
server that runs out of memory for everybody. :class:`ServingVoila` is Voila
with that page, with the pool used only when it can give a kernel without
starting one past the cap, refilled only once the server is quiet
(``refill_quiet``), a log line once every pool kernel waits for its page
(:data:`POOL_PREHEATED`), and with the class settings ranked above
``voila.json``.

The kernel itself never imports this module: ``bpwidgets.serve`` imports it only
in the server process.

Examples
--------
>>> page = full_page()
>>> "The server is full: try again in a minute" in page
True
>>> 'content="60"' in page      # the page tries again by itself
True
"""

from __future__ import annotations

import asyncio
import html
import time
from datetime import datetime, timedelta, timezone

from jupyter_core.utils import ensure_async
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado.web import HTTPError
from traitlets import Float, Instance, Integer
from traitlets.config import Config
from voila.app import Voila
from voila.request_info_handler import RequestInfoSocketHandler
from voila.tornado.handler import TornadoVoilaHandler
from voila.utils import ENV_VARIABLE

__all__ = [
    "FULL_STATUS", "POOL_PREHEATED", "RETRY_AFTER", "SEAT_POLL_INTERVAL", "CappedKernelManager",
    "PageRequestChannel", "ServerFull", "ServingVoila", "ServingVoilaHandler", "full_page",
]

#: HTTP status of the refusal: the service is unavailable for now, not broken.
FULL_STATUS = 503
#: Seconds after which a refused visitor should try again (``Retry-After``, page refresh).
RETRY_AFTER = 60
#: Seconds between two looks for a free seat by a pool kernel waiting to start.
SEAT_POLL_INTERVAL = 1.0
#: What the server logs once every kernel of the pool has run the notebook up to its page
#: request (imports, the dashboard and its first result): the class may come.
POOL_PREHEATED = "is preheated"


class ServerFull(HTTPError):
    """Every kernel the server may run is taken (HTTP 503, logged without a traceback)."""

    def __init__(self, max_kernels: int):
        super().__init__(FULL_STATUS, "server full: %d kernels running", max_kernels)


def full_page(retry_after: int = RETRY_AFTER) -> str:
    """The HTML page a visitor gets while every kernel is taken.

    It reloads itself after ``retry_after`` seconds, so a refused student only waits.
    """
    seconds = int(retry_after)
    title = "The server is full: try again in a minute"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{seconds}">
<title>{html.escape(title)}</title>
</head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto; padding: 0 1em;">
<h1>{html.escape(title)}</h1>
<p>Every place on this dashboard server is taken right now. A place frees up
when someone closes the page or leaves it unused for a while.</p>
<p>This page tries again by itself in {seconds} seconds; the address keeps the
state you asked for.</p>
</body>
</html>
"""


def _started(pool) -> list:
    """The entries of a Voila pool (futures) whose kernel has started."""
    return [entry for entry in pool
            if entry.done() and not entry.cancelled() and entry.exception() is None]


def _is_pool_start(kwargs) -> bool:
    """True for a kernel Voila starts to keep in its preheated pool (no visitor waits for it)."""
    return (kwargs.get("env") or {}).get(ENV_VARIABLE.VOILA_PREHEAT) == "True"


class CappedKernelManager(AsyncMappingKernelManager):
    """Jupyter's kernel manager with a cap on the number of kernels.

    A kernel counts from the moment it is asked for until its process is gone;
    the kernels of Voila's preheated pool count too. A visitor's kernel past the
    cap raises :class:`ServerFull`; a pool kernel past it waits until a kernel is
    culled or shut down (a refused start would leave a failed entry in Voila's
    pool and stop its refilling). A pool kernel also waits until the server has
    been quiet for :attr:`refill_quiet` seconds (no page asked for, no visitor's
    kernel active): the pool refills after a class has arrived and between its
    moves, not while it arrives or works.
    """

    max_kernels = Integer(
        0, config=True,
        help="Most kernels running at once, the preheated pool included (0: no cap).",
    )
    refill_quiet = Float(
        10.0, config=True,
        help="Seconds without a page request and without activity of a visitor's kernel "
             "before a kernel of the preheated pool starts, so that refilling the pool "
             "competes neither with a class arriving nor with its students' moves.",
    )

    #: Set by :meth:`shutdown_all`: a pool start still waiting then gives up.
    _closing = False
    #: ``time.monotonic()`` of the latest page request (none yet: the pool fills at once).
    _last_page = float("-inf")

    def note_page(self):
        """A visitor asked for a page: pool starts wait for :attr:`refill_quiet` seconds."""
        self._last_page = time.monotonic()

    def is_quiet(self) -> bool:
        """True when, for :attr:`refill_quiet` seconds, no page was asked for and no
        visitor's kernel was active (a kernel of the pool waiting for its page is not
        a visitor's; one still starting is, and holds the next start back)."""
        if time.monotonic() - self._last_page < self.refill_quiet:
            return False
        since = datetime.now(timezone.utc) - timedelta(seconds=self.refill_quiet)
        waiting = self._pool_kernel_ids()
        return not any(getattr(kernel, "last_activity", None) is not None
                       and kernel.last_activity > since
                       for kernel_id, kernel in self._kernels.items()
                       if kernel_id not in waiting)

    def _pool_kernel_ids(self) -> set:
        """Kernels of the preheated pool that have started and wait for a visitor."""
        return {entry.result().get("kernel_id")
                for pool in getattr(self, "_pools", {}).values() for entry in _started(pool)}

    def kernel_count(self) -> int:
        """Kernels started, starting or shutting down: every one holds (or will hold) a process."""
        return len(set(self._kernels) | set(self._pending_kernels))

    def is_full(self) -> bool:
        """True when one more kernel would go past :attr:`max_kernels`."""
        return self.max_kernels > 0 and self.kernel_count() >= self.max_kernels

    async def start_kernel(self, **kwargs):
        """Start a kernel if there is room; see the class description."""
        if kwargs.get("kernel_id") not in self:
            if _is_pool_start(kwargs):
                await self._wait_for_turn()
            elif self.is_full():
                raise ServerFull(self.max_kernels)
        # From here to the parent's registering the kernel as pending nothing awaits, so
        # two requests cannot both take the last seat.
        return await ensure_async(super().start_kernel(**kwargs))

    async def _wait_for_turn(self):
        # Visitors come first: they take a free seat at once, a pool start only at its next
        # look, once pages have stopped coming for a while (starting and preheating a
        # kernel costs a core about 1.5 s). At shutdown the seats free up, but no new
        # kernel may start then.
        while not self._closing:
            if not self.is_full() and self.is_quiet():
                return
            await asyncio.sleep(SEAT_POLL_INTERVAL)
        raise ServerFull(self.max_kernels)

    def offer_pool_kernel(self, notebook_path) -> bool:
        """Put a started pool kernel where Voila takes it from; False if none should be taken.

        Voila hands out the pool's first entry, and waits for it if it is still
        starting. With a cap, an entry not started yet may end up waiting for a
        seat, and its visitor with it: only a started kernel is handed out then,
        and without one the visitor gets a kernel of their own, or the full page.

        The kernel offered is marked active now: it sat busy in the pool, silent
        since it started, and the culler (``cull_busy``) must not take that for a
        kernel stuck while it renders the visitor's page.
        """
        pool = getattr(self, "_pools", {}).get(notebook_path) or []
        for entry in pool:
            if entry.done() and not entry.cancelled() and entry.exception() is None:
                pool.remove(entry)
                pool.insert(0, entry)
                kernel = self._kernels.get(entry.result().get("kernel_id"))
                if kernel is not None:
                    kernel.last_activity = datetime.now(timezone.utc)
                return True
        return bool(pool) and self.max_kernels <= 0

    def _handle_kernel_died(self, kernel_id):
        """Jupyter's clean-up of a dead kernel, then the pool's: a dead entry is replaced.

        A pool kernel can die before any visitor comes: with many kernels starting at
        once, another process may take one of the ports chosen for it before it binds
        them ("Address already in use"). Voila would keep the dead entry, hand it to a
        visitor, and never reach a full pool again.
        """
        super()._handle_kernel_died(kernel_id)
        self.drop_failed_pool_kernels()

    def drop_failed_pool_kernels(self) -> int:
        """Remove the pool's entries that failed to start or whose kernel is gone; refill.

        Returns the number removed.
        """
        removed = 0
        for notebook, pool in getattr(self, "_pools", {}).items():
            failed = [entry for entry in pool if entry.done() and (
                entry.cancelled() or entry.exception() is not None
                or entry.result().get("kernel_id") not in self._kernels)]
            for entry in failed:
                pool.remove(entry)
                rendering = entry in _started([entry]) and entry.result().get("task")
                if rendering:
                    rendering.cancel()  # the notebook it was rendering, for nobody now
            if failed and not self._closing:
                self.log.warning("Kernel pool of %s: %d kernel(s) failed before a visitor came; "
                                 "starting new ones", notebook, len(failed))
                self.fill_if_needed(delay=0, notebook_name=notebook)
            removed += len(failed)
        return removed

    def note_waiting(self, waiting):
        """Log when every kernel of a pool waits for its page request (``waiting``: their ids).

        Voila logs a full pool as soon as its kernels have started; they then
        still run the notebook up to the request for a second or more each. Only
        then does a visitor's page cost the server little.
        """
        for notebook, pool in getattr(self, "_pools", {}).items():
            started = _started(pool)
            if (pool and len(started) == len(pool)
                    and all(entry.result().get("kernel_id") in waiting for entry in started)):
                self.log.info("Kernel pool of %s %s: %d kernel(s) wait for a page", notebook,
                              POOL_PREHEATED, len(pool))

    async def shutdown_all(self, *args, **kwargs):
        """Shut every kernel down; pool starts still waiting for a seat give up."""
        self._closing = True
        return await ensure_async(super().shutdown_all(*args, **kwargs))


class ServingVoilaHandler(TornadoVoilaHandler):
    """Voila's page handler, with the full page and the cap-aware use of the pool."""

    def should_use_rendered_notebook(self, notebook_data, pool_size, template_name, theme,
                                     request_args):
        """Voila's choice, and only when the pool has a kernel to give right now."""
        note = getattr(self.kernel_manager, "note_page", None)
        if note is not None:  # every page request passes here, before its kernel is chosen
            note()
        use = super().should_use_rendered_notebook(notebook_data, pool_size, template_name,
                                                   theme, request_args)
        offer = getattr(self.kernel_manager, "offer_pool_kernel", None)
        # Voila takes the pool's first entry right after this answer, with nothing between.
        return use and (offer is None or offer(self.notebook_path))

    def write_error(self, status_code, **kwargs):
        """The full page for a 503, Jupyter's error page for anything else."""
        if status_code != FULL_STATUS:
            return super().write_error(status_code, **kwargs)
        self.set_header("Retry-After", str(RETRY_AFTER))
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(full_page())


class PageRequestChannel(RequestInfoSocketHandler):
    """Voila's channel on which a preheated kernel waits for its page request.

    It tells the kernel manager (:meth:`CappedKernelManager.note_waiting`) each
    time a kernel starts waiting, so the server can say when its pool is ready.
    """

    def open(self, kernel_id: str) -> None:
        """Voila's ``open``, then the news of one more kernel waiting."""
        super().open(kernel_id)
        note = getattr(self.settings.get("kernel_manager"), "note_waiting", None)
        if note is not None:
            note(set(RequestInfoSocketHandler._waiters))


class ServingVoila(Voila):
    """Voila serving pages with :class:`ServingVoilaHandler`.

    ``overrides`` (a traitlets ``Config``) ranks above the ``voila.json`` files and
    below the command line: the class settings must win over the single-user
    ones, and an option typed by hand over both.
    """

    overrides = Instance(Config, args=(), help="Settings above voila.json, below the command line.")
    classes = [*Voila.classes, CappedKernelManager]

    def load_config_file(self, *args, **kwargs):
        """Load the files as Voila does, then put :attr:`overrides` and the command line on top."""
        super().load_config_file(*args, **kwargs)
        settings = Config()
        settings.merge(self.overrides)
        settings.merge(self.cli_config)
        self.update_config(settings)

    def init_handlers(self):
        """Voila's handlers, with :class:`ServingVoilaHandler` and :class:`PageRequestChannel`."""
        ours = {TornadoVoilaHandler: ServingVoilaHandler,
                RequestInfoSocketHandler: PageRequestChannel}
        return [
            (entry[0], ours[entry[1]], *entry[2:])
            if isinstance(entry, tuple) and len(entry) >= 2 and entry[1] in ours
            else entry
            for entry in super().init_handlers()
        ]
