#!/usr/bin/env bash
# Train the embedded default model (stages 1 and 2 of RECIPE, train_lite_synth.yaml, on a given stage-0
# detector) with the shipped recipe -- global batch 16, lr 1e-3, cosine decay over the last 40% /
# 33% of each stage, stage 2 as the recipe's stage2 section sets it -- but with as many steps as fit a
# wall-clock budget on this machine (e.g. a GPU lent for a few minutes).
#
# It first times PROBE_STEPS (40) steps of each stage, then sizes both stages (stage 2 gets 1.2x the steps of
# stage 1, as in the shipped schedule) so that both fit BUDGET_S seconds of training.
#
# Usage: OUT=runs/timed DETECTOR=checkpoints/lite_synth_stage0_detector.safetensors BUDGET_S=400 \
#            scripts/train_default_timed.sh [--set data.workers=14 ...]
# Result: $OUT/<the recipe's export name>.safetensors (+ .json), $OUT/schedule.json (the sizes it chose).
# RECIPE=train_tiny_synth.yaml DETECTOR=checkpoints/tiny_synth_stage0.safetensors: the previous default.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
OUT=${OUT:-runs/timed}
DETECTOR=${DETECTOR:-checkpoints/lite_synth_stage0_detector.safetensors}
RECIPE=${RECIPE:-train_lite_synth.yaml}
BUDGET_S=${BUDGET_S:-400}
PROBE_STEPS=${PROBE_STEPS:-40}
py=${PYTHON:-python3}
mkdir -p "$OUT"
train() { "$py" -m handos_model.engine.train --config "$RECIPE" "$@"; }
common=(detector_from="$DETECTOR" train.progress=false train.log_every=50)

# 1. time PROBE_STEPS steps of each stage (scratch output, thrown away)
probe=$OUT/probe
rm -rf "$probe"
train --out "$probe" --stage 1 "$@" --set "${common[@]}" train.max_steps="$PROBE_STEPS" train.ckpt_every_steps=0 >/dev/null 2>&1
train --out "$probe" --stage 2 "$@" --set "${common[@]}" train.max_steps="$PROBE_STEPS" train.ckpt_every_steps=0 init_from=none >/dev/null 2>&1
read -r ep1 cos1 ep2 cos2 < <("$py" - "$probe" "$BUDGET_S" "$OUT/schedule.json" <<'EOF'
import json, statistics, sys
probe, budget, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
def step_s(stage):
    walls = [json.loads(line)["wall"] for line in open(f"{probe}/stage{stage}/step_losses.jsonl")]
    skip = min(5, len(walls) - 2)   # first steps: warm-up, data workers starting
    return statistics.median(b - a for a, b in zip(walls[skip:], walls[skip + 1:]))
s1, s2 = step_s(1), step_s(2)
# data.samples_per_epoch / batch, as the engine computed it for the probe (512 / 16 by default)
steps_per_epoch = json.load(open(f"{probe}/stage1/train_summary.json"))["steps_per_epoch"]
n1 = 0.92 * budget / (s1 + 1.2 * s2)      # stage-1 steps; 8% margin
ep1 = max(2, int(n1 // steps_per_epoch))
ep2 = max(2, round(1.2 * ep1))
cos1, cos2 = round(0.6 * ep1), round(2 * ep2 / 3)
json.dump({"step_s": [s1, s2], "budget_s": budget, "stage1": {"epochs": ep1, "cosine_start_epoch": cos1},
           "stage2": {"epochs": ep2, "cosine_start_epoch": cos2}, "steps": [ep1 * steps_per_epoch, ep2 * steps_per_epoch]}, open(out, "w"), indent=1)
print(ep1, cos1, ep2, cos2)
EOF
)
rm -rf "$probe"
echo "[train-default-timed] stage 1: $ep1 epochs (cosine from $cos1), stage 2: $ep2 epochs (cosine from $cos2); $OUT/schedule.json" >&2

# 2. the two stages, then the export ($OUT/<export name>.safetensors)
train --out "$OUT" --stage 1 "$@" --set "${common[@]}" train.epochs="$ep1" sched.cosine_start_epoch="$cos1" \
  train.ckpt_every_steps=0 train.ckpt_every_minutes=1
train --out "$OUT" --stage 2 "$@" --set "${common[@]}" train.epochs="$ep2" sched.cosine_start_epoch="$cos2" \
  train.ckpt_every_steps=0 train.ckpt_every_minutes=1
echo "[train-default-timed] done: $OUT/*.safetensors (+ .json), as the recipe's export section names it" >&2
