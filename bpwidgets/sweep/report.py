"""What a sweep tells as it goes and at its end: progress, counts and failures.

:class:`_Progress` shows Dask's widget in a notebook, a bar on a terminal, or
calls the caller's function; :class:`_Report` counts the tasks computed, read
from the store and failed, logs every failure with its parameters, and
writes the summary line and the dataset's attributes.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from dataclasses import dataclass

from .grid import Point

#: Characters of the terminal progress bar, and the fewest seconds between two redraws
#: (small tasks finish by the hundred a second; the last one is always drawn).
_BAR_WIDTH = 30
_BAR_INTERVAL = 0.2
#: Failures listed in the summary line (all of them are in the dataset's attributes).
_FAILURES_SHOWN = 5

_log = logging.getLogger("bpwidgets")


class _Progress:
    """Progress as the sweep goes: Dask's widget in a notebook, a bar in a terminal.

    ``setting`` is :func:`~bpwidgets.sweep.sweep`'s ``progress``. In a
    notebook the widget follows the submitted tasks; where there are none to
    follow (a serial sweep) the bar is drawn instead.

    Examples
    --------
    >>> counts = []
    >>> tracker = _Progress(lambda *seen: counts.append(seen), total=2)
    >>> tracker.update(failed=False)
    >>> tracker.update(failed=True)
    >>> counts
    [(1, 0, 2), (1, 1, 2)]
    """

    def __init__(self, setting, total, stream=None):
        self.total, self.done, self.failed = total, 0, 0
        self.stream = sys.stderr if stream is None else stream
        self.callback = setting if callable(setting) else None
        self.widget = False
        if self.callback is not None:
            self.mode = "callback"
        elif setting is False:
            self.mode = None
        elif _in_kernel():
            self.mode = "widget"
        elif setting is True or getattr(self.stream, "isatty", lambda: False)():
            self.mode = "bar"
        else:
            self.mode = None
        self.started = time.perf_counter()
        self.drawn = -math.inf

    @property
    def shown(self) -> bool:
        """Whether anything is shown (then a summary line follows the sweep)."""
        return self.mode in ("widget", "bar")

    def watch(self, futures, client) -> None:
        """Show Dask's progress widget for the submitted tasks, in a notebook."""
        if self.mode == "widget" and futures:
            from distributed import progress
            from IPython.display import display

            display(progress(futures, notebook=True, multi=False,
                             scheduler=client.scheduler.address, loop=client.loop))
            self.widget = True

    def update(self, failed: bool) -> None:
        """One more task finished (or failed)."""
        self.done += not failed
        self.failed += failed
        if self.callback is not None:
            self.callback(self.done, self.failed, self.total)
        elif self.mode == "bar" or (self.mode == "widget" and not self.widget):
            self._bar()

    def _bar(self):
        finished = self.done + self.failed
        now = time.perf_counter()
        if finished < self.total and now - self.drawn < _BAR_INTERVAL:
            return
        self.drawn = now
        filled = _BAR_WIDTH * finished // max(self.total, 1)
        end = "\n" if finished == self.total else ""
        failed = f", {self.failed} failed" if self.failed else ""
        self.stream.write(f"\r[{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] "
                          f"{finished}/{self.total} tasks{failed}, "
                          f"{time.perf_counter() - self.started:.0f} s{end}")
        self.stream.flush()


def _in_kernel() -> bool:
    """Whether this runs in a Jupyter kernel (where Dask's widget can show)."""
    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    return getattr(get_ipython(), "kernel", None) is not None


@dataclass
class _Report:
    """Counts of a sweep's tasks, and every failure with its parameters and error.

    Examples
    --------
    >>> report = _Report(total=10, from_store=7, computed=2)
    >>> report.remaining
    1
    >>> report.summary(71.3)
    'sweep: 10 tasks: 2 computed, 7 from the store, 0 failed, 1 remaining; 71.3 s'
    """

    total: int
    from_store: int = 0
    computed: int = 0
    failed: int = 0
    seconds_computing: float = 0.0

    def __post_init__(self):
        self.failures = []

    def finished(self, result) -> None:
        """One more task came back: ``result`` is its ``_TaskResult``."""
        if result.computed:
            self.computed += 1
            self.seconds_computing += result.seconds
        else:
            self.from_store += 1  # another process stored it meanwhile

    def failure(self, point: Point, seed: int, error) -> None:
        """One more task failed: counted, listed and logged with its parameters."""
        self.failed += 1
        text = f"{type(error).__name__}: {error}"
        self.failures.append(dict(point.values(), seed=int(seed), error=text))
        _log.warning("sweep: the network %s, seed=%d failed: %s", point.label, seed, text)

    @property
    def remaining(self) -> int:
        return self.total - self.from_store - self.computed - self.failed

    def attributes(self) -> dict:
        return dict(tasks=self.total, computed=self.computed, from_store=self.from_store,
                    failed=self.failed, remaining=self.remaining,
                    task_seconds=round(self.seconds_computing, 3),
                    failures=json.dumps(self.failures))

    def summary(self, seconds) -> str:
        """``sweep: 800 tasks: 790 computed, 8 from the store, 2 failed, 0 remaining; 71.3 s``."""
        text = (f"sweep: {self.total} tasks: {self.computed} computed, {self.from_store} from "
                f"the store, {self.failed} failed, {self.remaining} remaining; {seconds:.1f} s")
        for failure in self.failures[:_FAILURES_SHOWN]:
            where = ", ".join(f"{k}={v}" for k, v in failure.items() if k != "error")
            text += f"\n  failed: {where}: {failure['error']}"
        if len(self.failures) > _FAILURES_SHOWN:
            text += f"\n  ... and {len(self.failures) - _FAILURES_SHOWN} more (attrs['failures'])"
        return text
