"""What the Dask tests share: a check that a cluster's worker processes are gone."""

from __future__ import annotations

import os
import time

#: Seconds a closed cluster's worker processes may take to exit.
EXIT_SECONDS = 10.0


def assert_processes_gone(pids, timeout=EXIT_SECONDS):
    """Wait until none of ``pids`` runs any more; fail naming those still running."""
    deadline = time.monotonic() + timeout
    running = {pid for pid in pids if _alive(pid)}
    while running and time.monotonic() < deadline:
        time.sleep(0.1)
        running = {pid for pid in running if _alive(pid)}
    assert not running, f"worker processes still running: {sorted(running)}"


def _alive(pid) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
