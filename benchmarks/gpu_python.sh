#!/usr/bin/env bash
# Python on the bare GPU machine with what msdsm needs beyond that machine's torch, numpy and matplotlib: fastcore and
# pyyaml (or the set PACKAGES names), installed once from the carried .gpu-kit (`make gpu-kit`) into a venv over the
# system's packages (so the machine's own torch is the one used). Then runs `python ARGS…` from the repository root
# with msdsm importable.
#
#   MSDSM_COMMIT=<commit> benchmarks/gpu_python.sh -m msdsm.cli train --recipe fmnist-paper --time-limit 9m …
#
# Environment: KIT (.gpu-kit), PY (python3), VENV (/tmp/msdsm-gpu-python), PACKAGES (pip names) with IMPORTS (the
# modules that prove them installed; default: fastcore pyyaml / fastcore, yaml).
set -uo pipefail
cd "$(dirname "$0")/.."
KIT=${KIT:-.gpu-kit}; PY=${PY:-python3}; VENV=${VENV:-/tmp/msdsm-gpu-python}
PACKAGES=${PACKAGES:-fastcore pyyaml}; IMPORTS=${IMPORTS:-fastcore, yaml}
if ! $PY -c "import $IMPORTS" 2>/dev/null; then
  if ! "$VENV/bin/python" -c "import $IMPORTS" 2>/dev/null; then
    [ -d "$KIT" ] || { echo "$PACKAGES: missing, and there is no $KIT/: run 'make gpu-kit' here and carry $KIT" >&2
                       exit 2; }
    $PY -m venv --system-site-packages "$VENV" \
      && "$VENV/bin/python" -m pip install -q --no-index --find-links "$KIT" $PACKAGES \
      || { echo "installing $PACKAGES from $KIT into $VENV failed" >&2; exit 2; }
  fi
  PY=$VENV/bin/python
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" MSDSM_OFFLINE=1 PYTHONUNBUFFERED=1
exec $PY "$@"
