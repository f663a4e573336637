"""The most memory one request of the compute core may need, and how to change it.

Every public function whose memory can be estimated before it allocates
(building networks, the random-vector block of the kernel polynomial method,
dense diagonalisation, local spectra) compares its estimate with
:func:`memory_limit` and refuses a larger request with a ``ValueError`` that
gives the estimate, instead of failing half-way with a ``MemoryError`` or
driving the machine into swap. The limit is ``MEMORY_LIMIT_BYTES``, or the
``BPWIDGETS_MEMORY_LIMIT`` environment variable when it is set: a number of
bytes, or a number with a suffix K, M, G or T (powers of 1024), e.g. ``16G``.
The variable is read at every check, so it can be changed in a running session.
"""

from __future__ import annotations

import os
import re

__all__ = ["MEMORY_LIMIT_BYTES", "MEMORY_LIMIT_VARIABLE", "format_bytes", "memory_limit"]

#: Default most memory one request may need: 8 GiB, what a laptop or a class server can spare.
MEMORY_LIMIT_BYTES = 8 * 2**30

#: Environment variable that replaces the limit: bytes, or a number with K, M, G or T, e.g. 16G.
MEMORY_LIMIT_VARIABLE = "BPWIDGETS_MEMORY_LIMIT"

_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
_AMOUNT = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([KMGT]?)(?:I?B)?\s*", re.IGNORECASE)


def memory_limit(environ=None) -> int:
    """The most memory, in bytes, one request may need.

    Parameters
    ----------
    environ : mapping, optional
        The environment (default ``os.environ``); ``BPWIDGETS_MEMORY_LIMIT``,
        when set, replaces ``MEMORY_LIMIT_BYTES``.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If ``BPWIDGETS_MEMORY_LIMIT`` is not a positive amount of bytes.

    Examples
    --------
    >>> memory_limit({}) == MEMORY_LIMIT_BYTES, memory_limit({"BPWIDGETS_MEMORY_LIMIT": "16G"})
    (True, 17179869184)
    """
    environ = os.environ if environ is None else environ
    value = environ.get(MEMORY_LIMIT_VARIABLE, "")
    if not value.strip():
        return MEMORY_LIMIT_BYTES
    match = _AMOUNT.fullmatch(value)
    amount = int(float(match[1]) * _UNITS[match[2].upper()]) if match else 0
    if amount < 1:
        raise ValueError(
            f"{MEMORY_LIMIT_VARIABLE} must be a positive number of bytes, optionally with a "
            f"suffix K, M, G or T (powers of 1024), e.g. 8G; got {value!r}"
        )
    return amount


def format_bytes(amount) -> str:
    """An amount of memory for a message: ``"12.3 GiB"``.

    Examples
    --------
    >>> format_bytes(8 * 2**30), format_bytes(1.5e6), format_bytes(100)
    ('8 GiB', '1.43 MiB', '100 bytes')
    """
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if amount >= size:
            return f"{amount / size:.3g} {unit}"
    return f"{int(amount)} bytes"


def _check_memory(request, needed) -> None:
    """Refuse a request that needs more than :func:`memory_limit`.

    ``request`` says what is asked, naming the arguments, e.g. ``"size=5000"``.
    """
    limit = memory_limit()
    if needed > limit:
        raise ValueError(
            f"{request} needs about {format_bytes(needed)}, more than the limit of "
            f"{format_bytes(limit)} (MEMORY_LIMIT_BYTES, or the environment variable "
            f"{MEMORY_LIMIT_VARIABLE}); ask for less"
        )
