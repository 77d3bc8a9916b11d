#!/usr/bin/env bash
# Recipe comparison at equal CPU time (issue 11): the multiscale PatchGAN + feature matching
# against the OASIS segmentation discriminator, both fine-tuning generation 1 at 256 px on
# runs/land256, started together, 1 thread each, niced, stopped together with SIGTERM after the
# same wall time (the trainer checkpoints on SIGTERM), then exported and measured in one run.
# Resumable: running it again continues both runs for another BUDGET_MIN minutes each.
#   BUDGET_MIN=55 bash bench/recipe_compare.sh [RUNS_DIR]
# OASIS_NDF: the OASIS D's base width (16: one iteration costs about what the PatchGAN's at ndf 32 does).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-runs}"
BUDGET_MIN="${BUDGET_MIN:-55}"
OASIS_NDF="${OASIS_NDF:-16}"
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
CLI="python -m spade_studio.cli"
COMMON=(--data "$RUNS/land256" --size 256 --ngf 16 --spade-hidden 32 --ndf 32 --batch 4 --iters 100000
        --use-vae --ema 0.999 --amp bf16 --seed 3 --simplify-labels 0.4 --color-jitter 0.5
        --init-from "$RUNS/gen1.safetensors" --sample-every 250 --save-every 250 --log-every 25 --threads 1
        --progress jsonl)

start() {  # start <name> [extra options]: one run in the background (its pid in $PID)
  local name="$1"; shift
  local out="$RUNS/cmp_$name" resume=()
  [ -f "$out/config.json" ] && resume=(--resume)
  nice -n 10 $CLI train "${COMMON[@]}" --out "$out" "$@" "${resume[@]}" >> "$RUNS/cmp_$name.log" 2>&1 &
  PID=$!
}

start patch; PID_A=$PID
start oasis --discriminator oasis --ndf "$OASIS_NDF"; PID_B=$PID
echo "$(date -u +%FT%TZ) started patch=$PID_A oasis=$PID_B for $BUDGET_MIN min" | tee -a "$RUNS/cmp.log"
trap 'kill -TERM $PID_A $PID_B 2>/dev/null || true' INT TERM
sleep $((BUDGET_MIN * 60)) & wait $!
kill -TERM "$PID_A" "$PID_B" 2>/dev/null || true
wait "$PID_A" || echo "patch run exited with $?" | tee -a "$RUNS/cmp.log"
wait "$PID_B" || echo "oasis run exited with $?" | tee -a "$RUNS/cmp.log"
echo "$(date -u +%FT%TZ) stopped" | tee -a "$RUNS/cmp.log"

for name in patch oasis; do
  $CLI export "$RUNS/cmp_$name" -o "$RUNS/cmp_$name.safetensors" --half
  tail -n 1 "$RUNS/cmp_$name/metrics.jsonl" >> "$RUNS/cmp.log"
done
OMP_NUM_THREADS=2 python bench/model_quality.py --model "$RUNS/cmp_oasis.safetensors" \
  --baseline "$RUNS/cmp_patch.safetensors" --json "$RUNS/cmp.json" | tee "$RUNS/cmp_quality.log"
