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

.PHONY: help venv app class chromium test bench load-class clean

help:
	@echo "make venv      create $(VENV) and install bpwidgets with its [test] extra"
	@echo "make app       serve the dashboard with Voila on 127.0.0.1"
	@echo "make class     serve it for a class (idle kernels culled, voila-class.json)"
	@echo "make chromium  install Debian's chromium (for browser tests) if missing"
	@echo "make test      run the test suite (PYTEST_ARGS='...' to pass options)"
	@echo "make bench     run every benchmarks/bench_*.py"
	@echo "make load-class  30 simultaneous browser sessions against a local server"
	@echo "make clean     remove $(VENV) and artifacts/"

venv: $(STAMP)

$(VPY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(VPY)
	$(VPIP) install -e ".[test]"
	touch $@

app: venv
	$(VPY) -m bpwidgets.serve

class: venv
	$(VPY) -m bpwidgets.serve --class

load-class: venv chromium
	$(VPY) benchmarks/load_class.py

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

clean:
	rm -rf $(VENV) artifacts/
