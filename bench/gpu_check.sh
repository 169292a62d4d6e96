#!/usr/bin/env bash
# GPU path check (run on a CUDA machine; CI has none): CUDA inference latency of the embedded
# default model (handos_lite) and of the paper setting (Grounding-DINO-T, 800 px, random weights), then a short
# stage-1 training run on CUDA with bf16 autocast and data workers (training-curve probe).
# Results go to ${OUT:-out/gpu_check}. Usage: bash bench/gpu_check.sh [TRAIN_SECONDS]
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu_check}
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
train_s=${1:-240}
work=$(mktemp -d -t handos-gpu-XXXXXX)
trap 'rm -rf "$work"' EXIT
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, 'cuda', torch.cuda.is_available())" | tee -a "$OUT/gpu.txt"

echo "== 1. embedded default model (handos_lite.yaml, 320 px) on CUDA"
timeout 150 python3 bench/model_latency.py --device cuda --repeats 50 --warmup 5 --json "$OUT/latency_default_cuda.json" 2>&1 | grep -v Warning

echo "== 2. paper setting (handos_gdino_t.yaml: Grounding-DINO-T, 800 px, random weights) on CUDA"
snap=$work/gdino_t_random
timeout 120 python3 bench/gdino_random_snapshot.py "$snap" >/dev/null 2>&1 || echo "snapshot failed"
sed "s#weights: grounding-dino-tiny.*#weights: $snap#" handos_model/configs/handos_gdino_t.yaml > "$work/handos_gdino_t_random.yaml"
timeout 200 python3 bench/model_latency.py --config "$work/handos_gdino_t_random.yaml" --device cuda --repeats 20 --warmup 3 \
  --hands 0,1,2,4,8 --json "$OUT/latency_gdino_t_cuda.json" 2>&1 | grep -v Warning

echo "== 3. stage-1 training on CUDA (bf16 autocast, 12 data workers, global batch 64) for ${train_s}s"
timeout "$train_s" python3 -m handos_model.engine.train --config train_tiny_synth.yaml --out "$work/train" --stage 1 \
  --set detector_from=checkpoints/tiny_synth_stage0.safetensors data.workers=12 train.batch_size=64 \
  data.samples_per_epoch=4096 train.epochs=40 sched.cosine_start_epoch=25 train.ckpt_every_steps=0 \
  train.ckpt_every_minutes=2 train.progress=false 2>&1 | grep -E "INFO|Error|error" | grep -v Warning | tail -30
cp "$work"/train/stage1/step_losses.jsonl "$OUT/" 2>/dev/null
cp "$work"/train/stage1/train.log "$OUT/train_stage1.log" 2>/dev/null
ck=$(ls -t "$work"/train/stage1/checkpoints/*.safetensors 2>/dev/null | head -1)
[ -n "$ck" ] && split -b 15M "$ck" "$OUT/stage1_ckpt.part_" && echo "checkpoint $ck split into $OUT"
ls -la "$OUT"
