"""Model-level accuracy on the node's easy camera frames (no ROS), and how many hands it returns.

The same frames as the node's DDS accuracy test (``SyntheticCamera(easy=True)``, 640x480, a
right-hand stream and a left-hand stream, half a second apart), run through ``HandOS.predict``:

* per frame, the prediction whose box best overlaps the true hand (IoU >= 0.1): its mean 2D joint
  error relative to the true box size (max of w, h) for ``joints_2d`` (HandOS-2D) and
  ``joints_2d_proj`` (HandOS-proj), the same for a predictor that puts every joint at the true
  box centre, whether its side is right, and how often it answers "right"; also the 2D error of
  the highest-scoring prediction and of the best of all returned predictions (an oracle pick),
  which tell how much the choice among duplicates matters;
* hands returned per frame, recall at IoU >= 0.5 and the mean best IoU, for each
  (score_threshold, nms_threshold) pair.

    python bench/easy_frames.py --weights default --frames 24 [--json out.json]
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
from handos_model.engine.evaluate import resolve_weights  # noqa: E402
from handos_model.metrics import box_iou, match_by_iou  # noqa: E402
from handos_model.predictor import HandPredictor  # noqa: E402
from handos_model.synth.camera_stream import SyntheticCamera  # noqa: E402

STREAMS = (2024, 2026)  # right hand, left hand (as test/test_node_pipeline.py)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default="default")
    p.add_argument("--frames", type=int, default=24, help="frames in all, alternating between the streams")
    p.add_argument("--filters", nargs="+", default=["0.3,0.9", "0.3,0.5", "0.4,0.5"], metavar="SCORE,NMS")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model = load_model(resolve_weights(a.weights)).eval()
    predictor = HandPredictor(model)
    cams = [SyntheticCamera(s, width=640, height=480, num_hands=1, fps=2.0, easy=True) for s in STREAMS]
    frames = [cams[i % len(cams)].next() for i in range(a.frames)]

    errs, proj, top, oracle, base, side, pred_right = [], [], [], [], [], [], []
    for f in frames:
        h = f.hands[0]
        preds = predictor.predict(f.image, f.K)
        match = match_by_iou(np.array([q.box for q in preds]), np.asarray(h.box)[None], iou_threshold=0.1)
        if not match:
            continue
        q = preds[match[0][0]]
        gb, j = np.asarray(h.box, float), np.asarray(h.joints_2d, float)
        size = max(gb[2] - gb[0], gb[3] - gb[1])
        per_pred = [float(np.linalg.norm(p.joints_2d - j, axis=1).mean() / size) for p in preds]
        errs.append(per_pred[match[0][0]])
        proj.append(np.linalg.norm(q.joints_2d_proj - j, axis=1).mean() / size)
        top.append(per_pred[int(np.argmax([p.score for p in preds]))])
        oracle.append(min(per_pred))
        base.append(np.linalg.norm(j - (gb[:2] + gb[2:]) / 2, axis=1).mean() / size)
        side.append(int(q.side) == int(h.side))
        pred_right.append(int(q.side) == 1)
    out = {"weights": str(a.weights), "frames": a.frames, "found": len(errs),
           "err_box": float(np.mean(errs)), "err_box_proj": float(np.mean(proj)),
           "err_box_top_score": float(np.mean(top)), "err_box_oracle_pick": float(np.mean(oracle)),
           "box_centre_err_box": float(np.mean(base)),
           "side_accuracy": float(np.mean(side)), "predicted_right": float(np.mean(pred_right)), "filters": []}
    print(f"{a.weights}: found {len(errs)}/{a.frames}, mean 2D error {100 * out['err_box']:.1f}% of box "
          f"(box centre {100 * out['box_centre_err_box']:.1f}%), side accuracy {out['side_accuracy']:.2f} "
          f"(predicted right: {out['predicted_right']:.2f})")
    print(f"  joints_2d_proj {100 * out['err_box_proj']:.1f}%; joints_2d of the top-scoring prediction "
          f"{100 * out['err_box_top_score']:.1f}%, of the best prediction (oracle) {100 * out['err_box_oracle_pick']:.1f}%")
    for spec in a.filters:
        st, nms = (float(x) for x in spec.split(","))
        n, hit, best = [], 0, []
        for f in frames:
            preds = predictor.predict(f.image, f.K, score_threshold=st, nms_threshold=nms)
            n.append(len(preds))
            if preds:
                iou = box_iou(np.stack([q.box for q in preds]), np.asarray(f.hands[0].box)[None])[:, 0]
                hit += int(iou.max() >= 0.5)
                best.append(float(iou.max()))
        row = {"score_threshold": st, "nms_threshold": nms, "hands_per_frame": float(np.mean(n)),
               "recall_iou50": hit / a.frames, "mean_best_iou": float(np.mean(best)) if best else None}
        out["filters"].append(row)
        print(f"  score {st} nms {nms}: {row['hands_per_frame']:.2f} hands/frame, recall@0.5 {hit}/{a.frames}, "
              f"mean best IoU {row['mean_best_iou']:.2f}")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
