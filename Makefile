# pipeport: `make demo` sets everything up and runs the whole flow on the bundled penguins data;
# `make test` runs the whole suite. Both install what they need first (idempotent).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIPEPORT := $(VENV)/bin/pipeport
DEMO_CONFIG := configs/penguins-species.toml
HOUSE_DIR := artifacts/house-prices
DEMO_DIR := artifacts/penguins-species
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help install clients chromium demo train export parity serve test lint bench lock clean house-prices house-prices-data

help:
	@echo "make demo     set up, train + export + parity-check the penguins model, serve it on $(HOST):$(PORT)"
	@echo "make test     set up, then run the whole test suite (Python, Node.js, headless Chromium)"
	@echo "make install  create $(VENV) and install the locked dependencies (requirements/dev.lock)"
	@echo "make lint     ruff + mypy"
	@echo "make bench    serving, robustness and batch benchmarks (bench/; needs wrk)"

$(VENV)/.installed: requirements/dev.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.lock
	$(PY) -m pip install --quiet --no-deps -e .
	@# Bytecode for our own packages, as pip writes it for an installed package: an editable
	@# install has none, and PYTHONDONTWRITEBYTECODE=1 (common in containers) stops Python
	@# from writing it, so every `pipeport` start would compile them again (~40 ms).
	$(PY) -m compileall -q pipeport/
	@touch $@

install: $(VENV)/.installed

# onnxruntime-node's postinstall downloads binaries from a host we cannot reach; skipping it
# leaves the CPU build that ships in the npm package, which is all we use.
clients/node_modules/.installed: clients/package.json clients/package-lock.json
	cd clients && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error
	@touch $@

clients: clients/node_modules/.installed

# Debian's chromium for the browser parity tests (never a browser downloaded by a test tool).
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "chromium is missing: run 'sudo apt-get install -y chromium'"; exit 1; \
	  fi; \
	fi

train: install
	$(PIPEPORT) train $(DEMO_CONFIG) --out $(DEMO_DIR)

export: train
	$(PIPEPORT) export $(DEMO_DIR)

parity: export
	$(PIPEPORT) parity $(DEMO_DIR) --runtimes sklearn,onnxruntime,reference,http --report-dir $(DEMO_DIR)/parity

demo: parity
	@echo
	@echo "Serving $(DEMO_DIR)/pipeline.onnx on http://$(HOST):$(PORT) (Ctrl-C to stop). Try:"
	@echo
	@echo "  curl -s http://$(HOST):$(PORT)/v1/predict -H 'Content-Type: application/json' -d '{\"rows\": [{\"bill_length_mm\": 39.1, \"bill_depth_mm\": 18.7, \"flipper_length_mm\": 181, \"body_mass_g\": 3750, \"year\": 2007, \"island\": \"Torgersen\", \"sex\": \"male\"}]}'"
	@echo
	$(PIPEPORT) serve $(DEMO_DIR)/pipeline.onnx --host $(HOST) --port $(PORT)

# The second example: the house-price course pipeline on the Ames data (fetched, data/PROVENANCE.md).
data/ames.csv: | install
	$(PY) -m pipeport.research.datasets ames data/ames.csv

house-prices-data: data/ames.csv

house-prices: install data/ames.csv
	$(PIPEPORT) train configs/house-prices.toml --out $(HOUSE_DIR)
	$(PIPEPORT) export $(HOUSE_DIR)
	$(PIPEPORT) parity $(HOUSE_DIR) --report-dir $(HOUSE_DIR)/parity

test: install clients chromium data/ames.csv
	$(VENV)/bin/pytest -q -p no:cacheprovider

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: install
	@command -v wrk >/dev/null || { echo "bench needs wrk: apt-get install -y wrk"; exit 1; }
	@test -f $(DEMO_DIR)/pipeline.onnx || $(MAKE) export
	$(PY) bench/serve.py
	$(PY) bench/robustness.py
	$(PY) bench/inprocess.py

# Re-pin every transitive dependency. The project itself is installed from this checkout by
# `make install`, so its own line (an absolute file:// path) is dropped from the locks.
lock: install
	$(PY) -m pip install --quiet pip-tools
	for extra in dev serve; do \
	  $(VENV)/bin/pip-compile --quiet --strip-extras --extra $$extra --no-header \
	    --no-emit-index-url --no-emit-find-links --annotation-style=line \
	    -o requirements/$$extra.lock pyproject.toml && \
	  sed -i '/^pipeport @ /d' requirements/$$extra.lock; \
	done

clean:
	rm -rf artifacts reports bench/results
