"""Is the model's left/right a reading of the image or a default? The mirror test.

Mirroring an image turns every left hand into a right hand. A model that reads the side from the
image answers the opposite on the mirrored copy; one that answers its mesh template's side
whatever it sees answers the same on both. On a synthetic set (``--data``, a ``handos_model.synth``
folder: the README's held-out scenes), for the true hands found (IoU >= 0.5) in the image and in
its mirror, it reports:

* the side's accuracy and the share of hands called right, on the image and on the mirror (there
  judged against the mirrored truth);
* the accuracy of the two answers combined, ``P(right | image) - P(right | mirror) > 0``: a
  constant bias cancels out, whatever skill is left shows.

    python bench/side_mirror.py --weights default --data runs/heldout_s12345 --num 120 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handos_model.checkpoint import load_model  # noqa: E402
from handos_model.engine.evaluate import build_eval_dataset, resolve_weights  # noqa: E402
from handos_model.metrics import match_by_iou  # noqa: E402
from handos_model.prediction import HandPrediction  # noqa: E402
from handos_model.predictor import HandPredictor  # noqa: E402


def p_right(pred: HandPrediction) -> float:
    return pred.side_confidence if int(pred.side) == 1 else 1.0 - pred.side_confidence


def matched(preds: list[HandPrediction], gt_boxes: np.ndarray) -> dict[int, HandPrediction]:
    boxes = np.array([p.box for p in preds], np.float64).reshape(-1, 4)
    return {g: preds[p] for p, g, _ in match_by_iou(boxes, gt_boxes, iou_threshold=0.5)}


def main() -> None:
    a = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--weights", default="default")
    a.add_argument("--data", required=True, help="a synthetic-data folder (handos_model.synth.cli --out)")
    a.add_argument("--num", type=int, default=120, help="images (the first N)")
    a.add_argument("--json", type=Path)
    args = a.parse_args()
    torch.set_num_threads(2)
    weights = resolve_weights(args.weights)
    model = HandPredictor(load_model(weights).eval())
    data = build_eval_dataset(args.data)
    num = min(args.num, len(data))
    rows = []  # (true side, P(right | image), P(right | mirror))
    for i in range(num):
        s = data[i]
        w = s.image.shape[1]
        K_m = s.K.copy()
        K_m[0, 2] = w - s.K[0, 2]
        with torch.no_grad():
            on_image = model.predict(s.image, s.K)
            on_mirror = model.predict(np.ascontiguousarray(s.image[:, ::-1]), K_m)
        gt = np.array([h.box for h in s.hands], np.float64).reshape(-1, 4)
        gt_m = gt.copy()
        gt_m[:, 0], gt_m[:, 2] = w - gt[:, 2], w - gt[:, 0]
        a_img, a_mir = matched(on_image, gt), matched(on_mirror, gt_m)
        rows += [(int(s.hands[g].side), p_right(a_img[g]), p_right(a_mir[g])) for g in a_img if g in a_mir]
    if not rows:
        sys.exit("no hand was found in both an image and its mirror")
    r = np.array(rows)
    right, img, mir = r[:, 0] == 1, r[:, 1] > 0.5, r[:, 2] > 0.5
    result = {
        "weights": weights.name, "images": num, "hands": len(r),
        "true_right_share": float(right.mean()),
        "image": {"accuracy": float((img == right).mean()), "says_right": float(img.mean())},
        "mirror": {"accuracy": float((mir == ~right).mean()), "says_right": float(mir.mean())},
        "combined_accuracy": float(((r[:, 1] - r[:, 2] > 0) == right).mean()),
    }
    print(f"{result['hands']} hands found in the image and its mirror ({100 * result['true_right_share']:.0f}% right):"
          f" image: side right on {100 * result['image']['accuracy']:.1f}%, says right on"
          f" {100 * result['image']['says_right']:.1f}%; mirror: {100 * result['mirror']['accuracy']:.1f}%,"
          f" {100 * result['mirror']['says_right']:.1f}%; combined: {100 * result['combined_accuracy']:.1f}%")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
