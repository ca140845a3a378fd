# Two commands do everything: `make reproduce` and `make test`. Both create or reuse .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.msdsm-installed
ARCH := $(shell uname -m)
# torch wheels this project's machines hold on disk (never require a newer torch; the code runs on torch >= 2.4)
ifeq ($(ARCH),aarch64)
TORCH_PINS := torch==2.9.1 torchvision==0.24.1
else
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
endif
FMNIST := /usr/share/datasets/fashion-mnist

.PHONY: setup data test reproduce check-export check-clean nbtest pytest readme clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_PINS)
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name msdsm --display-name "msdsm (.venv)" >/dev/null
	@touch $(STAMP)

# Fashion-MNIST from Debian's package when we are root with apt; quietly nothing otherwise.
data:
	@if [ ! -f $(FMNIST)/train-images-idx3-ubyte.gz ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Fashion-MNIST (Debian package dataset-fashion-mnist)"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
	  { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1; } || \
	  echo "note: could not install dataset-fashion-mnist; tests that need it will say so"; \
	fi

# README.md is generated from nbs/index.ipynb (nbdev's own readme command needs Quarto, which is not installable here).
readme: setup
	@{ echo "<!-- generated from nbs/index.ipynb by \`make readme\`: edit the notebook, not this file -->"; \
	  $(BIN)/jupyter nbconvert --to markdown --stdout nbs/index.ipynb 2>/dev/null; } > README.md

# The library must be exactly what the notebooks export, and README.md what index.ipynb says.
check-export: setup
	@rm -rf .check-export && mkdir .check-export && cp -r msdsm README.md .check-export/
	@$(BIN)/nbdev-export && $(MAKE) -s readme
	@if ! diff -r -q -x __pycache__ .check-export/msdsm msdsm || ! diff -q .check-export/README.md README.md; then rm -rf .check-export; \
	  echo "ERROR: msdsm/ or README.md differed from what nbs/ export (files above). Both have now been regenerated:"; \
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

clean-venv:
	rm -rf $(VENV)
