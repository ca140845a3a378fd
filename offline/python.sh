#!/usr/bin/env bash
# Python on a compute node without network, with what msdsm needs beyond the node's own torch, numpy and matplotlib:
# fastcore and pyyaml (or the set PACKAGES names), installed once from the copied offline kit (`make offline-kit`
# where pip works) into a venv over the system's packages, so that the node's own torch is the one used. Then runs
# `python ARGS…` from the repository root with msdsm importable and offline.
#
#   MSDSM_COMMIT=<commit> offline/python.sh -m msdsm.cli train --recipe fmnist-paper --time-limit 9m …
#
# (MSDSM_COMMIT: the commit a copied tree without .git was taken from, recorded in results.)
# Environment: KIT (.offline-kit), PY (python3), VENV (/tmp/msdsm-offline-python), PACKAGES (pip names) with IMPORTS
# (the modules that prove them installed; default: fastcore pyyaml / fastcore, yaml).
set -uo pipefail
cd "$(dirname "$0")/.."
KIT=${KIT:-.offline-kit}; PY=${PY:-python3}; VENV=${VENV:-/tmp/msdsm-offline-python}
PACKAGES=${PACKAGES:-fastcore pyyaml}; IMPORTS=${IMPORTS:-fastcore, yaml}
if ! $PY -c "import $IMPORTS" 2>/dev/null; then
  if ! "$VENV/bin/python" -c "import $IMPORTS" 2>/dev/null; then
    [ -d "$KIT" ] || { echo "$PACKAGES: missing, and there is no $KIT/: run 'make offline-kit' where pip works and copy $KIT here" >&2
                       exit 2; }
    $PY -m venv --system-site-packages "$VENV" \
      && "$VENV/bin/python" -m pip install -q --no-index --find-links "$KIT" $PACKAGES \
      || { echo "installing $PACKAGES from $KIT into $VENV failed" >&2; exit 2; }
  fi
  PY=$VENV/bin/python
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" MSDSM_OFFLINE=1 PYTHONUNBUFFERED=1
exec $PY "$@"
