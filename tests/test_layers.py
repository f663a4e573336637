"""The package's layers: every module imports only from its own layer or those below.

core (networks, spectra, analysis) < session (schema, pipeline, worker, session)
< views (plot arrays) < top (the widgets, the matplotlib figures, the server).
``docs/architecture.md`` draws the same table. The check reads the source with
``ast``, so an import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bpwidgets

PACKAGE = Path(bpwidgets.__file__).parent
#: Layers from the bottom up; a module belongs to the first whose prefix it has.
LAYERS = (
    ("core", ("bpwidgets.core",)),
    ("session", ("bpwidgets.session",)),
    ("views", ("bpwidgets.views",)),
    ("top", ("bpwidgets.app", "bpwidgets.figures", "bpwidgets.serve", "bpwidgets.serving",
             "bpwidgets.warm", "bpwidgets.sweep")),
)
#: The package's own ``__init__`` re-exports the core; the core itself must not import it
#: (that would be a cycle through the package), every other layer may.
ROOT = "bpwidgets"
#: Libraries a layer may not import, whatever it imports from the package.
_PAGE_LIBRARIES = ("ipywidgets", "bqplot", "matplotlib", "voila", "IPython", "ipykernel",
                   "traitlets")
#: The sweeps' cluster and dataset libraries stay in bpwidgets.sweep: a page or a script
#: that never sweeps does not load them.
_SWEEP_LIBRARIES = ("dask", "distributed", "xarray")
FORBIDDEN_LIBRARIES = {"core": _PAGE_LIBRARIES + _SWEEP_LIBRARIES,
                       "session": _PAGE_LIBRARIES + _SWEEP_LIBRARIES,
                       "views": _PAGE_LIBRARIES + _SWEEP_LIBRARIES}
#: Inside the core, a module imports only modules of a lower rank (so no cycle can form);
#: docs/architecture.md gives the same order.
CORE_RANKS = {
    "parallel": 0, "limits": 0, "store": 0, "network": 1, "analysis": 1, "linalg": 2,
    "fire": 1, "jamming": 2,
    "debye": 3, "kpm": 3, "outliers": 3, "result": 4, "dos": 5, "elastic": 5, "modes": 6, "toy": 6,
    "packings": 6, "paper": 7,
}


def layer_of(module: str) -> int:
    """Index of a module's layer in :data:`LAYERS` (the root package counts as the core)."""
    if module == ROOT:
        return 0
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    raise LookupError(f"{module} belongs to no layer: add it to LAYERS")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, module: str) -> list:
    """``(line, imported module)`` for every import in a file, relative ones resolved."""
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            # ``from bpwidgets.core import network`` imports the submodule, and
            # ``from bpwidgets.core.dos import reduced_dos`` the module: see _existing.
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call) and _call_name(node) in ("import_module", "__import__"):
            # importlib.import_module("bpwidgets.app") imports as much as a statement.
            if node.args and isinstance(node.args[0], ast.Constant):
                found.append((node.lineno, str(node.args[0].value)))
    return found


def _call_name(call) -> str:
    function = call.func
    return function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")


def violations(root: Path) -> list:
    """Every import in the package under ``root`` that runs upward, as readable lines."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        own = layer_of(module)
        imported = {(line, _existing(target, root) if target.split(".")[0] == root.name
                     else target) for line, target in imports_of(path, module)}
        for line, target in sorted(imported):
            where = f"{path.relative_to(root.parent)}:{line}"
            if target.split(".")[0] == root.name:
                if target == ROOT and module != ROOT and own == 0:
                    problems.append(f"{where}: the core imports the package root")
                elif target != ROOT and layer_of(target) > own:
                    problems.append(
                        f"{where}: {LAYERS[own][0]} module {module} imports "
                        f"{LAYERS[layer_of(target)][0]} module {target}"
                    )
                elif own == 0 and target != ROOT and not _core_order_kept(module, target):
                    problems.append(f"{where}: core module {module} imports {target}, "
                                    "which is not below it in the core's order")
            elif target.split(".")[0] in FORBIDDEN_LIBRARIES.get(LAYERS[own][0], ()):
                problems.append(f"{where}: {LAYERS[own][0]} module {module} imports {target}")
        if _has_module_getattr(path):
            problems.append(f"{path.relative_to(root.parent)}: a module-level __getattr__ "
                            "(a lazy import hides the real dependencies)")
    return problems


def _existing(target: str, root: Path) -> str:
    """The longest prefix of ``target`` that is a module or package (drops imported names)."""
    parts = target.split(".")
    while len(parts) > 1:
        relative = Path(root.parent, *parts)
        if relative.with_suffix(".py").exists() or (relative / "__init__.py").exists():
            break
        parts.pop()
    return ".".join(parts)


def _core_order_kept(module: str, target: str) -> bool:
    """Whether a core module's import of another core module goes down the order."""
    ranks = [CORE_RANKS.get(name.split(".")[2]) if name.count(".") >= 2 else None
             for name in (module, target)]
    if None in ranks:  # the core package itself, or a module missing from CORE_RANKS
        return module.count(".") < 2 or target == "bpwidgets.core"
    return ranks[1] < ranks[0]


def _has_module_getattr(path: Path) -> bool:
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            return True
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__getattr__" for t in node.targets):
            return True
    return False


def test_no_import_runs_upward():
    assert violations(PACKAGE) == []


def test_every_module_has_a_layer_and_every_core_module_a_rank():
    for path in PACKAGE.rglob("*.py"):
        module = module_name(path, PACKAGE)
        layer_of(module)
        if module.startswith("bpwidgets.core."):
            assert module.split(".")[2] in CORE_RANKS, f"{module}: add it to CORE_RANKS"


@pytest.mark.parametrize("module, source, expected", [
    ("core/network.py", "from ..session import schema\n", "core module bpwidgets.core.network "
                                                           "imports session module"),
    ("core/network.py", "def f():\n    from bpwidgets.app import Dashboard\n",
     "imports top module bpwidgets.app"),
    ("core/network.py", "from .. import build_network\n", "the core imports the package root"),
    ("session/pipeline.py", "from ..views.plotdata import network_view\n",
     "imports views module bpwidgets.views.plotdata"),
    ("views/plotdata.py", "import ipywidgets\n", "imports ipywidgets"),
    ("core/dos.py", "def f():\n    import xarray\n",
     "core module bpwidgets.core.dos imports xarray"),
    ("core/network.py", "def __getattr__(name):\n    pass\n", "module-level __getattr__"),
    ("core/network.py", "__getattr__ = print\n", "module-level __getattr__"),
    ("session/share.py", "def f():\n    from voila.utils import wait_for_request\n",
     "imports voila.utils"),
    ("views/toyplot.py", "import importlib\nimportlib.import_module('bpwidgets.app')\n",
     "imports top module bpwidgets.app"),
    ("core/linalg.py", "from .dos import reduced_dos\n",
     "core module bpwidgets.core.linalg imports bpwidgets.core.dos, which is not below it"),
    ("core/debye.py", "from . import kpm\n", "imports bpwidgets.core.kpm, which is not below"),
])
def test_an_upward_import_is_caught(tmp_path, module, source, expected):
    """The check fails on a copy of the package with one upward import added."""
    copy = tmp_path / "bpwidgets"
    for path in PACKAGE.rglob("*.py"):
        target = copy / path.relative_to(PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    assert violations(copy) == []
    with open(copy / module, "a") as file:
        file.write("\n" + source)
    (problem,) = violations(copy)
    assert expected in problem
