#!/usr/bin/env bash
# Where the GPU training step spends its time, and the levers against the default: two commands, each under ten
# minutes, each part under its own `timeout` (so one slow part cannot use up a short job):
#
#   OUT=$OUT benchmarks/gpu_speed.sh profile   # kernel breakdown (bs 128, 256) + the levers except max-autotune
#   OUT=$OUT benchmarks/gpu_speed.sh autotune  # max-autotune against the default, then `msdsm bench` (train cases)
#
# Needs only torch (the node's own) and fastcore + pyyaml (installed from the offline kit, `make offline-kit`). Every part
# writes its JSON and log under $OUT as it goes, so a part that is killed leaves what it measured.
# The levers run most promising first; one that does not fit in its part's limit is missing from the JSON, not wrong.
# TINY=1 DEVICE=cpu runs the same parts at toy size (tests/test_levers.py does, to check this script on a CPU).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}; KIT=${KIT:-.offline-kit}; PY=${PY:-python3}; DEVICE=${DEVICE:-cuda}
VARIANTS=(default stem_unfold stem_pad8 stem_nchw stem_fp32 no_channels_last cudnn_benchmark)
if [ -n "${TINY:-}" ]; then PROF=(--width 8 --batch 8 --steps 1); LEV=(--width 8 --batch 8 --repeat 1); BENCH=(--quick)
  VARIANTS=(default stem_unfold)     # the rest: stem layers (14_bench checks them in-process), CUDA settings
else PROF=(--batch 128 256); LEV=(); BENCH=(); fi
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
# msdsm needs fastcore and pyyaml beyond the node's torch: offline/python.sh installs them from the kit once
RUN=(env KIT="$KIT" PY="$PY" offline/python.sh)
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$OUT/gpu.txt" 2>&1
part() { local limit=$1 name=$2; shift 2; echo "== $name (limit ${limit}s): $*"
  timeout --signal=TERM "$limit" "$@" 2>&1 | tee "$OUT/$name.log"; echo "== $name exit ${PIPESTATUS[0]}"; }
case "${1:-}" in
  profile)
    part 200 profile "${RUN[@]}" -m msdsm.cli bench --breakdown --device "$DEVICE" "${PROF[@]}" --json "$OUT/profile.json"
    part 330 levers "${RUN[@]}" -m msdsm.cli bench --levers "${VARIANTS[@]}" --device "$DEVICE" "${LEV[@]}" \
      --json "$OUT/levers.json" ;;
  autotune)
    part 390 levers-autotune "${RUN[@]}" -m msdsm.cli bench --levers max_autotune --device "$DEVICE" "${LEV[@]}" \
      --json "$OUT/levers-autotune.json" --budget 300
    part 200 bench "${RUN[@]}" -m msdsm.cli bench --device "$DEVICE" "${BENCH[@]}" --only train \
      --json "$OUT/bench_train.json" ;;
  *) echo "usage: $0 profile|autotune" >&2; exit 2 ;;
esac
ls -la "$OUT"
