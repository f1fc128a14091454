# Two commands do everything on a fresh machine: `make repro` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Stage commands in dvc.yaml call `python`: the one in .venv.
export PATH := $(abspath $(BIN)):$(PATH)

PLOTS_TEMPLATE := .dvc/plots/offline.html

.PHONY: repro test bench ablation gpu-check venv plots-template clean-venv

venv: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -m lhmix.pipeline.guard   # DVC checks params before it acts (docs/method.md, "Params from someone else")
	touch $(STAMP)

# JOBS=N: DVC's stages N at a time, one GPU each (tools/repro_parallel.py; docs/paper-scale.md).
JOBS ?= 1
repro: $(STAMP) plots-template
ifeq ($(JOBS),1)
	$(BIN)/dvc repro
else
	$(BIN)/python tools/repro_parallel.py --jobs $(JOBS)
endif

# `dvc plots show` HTML that opens offline (vega scripts inlined from the npm registry, not committed).
# DVC is pointed at it in the git-ignored .dvc/config.local, and only while the page exists: without it
# (no npm), `dvc plots show` uses DVC's default page, which loads vega from a CDN. The pipeline runs either way.
plots-template: $(STAMP)
	@if $(MAKE) --no-print-directory $(PLOTS_TEMPLATE); then \
		$(BIN)/dvc config --local plots.html_template plots/offline.html; \
	else \
		$(BIN)/dvc config --local --unset plots.html_template 2>/dev/null || true; \
		echo "warning: no offline plots template: dvc plots show will use DVC's default page (vega from a CDN)" >&2; \
	fi

$(PLOTS_TEMPLATE): tools/offline_plots_template.py
	$(BIN)/python tools/offline_plots_template.py $@

test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --durations=15

bench: $(STAMP)
	$(BIN)/python tools/bench.py

# The default with one choice undone at a time (head, MLM loss, schedule), seeds 0 and 1: reports/ablation.md.
# After make repro; about 33 min on 2 cores at 170 GFLOP/s.
ablation: $(STAMP)
	$(BIN)/python tools/ablation.py

# On a machine with one CUDA GPU: bert-base-sized throughput, MFU, sync-free steps, then the tiny profile's
# pipeline on the GPU twice -> reports/gpu.{md,json}. 96 s on one H200 (reports/gpu.md, torch 2.11), after .venv.
gpu-check: $(STAMP)
	$(BIN)/python tools/gpu_check.py

clean-venv:
	rm -rf $(VENV)
