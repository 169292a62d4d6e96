#!/usr/bin/env bash
# Continue training a HandOS model (stage 2, full model) from its exported weights, on on-the-fly
# synthetic data where a fraction of the scenes are "easy" (one big, well-lit hand on a plain
# background: closer to what the node sees in teleoperation than the cluttered scenes).
#
# scripts/train_default.sh ends with this step (FINETUNE epochs); the previous default (handos_tiny.*,
# RECIPE=train_tiny_synth.yaml) was fine-tuned this way three times from the
# output of scripts/train_default.sh (git history of handos_model/weights/README.md has its schedule):
#
#   INIT=runs/default/handos_lite.safetensors OUT=runs/finetune scripts/finetune_default.sh
#
# The detector stays frozen: the one that comes with INIT, or DETECTOR (a stage-0 final.safetensors
# or detector.safetensors, e.g. checkpoints/lite_synth_stage0_detector.safetensors) when set; the decoder
# then re-fits to it. Re-entrant like train_default.sh (--resume).
# Knobs (environment): INIT (required: a handos .safetensors with the detector included)
#   RECIPE=train_lite_synth.yaml  OUT=runs/finetune  NPROC=2  EPOCHS=40 (x 512 samples)  COSINE_FROM=25  EASY=0.5  LR=1e-3
#   DETECTOR=none  INIT_EXCLUDE='[]' (YAML list of parameter-name prefixes to start fresh instead of from INIT,
#   e.g. '[decoder.vertex_heads, decoder.camera_heads]' when the 3D heads' parameterisation changed)
# Extra arguments go to handos-train, e.g. --set data.workers=8 train.batch_size=32
# Expects the venv active (source scripts/env.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
: "${INIT:?set INIT to the weights to continue from (e.g. handos_model/weights/handos_lite.safetensors)}"
RECIPE=${RECIPE:-train_lite_synth.yaml}
OUT=${OUT:-runs/finetune}
NPROC=${NPROC:-2}
EPOCHS=${EPOCHS:-40}
COSINE_FROM=${COSINE_FROM:-25}
EASY=${EASY:-0.5}
LR=${LR:-1e-3}
INIT_EXCLUDE=${INIT_EXCLUDE:-[]}
DETECTOR=${DETECTOR:-none}
py=${PYTHON:-python}
echo "[finetune] $INIT -> $OUT: stage 2, $EPOCHS epochs, easy fraction $EASY (log: $OUT/stage2/train.log)" >&2
"$py" -m torch.distributed.run --standalone --nproc_per_node "$NPROC" -m handos_model.engine.train \
  --config "$RECIPE" --out "$OUT" --stage 2 --resume \
  --set init_from="$INIT" init_exclude="$INIT_EXCLUDE" detector_from="$DETECTOR" data.train.easy_fraction="$EASY" data.train.seed=1 \
  optim.lr="$LR" train.epochs="$EPOCHS" sched.cosine_start_epoch="$COSINE_FROM" "$@"
echo "[finetune] done: $OUT/*.safetensors (+ .json), as $RECIPE's export section names it" >&2
