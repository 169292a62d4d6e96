"""Detection quality of a stage-0 detector (or a full HandOS model) on held-out synthetic images.

Reports hand recall at box IoU >= 0.5 for several score thresholds, precision at those
thresholds, and the mean over true hands of the best box IoU among the kept predictions (box
quality; 0 for a missed hand), on ``--num`` on-the-fly synthetic samples of a seed the training
never uses (training uses seed 0 by default). ``--easy``: the easy scenes (one big hand on a
plain background, the node's typical input) instead of the cluttered ones.

    python bench/detector_recall.py --detector runs/tiny/stage0/detector.safetensors --num 200
    python bench/detector_recall.py --weights default
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch

from handos_model.metrics import box_iou


def greedy_matches(iou: np.ndarray, thr: float = 0.5) -> int:
    """Number of one-to-one matches with IoU >= thr (greedy by IoU)."""
    iou = iou.copy()
    n = 0
    while iou.size and iou.max() >= thr:
        i, j = np.unravel_index(np.argmax(iou), iou.shape)
        iou[i, :] = -1
        iou[:, j] = -1
        n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--detector", help="stage-0 detector safetensors (tiny RT-DETR)")
    src.add_argument("--weights", help="full HandOS weights (.safetensors + .json)")
    p.add_argument("--config", default=None, help="model config for --detector (default: the embedded default model's)")
    p.add_argument("--num", type=int, default=200)
    p.add_argument("--seed", type=int, default=12345, help="held-out synthetic seed")
    p.add_argument("--thresholds", type=float, nargs="+", default=[0.1, 0.3, 0.5])
    p.add_argument("--nms", type=float, nargs="+", default=[None], metavar="IOU",
                   help="also apply greedy NMS at these box IoUs (the node's nms_threshold); default: none")
    p.add_argument("--easy", action="store_true", help="easy scenes (one big hand, plain background)")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)

    from handos_model.data.synthetic import SyntheticOnTheFly
    from handos_model.data.transforms import letterbox_image

    torch.set_num_threads(2)
    if args.detector:
        from handos_model import DEFAULT_CONFIG
        from handos_model.detector_weights import load_detector_weights
        from handos_model.models.build import build_detector, load_config

        cfg = load_config(args.config or DEFAULT_CONFIG)
        detector = build_detector(cfg["model"]["detector"])
        load_detector_weights(detector, args.detector)
        size = int(cfg["model"]["input_size"])
    else:
        from handos_model.checkpoint import load_model
        from handos_model.engine.evaluate import resolve_weights

        model = load_model(resolve_weights(args.weights))
        detector = model.detector
        size = int(model.image_size)
    detector.eval()

    data = SyntheticOnTheFly(seed=args.seed, length=args.num, easy_fraction=1.0 if args.easy else 0.0)
    from handos_model.models.query_filtering import nms

    settings = [(t, n) for n in args.nms for t in args.thresholds]
    counts = {key: {"tp": 0, "pred": 0, "best_iou": 0.0} for key in settings}
    num_gt = 0
    for i in range(len(data)):
        sample = data[i]
        canvas, _, lb = letterbox_image(sample.image, sample.K, size)
        x = torch.from_numpy(canvas).permute(2, 0, 1).float().div(255.0)[None]
        with torch.no_grad():
            out = detector(x)
        scores = out.scores[0].numpy()
        cx, cy, w, h = (out.boxes[0].numpy() * size).T
        boxes = lb.to_image(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1).reshape(-1, 2)).reshape(-1, 4)
        gt = np.array([hand.box for hand in sample.hands], np.float32).reshape(-1, 4)
        num_gt += len(gt)
        for t, n in settings:
            keep = np.flatnonzero(scores >= t)
            if n is not None and keep.size:
                kept = nms(torch.from_numpy(boxes[keep]).float(), torch.from_numpy(scores[keep]).float(), n)
                keep = keep[kept.numpy()]
            counts[(t, n)]["pred"] += int(keep.size)
            iou = box_iou(gt, boxes[keep])
            counts[(t, n)]["tp"] += greedy_matches(iou)
            if iou.size:
                counts[(t, n)]["best_iou"] += float(iou.max(axis=1).sum())
    rows = []
    for t, n in settings:
        tp, pred = counts[(t, n)]["tp"], counts[(t, n)]["pred"]
        rows.append({"score_threshold": t, "nms_iou": n, "recall": tp / max(num_gt, 1), "precision": tp / max(pred, 1),
                     "mean_best_iou": counts[(t, n)]["best_iou"] / max(num_gt, 1), "gt_hands": num_gt, "predictions": pred})
    kind = "easy" if args.easy else "cluttered"
    print(f"held-out synthetic images ({kind}): {args.num} (seed {args.seed}), hands: {num_gt}")
    print("| score threshold | NMS IoU | recall@IoU0.5 | precision@IoU0.5 | mean best IoU | predictions |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        n = "none" if r["nms_iou"] is None else f"{r['nms_iou']:.2f}"
        print(f"| {r['score_threshold']:.2f} | {n} | {100 * r['recall']:.1f}% | {100 * r['precision']:.1f}% "
              f"| {r['mean_best_iou']:.3f} | {r['predictions']} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
