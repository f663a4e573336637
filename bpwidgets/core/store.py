"""A shared, content-addressed store of per-network results.

Every per-network result of :func:`bpwidgets.reduced_dos` is a pure function of
its inputs: the model parameters, the seed, the method and its options. The
store keeps each one under a key made of exactly those inputs and
:data:`NUMERICS_VERSION`, so that any process (a notebook, thirty Voila
kernels, a sweep) that asks again gets it back without recomputing.

It is a :class:`diskcache.Cache`: SQLite in WAL mode plus files, safe for many
processes and threads at once, bounded in size (entries are evicted, oldest
stored first, past :data:`DEFAULT_SIZE_LIMIT`). Where it lives:

* the ``store=`` argument of the functions that use it: a directory, a
  :class:`ResultStore`, or ``False`` / ``"off"`` for none;
* otherwise the environment variable ``BPWIDGETS_STORE`` (a directory, or ``off``);
* otherwise ``bpwidgets`` in the user's cache directory.

Nothing the store does can fail a computation. An entry is written with a
checksum of its bytes and checked on every read: a truncated or corrupted one is
deleted and reported as missing, so the caller recomputes it. A store that
cannot be opened, or a write refused (a read-only or full disk), warns once
and the computation goes on without storing; a lock another process holds
past ``LOCK_TIMEOUT`` makes a read count as missing and a write be skipped.

Examples
--------
>>> import tempfile
>>> store = ResultStore(tempfile.mkdtemp())
>>> key = result_key({"size": 60, "delta": 0.3, "seed": 0})
>>> store.get(key) is None, store.put(key, {"level": 0.217}), store.get(key)
(True, True, {'level': 0.217})
>>> store.close()
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import sqlite3
import threading
import time
from pathlib import Path

__all__ = [
    "DEFAULT_SIZE_LIMIT",
    "NUMERICS_VERSION",
    "STORE_ENVIRONMENT",
    "ResultStore",
    "default_store",
    "open_store",
    "result_key",
]

#: Version of the numerics behind every stored result. Bump it whenever a change alters
#: the numbers a computation returns: keys include it, so older entries are never read
#: again (and are evicted in time).
NUMERICS_VERSION = 1

#: Environment variable naming the store's directory, or ``off``.
STORE_ENVIRONMENT = "BPWIDGETS_STORE"

#: Most bytes the store keeps on disk. An L = 60 network's entry is about 7 kB (64 moments,
#: 9 groups of vectors), so this holds the lecture grid many times over.
DEFAULT_SIZE_LIMIT = 2**30

#: Seconds a store operation waits for another process's lock before giving up: a read then
#: counts as missing and a write is skipped, and the computation goes on without them.
LOCK_TIMEOUT = 2.0

#: Seconds writes are skipped at once after one waited in vain for a lock: a burst of writes
#: (ten seeds) then costs one wait, not ten.
LOCK_BACKOFF = 30.0

#: Values refused for the store argument or the environment variable meaning "no store".
_OFF = ("off", "false", "0", "none", "")

_log = logging.getLogger("bpwidgets")


def result_key(inputs: dict) -> str:
    """The key of a result: a SHA-256 of its inputs and :data:`NUMERICS_VERSION`.

    Parameters
    ----------
    inputs : dict
        Every input that changes the numbers, as JSON-serialisable values
        (floats are written exactly, by their shortest round-trip form).

    Returns
    -------
    str
        64 hexadecimal digits.

    Examples
    --------
    >>> result_key({"delta": 0.3}) == result_key({"delta": 0.30})
    True
    >>> result_key({"delta": 0.3}) == result_key({"delta": 0.31})
    False
    """
    text = json.dumps({"numerics": NUMERICS_VERSION, **inputs}, sort_keys=True,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class ResultStore:
    """A size-bounded store of results on disk, shared by processes and threads.

    Parameters
    ----------
    directory : str or Path
        Where the store lives; made if missing.
    size_limit : int, optional
        Most bytes kept; the entries stored first are evicted past it.

    Raises
    ------
    OSError
        If the directory cannot be made or the store opened there
        (:func:`open_store` turns that into a warning and no store).
    """

    def __init__(self, directory, *, size_limit=DEFAULT_SIZE_LIMIT):
        import diskcache

        # Resolved: the store's connections are opened per thread, from this path.
        self.directory = Path(directory).expanduser().resolve()
        try:
            self._cache = diskcache.Cache(
                str(self.directory), size_limit=int(size_limit), timeout=LOCK_TIMEOUT,
                eviction_policy="least-recently-stored",
            )
        except sqlite3.Error as error:
            raise OSError(f"cannot open a result store in {self.directory}: {error}") from error
        self._timeout = diskcache.Timeout
        self._writable = True
        self._skip_until = 0.0
        self._lock = threading.Lock()

    def get(self, key: str):
        """The value stored under ``key``, or None if missing, unreadable or corrupted.

        A corrupted entry (its bytes no longer match their checksum, or do not
        unpickle) is deleted, so that it is recomputed and stored afresh.
        """
        try:
            blob = self._cache.get(key, default=None)
        except (OSError, sqlite3.Error, self._timeout) as error:
            _log.debug("result store: cannot read %s: %s", key, error)
            return None
        if blob is None:
            return None
        value = _unpack(blob)
        if value is None:
            _log.warning("result store: entry %s in %s is corrupted; it is recomputed",
                         key[:12], self.directory)
            self._discard(key)
        return value

    def put(self, key: str, value) -> bool:
        """Store ``value`` under ``key``; False if it was not stored.

        A lock held by another process past ``LOCK_TIMEOUT`` skips this write,
        and the writes of the next ``LOCK_BACKOFF`` seconds.
        After a refusal of the disk (read-only, full) the store only reads, with
        one warning: nothing the caller computes is lost, it is just not kept.
        """
        if not self._writable or time.monotonic() < self._skip_until:
            return False
        try:
            self._cache.set(key, _pack(value))
            return True
        except self._timeout:
            self._skip_until = time.monotonic() + LOCK_BACKOFF
            _log.info("result store %s: a write waited %s s for a lock held elsewhere; "
                      "writes are skipped for %s s", self.directory, LOCK_TIMEOUT, LOCK_BACKOFF)
            return False
        except (OSError, sqlite3.Error) as error:
            with self._lock:
                if self._writable:
                    self._writable = False
                    _log.warning("result store %s refused a write (%s): results are "
                                 "computed without being stored", self.directory, error)
            return False

    @property
    def writable(self) -> bool:
        """False once a write has been refused."""
        return self._writable

    def __len__(self) -> int:
        return len(self._cache)

    def volume(self) -> int:
        """Bytes the store takes on disk."""
        return self._cache.volume()

    def clear(self) -> None:
        """Remove every entry."""
        self._cache.clear()

    def close(self) -> None:
        """Close the store's files (it reopens them on the next use)."""
        self._cache.close()

    def _discard(self, key):
        try:
            self._cache.delete(key)
        except (OSError, sqlite3.Error, self._timeout):
            pass

    def __repr__(self) -> str:
        return f"ResultStore({str(self.directory)!r})"


def _pack(value) -> bytes:
    """The value's pickle, prefixed by its SHA-256: a damaged entry is detected on read."""
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return hashlib.sha256(data).digest() + data


def _unpack(blob):
    """The value packed by :func:`_pack`, or None if the bytes are damaged."""
    if not isinstance(blob, bytes) or len(blob) < 32:
        return None
    digest, data = blob[:32], blob[32:]
    if hashlib.sha256(data).digest() != digest:
        return None
    try:
        return pickle.loads(data)
    except Exception:  # a damaged pickle can raise almost anything
        return None


_opened: dict = {}
_opened_lock = threading.Lock()
_warned: set = set()


def open_store(store=None):
    """The store to use for a ``store=`` argument, or None for none.

    Parameters
    ----------
    store : None, bool, str, Path or ResultStore
        None (or True): the default store (:func:`default_store`); False or
        ``"off"``: no store; a directory: the store there; a
        :class:`ResultStore`: itself.

    Returns
    -------
    ResultStore or None
        A store that cannot be opened gives None, with one warning per directory.

    Raises
    ------
    TypeError
        For any other kind of value.
    """
    if store is None or store is True:
        return default_store()
    if store is False:
        return None
    if isinstance(store, ResultStore):
        return store
    if isinstance(store, (str, os.PathLike)):
        if isinstance(store, str) and store.strip().lower() in _OFF:
            return None
        return _opened_store(Path(store).expanduser().resolve())
    raise TypeError(f"store must be a directory, a ResultStore, None or False; "
                    f"got {type(store).__name__}")


def default_store():
    """The store named by ``BPWIDGETS_STORE``, else the user's cache directory's.

    Returns
    -------
    ResultStore or None
        None when the variable says ``off`` or the store cannot be opened.
    """
    setting = os.environ.get(STORE_ENVIRONMENT)
    if setting is not None:
        return open_store(setting if setting.strip() else "off")
    import platformdirs

    return _opened_store((Path(platformdirs.user_cache_dir("bpwidgets")) / "results").resolve())


def _opened_store(directory: Path):
    """One open store per directory and process (their connections are reused)."""
    with _opened_lock:
        if directory in _opened:
            return _opened[directory]
        try:
            store = ResultStore(directory)
        except OSError as error:
            if directory not in _warned:
                _warned.add(directory)
                _log.warning("result store %s cannot be used (%s): results are computed "
                             "without being stored", directory, error)
            return None
        _opened[directory] = store
        return store
