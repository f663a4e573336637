# bpwidgets developer tasks. See `make help`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
VPIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
PYTEST_ARGS ?=
# Extra options for `make app` / `make class`, e.g. SERVE_ARGS="--ip 0.0.0.0 --base-url /bp/".
SERVE_ARGS ?=
# Options of `make sweep` (python -m bpwidgets.sweep --help lists them).
SWEEP_ARGS ?= --delta 0:0.45:0.025 --size 60 --connection nearest cutoff --spring inverse constant --seeds 10 --out sweep.nc

.PHONY: help venv app class warm chromium test bench load-class load-server sweep clean

help:
	@echo "make venv      create $(VENV) and install bpwidgets with its [test] extra"
	@echo "make app       serve the dashboard with Voila on 127.0.0.1:8866 (SERVE_ARGS='...' for options)"
	@echo "make class     serve it for a class: voila-class.json (35 preheated kernels, a cap,"
	@echo "               culling of unwatched kernels, visitor limits); start it before the"
	@echo "               lecture: the log says when the pool 'is preheated'"
	@echo "make warm      fill the result store with every slider position and preset of a lecture"
	@echo "make chromium  install Debian's chromium (for browser tests) if missing"
	@echo "make test      run the test suite (PYTEST_ARGS='...' to pass options)"
	@echo "make bench     run every benchmarks/bench_*.py"
	@echo "make sweep     the Boson peak over a grid of parameters, on Dask (SWEEP_ARGS='...')"
	@echo "make load-class  30 simultaneous browser sessions against a local server"
	@echo "make load-server the server alone under 10, 30, 100 protocol-level sessions"
	@echo "make clean     remove $(VENV) and artifacts/"

venv: $(STAMP)

$(VPY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(VPY)
	$(VPIP) install -e ".[test]"
	touch $@

app: venv
	$(VPY) -m bpwidgets.serve $(SERVE_ARGS)

class: venv warm
	$(VPY) -m bpwidgets.serve --class $(SERVE_ARGS)

warm: venv
	$(VPY) -m bpwidgets.warm

load-class: venv chromium
	$(VPY) benchmarks/load_class.py

load-server: venv chromium
	$(VPY) benchmarks/load_server.py

chromium:
	@if [ -x $(CHROMIUM) ]; then \
		echo "chromium: $(CHROMIUM) present"; \
	else \
		if [ "$$(id -u)" -eq 0 ]; then SUDO=""; \
		elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; \
		else \
			echo "error: $(CHROMIUM) is missing and cannot be installed:" >&2; \
			echo "       not root and sudo is not available." >&2; \
			echo "       Install Debian's 'chromium' package, then rerun." >&2; \
			exit 1; \
		fi; \
		echo "chromium: installing Debian's chromium"; \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update; \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; \
		test -x $(CHROMIUM) || { echo "error: $(CHROMIUM) still missing after apt-get install" >&2; exit 1; }; \
	fi

test: venv chromium
	$(VPY) -m pytest -q $(PYTEST_ARGS)

bench: venv
	@shopt -s nullglob; \
	scripts=(benchmarks/bench_*.py); \
	if [ $${#scripts[@]} -eq 0 ]; then echo "bench: no benchmarks/bench_*.py found" >&2; exit 1; fi; \
	for f in "$${scripts[@]}"; do \
		echo "== $$f"; \
		$(VPY) "$$f"; \
	done

sweep: venv
	$(VPY) -m bpwidgets.sweep $(SWEEP_ARGS)

clean:
	rm -rf $(VENV) artifacts/
