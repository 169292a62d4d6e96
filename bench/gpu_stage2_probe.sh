#!/usr/bin/env bash
# Stage-2 mesh-regularity probe (GPU machine; CI has none): from one stage-1 model, run the shipped
# stage-2 recipe (batch 16, lr 1e-3, one SimOTA query per hand) for SECONDS seconds in parallel
# variants and keep each one's per-step losses. The question: which variant keeps the predicted
# mesh regular (training edge loss, eq. 10, near its starting value) while the vertex L1 falls.
#   base   the paper's loss weights, decoder.vertex_scale 0.1
#   edge   edge weight 100 and normal-consistency weight 5 (10x the paper's)
#   vscale decoder.vertex_scale 0.02 (5x smaller per-vertex head output)
# Usage: STAGE1=runs/x/stage1/final.safetensors OUT=out/probe [VARIANTS="base edge vscale"] [WORKERS=5] \
#            bash bench/gpu_stage2_probe.sh [SECONDS]
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu_stage2_probe}
STAGE1=${STAGE1:?path of a stage-1 final.safetensors}
secs=${1:-180}
VARIANTS=${VARIANTS:-base edge vscale}
WORKERS=${WORKERS:-5}
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
work=$(mktemp -d -t handos-probe-XXXXXX)
trap 'rm -rf "$work"' EXIT
variant() {
  local name=$1
  shift
  timeout "$secs" python3 -m handos_model.engine.train --config train_tiny_synth.yaml --out "$work/$name" --stage 2 \
    --set detector_from=checkpoints/tiny_synth_stage0.safetensors init_from="$STAGE1" data.workers="$WORKERS" \
    train.progress=false train.log_every=64 train.ckpt_every_steps=0 train.epochs=30 sched.cosine_start_epoch=20 \
    model.overrides.model.query_filtering.max_matches_per_gt=1 "$@" >"$work/$name.log" 2>&1
  cp "$work/$name/stage2/step_losses.jsonl" "$OUT/$name.jsonl" 2>/dev/null || tail -5 "$work/$name.log"
}
declare -A args=(
  [base]=""
  [edge]="model.overrides.loss.weights.edge=100 model.overrides.loss.weights.nc=5"
  [vscale]="model.overrides.model.decoder.vertex_scale=0.02"
)
for v in $VARIANTS; do
  # shellcheck disable=SC2086  # the override list splits on spaces on purpose
  variant "$v" ${args[$v]} &
done
wait
python3 - "$OUT" <<'EOF'
import json, pathlib, sys
for f in sorted(pathlib.Path(sys.argv[1]).glob("*.jsonl")):
    rows = [json.loads(line) for line in f.open()]
    for i in range(0, len(rows), 64):
        c = rows[i:i + 64]
        mean = {k: sum(r["loss"][k] for r in c) / len(c) for k in ("j2d", "vertices", "j3d", "edge", "nc")}
        print(f.stem, f"{c[0]['step']}-{c[-1]['step']}", " ".join(f"{k} {v:.4f}" for k, v in mean.items()))
EOF
