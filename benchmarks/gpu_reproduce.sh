#!/usr/bin/env bash
# Run experiment notebooks with the paper profile on the GPU machine and pack what they make into $OUT, in a layout
# the machine can return (at most 8 files of at most 15 MiB, no folders). Back here: `python benchmarks/gpu_kit.py
# unpack GPU_FILES…` puts figures/, results/ and reports/ in place and merges the ledger.
#
# On the GPU machine, from the repository root, with .gpu-kit/ (`make gpu-kit`) and Fashion-MNIST (.carry/data)
# carried:   MSDSM_COMMIT=<commit> OUT=$OUT benchmarks/gpu_reproduce.sh noise_shell ablation
#
# Environment: OUT (where to pack; default ./gpu-out), PROFILE (paper), KIT (.gpu-kit), DATA (.carry/data),
# LIMIT_S (seconds the whole reproduction may take; default 480 so packing fits in a 10-minute command), PY (python3).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}; PROFILE=${PROFILE:-paper}; KIT=${KIT:-.gpu-kit}; DATA=${DATA:-.carry/data}; LIMIT_S=${LIMIT_S:-480}
[ $# -ge 1 ] || { echo "usage: $0 EXPERIMENT [EXPERIMENT…]" >&2; exit 2; }
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
T0=$(date +%s)

# 1. Python with papermill, a kernel and torch-fidelity: this one if it has them, else a venv over it from the kit.
RUN=(env KIT="$KIT" PY="${PY:-python3}" PACKAGES="papermill ipykernel torch-fidelity fastcore pyyaml"
     IMPORTS="papermill, ipykernel, torch_fidelity, fastcore, yaml" benchmarks/gpu_python.sh)
"${RUN[@]}" -c '' || exit 2                                     # install (or refuse) before the clock starts
[ -d "$DATA" ] && export MSDSM_DATA="$DATA"

# 2. Run, under a time limit so that what ran is still packed.
WORK=$(mktemp -d)
timeout --signal=TERM "$LIMIT_S" "${RUN[@]}" -m msdsm.cli reproduce --profile "$PROFILE" --only "$@" --out-dir "$WORK" \
  2>&1 | tee "$OUT/reproduce.log"
RC=${PIPESTATUS[0]}
echo "reproduce exit status $RC after $(( $(date +%s) - T0 )) s" | tee -a "$OUT/reproduce.log"

# 3. Pack: one tar.gz of figures/, results/, reports/ (split into 15 MiB parts if needed).
NAME="$PROFILE-$(IFS=-; echo "$*")"
( cd "$WORK" && tar czf "$OUT/$NAME.tar.gz" $(ls -d figures/"$PROFILE" results/"$PROFILE" reports 2>/dev/null) )
if [ "$(stat -c %s "$OUT/$NAME.tar.gz")" -gt $((15 * 1024 * 1024)) ]; then
  split -b 15M -d "$OUT/$NAME.tar.gz" "$OUT/$NAME.tar.gz.part" && rm "$OUT/$NAME.tar.gz"
fi
ls -la "$OUT"
exit "$RC"
