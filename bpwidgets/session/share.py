"""Shareable state: the page's URL query <-> the dashboard's parameters.

``?delta=0.25&size=80&connection=cutoff&spring=constant&seeds=10`` opens the
dashboard in that state; ``?connection=jammed&pressure=0.001&size=20`` opens it on
jammed disks. :func:`parse_query` never raises: a bad value is
replaced by its default and explained in a message, so a mistyped link still
opens a working page; a value past the server's visitor limits
(:mod:`~bpwidgets.session.visitor`) opens it at the limit and says so.
:func:`state_query` writes the query back, and :func:`page_link` joins it to
the page's address as Voila reports it to the kernel (environment variables set
per request, see ``voila/handler.py``).
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .schema import FIELDS, Parameters
from .visitor import VisitorLimits

__all__ = ["page_link", "page_url", "parse_query", "state_query"]

#: Query key -> its parameter's field (:data:`~bpwidgets.session.schema.FIELDS`).
_BY_KEY = {f.key: f for f in FIELDS}
#: Query keys that Voila itself reads (template and theme overrides): not ours, not errors.
_VOILA_KEYS = ("template", "theme", "voila-template", "voila-theme", "token")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
#: Accepted forms of the forwarded headers: a scheme, a host[:port], a path prefix.
_FORWARDED_FORMS = {"PROTO": r"https?", "HOST": r"[\w.\-]+(:\d+)?|\[[0-9a-f:.]+\](:\d+)?",
                    "PREFIX": r"(/[\w.~%!$&'()*+,;=:@\-]+)+/?"}


def parse_query(query: str, defaults: Parameters = Parameters(),
                limits: VisitorLimits = VisitorLimits()):
    """Parameters and options from a URL query string; bad values fall back to defaults.

    Parameters
    ----------
    query : str
        The query, with or without its leading ``?``.
    defaults : Parameters
        Used for every key absent or refused.
    limits : VisitorLimits
        What a visitor may ask of this server: a value past a limit is brought
        down to it, with a message; defaults past it are brought down silently.

    Returns
    -------
    parameters : Parameters
    projector : bool
        ``projector=1`` opens the page in projector mode.
    messages : list of str
        One per refused or unknown key, saying what was used instead.

    Examples
    --------
    >>> parameters, projector, messages = parse_query("delta=0.25&size=80&spring=constant")
    >>> parameters.delta, parameters.size, parameters.spring, projector, messages
    (0.25, 80, 'constant', False, [])
    >>> parameters, _, messages = parse_query("?delta=big&seeds=3")
    >>> parameters.delta, parameters.n_seeds
    (0.3, 3)
    >>> messages
    ['delta=big is not a number from 0.0 to 0.5 in steps of 0.01: using 0.3']
    >>> parameters, _, messages = parse_query("size=300", limits=VisitorLimits(size=200))
    >>> parameters.size, messages
    (200, ['This server allows at most L = 200; showing L = 200.'])
    """
    values = {}
    projector = False
    messages = []
    for key, text in parse_qsl(query.lstrip("?"), keep_blank_values=True):
        if key in _BY_KEY:
            field = _BY_KEY[key]
            try:
                values[field.name] = field.check(text if field.choices else _number(text))
            except ValueError:
                messages.append(
                    f"{key}={text} is not {field.describe()}: "
                    f"using {getattr(defaults, field.name)}"
                )
        elif key == "projector":
            if text.lower() in _TRUE + _FALSE:
                projector = text.lower() in _TRUE
            else:
                messages.append(f"projector={text} is not 1 or 0: projector mode off")
        elif key not in _VOILA_KEYS:
            messages.append(f"unknown parameter {key!r} ignored")
    parameters, held = limits.hold(replace(defaults, **values), asked=values)
    return parameters, projector, messages + held


def _number(text):
    """``text`` as a float, or the text itself when it is none (the field refuses it)."""
    try:
        return float(text)
    except ValueError:
        return text


def state_query(parameters: Parameters, *, projector: bool = False) -> str:
    """The query string that opens the dashboard with ``parameters`` (no leading ``?``).

    The pressure is written for jammed disks alone, the one kind it applies to.

    Examples
    --------
    >>> state_query(Parameters(delta=0.25, size=80, spring="constant"))
    'delta=0.25&size=80&connection=cutoff&spring=constant&seeds=10&seed=0'
    >>> state_query(Parameters(size=20, connection="jammed", pressure=0.01))
    'delta=0.3&size=20&connection=jammed&spring=inverse&seeds=10&seed=0&pressure=0.01'
    """
    items = [(f.key, _text(getattr(parameters, f.name))) for f in FIELDS
             if f.name != "pressure" or parameters.jammed]
    if projector:
        items.append(("projector", 1))
    return urlencode(items)


def _text(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def page_url(environ=None) -> str:
    """The page's address without its query, from what Voila tells the kernel.

    Voila sets ``VOILA_REQUEST_URL`` (the full URL) for a kernel it starts for a
    request; a preheated kernel gets ``SERVER_NAME``, ``SERVER_PORT`` and
    ``SCRIPT_NAME`` once the request arrives. Behind a reverse proxy the address
    the browser used is the proxy's: the ``X-Forwarded-Proto``, ``-Host`` and
    ``-Prefix`` headers, which Voila passes as ``HTTP_X_FORWARDED_*`` (listed in
    ``voila.json``, ``http_header_envs``), take precedence. Outside Voila this is
    ``""`` and links are relative to the page.
    """
    environ = os.environ if environ is None else environ
    full = environ.get("VOILA_REQUEST_URL", "")
    if full and environ.get("VOILA_PREHEAT", "False") == "False":
        scheme, netloc, path, _, _ = urlsplit(full)
    else:
        path = environ.get("SCRIPT_NAME", "")
        host, port = environ.get("SERVER_NAME", ""), environ.get("SERVER_PORT", "")
        if not (path and host):
            return ""
        scheme, netloc = "http", f"{host}:{port}" if port else host
    scheme = _forwarded(environ, "PROTO").lower() or scheme
    netloc = _forwarded(environ, "HOST") or netloc
    prefix = _forwarded(environ, "PREFIX").rstrip("/")
    if prefix and path != prefix and not path.startswith(prefix + "/"):
        path = prefix + path  # the proxy removed its prefix before passing the request on
    return urlunsplit((scheme, netloc, path, "", ""))


def _forwarded(environ, name: str) -> str:
    """The first ``X-Forwarded-<name>`` value (one per proxy) if well formed, else ``""``.

    A malformed value (a client can send anything) is ignored rather than put in the link.
    """
    value = environ.get(f"HTTP_X_FORWARDED_{name}", "").split(",")[0].strip()
    return value if re.fullmatch(_FORWARDED_FORMS[name], value, re.IGNORECASE) else ""


def page_link(query: str, base: str = "") -> str:
    """``base?query``: the link to copy (relative to the page when ``base`` is empty)."""
    return f"{base}?{query}"
