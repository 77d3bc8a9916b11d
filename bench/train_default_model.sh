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
# 3. export generation 1 (float16 weights), evaluation segmenter, evaluation
$CLI export "$RUNS/default" -o "$RUNS/gen1.safetensors" --half
[ -f "$RUNS/seg128.safetensors" ] || $CLI train-segmenter --data "$RUNS/land128" --out "$RUNS/seg128.safetensors" \
  --size 128 --iters 1500 --batch 8 --width 16 --limit 1500 --seed 1
$CLI evaluate "$RUNS/gen1.safetensors" --data "$RUNS/heldout128" --segmenter "$RUNS/seg128.safetensors" \
  --json-out "$RUNS/eval_heldout.json"
python bench/style_transfer.py --model "$RUNS/gen1.safetensors" --data "$RUNS/heldout128"

# 4. generation 2, the recipe the equal-iteration comparisons chose (model card: "Recipe",
#    "Bilinear", "Noise inputs"), in two runs. Resumable.
#    4a. generation 1 fine-tuned at 256 px (its fc resampled to the 8x8 latent grid, so it starts as
#    the same function) with the OASIS discriminator (ndf 16) and bilinear doubling between blocks,
#    on 256-px scenes whose maps are often replaced by painted-looking versions of themselves
#    (--simplify-labels) and whose images often get a random colour change (--color-jitter: the
#    style encoder learns colours the procedural looks never had): 3,500 iterations (run C; its
#    weights are resources/models/milestones/gen2_oasis_bilinear.safetensors).
[ -f "$RUNS/land256/dataset.json" ] || $CLI make-landscapes "$RUNS/land256" --count 6000 --size 256 --seed 1 --workers 2
GEN2A=(--data "$RUNS/land256" --size 256 --ngf 16 --spade-hidden 32 --discriminator oasis --ndf 16
       --upsampling bilinear --batch 4 --use-vae --ema 0.999 --amp bf16 --seed 3 --simplify-labels 0.4
       --color-jitter 0.5 --sample-every 250 --save-every 250 --log-every 25 --progress bar)
RESUME2=""
[ -f "$RUNS/gen2c/config.json" ] && RESUME2="--resume"
$CLI train "${GEN2A[@]}" --out "$RUNS/gen2c" --iters 3500 --init-from "$RUNS/gen1.safetensors" $RESUME2
$CLI export "$RUNS/gen2c" -o "$RUNS/gen2c.safetensors" --half
#    4b. noise inputs (strength 0.1 to start; a fresh discriminator): 1,411 iterations at the constant
#    learning rate, then its linear decay to 0 at 3,400. The same run on a GPU: bench/device_train.sh.
RESUME3=""
[ -f "$RUNS/gen2/config.json" ] && RESUME3="--resume"
$CLI train "${GEN2A[@]}" --out "$RUNS/gen2" --iters 3400 --decay-start 1411 --noise-inputs --noise-init 0.1 \
  --init-from "$RUNS/gen2c.safetensors" $RESUME3
$CLI export "$RUNS/gen2" -o "$RUNS/gen2.safetensors" --half
#    4c. generation 2.1: the noise strengths of the four up blocks x1.75 (they did not move in
#    training; the model card's "Generation 2.1" has the probe that chose the factor)
python bench/noise_strength.py model "$RUNS/gen2.safetensors" "$RUNS/gen21.safetensors" \
  --blocks up_0,up_1,up_2,up_3 --factor 1.75
# 5. the metric table of the model card: generation 2.1 against 2 and 1, measured in one run.
#    It replaces resources/models/landscape.safetensors only where it wins there.
python bench/model_quality.py --model "$RUNS/gen21.safetensors" --baseline "$RUNS/gen2.safetensors" \
  --baseline "$RUNS/gen1.safetensors" --json "$RUNS/quality.json"
