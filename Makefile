# Two commands do everything: `make reproduce` and `make test`. Both create or reuse .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.msdsm-installed
ARCH := $(shell uname -m)
# torch pinned to the wheels setup installs (never require a newer torch; the code runs on torch >= 2.4)
ifeq ($(ARCH),aarch64)
TORCH_PINS := torch==2.9.1 torchvision==0.24.1
else
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
endif
FMNIST := /usr/share/datasets/fashion-mnist
# Debian's packages: the data set, and the browser the JupyterLab test drives
APT_PACKAGES := dataset-fashion-mnist chromium
OFFLINE_KIT := .offline-kit
CARD := models/fmnist-paper/MODEL_CARD.md

.PHONY: setup data test reproduce check-export check-clean nbtest pytest readme notebooks lab offline-kit offline-carry clean-venv

setup: $(STAMP)

# Both kernels run .venv's Python: `msdsm` (the reproduction driver's) and `python3` (what nbdev-clean writes into
# every notebook, so a notebook opened in JupyterLab runs in .venv without picking a kernel).
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_PINS)
	$(BIN)/python -m pip install -q -e '.[all]'
	$(BIN)/python -m ipykernel install --sys-prefix --name msdsm --display-name "msdsm (.venv)" >/dev/null
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (msdsm .venv)" >/dev/null
	@touch $(STAMP)

# Fashion-MNIST and Chromium from Debian when we are root with apt; quietly nothing otherwise (tests say what is missing).
data:
	@missing=""; [ -f $(FMNIST)/train-images-idx3-ubyte.gz ] || missing="dataset-fashion-mnist"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian packages:$$missing"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null 2>&1 || \
	  { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null 2>&1; } || \
	  echo "note: could not install$$missing; tests that need them will say so"; \
	fi

# README.md is generated from nbs/index.ipynb (nbdev's own readme command needs Quarto, which is not installable here);
# its results table is computed from results/<profile>/*.json when the notebook runs, so it cannot disagree with them.
readme: setup
	@{ echo "<!-- generated from nbs/index.ipynb by \`make readme\`: edit the notebook, not this file -->"; \
	  $(BIN)/jupyter nbconvert --to markdown --execute --no-input --stdout nbs/index.ipynb 2>/dev/null; } > README.md.tmp \
	  && mv README.md.tmp README.md || { rm -f README.md.tmp; echo "ERROR: executing nbs/index.ipynb failed"; exit 1; }
	@$(BIN)/python -c "from msdsm.reproduce import model_card; open('$(CARD)', 'w').write(model_card())"

# The library must be exactly what the notebooks export, and README.md what index.ipynb says.
check-export: setup
	@rm -rf .check-export && mkdir .check-export && cp -r msdsm README.md $(CARD) .check-export/
	@$(BIN)/nbdev-export && $(MAKE) -s readme
	@if ! diff -r -q -x __pycache__ .check-export/msdsm msdsm || ! diff -q .check-export/README.md README.md || \
	  ! diff -q .check-export/MODEL_CARD.md $(CARD); then rm -rf .check-export; \
	  echo "ERROR: msdsm/, README.md or the model card differed from what nbs/ and results/ give (files above). All have now been regenerated:"; \
	  echo "       run nbdev-export (and make readme) after editing notebooks, and commit them with nbs/."; exit 1; fi
	@rm -rf .check-export; echo "ok: msdsm/ and README.md equal the notebooks' export"

check-clean: setup
	@rm -rf .check-clean && cp -r nbs .check-clean
	@$(BIN)/nbdev-clean
	@if ! diff -r -q .check-clean nbs; then rm -rf .check-clean; \
	  echo "ERROR: notebooks were not clean (files above); nbdev-clean has now cleaned them: commit the result."; exit 1; fi
	@rm -rf .check-clean; echo "ok: notebooks are clean"

nbtest: setup data
	$(BIN)/nbdev-test --n-workers 2 --timing

pytest: setup data
	$(BIN)/python -m pytest -q -ra

test: check-export check-clean nbtest pytest

reproduce: setup data
	$(BIN)/msdsm reproduce --profile smoke

# The concept notebooks are committed with their outputs (seeded, CPU): re-execute them in place after editing
# (nbdev's runner, so cells flagged `slow` or `gpu` are skipped exactly as in the tests).
notebooks: setup data
	@for nb in nbs/[0-9][0-9]_*.ipynb; do $(BIN)/nbdev-clean --clear-all --fname $$nb; done
	$(BIN)/nbdev-test --save --n-workers 2 --file-re '^[0-9][0-9]_.*\.ipynb$$'
	@$(BIN)/nbdev-clean && $(BIN)/nbdev-export && echo "ok: notebooks executed in place; commit nbs/"

# JupyterLab on the repository, from .venv (the notebooks' python3 kernel is .venv's Python).
lab: setup data
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/jupyter lab --notebook-dir=. --ServerApp.open_browser=False \
	  $$([ "$$(id -u)" = 0 ] && echo --allow-root)

# For a compute node without network (a cluster node, an air-gapped GPU box) that has Python 3.12 and torch: the
# wheels of everything else msdsm's reproduction needs, built here where pip works; offline/README.md says how to use it.
offline-kit: setup
	@mkdir -p $(OFFLINE_KIT)
	$(BIN)/python -m pip download -q -d $(OFFLINE_KIT) --only-binary=:all: --python-version 3.12 --implementation cp \
	  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
	  --platform any --no-deps papermill nbclient nbformat jupyter_client ipykernel torch-fidelity pyyaml fastcore
	$(BIN)/python offline/kit.py resolve $(OFFLINE_KIT)
	@echo "ok: wheels for the node in $(OFFLINE_KIT)/ ($$(ls $(OFFLINE_KIT) | wc -l) files)"

# What to copy to the node: the kit and Fashion-MNIST as Debian ships it (about 58 MB together).
offline-carry: offline-kit data
	@test -f $(FMNIST)/train-images-idx3-ubyte.gz || { echo "ERROR: Fashion-MNIST is not in $(FMNIST): apt-get install dataset-fashion-mnist"; exit 1; }
	@mkdir -p .carry/data/fashion-mnist && cp $(FMNIST)/*-ubyte.gz .carry/data/fashion-mnist/
	@echo "ok: copy $(OFFLINE_KIT) and .carry to the node ($$(du -sch $(OFFLINE_KIT) .carry | tail -1 | cut -f1) together)"

clean-venv:
	rm -rf $(VENV)
