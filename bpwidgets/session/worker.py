"""The latest-wins worker: one background thread that computes what the page asks for.

:class:`LatestWorker` runs jobs on one thread with a single "latest request
wins" slot, so a burst of slider moves costs one computation, not a backlog.
It knows nothing of widgets or of what a job computes.

The thread must never die silently: a dead worker would queue every later
request forever while the page kept showing its last status. So every failure
(of a job, of ``deliver``, of the callbacks) is logged with its traceback on the
``"bpwidgets"`` logger (a Voila kernel's log is the server's log) and, where
possible, delivered so the page can show it; and ``submit`` replaces a thread
that has died anyway.

``KeyboardInterrupt`` and ``GeneratorExit`` mean "stop", not "failed". On the
main thread (``run_now``, ``background=False``) they propagate, so Ctrl-C or
interrupting the kernel stops a synchronous computation. Python interrupts only
the main thread, so on the worker (or busy timer) thread one can only have been
raised by the job or a callback itself; there is nobody to propagate it to, and
ending the thread would strand later requests: it is delivered like any failure.
(``GeneratorExit`` never legitimately reaches the worker: closing a staged job
raises it inside the generator, and ``close()`` absorbs it.)
"""

from __future__ import annotations

import inspect
import logging
import threading

__all__ = ["BUSY_DELAY", "LatestWorker"]

#: Work that takes longer than this (seconds) shows the busy indicator.
BUSY_DELAY = 0.3

_log = logging.getLogger("bpwidgets")
#: Requests to stop rather than failures: re-raised on the main thread.
_STOP = (KeyboardInterrupt, GeneratorExit)


class LatestWorker:
    """One background thread with a single "latest request wins" slot.

    ``submit`` replaces any job still waiting, so a burst of requests costs one
    computation after the one under way. A finished result (or a staged job's first
    stage) is delivered even if a newer job is waiting (it is newer than what the
    page shows, which keeps a long slider drag visibly moving), but the later stages
    of a staged job are dropped: one computed after the newer job came is not
    delivered, and none is started after it.

    Parameters
    ----------
    on_busy : callable
        Called (on a timer thread) when a job runs longer than ``busy_delay``.
    busy_delay : float
        Seconds before ``on_busy``.
    background : bool
        False runs every job synchronously inside ``submit`` (for tests and scripts).
    on_failure : callable
        Called with the last exception when ``deliver`` raised and then raised
        again when given that error, so the owner can still show something.

    Examples
    --------
    >>> results = []
    >>> worker = LatestWorker(background=False)
    >>> worker.submit(lambda: 6 * 7, results.append)
    >>> results
    [42]
    """

    def __init__(self, *, on_busy=None, busy_delay=BUSY_DELAY, background=True,
                 on_failure=None):
        self._on_busy = on_busy
        self._busy_delay = busy_delay
        self._background = background
        self._on_failure = on_failure
        self._condition = threading.Condition()
        self._pending = None
        self._running = False
        self._closed = False
        self._thread = None
        if background:
            self._start_thread()

    @property
    def alive(self) -> bool:
        """Whether the worker thread is running (never with ``background=False``)."""
        return self._thread is not None and self._thread.is_alive()

    def submit(self, job, deliver):
        """Run ``deliver(outcome)`` with ``outcome = job()`` or the exception it raised.

        A job may return a generator: each item it yields is delivered, and the
        rest is dropped as soon as a newer job waits (its stages are stale): a
        stage finished after the newer job came is not delivered (unless it is the
        first), and no further stage is computed.
        The callback runs on the worker thread; if it raises, the error is logged
        and delivered in its place.
        """
        if not self._background:
            self.run_now(job, deliver)
            return
        with self._condition:
            self._pending = (job, deliver)
            if not self._closed and not self.alive:
                _log.warning("bpwidgets: the worker thread had stopped; starting a new one")
                self._start_thread()
            self._condition.notify_all()

    def run_now(self, job, deliver):
        """Run a job synchronously on the calling thread, with the same error handling."""
        self._run(job, deliver)

    def wait(self, timeout=None) -> bool:
        """Block until no job is waiting or running; False on timeout."""
        with self._condition:
            return self._condition.wait_for(
                lambda: self._pending is None and not self._running, timeout
            )

    def close(self):
        """Stop the thread after the job under way; waiting jobs are dropped."""
        with self._condition:
            self._closed = True
            self._pending = None
            self._condition.notify_all()

    # -- the thread -------------------------------------------------------------------------

    def _start_thread(self):
        # Called under the condition (or before the thread exists): nothing runs now.
        self._running = False
        self._thread = threading.Thread(target=self._loop, name="bpwidgets-worker", daemon=True)
        self._thread.start()

    def _loop(self):
        try:
            while (taken := self._take()) is not None:
                try:
                    self._run(*taken)
                except BaseException:  # _run handles every failure; this is a bug in it
                    _log.critical("bpwidgets: the worker failed", exc_info=True)
                finally:
                    with self._condition:
                        self._running = False
                        self._condition.notify_all()
        except BaseException:  # unforeseen: say so, and leave no job waiting forever
            _log.critical("bpwidgets: the worker thread stopped", exc_info=True)
            with self._condition:
                self._thread = None  # ending: a submit() from now on starts a new one
                if self._pending is not None and not self._closed:
                    self._start_thread()

    def _take(self):
        """The next ``(job, deliver)``, marked running; None once closed."""
        with self._condition:
            self._condition.wait_for(lambda: self._pending is not None or self._closed)
            if self._closed:
                return None
            taken, self._pending = self._pending, None
            self._running = True
            return taken

    # -- one job ----------------------------------------------------------------------------

    def _run(self, job, deliver):
        timer = None
        if self._on_busy is not None and self._background:
            timer = threading.Timer(self._busy_delay, self._guarded, (self._on_busy,))
            timer.daemon = True
            timer.start()
        try:
            outcome = job()
            if inspect.isgenerator(outcome):
                self._run_stages(outcome, deliver, timer)
                return
        except BaseException as error:  # shown on the page by ``deliver``, never re-raised
            self._raise_if_stop(error)
            _log.error("bpwidgets: the job failed: %r", error, exc_info=error)
            outcome = error
        finally:
            self._stop_timer(timer)
        self._deliver(deliver, outcome)

    def _run_stages(self, stages, deliver, timer):
        """Deliver a staged job's stages, and stop it once a newer job waits.

        The first stage is delivered as a single result is, even when a newer job
        came while it was computed. A later one is delivered only while none waits:
        that is checked before it is delivered and again before the next stage is
        asked for, so a superseded job shows no stale stage and starts no further
        work (a glass announces each packing before making it: the job stops between
        two packings).
        """
        for count, outcome in enumerate(stages):
            if count and self._superseded():
                break
            self._stop_timer(timer)
            self._deliver(deliver, outcome)
            if self._superseded():
                break
        stages.close()

    def _deliver(self, deliver, outcome):
        """``deliver(outcome)``; if it raises, deliver that error; then tell ``on_failure``."""
        for attempt in ("delivering the outcome", "delivering that error"):
            try:
                deliver(outcome)
                return
            except BaseException as error:
                self._raise_if_stop(error)
                _log.error("bpwidgets: %s failed: %r", attempt, error, exc_info=error)
                outcome = error
        if self._on_failure is not None:
            self._guarded(self._on_failure, outcome)

    def _guarded(self, callback, *args):
        """Call ``callback(*args)``, logging what it raises: a callback kills no thread."""
        try:
            callback(*args)
        except BaseException as error:
            self._raise_if_stop(error)
            _log.error("bpwidgets: %r failed: %r", callback, error, exc_info=error)

    @staticmethod
    def _raise_if_stop(error):
        # Only the main thread has someone to stop (see the module docstring).
        if isinstance(error, _STOP) and threading.current_thread() is threading.main_thread():
            raise error

    @staticmethod
    def _stop_timer(timer):
        if timer is not None:
            # Join so a busy message being written cannot land after the result.
            timer.cancel()
            timer.join()

    def _superseded(self) -> bool:
        with self._condition:
            return self._pending is not None
