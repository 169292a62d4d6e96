"""PyTorch vs ONNX Runtime fp32 vs ONNX Runtime int8: median ms per frame for H = 0, 1, 2, 4 hands.

Each model is exported (``handos_model.export.export_onnx``, with int8) into a scratch directory,
then ``predict_timed`` runs on one 640x480 frame with ``fixed_count = H`` (the top-H queries,
so the decoder really runs H hands) through ``HandPredictor`` (PyTorch) and ``OnnxHandPredictor``
(ONNX Runtime, CPU provider), all with the same thread count, the backends taking turns call by
call (a shared machine's load hits them alike). Models: ``shipped`` (the embedded
default weights) and ``lite`` (``handos_lite.yaml``, random weights: same compute).

The int8 accuracy is measured on the shipped model: ORT int8 vs ORT fp32 (and fp32 vs PyTorch)
on synthetic frames at the node's thresholds (``export.compare``): hands found by both, 2D joint
distance in % of the box, 3D distances in mm, side agreement.

    python bench/onnx_latency.py [--models shipped,lite] [--hands 0,1,2,4] [--threads 2]
        [--repeats 10] [--accuracy-frames 8] [--int8-ops MatMul,Gemm] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handos_model import CONFIGS_DIR, DEFAULT_WEIGHTS  # noqa: E402
from handos_model.checkpoint import load_model  # noqa: E402
from handos_model.export.compare import NODE_THRESHOLDS, compare_frames, summary_line, synthetic_frames  # noqa: E402
from handos_model.export.onnx_export import INT8_OP_TYPES, export_onnx  # noqa: E402
from handos_model.export.onnx_runtime import load_onnx_model  # noqa: E402
from handos_model.models.build import build_model, load_config  # noqa: E402
from handos_model.predictor import HandPredictor  # noqa: E402

STAGES = ("preprocess_ms", "detector_ms", "side_tuning_ms", "decoder_ms", "postprocess_ms")


def build(name: str):  # noqa: ANN201 - HandOS
    if name == "shipped":
        return load_model(DEFAULT_WEIGHTS, "cpu").eval()
    if name == "lite":
        cfg = load_config(CONFIGS_DIR / "handos_lite.yaml")
        cfg["model"]["detector"]["pretrained_backbone"] = False  # random weights: same compute
        torch.manual_seed(0)
        return build_model(cfg).eval()
    raise ValueError(f"unknown model {name!r} (shipped, lite)")


def time_backends(backends: dict, image: np.ndarray, K: np.ndarray, hands: list[int], repeats: int,
                  warmup: int) -> dict[str, list[dict]]:
    """Per backend, the median wall and stage times of ``predict_timed(fixed_count=h)`` for each h.

    The backends take turns call by call (round robin), so on a shared machine they all see the
    same load."""
    runs: dict[str, dict[int, list[dict]]] = {key: {h: [] for h in hands} for key in backends}
    for h in hands:
        for i in range(warmup + repeats):
            for key, predictor in backends.items():
                t0 = time.perf_counter()
                preds, timing = predictor.predict_timed(image, K, fixed_count=h)
                wall = (time.perf_counter() - t0) * 1e3
                if len(preds) != h:
                    raise RuntimeError(f"{key}: fixed_count={h} gave {len(preds)} hands")
                if i >= warmup:
                    runs[key][h].append({**{s: getattr(timing, s) for s in STAGES}, "wall_ms": wall})
    return {
        key: [{"hands": h, **{k: round(statistics.median(r[k] for r in rs), 2) for k in rs[0]}} for h, rs in per_h.items()]
        for key, per_h in runs.items()
    }


def per_hand_ms(rows: list[dict]) -> float:
    """Least-squares slope of wall ms over the hand counts > 0."""
    pts = [(r["hands"], r["wall_ms"]) for r in rows if r["hands"] > 0]
    if len(pts) < 2:
        return float("nan")
    x, y = np.array(pts, float).T
    return round(float(np.polyfit(x, y, 1)[0]), 2)


def accuracy(model, onnx_dir: Path, n: int, threads: int) -> dict:  # noqa: ANN001
    """fp32 vs PyTorch and int8 vs fp32 on ``n`` synthetic frames at the node's thresholds."""
    frames = synthetic_frames(n, seed=100)
    runs = {"torch": HandPredictor(model)}
    runs.update({p: load_onnx_model(onnx_dir, num_threads=threads, precision=p, shared_pool=True) for p in ("fp32", "int8")})
    preds = {k: [r.predict(img, K, **NODE_THRESHOLDS) for img, K in frames] for k, r in runs.items()}
    return {
        "frames": n,
        "thresholds": NODE_THRESHOLDS,
        "fp32_vs_torch": compare_frames(preds["torch"], preds["fp32"]),
        "int8_vs_fp32": compare_frames(preds["fp32"], preds["int8"]),
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="shipped,lite")
    p.add_argument("--hands", default="0,1,2,4")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--accuracy-frames", type=int, default=8, help="int8 accuracy frames (shipped model); 0 = skip")
    p.add_argument("--int8-ops", default=",".join(INT8_OP_TYPES), help="ONNX op types int8 quantises")
    p.add_argument("--export-dir", default="", help="keep the exports here (default: a temporary directory)")
    p.add_argument("--json", default=None, help="also write the JSON record here")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    hands = [int(h) for h in args.hands.split(",")]
    int8_ops = tuple(s for s in args.int8_ops.split(",") if s)
    rng = np.random.default_rng(0)
    image = (rng.random((args.height, args.width, 3)) * 255).astype(np.uint8)
    f = 0.9 * max(args.height, args.width)
    K = np.array([[f, 0, args.width / 2], [0, f, args.height / 2], [0, 0, 1]], np.float32)
    record: dict = {
        "image": [args.height, args.width], "threads": args.threads, "repeats": args.repeats,
        "int8_op_types": list(int8_ops), "torch": torch.__version__, "cpu": platform.processor() or platform.machine(),
        "load_average_at_start": list(os.getloadavg()), "models": {},
    }
    with tempfile.TemporaryDirectory(prefix="handos_onnx_") as tmp:
        for name in [m for m in args.models.split(",") if m]:
            model = build(name)
            out = Path(args.export_dir or tmp) / name
            t0 = time.perf_counter()
            export_onnx(model, out, int8=True, int8_op_types=int8_ops, source=name)
            entry: dict = {"input_size": int(model.input_size), "export_s": round(time.perf_counter() - t0, 1),
                           "files_mb": {f.name: round(f.stat().st_size / 2**20, 2) for f in sorted(out.glob("*.onnx"))}}
            backends = {"torch": HandPredictor(model)}
            backends.update({f"ort_{pr}": load_onnx_model(out, num_threads=args.threads, precision=pr, shared_pool=True)
                             for pr in ("fp32", "int8")})
            for key, rows in time_backends(backends, image, K, hands, args.repeats, args.warmup).items():
                entry[key] = {"rows": rows, "per_hand_ms": per_hand_ms(rows)}
            if name == "shipped" and args.accuracy_frames:
                entry["accuracy"] = accuracy(model, out, args.accuracy_frames, args.threads)
            record["models"][name] = entry
    record["load_average_at_end"] = list(os.getloadavg())
    print_tables(record, hands)
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=2))
    return record


def print_tables(record: dict, hands: list[int]) -> None:
    print(f"HandOS per frame, {record['image'][1]}x{record['image'][0]}, {record['threads']} threads, "
          f"median of {record['repeats']} (wall ms; load average {record['load_average_at_start'][0]:.1f} at start)\n")
    print("| model | backend | " + " | ".join(f"H={h}" for h in hands) + " | per extra hand |")
    print("|---|---|" + "---:|" * (len(hands) + 1))
    for name, entry in record["models"].items():
        for key in ("torch", "ort_fp32", "ort_int8"):
            rows = {r["hands"]: r["wall_ms"] for r in entry[key]["rows"]}
            cells = " | ".join(f"{rows[h]:.1f}" for h in hands)
            print(f"| {name} ({entry['input_size']} px) | {key} | {cells} | {entry[key]['per_hand_ms']:.1f} |")
    for name, entry in record["models"].items():
        acc = entry.get("accuracy")
        if not acc:
            continue
        for key in ("fp32_vs_torch", "int8_vs_fp32"):
            print(f"\n{name} {key}: {summary_line(acc[key])}")
    print()
    print(json.dumps(record))


if __name__ == "__main__":
    main()
