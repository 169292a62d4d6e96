"""Per-stage CPU latency of HandOS (``HandPredictor.predict_timed``) for 0/1/2/4/8 hands.

The number of hands is forced with the benchmark mode ``fixed_count`` (the top-k
queries by score, no threshold/NMS), so the decoder really runs k hands whatever
the weights. Prints a markdown table and a JSON record (also written with --json).

    python bench/model_latency.py [--config handos_model/configs/handos_lite.yaml]
        [--weights W.safetensors] [--threads 2] [--repeats 10] [--height 480 --width 640]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handos_model import DEFAULT_CONFIG  # noqa: E402
from handos_model.checkpoint import load_model  # noqa: E402
from handos_model.models.build import build_model, load_config  # noqa: E402
from handos_model.predictor import HandPredictor  # noqa: E402

STAGES = ("preprocess_ms", "detector_ms", "side_tuning_ms", "decoder_ms", "postprocess_ms")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=str(DEFAULT_CONFIG))
    p.add_argument("--weights", default=None, help="a save_model() file; default: random weights of --config")
    p.add_argument("--hands", default="0,1,2,4,8")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", default=None, help="also write the JSON record here")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = load_model(args.weights, args.device) if args.weights else build_model(load_config(args.config))
    model = model.to(args.device).eval()
    predictor = HandPredictor(model)
    rng = np.random.default_rng(0)
    image = (rng.random((args.height, args.width, 3)) * 255).astype(np.uint8)
    f = 0.9 * max(args.height, args.width)
    K = np.array([[f, 0, args.width / 2], [0, f, args.height / 2], [0, 0, 1]], np.float32)
    hands = [int(h) for h in args.hands.split(",")]

    rows = []
    for k in hands:
        for _ in range(args.warmup):
            predictor.predict_timed(image, K, fixed_count=k)
        runs = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            preds, timing = predictor.predict_timed(image, K, fixed_count=k)
            wall = (time.perf_counter() - t0) * 1000.0
            assert len(preds) == k, (len(preds), k)
            runs.append({**{s: getattr(timing, s) for s in STAGES}, "total_ms": timing.total_ms, "wall_ms": wall})
        med = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        rows.append({"hands": k, **{key: round(v, 2) for key, v in med.items()}})

    xs = np.array([r["hands"] for r in rows], float)
    marginal = {}
    for key in ("decoder_ms", "total_ms"):
        ys = np.array([r[key] for r in rows], float)
        slope, intercept = np.polyfit(xs, ys, 1) if len(xs) > 1 else (float("nan"), float(ys[0]))
        marginal[key] = {"per_hand_ms": round(float(slope), 2), "intercept_ms": round(float(intercept), 2)}
    n_params = sum(p.numel() for p in model.parameters())
    n_train = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("detector."))
    record = {
        "config": Path(args.config).name if not args.weights else str(args.weights),
        "input_size": model.input_size,
        "image": [args.height, args.width],
        "num_vertices": int(model.topology.num_vertices),
        "params_total": n_params,
        "params_trainable": n_train,
        "threads": args.threads,
        "repeats": args.repeats,
        "device": args.device,
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "rows": rows,
        "marginal_cost_per_hand": marginal,
    }
    print(
        f"HandOS latency, {record['config']}, input {model.input_size}^2 from {args.height}x{args.width}, "
        f"V={record['num_vertices']}, {n_params / 1e6:.2f} M params ({n_train / 1e6:.2f} M trainable), "
        f"{args.threads} threads, median of {args.repeats}\n"
    )
    print("| hands | preprocess | detector | side tuning | decoder | post | total (ms) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['hands']} | {r['preprocess_ms']:.1f} | {r['detector_ms']:.1f} | {r['side_tuning_ms']:.1f} | "
            f"{r['decoder_ms']:.1f} | {r['postprocess_ms']:.1f} | {r['total_ms']:.1f} |"
        )
    print(
        f"\nmarginal cost per extra hand (least squares): decoder {marginal['decoder_ms']['per_hand_ms']} ms, "
        f"total {marginal['total_ms']['per_hand_ms']} ms\n"
    )
    print(json.dumps(record))
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=2))
    return record


if __name__ == "__main__":
    main()
