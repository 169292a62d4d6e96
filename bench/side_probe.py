"""Does the model *see* left/right? Linear probes on the decoder's last-layer features.

Left/right (paper Sec. 3.5) is read from the predicted mesh. It is the exclusive-or of two
things an image shows: the 2D chirality of the hand (is the thumb left or right of the
index-to-little line, seen from the wrist) and whether the palm or the back faces the camera.
This script asks which of those the decoder's features already hold, with a logistic
regression on the features of the query matched to each true hand:

* ``side``          (the XOR, so a linear probe cannot read it even when both parts are there),
* ``palm_facing``   (palm vs back of the hand towards the camera),
* ``2d_chirality``,
* and the side the mesh itself gives (``mesh_side_accuracy``), which is what the node reports,
  and the chirality of the predicted 2D joints (``predicted_2d_chirality_accuracy``).

Scenes: ``--num`` easy single-hand scenes (320 px) of seed ``--seed`` (training uses other
seeds), split 70/30 into probe-training and probe-test; accuracies are on the test part.

    python bench/side_probe.py --weights default --num 500 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handos_model.checkpoint import load_model  # noqa: E402
from handos_model.data.synthetic import SyntheticOnTheFly  # noqa: E402
from handos_model.engine.evaluate import resolve_weights  # noqa: E402
from handos_model.metrics import match_by_iou  # noqa: E402
from handos_model.predictor import HandPredictor  # noqa: E402


def labels(joints_3d: np.ndarray, joints_2d: np.ndarray, side: int) -> tuple[int, int]:
    """(palm_facing, 2d_chirality) of a true hand; joints in the camera frame / pixels."""
    n = np.cross(joints_3d[5] - joints_3d[0], joints_3d[17] - joints_3d[0])
    palm = int((n[2] > 0) == (side == 1))
    a, b = joints_2d[5] - joints_2d[0], joints_2d[17] - joints_2d[0]
    return palm, int(a[0] * b[1] - a[1] * b[0] > 0)


def probe(x: torch.Tensor, y: torch.Tensor, train: torch.Tensor, l2: float = 1e-2) -> tuple[float, float]:
    """Logistic regression on x[train]; (test accuracy, train accuracy)."""
    w = torch.zeros(x.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=200)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(x[train] @ w + b, y[train]) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        hit = ((x @ w + b) > 0).float() == y
    return float(hit[~train].float().mean()), float(hit[train].float().mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default="default")
    p.add_argument("--num", type=int, default=500)
    p.add_argument("--seed", type=int, default=31)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model = load_model(resolve_weights(a.weights)).eval()
    predictor = HandPredictor(model)
    captured: dict[str, torch.Tensor] = {}
    model.decoder.layers[-1].register_forward_hook(lambda _m, _i, out: captured.__setitem__("q", out.detach()))
    data = SyntheticOnTheFly(seed=a.seed, length=a.num, width=320, height=320, num_hands=1, easy=True)

    feats, y_side, y_palm, y_chir, pred_side, pred_chir = [], [], [], [], [], []
    for i in range(len(data)):
        s = data[i]
        h = s.hands[0]
        preds = predictor.predict(s.image, s.K)
        match = match_by_iou(np.array([q.box for q in preds]), np.asarray(h.box)[None], iou_threshold=0.3)
        if not match:
            continue
        k = match[0][0]
        q = captured["q"][k]  # (N_queries, d): 21 joint queries, vertex queries, camera query
        feats.append(torch.cat([q.mean(0), q[-1], q[:21].mean(0)]))
        palm, chir = labels(np.asarray(h.joints_3d), np.asarray(h.joints_2d), int(h.side))
        y_side.append(int(h.side))
        y_palm.append(palm)
        y_chir.append(chir)
        pred_side.append(int(preds[k].side))
        pred_chir.append(labels(np.asarray(h.joints_3d), preds[k].joints_2d, int(h.side))[1])

    x = torch.stack(feats)
    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    n = len(x)
    train = torch.arange(n) < int(0.7 * n)
    result: dict = {"weights": str(resolve_weights(a.weights).name), "scenes": a.num, "matched": n, "seed": a.seed}
    result["mesh_side_accuracy"] = float(np.mean(np.equal(pred_side, y_side)))
    result["mesh_says_right"] = float(np.mean(np.equal(pred_side, 1)))
    result["predicted_2d_chirality_accuracy"] = float(np.mean(np.equal(pred_chir, y_chir)))
    for name, ys in (("side", y_side), ("palm_facing", y_palm), ("2d_chirality", y_chir)):
        y = torch.tensor(ys, dtype=torch.float32)
        test_acc, train_acc = probe(x, y, train)
        base = float(y[~train].mean())
        result[name] = {"probe_test": test_acc, "probe_train": train_acc, "majority": max(base, 1 - base)}
    print(f"{n} matched hands of {a.num}; the mesh's side is right on {result['mesh_side_accuracy']:.0%}"
          f" (says 'right' on {result['mesh_says_right']:.0%}); the predicted 2D joints' chirality is right on"
          f" {result['predicted_2d_chirality_accuracy']:.0%}")
    for name in ("side", "palm_facing", "2d_chirality"):
        r = result[name]
        print(f"  {name:13s} probe {r['probe_test']:.0%} (train {r['probe_train']:.0%}, majority {r['majority']:.0%})")
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
