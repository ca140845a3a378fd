#!/usr/bin/env bash
# Run experiment notebooks (paper profile) on a compute node without network and pack what they make into $OUT as one
# .tar.gz, split into parts of at most PART_SIZE (15M) for transfer tools that limit a file's size. Back in a checkout:
# `python offline/kit.py unpack FILES…` puts figures/, results/ and reports/ in place and merges the ledger.
#
# On the node, from the repository root, with the offline kit (`make offline-kit`) and Fashion-MNIST (.carry/data)
# copied there:   MSDSM_COMMIT=<commit> OUT=$OUT offline/reproduce.sh noise_shell ablation
#
# Environment: OUT (where to pack; default ./offline-out), PROFILE (paper), KIT (.offline-kit), DATA (.carry/data),
# LIMIT_S (seconds the whole reproduction may take, so that what ran is still packed within a job's time limit;
# default 480), PART_SIZE (15M; split's units: K, M, G), PY (python3).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-offline-out}; PROFILE=${PROFILE:-paper}; KIT=${KIT:-.offline-kit}; DATA=${DATA:-.carry/data}; LIMIT_S=${LIMIT_S:-480}
PART_SIZE=${PART_SIZE:-15M}
[ $# -ge 1 ] || { echo "usage: $0 EXPERIMENT [EXPERIMENT…]" >&2; exit 2; }
numfmt --from=iec "$PART_SIZE" >/dev/null 2>&1 || { echo "PART_SIZE=$PART_SIZE: give a size such as 15M or 500K" >&2; exit 2; }
for e in "$@"; do
  [ -f "nbs/experiments/$e.ipynb" ] || { echo "unknown experiment $e; known: $(cd nbs/experiments && ls *.ipynb | sed 's/\.ipynb$//' | tr '\n' ' ')" >&2; exit 2; }
done
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
T0=$(date +%s)

# 1. Python with papermill, a kernel and torch-fidelity: this one if it has them, else a venv over it from the kit.
RUN=(env KIT="$KIT" PY="${PY:-python3}" PACKAGES="papermill ipykernel torch-fidelity fastcore pyyaml"
     IMPORTS="papermill, ipykernel, torch_fidelity, fastcore, yaml" offline/python.sh)
"${RUN[@]}" -c '' || exit 2                                     # install (or refuse) before the clock starts
[ -d "$DATA" ] && export MSDSM_DATA="$DATA"

# 2. Run, under a time limit so that what ran is still packed.
WORK=$(mktemp -d)
timeout --signal=TERM "$LIMIT_S" "${RUN[@]}" -m msdsm.cli reproduce --profile "$PROFILE" --only "$@" --out-dir "$WORK" \
  2>&1 | tee "$OUT/reproduce.log"
RC=${PIPESTATUS[0]}
echo "reproduce exit status $RC after $(( $(date +%s) - T0 )) s" | tee -a "$OUT/reproduce.log"

# 3. Pack: one tar.gz of figures/, results/, reports/ (split into parts of PART_SIZE if larger).
NAME="$PROFILE-$(IFS=-; echo "$*")"
MADE=$(cd "$WORK" && ls -d figures/"$PROFILE" results/"$PROFILE" reports 2>/dev/null)
[ -n "$MADE" ] || { echo "nothing to pack: the run made no figures, results or reports (see $OUT/reproduce.log)" >&2; exit "$((RC ? RC : 1))"; }
( cd "$WORK" && tar czf "$OUT/$NAME.tar.gz" $MADE )
if [ "$(stat -c %s "$OUT/$NAME.tar.gz")" -gt "$(numfmt --from=iec "$PART_SIZE")" ]; then
  split -b "$PART_SIZE" -d "$OUT/$NAME.tar.gz" "$OUT/$NAME.tar.gz.part" && rm "$OUT/$NAME.tar.gz"
fi
ls -la "$OUT"
exit "$RC"
