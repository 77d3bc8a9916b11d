#!/usr/bin/env bash
# The bundled model's training as ONE prepared command for a session that is lent a GPU machine
# (issue 11; see DEVELOPERS.md: one call, its files come back from $OUT). On the device tool:
#   run(command="bash bench/device_train.sh", timeout_s=590)
# It makes the 256-px training scenes there (seed 1, as runs/land256 here; about a minute on 16
# cores), fine-tunes INIT (default: the bundled model) for BUDGET_S seconds of training, stops with
# SIGTERM (the trainer checkpoints), exports float16 weights and writes into $OUT:
#   landscape_gpu.safetensors.part0, .part1  the exported model in two pieces (a file that comes back
#                              is at most 16 MiB; the 256-px model is 23 MB): here,
#                              cat landscape_gpu.safetensors.part* > runs/gpu.safetensors, then
#                              python bench/model_quality.py --model runs/gpu.safetensors --baseline ...
#   metrics.jsonl              the run's progress lines (steps, it/s, losses)
#   sample.png                 the run's last sample grid
#   log.txt                    everything the commands printed
# The checkpoint (with the optimisers) is too big to come back: a later GPU run continues from
# the exported weights with INIT=... (the discriminator starts again).
# Knobs (environment): BUDGET_S (420), SCENES (6000), BATCH (16), DISC (patchgan | oasis),
# SIMPLIFY (0.4), JITTER (0.5), NGF (16), HIDDEN (32), NDF (32), NOISE (0.1: noise inputs starting at
# that strength; 0 = none), DEVICE (cuda), WORKERS (cores - 2),
# INIT (resources/models/landscape.safetensors), DATA (/tmp/land256).
# Tested on the CPU with: DEVICE=cpu SCENES=40 BUDGET_S=40 BATCH=2 OUT=/tmp/out bash bench/device_train.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
OUT="${OUT:-runs/device_out}"
mkdir -p "$OUT"
# the recipe the CPU comparisons chose (model card): OASIS discriminator (ndf 16), bilinear doubling,
# noise inputs (strength 0.1 where the initial model has none)
BUDGET_S="${BUDGET_S:-420}" SCENES="${SCENES:-6000}" BATCH="${BATCH:-16}" DISC="${DISC:-oasis}"
SIMPLIFY="${SIMPLIFY:-0.4}" JITTER="${JITTER:-0.5}" NGF="${NGF:-16}" HIDDEN="${HIDDEN:-32}"
NDF="${NDF:-$([ "$DISC" = oasis ] && echo 16 || echo 32)}" UPSAMPLING="${UPSAMPLING:-bilinear}" NOISE="${NOISE:-0.1}"
DEVICE="${DEVICE:-cuda}" INIT="${INIT:-resources/models/landscape.safetensors}" DATA="${DATA:-/tmp/land256}"
CORES="$(nproc)"
WORKERS="${WORKERS:-$(( CORES > 3 ? CORES - 2 : 1 ))}"
RUN="${RUN_DIR:-/tmp/gpu_run}"
PY="${PYTHON:-python3}"
exec > >(tee -a "$OUT/log.txt") 2>&1
echo "== $(date -u +%FT%TZ) device_train: budget ${BUDGET_S}s, $SCENES scenes, batch $BATCH, D $DISC (ndf $NDF), $UPSAMPLING doubling, noise $NOISE, device $DEVICE"
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
t0=$(date +%s)
[ -f "$DATA/dataset.json" ] || "$PY" -m spade_studio.cli make-landscapes "$DATA" --count "$SCENES" --size 256 --seed 1 --workers "$CORES"
echo "data ready after $(( $(date +%s) - t0 )) s"
EXTRA=()
[ "$DISC" = oasis ] && EXTRA+=(--discriminator oasis)
EXTRA+=(--upsampling "$UPSAMPLING")
[ "$NOISE" != 0 ] && EXTRA+=(--noise-inputs --noise-init "$NOISE")
[ -f "$RUN/config.json" ] && EXTRA+=(--resume)
set +e
timeout -s TERM -k 60 "$BUDGET_S" "$PY" -m spade_studio.cli train --data "$DATA" --out "$RUN" --size 256 \
  --ngf "$NGF" --spade-hidden "$HIDDEN" --ndf "$NDF" --batch "$BATCH" --iters 1000000 --use-vae --ema 0.999 \
  --amp bf16 --seed 3 --simplify-labels "$SIMPLIFY" --color-jitter "$JITTER" --init-from "$INIT" \
  --device "$DEVICE" --workers "$WORKERS" --sample-every 500 --save-every 2000 --log-every 50 --progress jsonl \
  "${EXTRA[@]}"
rc=$?
set -e
echo "training stopped (exit $rc; 124 = the budget's SIGTERM) after $(( $(date +%s) - t0 )) s"
"$PY" -m spade_studio.cli export "$RUN" -o "$RUN/landscape_gpu.safetensors" --half
sha256sum "$RUN/landscape_gpu.safetensors"
split -b 15000000 -a 1 -d "$RUN/landscape_gpu.safetensors" "$OUT/landscape_gpu.safetensors.part"
cp "$RUN/metrics.jsonl" "$OUT/metrics.jsonl"
last="$(ls "$RUN"/samples/*.png 2>/dev/null | tail -n 1 || true)"
[ -n "$last" ] && cp "$last" "$OUT/sample.png"
tail -n 1 "$RUN/metrics.jsonl"
ls -la "$OUT"
