# Two commands do everything on a fresh machine: `make repro` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Stage commands in dvc.yaml call `python`: the one in .venv.
export PATH := $(abspath $(BIN)):$(PATH)

PLOTS_TEMPLATE := .dvc/plots/offline.html

.PHONY: repro test bench venv plots-template clean-venv

venv: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

repro: $(STAMP) $(PLOTS_TEMPLATE)
	$(BIN)/dvc repro

# `dvc plots show` HTML that opens offline (vega scripts inlined from the npm registry, not committed).
plots-template: $(PLOTS_TEMPLATE)

$(PLOTS_TEMPLATE): tools/offline_plots_template.py
	$(PYTHON) tools/offline_plots_template.py $@ || \
		echo "warning: no offline plots template (needs npm); the pipeline runs without it"

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python tools/bench.py

clean-venv:
	rm -rf $(VENV)
