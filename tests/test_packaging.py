"""Consistency checks between the packaging and deployment files.

pyproject.toml is the source of truth for the runtime dependencies; the conda
environments (environment.yml, binder/environment.yml), Binder's postBuild and
the Voila settings (voila.json) must agree with it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
ENVIRONMENT = ROOT / "environment.yml"
BINDER_ENVIRONMENT = ROOT / "binder" / "environment.yml"
POSTBUILD = ROOT / "binder" / "postBuild"
VOILA_JSON = ROOT / "voila.json"

# conda-forge package name -> PyPI distribution name, where they differ.
CONDA_TO_PYPI: dict[str, str] = {}
# Entries of a conda environment that are not runtime dependencies.
CONDA_TOOLING = {"python", "pip"}

_NAME_RE = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")
_LOWER_BOUND_RE = re.compile(r">=\s*([0-9][0-9A-Za-z.]*)")


def normalise(name: str) -> str:
    """PEP 503 normalisation: case-insensitive, runs of -_. are equivalent."""
    return re.sub(r"[-_.]+", "-", name).lower()


def spec_name(spec: str) -> str:
    match = _NAME_RE.match(spec)
    assert match, f"cannot read a package name from {spec!r}"
    return normalise(match.group(1))


def lower_bound(spec: str) -> str | None:
    match = _LOWER_BOUND_RE.search(spec)
    return match.group(1) if match else None


def parse_conda_environment(text: str) -> dict:
    """Read the small subset of YAML a conda environment file uses.

    Returns {"name": str | None, "channels": [...], "dependencies": [...],
    "pip": [...]}, where "dependencies" holds the plain string entries and
    "pip" the entries of a nested ``- pip:`` list.
    """
    result: dict = {"name": None, "channels": [], "dependencies": [], "pip": []}
    section = None
    nested = None  # set while inside a nested list such as "- pip:"
    nested_indent = 0
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        stripped = line.strip()
        if indent == 0:
            nested = None
            key, _, value = stripped.partition(":")
            section = key.strip()
            if section == "name":
                result["name"] = value.strip().strip("'\"")
            continue
        if section not in ("channels", "dependencies"):
            continue
        if not stripped.startswith("- "):
            continue
        item = stripped[2:].strip()
        if section == "dependencies":
            if item.rstrip().endswith(":"):
                nested = item[:-1].strip() if item[:-1].strip() == "pip" else "other"
                nested_indent = indent
                continue
            if nested and indent > nested_indent:
                if nested == "pip":
                    result["pip"].append(item.strip("'\""))
                continue
            nested = None
        result[section].append(item.strip("'\""))
    return result


def pyproject_runtime_specs() -> dict[str, str]:
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    deps = data["project"]["dependencies"]
    specs = {spec_name(d): d for d in deps}
    assert len(specs) == len(deps), "duplicate runtime dependency in pyproject.toml"
    return specs


def conda_runtime_specs(path: Path) -> dict[str, str]:
    env = parse_conda_environment(path.read_text(encoding="utf-8"))
    specs = {}
    for dep in env["dependencies"]:
        name = spec_name(dep)
        if name in CONDA_TOOLING:
            continue
        name = normalise(CONDA_TO_PYPI.get(name, name))
        assert name not in specs, f"{path.name}: {name} listed twice"
        specs[name] = dep
    return specs


# ---------------------------------------------------------------- the parser


def test_conda_parser_reads_a_known_environment():
    text = """
# comment
name: demo
channels:
  - conda-forge
dependencies:
  - python>=3.10   # inline comment
  - "scikit_learn >=1.2"
  - pip
  - pip:
      - some-pypi-only>=2
  - Numpy
"""
    env = parse_conda_environment(text)
    assert env["name"] == "demo"
    assert env["channels"] == ["conda-forge"]
    assert env["dependencies"] == ["python>=3.10", "scikit_learn >=1.2", "pip", "Numpy"]
    assert env["pip"] == ["some-pypi-only>=2"]
    assert [spec_name(d) for d in env["dependencies"]] == [
        "python",
        "scikit-learn",
        "pip",
        "numpy",
    ]
    assert lower_bound("scikit_learn >=1.2") == "1.2"


# ------------------------------------------------------------ pyproject.toml


def test_pyproject_declares_the_runtime_dependencies():
    specs = pyproject_runtime_specs()
    expected = {"numpy", "scipy", "ipywidgets", "bqplot", "voila", "jupyterlab", "matplotlib",
                "diskcache", "platformdirs", "websockets", "dask", "distributed", "xarray"}
    assert set(specs) == expected
    for name, spec in specs.items():
        assert lower_bound(spec), f"{name} has no lower bound in pyproject.toml"


def test_pyproject_extras_and_pytest_markers():
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    extras = data["project"]["optional-dependencies"]
    assert {spec_name(d) for d in extras["test"]} >= {
        "pytest",
        "playwright",
        "nbclient",
        "nbformat",
        "ipykernel",
        "matplotlib",
    }
    assert {spec_name(d) for d in extras["figures"]} == {"matplotlib"}
    ini = data["tool"]["pytest"]["ini_options"]
    assert ini["testpaths"] == ["tests"]
    markers = {m.split(":", 1)[0].strip() for m in ini["markers"]}
    assert {"browser", "slow"} <= markers


# ----------------------------------------------------------- environment.yml


def test_environment_yml_has_the_same_runtime_dependencies():
    env = parse_conda_environment(ENVIRONMENT.read_text(encoding="utf-8"))
    assert env["name"] == "bpwidgets"
    assert env["channels"] == ["conda-forge"]
    assert not env["pip"], "environment.yml should not install anything with pip"
    assert set(conda_runtime_specs(ENVIRONMENT)) == set(pyproject_runtime_specs())


def test_environment_yml_has_the_same_lower_bounds():
    pip_specs = pyproject_runtime_specs()
    conda_specs = conda_runtime_specs(ENVIRONMENT)
    mismatched = {
        name: (pip_specs[name], conda_specs.get(name))
        for name in pip_specs
        if lower_bound(pip_specs[name]) != lower_bound(conda_specs.get(name, ""))
    }
    assert not mismatched, f"lower bounds differ (pyproject, environment.yml): {mismatched}"


def test_environment_yml_python_matches_requires_python():
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    requires = data["project"]["requires-python"]
    env = parse_conda_environment(ENVIRONMENT.read_text(encoding="utf-8"))
    pythons = [d for d in env["dependencies"] if spec_name(d) == "python"]
    assert len(pythons) == 1
    assert lower_bound(pythons[0]) == lower_bound(requires)
    assert "pip" in [spec_name(d) for d in env["dependencies"]]


# ---------------------------------------------------------------- binder/


def test_binder_environment_holds_every_runtime_dependency():
    env = parse_conda_environment(BINDER_ENVIRONMENT.read_text(encoding="utf-8"))
    assert "conda-forge" in env["channels"]
    binder = conda_runtime_specs(BINDER_ENVIRONMENT)
    missing = set(pyproject_runtime_specs()) - set(binder)
    assert not missing, f"binder/environment.yml lacks {sorted(missing)}"
    # postBuild uses pip, so the environment must provide it
    assert "pip" in [spec_name(d) for d in env["dependencies"]]


def test_binder_postbuild_installs_the_package():
    assert POSTBUILD.is_file(), "binder/postBuild is missing"
    assert os.access(POSTBUILD, os.X_OK), "binder/postBuild is not executable"
    text = POSTBUILD.read_text(encoding="utf-8")
    lines = [ln.strip() for ln in text.splitlines()]
    assert re.match(r"#!\s*(/usr/bin/env\s+bash|/bin/bash)\b", lines[0]), lines[0]
    assert "set -euo pipefail" in lines
    commands = [ln for ln in lines if ln and not ln.startswith("#")]
    installs = [
        ln
        for ln in commands
        if re.search(r"\bpip\s+install\b", ln) and re.search(r"(^|\s)(-e\s+)?\.(\s|$)", ln)
    ]
    assert installs, "binder/postBuild does not pip-install the repository"
    # the shell accepts it
    subprocess.run(["bash", "-n", str(POSTBUILD)], check=True)


# ------------------------------------------------------------------ voila.json


def test_voila_json_hides_sources_and_tracebacks():
    config = json.loads(VOILA_JSON.read_text(encoding="utf-8"))
    voila = config["VoilaConfiguration"]
    assert voila["strip_sources"] is True
    assert voila["show_tracebacks"] is False


def test_voila_json_waits_for_the_notebook_output_under_load():
    # Voila's one server process reads every kernel's messages. With a class loading
    # the page at once it falls seconds behind, and nbclient's default of 4 s for the
    # cell's remaining output dropped the dashboard from every page
    # (benchmarks/load_class.py). The setting must reach the executor Voila builds.
    execute = pytest.importorskip("voila.execute")
    nbformat = pytest.importorskip("nbformat")
    from traitlets.config.loader import JSONFileConfigLoader

    config = JSONFileConfigLoader(VOILA_JSON.name, path=str(ROOT)).load_config()
    executor = execute.VoilaExecutor(nbformat.v4.new_notebook(), config=config)
    assert executor.iopub_timeout >= 60


def _voila_configuration_class():
    """VoilaConfiguration of the installed voila.

    voila/configuration.py only needs traitlets, whereas ``import voila`` pulls
    in jupyterlab_server (several seconds), so load that one file on its own.
    """
    spec = importlib.util.find_spec("voila")
    if spec is None:
        pytest.skip("voila is not installed")
    for folder in spec.submodule_search_locations or []:
        path = Path(folder) / "configuration.py"
        if path.is_file():
            file_spec = importlib.util.spec_from_file_location("_voila_configuration", path)
            module = importlib.util.module_from_spec(file_spec)
            try:
                file_spec.loader.exec_module(module)
            except ImportError:
                break
            return module.VoilaConfiguration
    return pytest.importorskip("voila.configuration").VoilaConfiguration


def test_voila_json_keys_are_known_to_voila():
    config = json.loads(VOILA_JSON.read_text(encoding="utf-8"))
    known = {"VoilaConfiguration": _voila_configuration_class()}
    if "Voila" in config:
        known["Voila"] = pytest.importorskip("voila.app").Voila
    if "VoilaExecutor" in config:
        known["VoilaExecutor"] = pytest.importorskip("voila.execute").VoilaExecutor
    unknown_sections = set(config) - set(known)
    assert not unknown_sections, f"unknown sections in voila.json: {unknown_sections}"
    for section, cls in known.items():
        if section not in config:
            continue
        traits = set(cls.class_trait_names(config=True))
        unknown = set(config[section]) - traits
        assert not unknown, f"voila.json: {section} has no option(s) {sorted(unknown)}"


def test_readme_library_example_prints_what_the_readme_says():
    # The README shows the library in use with its output: run the code, compare the text.
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## As a library"):]
    example = re.search(r"```python\n(.*?)```\n\nprints\n\n```\n(.*?)```", section, re.S)
    assert example, "the README's library example and its output"
    code, printed = example.groups()
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert run.stdout == printed


def test_readme_parameter_table_is_the_schema():
    from bpwidgets.session.schema import markdown_table

    assert markdown_table() in (ROOT / "README.md").read_text()
