#!/usr/bin/env bash
# `make train-default`: train the embedded default model on on-the-fly synthetic data with a
# training recipe (RECIPE): stage 0 (detector), stage 1 (2D model), stage 2 (full model), a stage-2
# fine-tune with half of the scenes easy, then export OUT/<the recipe's export name>.safetensors + .json.
#
#   RECIPE=train_lite_synth.yaml (default): handos_lite.yaml, the shipped default (RT-DETR on the
#     frozen ImageNet EfficientNet-Lite0, coarse vertex tokens; handos_model/weights/README.md);
#   RECIPE=train_tiny_synth.yaml: handos_tiny.yaml, its predecessor (tiny from-scratch RT-DETR;
#     its history: git log handos_model/weights/README.md).
#
# The default schedule is the one the 2-core CPU machine ran for the shipped weights:
#   stage 0: the recipe's own (lite: 75 epochs x 256, 30% easy; tiny: 100 x 256, half easy)
#   stage 1: 25 epochs x 512 samples, cosine from epoch 15     (800 steps of global batch 16)
#   stage 2: lite: 50 epochs x 512, cosine from epoch 34 (1600 steps; 40% easy scenes, the
#            recipe's stage2 section); tiny: 30 epochs, cosine from 20 (960 steps)
#            (the recipe's stage2 section: one SimOTA query per hand, 10x edge / nc weights)
#   fine-tune (tiny only by default): FINETUNE epochs x 512 (tiny: 50, cosine from epoch 34: 1600
#            steps), stage 2 from stage 2's export, half of the scenes easy, data seed 1
#            (scripts/finetune_default.sh); FINETUNE=0 skips it. Its output replaces
#            OUT/<name>.safetensors (stage 2's export is kept as OUT/stage2_<name>.safetensors).
#            The lite recipe mixes easy scenes into stages 1 and 2 instead.
# SCHEDULE=config runs the recipe's own 40-epoch schedule for stages 1 and 2 instead (GPU machines).
# DETECTOR=<stage-0 file> skips stage 0 and uses that detector (a full HandOS file or stage 0's
# detector.safetensors; the committed ones are in checkpoints/).
#
# Re-entrant: it always passes --resume, so running it again after an interruption (Ctrl-C,
# kill -9, reboot) continues from the last checkpoint of the unfinished stage.
# Knobs (environment): OUT=runs/default  NPROC=2 (processes; 2 x 1 thread is fastest on 2 cores)
#   SCHEDULE=shipped|config  DETECTOR=<stage-0 safetensors>  RECIPE=train_lite_synth.yaml|train_tiny_synth.yaml
#   FINETUNE=<epochs> (lite: 0 = none, tiny: 50)
# Extra arguments go to every handos-train call, e.g.  scripts/train_default.sh --set data.workers=8
# Expects the venv active (make train-default sources scripts/env.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
OUT=${OUT:-runs/default}
RECIPE=${RECIPE:-train_lite_synth.yaml}
case $RECIPE in
  train_tiny_synth.yaml) FINETUNE=${FINETUNE:-50}; S2_EPOCHS=30; S2_COSINE=20 ;;
  *) FINETUNE=${FINETUNE:-0}; S2_EPOCHS=50; S2_COSINE=34 ;;
esac
NPROC=${NPROC:-2}
SCHEDULE=${SCHEDULE:-shipped}
DETECTOR=${DETECTOR:-}
py=${PYTHON:-python}
train() {
  "$py" -m torch.distributed.run --standalone --nproc_per_node "$NPROC" -m handos_model.engine.train \
    --config "$RECIPE" --out "$OUT" --resume "$@"
}
echo "[train-default] torchrun x$NPROC -> $OUT, schedule $SCHEDULE (log: $OUT/stage*/train.log, TensorBoard: $OUT/stage*/tb)" >&2
det=()
if [ -n "$DETECTOR" ]; then
  det=(detector_from="$DETECTOR")
else
  train --stage 0 "$@"
fi
if [ "$SCHEDULE" = config ]; then
  train --stage 1 "$@" ${det[@]+--set "${det[@]}"}
  train --stage 2 "$@" ${det[@]+--set "${det[@]}"}
else
  train --stage 1 "$@" --set ${det[@]+"${det[@]}"} train.epochs=25 sched.cosine_start_epoch=15
  train --stage 2 "$@" --set ${det[@]+"${det[@]}"} train.epochs=$S2_EPOCHS sched.cosine_start_epoch=$S2_COSINE
fi
name=$("$py" -c 'import sys; from handos_model.engine.config import load_train_config; print(load_train_config(sys.argv[1])["export"]["name"])' "$RECIPE")
if [ "$FINETUNE" != 0 ]; then
  # stage 2's export is the fine-tune's start; keep it under its own name (once: re-entrant)
  [ -f "$OUT/stage2_$name.safetensors" ] || { cp "$OUT/$name.safetensors" "$OUT/stage2_$name.safetensors"; cp "$OUT/$name.json" "$OUT/stage2_$name.json"; }
  INIT="$OUT/stage2_$name.safetensors" OUT="$OUT/finetune" EPOCHS="$FINETUNE" COSINE_FROM=$((FINETUNE * 34 / 50)) \
    RECIPE="$RECIPE" NPROC="$NPROC" PYTHON="$py" bash "$root/scripts/finetune_default.sh" "$@"
  cp "$OUT/finetune/$name.safetensors" "$OUT/finetune/$name.json" "$OUT/"
fi
echo "[train-default] done: $OUT/$name.safetensors (+ .json); summaries $OUT/train_summary.json (stages 0-2), $OUT/finetune/train_summary.json" >&2
echo "[train-default] to ship it as the embedded default: cp $OUT/$name.safetensors $OUT/$name.json handos_model/weights/" >&2
