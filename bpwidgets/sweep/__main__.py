"""``python -m bpwidgets.sweep``: the command line (:func:`bpwidgets.sweep.cli.main`).

Examples
--------
>>> import contextlib, io
>>> from bpwidgets.sweep.cli import main
>>> with contextlib.redirect_stdout(io.StringIO()) as printed, contextlib.suppress(SystemExit):
...     main(["--help"])
>>> printed.getvalue().split()[:4]
['usage:', 'python', '-m', 'bpwidgets.sweep']
"""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
