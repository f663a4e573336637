"""The latest-wins worker: coalescing, staged jobs, the busy timer, and surviving failures.

A failure anywhere (the job, ``deliver``, a callback) must be logged with its
traceback on the ``"bpwidgets"`` logger and must never leave the worker dead with
requests queued behind it.
"""

from __future__ import annotations

import logging
import threading

import pytest

from bpwidgets.session.worker import BUSY_DELAY, LatestWorker


@pytest.fixture
def make_worker():
    """Build workers that are closed (and their threads joined) after the test."""
    workers = []

    def make(**options):
        workers.append(LatestWorker(**options))
        return workers[-1]

    yield make
    for worker in workers:
        worker.close()
        if worker._thread is not None:
            worker._thread.join(5)


def _logged(caplog, level=logging.ERROR):
    """The records at ``level`` on the bpwidgets logger that carry a traceback."""
    return [r for r in caplog.records
            if r.name == "bpwidgets" and r.levelno == level and r.exc_info]


def _assert_traceback(record, error_type, frame):
    """``record`` logs an ``error_type`` with a traceback through function ``frame``."""
    assert isinstance(record.exc_info[1], error_type)
    text = logging.Formatter().format(record)
    assert "Traceback (most recent call last)" in text
    assert f"in {frame}" in text


# -- latest wins ----------------------------------------------------------------------------


def test_worker_coalesces_a_burst_to_the_latest_request(make_worker):
    started, results = [], []
    running, release = threading.Event(), threading.Event()

    def job(value):
        def run():
            started.append(value)
            running.set()
            release.wait(5)
            return value
        return run

    worker = make_worker()
    worker.submit(job(0), results.append)
    assert running.wait(5)  # job 0 is running
    for value in range(1, 6):
        worker.submit(job(value), results.append)
    release.set()
    assert worker.wait(10)
    assert started == [0, 5]
    assert results == [0, 5]


def test_worker_drops_later_stages_once_superseded(make_worker):
    delivered = []
    first_stage_done = threading.Event()
    release = threading.Event()

    def staged():
        yield "preview"
        yield "final"

    def deliver(outcome):
        delivered.append(outcome)
        if outcome == "preview":
            first_stage_done.set()
            release.wait(5)

    worker = make_worker()
    worker.submit(staged, deliver)
    assert first_stage_done.wait(5)
    worker.submit(lambda: "newer", delivered.append)
    release.set()
    assert worker.wait(5)
    assert delivered == ["preview", "newer"]


def test_a_stage_finished_after_a_newer_request_came_is_dropped_unseen(make_worker):
    # A stage can take long (a packing of jammed disks): a request that comes while it
    # is made supersedes the job before that stage is shown, and nothing after it runs.
    delivered, resumed = [], []
    making, release = threading.Event(), threading.Event()

    def staged():
        yield "progress 1"
        making.set()
        release.wait(5)
        yield "progress 2"
        resumed.append("the next stage was started")
        yield "progress 3"

    worker = make_worker()
    worker.submit(staged, delivered.append)
    assert making.wait(5)
    worker.submit(lambda: "newer", delivered.append)
    release.set()
    assert worker.wait(5)
    assert delivered == ["progress 1", "newer"]
    assert resumed == []


def test_a_first_stage_finished_after_a_newer_request_is_still_delivered(make_worker):
    # As a single result is: it is newer than what the page shows (a slider drag moves).
    delivered = []
    making, release = threading.Event(), threading.Event()

    def staged():
        making.set()
        release.wait(5)
        yield "preview"
        yield "final"

    worker = make_worker()
    worker.submit(staged, delivered.append)
    assert making.wait(5)
    worker.submit(lambda: "newer", delivered.append)
    release.set()
    assert worker.wait(5)
    assert delivered == ["preview", "newer"]


def test_worker_reports_busy_after_the_delay(make_worker):
    busy = threading.Event()
    delivered = []
    worker = make_worker(on_busy=busy.set, busy_delay=0.05)
    # The job runs until the busy indicator has been shown.
    worker.submit(lambda: busy.wait(5), delivered.append)
    assert busy.wait(2)
    assert worker.wait(5)
    assert delivered == [True]


def test_a_quick_job_never_shows_busy(make_worker):
    busy, delivered = threading.Event(), []
    worker = make_worker(on_busy=busy.set, busy_delay=0.05)
    worker.submit(lambda: "quick", delivered.append)
    assert worker.wait(5)
    assert delivered == ["quick"]
    # The timer was cancelled and joined before delivery: well past its delay it has
    # still not fired.
    assert not busy.wait(0.3)


# -- surviving failures ---------------------------------------------------------------------


def test_a_failing_deliver_is_logged_its_error_delivered_and_the_next_job_runs(
        make_worker, caplog):
    delivered, failures = [], []

    def deliver(outcome):
        if outcome == "unlucky":
            raise RuntimeError("drawing failed")
        delivered.append(outcome)

    worker = make_worker(on_failure=failures.append)
    worker.submit(lambda: "unlucky", deliver)
    assert worker.wait(5)
    worker.submit(lambda: "next", deliver)
    assert worker.wait(5)
    assert worker.alive
    error, following = delivered
    assert isinstance(error, RuntimeError) and str(error) == "drawing failed"
    assert following == "next"
    assert failures == []  # the error itself was delivered
    (record,) = _logged(caplog)
    assert record.exc_info[1] is error
    _assert_traceback(record, RuntimeError, "deliver")


def test_when_delivering_the_error_fails_too_on_failure_is_told(make_worker, caplog):
    attempts, failures, later = [], [], []

    def broken(outcome):
        attempts.append(outcome)
        raise RuntimeError(f"cannot show {outcome!r}")

    worker = make_worker(on_failure=failures.append)
    worker.submit(lambda: 1 / 0, broken)
    assert worker.wait(5)
    assert worker.alive
    # The job's error, then the error of delivering it; on_failure gets the last one.
    job_error, first_failure = attempts
    assert isinstance(job_error, ZeroDivisionError)
    assert isinstance(first_failure, RuntimeError) and "ZeroDivisionError" in str(first_failure)
    (last_failure,) = failures
    assert isinstance(last_failure, RuntimeError) and "cannot show RuntimeError" in str(last_failure)
    job_record, *deliver_records = _logged(caplog)
    _assert_traceback(job_record, ZeroDivisionError, "<lambda>")
    assert [r.exc_info[1] for r in deliver_records] == [first_failure, last_failure]
    for record in deliver_records:
        _assert_traceback(record, RuntimeError, "broken")
    worker.submit(lambda: "still working", later.append)
    assert worker.wait(5)
    assert later == ["still working"]


def test_a_raising_on_failure_is_logged_and_the_thread_lives(make_worker, caplog):
    def on_failure(error):
        raise LookupError("no status line either")

    def broken(outcome):
        raise RuntimeError("broken")

    later = []
    worker = make_worker(on_failure=on_failure)
    worker.submit(lambda: "result", broken)
    assert worker.wait(5)
    assert worker.alive
    _assert_traceback(_logged(caplog)[-1], LookupError, "on_failure")
    worker.submit(lambda: "still working", later.append)
    assert worker.wait(5)
    assert later == ["still working"]


def test_a_job_raising_system_exit_is_delivered_and_the_thread_lives(make_worker, caplog):
    delivered = []

    def job():
        raise SystemExit(3)

    worker = make_worker()
    worker.submit(job, delivered.append)
    assert worker.wait(5)
    assert worker.alive
    worker.submit(lambda: "next", delivered.append)
    assert worker.wait(5)
    error, following = delivered
    assert isinstance(error, SystemExit) and error.code == 3
    assert following == "next"
    (record,) = _logged(caplog)
    assert record.exc_info[1] is error
    _assert_traceback(record, SystemExit, "job")


def test_a_keyboard_interrupt_on_the_worker_thread_is_delivered(make_worker, caplog):
    # Python never interrupts a worker thread: one there comes from the job, and
    # ending the thread would strand later requests (see the module docstring).
    delivered = []

    def job():
        raise KeyboardInterrupt

    worker = make_worker()
    worker.submit(job, delivered.append)
    assert worker.wait(5)
    assert worker.alive
    (error,) = delivered
    assert isinstance(error, KeyboardInterrupt)
    _assert_traceback(_logged(caplog)[0], KeyboardInterrupt, "job")


def test_a_staged_job_failing_midway_delivers_its_stages_then_the_error(make_worker, caplog):
    delivered = []

    def staged():
        yield "preview"
        raise ValueError("the average failed")

    worker = make_worker()
    worker.submit(staged, delivered.append)
    assert worker.wait(5)
    assert worker.alive
    preview, error = delivered
    assert preview == "preview"
    assert isinstance(error, ValueError) and str(error) == "the average failed"
    (record,) = _logged(caplog)
    assert record.exc_info[1] is error
    _assert_traceback(record, ValueError, "staged")


def test_a_raising_on_busy_is_logged_and_the_result_still_delivered(make_worker, caplog):
    busy_failed, delivered = threading.Event(), []

    def on_busy():
        busy_failed.set()
        raise RuntimeError("no spinner")

    worker = make_worker(on_busy=on_busy, busy_delay=0.01)
    worker.submit(lambda: busy_failed.wait(5), delivered.append)
    assert worker.wait(5)
    assert delivered == [True]
    assert worker.alive
    _assert_traceback(_logged(caplog)[0], RuntimeError, "on_busy")


# -- a dead thread --------------------------------------------------------------------------


def test_a_dead_thread_is_replaced_on_submit(make_worker, caplog):
    delivered = []
    worker = make_worker()
    first = worker._thread
    # Something unforeseen ends the loop between jobs: taking the next job raises.
    # SystemExit is the nasty case: a thread it ends does not even print it.
    worker.submit(_then_take(worker, _raise_once(worker, SystemExit), "before"),
                  delivered.append)
    first.join(5)
    assert not first.is_alive() and not worker.alive
    (record,) = _logged(caplog, logging.CRITICAL)
    _assert_traceback(record, SystemExit, "take")

    worker.submit(lambda: "after", delivered.append)
    assert worker.wait(5)
    assert worker.alive and worker._thread is not first
    assert delivered == ["before", "after"]
    assert any(r.levelno == logging.WARNING and "starting a new one" in r.getMessage()
               for r in caplog.records)


def test_a_thread_that_ended_without_a_word_is_replaced_on_submit(make_worker, caplog):
    # The thread is gone but the worker was never closed (it returned as if closed).
    delivered = []
    worker = make_worker()
    first = worker._thread
    with worker._condition:
        worker._closed = True
        worker._condition.notify_all()
    first.join(5)
    worker._closed = False
    assert not worker.alive
    worker.submit(lambda: "after", delivered.append)
    assert worker.wait(5)
    assert worker.alive
    assert delivered == ["after"]
    assert any(r.levelno == logging.WARNING for r in caplog.records if r.name == "bpwidgets")


def test_a_job_waiting_when_the_thread_dies_is_run_by_a_new_one(make_worker, caplog):
    delivered = []
    worker = make_worker()

    def submit_then_die():
        del worker._take  # the replacement thread takes jobs normally
        worker.submit(lambda: "waiting", delivered.append)
        raise SystemExit

    worker.submit(_then_take(worker, submit_then_die, "before"), delivered.append)
    assert worker.wait(5)  # does not hang: the waiting job is handed on
    assert worker.alive
    assert delivered == ["before", "waiting"]
    (record,) = _logged(caplog, logging.CRITICAL)
    _assert_traceback(record, SystemExit, "submit_then_die")


def test_a_bug_in_running_a_job_is_logged_and_the_same_thread_goes_on(make_worker, caplog):
    delivered = []
    worker = make_worker()
    first = worker._thread

    def buggy_run(job, deliver):
        del worker._run  # only the next job meets the bug
        raise RuntimeError("bug in the worker")

    def install_bug():
        worker._run = buggy_run
        return "before"

    worker.submit(install_bug, delivered.append)
    assert worker.wait(5)
    worker.submit(lambda: "lost to the bug", delivered.append)
    assert worker.wait(5)
    worker.submit(lambda: "after", delivered.append)
    assert worker.wait(5)
    assert worker._thread is first and worker.alive
    assert delivered == ["before", "after"]
    (record,) = _logged(caplog, logging.CRITICAL)
    _assert_traceback(record, RuntimeError, "buggy_run")


def test_a_closed_worker_is_not_restarted(make_worker):
    worker = make_worker()
    worker.close()
    worker._thread.join(5)
    assert not worker.alive
    worker.submit(lambda: "ignored", lambda outcome: None)
    assert not worker.alive


def _then_take(worker, take, result):
    """A job that makes the worker's loop call ``take`` for its next job.

    Patched from inside a job, on the worker thread, so the loop is certainly past
    its first (real) ``_take`` and calls ``take`` next.
    """
    def job():
        worker._take = take
        return result
    return job


def _raise_once(worker, error_type):
    """A stand-in for ``worker._take`` that raises once, then takes jobs normally."""
    def take():
        del worker._take
        raise error_type
    return take


# -- without a thread -----------------------------------------------------------------------


def test_synchronous_jobs_share_the_error_handling(make_worker, caplog):
    delivered, failures = [], []

    def deliver(outcome):
        if outcome == "unlucky":
            raise RuntimeError("drawing failed")
        delivered.append(outcome)

    def exits():
        raise SystemExit(2)

    def staged():
        yield "preview"
        raise ValueError("the average failed")

    def broken(outcome):
        raise RuntimeError("broken")

    worker = make_worker(background=False, on_failure=failures.append)
    worker.submit(exits, deliver)
    worker.submit(lambda: "unlucky", deliver)
    worker.submit(staged, deliver)
    worker.submit(lambda: "result", broken)
    exit_error, deliver_error, preview, staged_error = delivered
    assert isinstance(exit_error, SystemExit) and exit_error.code == 2
    assert isinstance(deliver_error, RuntimeError) and str(deliver_error) == "drawing failed"
    assert preview == "preview" and isinstance(staged_error, ValueError)
    (failure,) = failures
    assert isinstance(failure, RuntimeError)
    logged = [r.exc_info[1] for r in _logged(caplog)]
    assert logged[:3] == [exit_error, deliver_error, staged_error]
    assert len(logged) == 5 and logged[-1] is failure


def test_a_keyboard_interrupt_on_the_main_thread_propagates(make_worker):
    # Ctrl-C or interrupting the kernel must stop a synchronous computation.
    delivered = []

    def job():
        raise KeyboardInterrupt

    worker = make_worker(background=False)
    with pytest.raises(KeyboardInterrupt):
        worker.submit(job, delivered.append)
    assert delivered == []
