#!/usr/bin/env bash
# Re-runs the training of the bundled default model from scratch, with the commands and seeds
# recorded in resources/models/README.md. Resumable: run it again to continue an interrupted run.
#   bash bench/train_default_model.sh [RUNS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-runs}"
CLI="python -m spade_studio.cli"
mkdir -p "$RUNS"
# 1. data: 6000 training scenes (seed 1); 100 held-out scenes (seed 9001, never used for training)
[ -f "$RUNS/land128/dataset.json" ] || $CLI make-landscapes "$RUNS/land128" --count 6000 --size 128 --seed 1 --workers 2
[ -f "$RUNS/heldout128/dataset.json" ] || $CLI make-landscapes "$RUNS/heldout128" --count 100 --size 128 --seed 9001
# 2. the model (resumes when the run folder exists)
RESUME=""
[ -f "$RUNS/default/config.json" ] && RESUME="--resume"
$CLI train --data "$RUNS/land128" --out "$RUNS/default" --size 128 --ngf 16 --spade-hidden 32 --ndf 32 \
  --batch 4 --iters 9000 --decay-start 6000 --use-vae --ema 0.999 --amp bf16 --channels-last --seed 1 \
  --sample-every 250 --save-every 250 --log-every 25 --progress bar $RESUME
# phase two: continue the finished run to 13000 iterations (LR decay 6000 -> 13000)
$CLI train --data "$RUNS/land128" --out "$RUNS/default" --size 128 --ngf 16 --spade-hidden 32 --ndf 32 \
  --batch 4 --iters 13000 --decay-start 6000 --use-vae --ema 0.999 --amp bf16 --channels-last --seed 1 \
  --sample-every 250 --save-every 250 --log-every 25 --progress bar --resume
# 3. export (float16 weights), evaluation segmenter, evaluation
$CLI export "$RUNS/default" -o resources/models/landscape.safetensors --half
[ -f "$RUNS/seg128.safetensors" ] || $CLI train-segmenter --data "$RUNS/land128" --out "$RUNS/seg128.safetensors" \
  --size 128 --iters 1500 --batch 8 --width 16 --limit 1500 --seed 1
$CLI evaluate resources/models/landscape.safetensors --data "$RUNS/heldout128" --segmenter "$RUNS/seg128.safetensors" \
  --json-out "$RUNS/eval_heldout.json"
python bench/style_transfer.py --model resources/models/landscape.safetensors --data "$RUNS/heldout128"
