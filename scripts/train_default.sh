#!/usr/bin/env bash
# `make train-default`: train the embedded default model (handos_tiny.yaml, tiny RT-DETR detector)
# on on-the-fly synthetic data with handos_model/configs/train_tiny_synth.yaml: stage 0 (detector),
# stage 1 (2D model), stage 2 (full model), then export OUT/handos_tiny.safetensors + .json.
#
# Re-entrant: it always passes --resume, so running it again after an interruption (Ctrl-C,
# kill -9, reboot) continues from the last checkpoint of the unfinished stage.
# Knobs (environment): OUT=runs/tiny  NPROC=2 (processes; 2 x 1 thread is fastest on 2 cores)
# Extra arguments go to handos-train, e.g.  scripts/train_default.sh --set data.samples_per_epoch=256
# Expects the venv active (make train-default sources scripts/env.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
OUT=${OUT:-runs/tiny}
NPROC=${NPROC:-2}
py=${PYTHON:-python}
echo "[train-default] torchrun x$NPROC -> $OUT (log: $OUT/stage*/train.log, TensorBoard: $OUT/stage*/tb)" >&2
"$py" -m torch.distributed.run --standalone --nproc_per_node "$NPROC" -m handos_model.engine.train \
  --config train_tiny_synth.yaml --out "$OUT" --resume "$@"
echo "[train-default] done: $OUT/handos_tiny.safetensors (+ .json); summary $OUT/train_summary.json" >&2
echo "[train-default] to ship it as the embedded default: cp $OUT/handos_tiny.safetensors $OUT/handos_tiny.json handos_model/weights/" >&2
