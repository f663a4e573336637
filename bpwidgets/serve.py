"""Serve the dashboard with Voila: ``python -m bpwidgets.serve [--port 8866] [--class]``.

Voila runs on 127.0.0.1 from the repository root, so it reads the repository's
``voila.json`` (sources stripped, no tracebacks on the page) and serves
``notebooks/dashboard.ipynb``. ``--class`` adds the settings of
``voila-class.json`` for a lecture hall: idle kernels are culled (see the
README, "Serving a class", for preheated kernels and why they are off).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

__all__ = [
    "CLASS_CONFIG", "DEFAULT_PORT", "NOTEBOOK", "ROOT", "class_config", "main", "request_query",
    "voila_arguments",
]

#: Voila's own default port.
DEFAULT_PORT = 8866
#: Repository root: Voila reads ``voila.json`` from its working directory.
ROOT = Path(__file__).resolve().parent.parent
#: The thin notebook that builds and displays the dashboard.
NOTEBOOK = ROOT / "notebooks" / "dashboard.ipynb"
#: Settings for serving a whole class, added by ``--class`` to those of ``voila.json``.
CLASS_CONFIG = ROOT / "voila-class.json"


def class_config(path: Path = CLASS_CONFIG):
    """The class settings as a traitlets ``Config`` (section -> trait -> value)."""
    from traitlets.config import Config

    return Config(json.loads(Path(path).read_text(encoding="utf-8")))


def voila_arguments(port: int) -> list[str]:
    """Command-line arguments for Voila serving the dashboard on 127.0.0.1:``port``."""
    return [
        str(NOTEBOOK.relative_to(ROOT)),
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--no-browser",
    ]


def request_query(environ=None) -> str:
    """The query string of the page request that started this kernel.

    In a preheated kernel (``VOILA_PREHEAT=True``) the notebook runs before any
    page asks for it: this waits for the request (``voila.utils.wait_for_request``),
    which then sets the same variables as for an ordinary kernel.
    """
    environ = os.environ if environ is None else environ
    if environ.get("VOILA_PREHEAT", "False") != "False":
        from voila.utils import wait_for_request

        wait_for_request()
    return environ.get("QUERY_STRING", "")


def main(argv=None) -> int:
    """Parse the options, print the URL and run Voila until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m bpwidgets.serve",
        description="Serve the bpwidgets dashboard with Voila on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port to listen on (default {DEFAULT_PORT})")
    parser.add_argument("--class", dest="lecture", action="store_true",
                        help=f"serve a class: add the settings of {CLASS_CONFIG.name} "
                             "(idle kernels culled)")
    options = parser.parse_args(argv)
    if not NOTEBOOK.is_file():
        parser.error(f"{NOTEBOOK} not found: run from a checkout of the repository")

    from voila.app import Voila

    os.chdir(ROOT)
    print(f"bpwidgets dashboard: http://127.0.0.1:{options.port}/", flush=True)
    # Settings passed here rank below voila.json and the command line, and merge with them.
    settings = {"config": class_config()} if options.lecture else {}
    Voila.launch_instance(argv=voila_arguments(options.port), **settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
