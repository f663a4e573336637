"""What a visitor of a shared server may ask for: the largest grid, seeds, pins and glass.

A class server sets the environment variable ``BPWIDGETS_LIMITS`` for its
kernels, a JSON object such as ``{"size": 200, "seeds": 20, "pins": 10,
"disks": 36000}``; a missing key (or no variable at all) leaves that quantity to
the schema's own range (:data:`~bpwidgets.session.schema.FIELDS`). ``disks``
bounds the cost of a glass: the disks one request of jammed disks makes, N = L²
per packing times the packings averaged. :class:`VisitorLimits` holds
them, and every way in is held to them: a URL query asking for more opens the
page at the limit and says so (:meth:`VisitorLimits.hold`), the controls end at
the limit, and a request past it is refused with a :class:`LimitError` that
names the limit (:meth:`VisitorLimits.check`).

These bound what one visitor may ask of a server shared by a class; the memory
limit of one computation (:mod:`bpwidgets.core.limits`) is a separate guard.
"""

from __future__ import annotations

import json
import logging
import math
import numbers
import os
from dataclasses import dataclass, fields, replace

from .schema import Parameters, field_of

__all__ = ["LIMITS_VARIABLE", "LimitError", "VisitorLimits"]

#: Environment variable the server sets for its kernels: a JSON object of limits.
LIMITS_VARIABLE = "BPWIDGETS_LIMITS"
#: Key of a limit -> the :class:`~bpwidgets.session.schema.Parameters` field it bounds
#: (``pins`` bounds the session's pinned references, not a parameter).
_PARAMETER_OF = {"size": "size", "seeds": "n_seeds"}
#: The :class:`~bpwidgets.session.schema.Parameters` fields the ``disks`` limit depends on.
_DISKS_OF = ("connection", "size", "n_seeds")
#: The smallest ``disks`` limit: one packing of the smallest grid.
_LEAST_DISKS = field_of("size").low ** 2 * field_of("n_seeds").low
_log = logging.getLogger("bpwidgets")


class LimitError(ValueError):
    """A request past a visitor limit; the message names the limit."""


def _is_integer(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _size(value) -> str:
    return f"L = {value}"


def _seeds(value) -> str:
    return f"{value} random network{'s' if value != 1 else ''}"


def _pins(value) -> str:
    return f"{value} pin{'s' if value != 1 else ''}"


def _disks(value) -> str:
    return f"{value} jammed disks per request (N × packings)"


def _packings(parameters) -> str:
    """``"20 packings of N = 3600"``: what a glass request makes."""
    count = parameters.n_seeds
    return f"{count} packing{'s' if count != 1 else ''} of N = {parameters.n_disks}"


def _glass_disks(parameters) -> int:
    """The disks a request makes: N × packings for jammed disks, none for the lattice."""
    return parameters.n_disks * parameters.n_seeds if parameters.jammed else 0


#: How a value of each limited quantity is written in a message.
_WORDS = {"size": _size, "seeds": _seeds, "pins": _pins, "disks": _disks}


@dataclass(frozen=True)
class VisitorLimits:
    """The most a visitor may ask for; None is no limit beyond the schema's range.

    Attributes
    ----------
    size : int or None
        Largest grid size L: the largest value of the size slider up to the limit
        asked for (205 -> 200).
    seeds : int or None
        Most random networks averaged.
    pins : int or None
        Most pinned references at once (0: pinning is off).
    disks : int or None
        Most disks one request of jammed disks may make: N = L² per packing times
        the packings averaged. Packings are made one after the other by FIRE, whose
        time grows faster than N (about 5 s for N = 3600, 30 s for 10^4 on one
        core), so this bounds what one glass costs the server; the lattice is not
        concerned.

    Examples
    --------
    >>> limits = VisitorLimits.parse('{"size": 200, "pins": 10}')
    >>> limits
    VisitorLimits(size=200, seeds=None, pins=10, disks=None)
    >>> limits.high("size"), limits.high("n_seeds")
    (200, 20)
    >>> parameters, messages = limits.hold(Parameters(size=300), asked=("size",))
    >>> parameters.size, messages
    (200, ['This server allows at most L = 200; showing L = 200.'])
    >>> limits.check(Parameters(size=300))
    Traceback (most recent call last):
    ...
    bpwidgets.session.visitor.LimitError: This server allows at most L = 200; asked for L = 300.
    >>> VisitorLimits(size=205, seeds=50)  # the slider's steps, the schema's range
    VisitorLimits(size=200, seeds=20, pins=None, disks=None)
    >>> glass = Parameters(connection="jammed", size=60, n_seeds=20)
    >>> VisitorLimits(disks=36000).check(glass)
    Traceback (most recent call last):
    ...
    bpwidgets.session.visitor.LimitError: This server allows at most 36000 jammed disks per
    request (N × packings); asked for 20 packings of N = 3600 (72000 disks).
    >>> VisitorLimits(disks=36000).hold(glass)[0].n_seeds
    10
    """

    size: int | None = None
    seeds: int | None = None
    pins: int | None = None
    disks: int | None = None

    def __post_init__(self):
        for key, name in _PARAMETER_OF.items():
            value, field = getattr(self, key), field_of(name)
            if value is None:
                continue
            if not _is_integer(value) or value < field.low:
                raise ValueError(f"the {key} limit must be an integer of at least {field.low}; "
                                 f"got {value!r}")
            # "At most 205" allows the largest value the slider can take up to it (200);
            # a limit past the range's end leaves the range as it is.
            steps = (value - field.low) // field.step
            object.__setattr__(self, key, min(field.high, field.low + steps * field.step))
        if self.pins is not None and (not _is_integer(self.pins) or self.pins < 0):
            raise ValueError(f"the pins limit must be an integer of at least 0; got {self.pins!r}")
        if self.disks is not None and (not _is_integer(self.disks) or self.disks < _LEAST_DISKS):
            raise ValueError(f"the disks limit must be an integer of at least {_LEAST_DISKS} "
                             f"(one packing of the smallest grid); got {self.disks!r}")

    @classmethod
    def parse(cls, text: str) -> "VisitorLimits":
        """The limits a JSON object names (``""`` or ``"{}"``: none).

        Raises
        ------
        ValueError
            For text that is not a JSON object, an unknown key, or a value that is
            not an integer or is below the smallest the quantity can take (a grid
            below L = 10, no seeds, fewer than 0 pins, fewer disks than one
            packing of L = 10 has).
        """
        if not text.strip():
            return cls()
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"not JSON ({error}): {text!r}") from None
        if not isinstance(values, dict):
            raise ValueError('not a JSON object such as {"size": 200, "seeds": 20, "pins": 10, '
                             f'"disks": 36000}}: {text!r}')
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown keys {unknown}; the keys are {', '.join(known)}")
        return cls(**values)

    @classmethod
    def from_environ(cls, environ=None) -> "VisitorLimits":
        """The limits ``BPWIDGETS_LIMITS`` sets; no limits when it is unset or malformed.

        A malformed value is logged as a warning on the ``bpwidgets`` logger (the
        server's log) instead of breaking every visitor's page.

        Parameters
        ----------
        environ : mapping, optional
            The environment (default ``os.environ``), read at every call.

        Examples
        --------
        >>> VisitorLimits.from_environ({"BPWIDGETS_LIMITS": '{"seeds": 5}'})
        VisitorLimits(size=None, seeds=5, pins=None, disks=None)
        >>> VisitorLimits.from_environ({})
        VisitorLimits(size=None, seeds=None, pins=None, disks=None)
        """
        environ = os.environ if environ is None else environ
        try:
            return cls.parse(environ.get(LIMITS_VARIABLE, ""))
        except (TypeError, ValueError) as error:
            _log.warning("bpwidgets: %s ignored: %s; serving without visitor limits",
                         LIMITS_VARIABLE, error)
            return cls()

    @property
    def any(self) -> bool:
        """True when at least one limit is set."""
        return any(getattr(self, f.name) is not None for f in fields(self))

    def high(self, name: str):
        """The largest value a :class:`Parameters` field may take: its limit, or its range's end.

        Examples
        --------
        >>> VisitorLimits(seeds=5).high("n_seeds"), VisitorLimits().high("size")
        (5, 300)
        """
        key = self._key_of(name)
        limit = None if key is None else getattr(self, key)
        return field_of(name).high if limit is None else min(field_of(name).high, limit)

    def message(self, key: str) -> str:
        """The sentence naming a limit: "This server allows at most L = 200".

        ``key`` is ``"size"``, ``"seeds"``, ``"pins"`` or ``"disks"``.
        """
        return f"This server allows at most {_WORDS[key](getattr(self, key))}"

    def refusal(self, name: str, value):
        """Why ``value`` of the :class:`Parameters` field ``name`` is refused, or None.

        Examples
        --------
        >>> VisitorLimits(seeds=5).refusal("n_seeds", 8)
        'This server allows at most 5 random networks; asked for 8 random networks.'
        >>> VisitorLimits(seeds=5).refusal("n_seeds", 5) is None
        True
        """
        key = self._key_of(name)
        if key is None or getattr(self, key) is None or value <= getattr(self, key):
            return None
        return f"{self.message(key)}; asked for {_WORDS[key](value)}."

    def disks_refusal(self, parameters: Parameters):
        """Why a request of jammed disks is refused for making too many disks, or None.

        Examples
        --------
        >>> limits = VisitorLimits(disks=36000)
        >>> limits.disks_refusal(Parameters(connection="jammed", size=100, n_seeds=4))
        'This server allows at most 36000 jammed disks per request (N × packings);
        asked for 4 packings of N = 10000 (40000 disks).'
        >>> limits.disks_refusal(Parameters(size=300, n_seeds=20)) is None  # a lattice
        True
        """
        disks = _glass_disks(parameters)
        if self.disks is None or disks <= self.disks:
            return None
        return f"{self.message('disks')}; asked for {_packings(parameters)} ({disks} disks)."

    def check(self, parameters: Parameters, names=None) -> Parameters:
        """``parameters`` when within the limits, else a :class:`LimitError` naming the first.

        ``names`` restricts the check to these fields (default: every limited one);
        the ``disks`` limit is checked when any of the connection, the size or the
        seeds is among them.
        """
        for name in _PARAMETER_OF.values():
            refusal = self.refusal(name, getattr(parameters, name))
            if refusal is not None and (names is None or name in names):
                raise LimitError(refusal)
        refusal = self.disks_refusal(parameters)
        if refusal is not None and (names is None or any(name in names for name in _DISKS_OF)):
            raise LimitError(refusal)
        return parameters

    def hold(self, parameters: Parameters, asked=None):
        """``parameters`` with every value past its limit brought down to the limit.

        Parameters
        ----------
        parameters : Parameters
        asked : collection of str, optional
            Fields the visitor asked for: each brought down gets a message. The
            others (defaults) are brought down silently. Default: every field.

        Returns
        -------
        parameters : Parameters
        messages : list of str
            "This server allows at most L = 200; showing L = 200." per value asked for.

        Notes
        -----
        A glass past the ``disks`` limit keeps its N and averages fewer packings; only
        when one packing is too many is its grid brought down as well.
        """
        changes, messages = {}, []
        for key, name in _PARAMETER_OF.items():
            high = self.high(name)
            if getattr(parameters, name) > high:
                changes[name] = high
                if asked is None or name in asked:
                    messages.append(f"{self.message(key)}; showing {_WORDS[key](high)}.")
        held = replace(parameters, **changes)
        if self.disks_refusal(held) is not None:
            held = self._within_disks(held)
            if asked is None or any(name in asked for name in _DISKS_OF):
                messages.append(f"{self.message('disks')}; showing {_packings(held)}.")
        return held, messages

    def _within_disks(self, parameters):
        """A glass past the ``disks`` limit brought within it: fewer packings, else a smaller N."""
        size = field_of("size")
        if parameters.n_disks > self.disks:
            side = max(size.low, math.isqrt(self.disks))
            parameters = replace(parameters, size=size.low + (side - size.low) // size.step
                                 * size.step)
        return replace(parameters, n_seeds=min(parameters.n_seeds,
                                               self.disks // parameters.n_disks))

    def pins_full(self, count: int) -> bool:
        """Whether ``count`` pins are as many as a visitor may keep."""
        return self.pins is not None and count >= self.pins

    @staticmethod
    def _key_of(name):
        """The limit's key of a :class:`Parameters` field, or None for an unlimited one."""
        return next((key for key, field in _PARAMETER_OF.items() if field == name), None)
