"""Cost and accuracy of the CPU decoder's coarse vertex tokens (issue 17), machine-independent parts first.

* the upsampling's error: ``U V_c`` against the open hand model's own held-out posed meshes
  (random articulations, shapes and global rotations), mean / p99 / max vertex error in mm, for
  several numbers of coarse vertex tokens C (``hand/coarse_mesh.py``);
* the decoder's FLOPs at H = 1 and per extra hand (``torch.utils.flop_counter``; the value
  projection of F^GD is paid once per image and layer; grid_sample is not counted by it, so the
  deformable sampling is reported as the number of bilinear samples per hand) and its
  median wall time for H = 1 and 4 hands, for the paper's one token per vertex and for the
  coarse configuration of ``handos_lite.yaml``, on the same detector features.

    python bench/decoder_cost.py [--json out.json] [--threads 2]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handos_model import CONFIGS_DIR  # noqa: E402
from handos_model.hand.coarse_mesh import build_coarse_mesh, upsampling_error_mm  # noqa: E402
from handos_model.hand.hand_model import load_hand_model  # noqa: E402
from handos_model.models.build import build_model, load_config  # noqa: E402

VARIANTS = {
    "paper: one token per vertex, 4 points": {"coarse_vertices": None, "vertex_points": None},
    "coarse 128 tokens, 4 points": {"coarse_vertices": 128, "vertex_points": None},
    "coarse 128 tokens, 1 point (handos_lite.yaml)": {"coarse_vertices": 128, "vertex_points": 1},
}


def decoder_inputs(model, hands: int) -> tuple:  # noqa: ANN001
    torch.manual_seed(0)
    s = model.input_size
    shapes = [(s // 8, s // 8), (s // 16, s // 16), (s // 32, s // 32)]
    t = sum(h * w for h, w in shapes)
    d = model.detector.d_model
    feats = torch.randn(1, t, d + model.side_tuning.channels)
    boxes = torch.rand(hands, 4) * 0.3 + torch.tensor([0.35, 0.35, 0.1, 0.1])
    Ks = torch.tensor([[300.0, 0, s / 2], [0, 300.0, s / 2], [0, 0, 1]]).expand(hands, 3, 3)
    return (torch.randn(hands, d), torch.randn(hands, d), boxes, feats, torch.zeros(hands, dtype=torch.long),
            shapes, Ks, s)


def samples_per_hand(dec) -> int:  # noqa: ANN001
    """Bilinear samples of F^GD per hand over all decoder layers."""
    total = 0
    for i, layer in enumerate(dec.layers):
        ca = layer.cross_attn
        per = ca.num_heads * ca.num_levels * ca.num_points
        if i < dec.num_2d_layers:
            total += dec.num_joints * per
            continue
        cv = getattr(layer, "cross_attn_vertex", None)
        vper = per if cv is None else cv.num_heads * cv.num_levels * cv.num_points
        total += (dec.num_joints + 1) * per + dec.num_vertex_tokens * vper
    return total


def measure(model, repeats: int) -> dict:  # noqa: ANN001
    dec = model.decoder.eval()
    out = {"tokens_per_hand": dec.num_joints + dec.num_vertex_tokens + 1, "samples_per_hand": samples_per_hand(dec)}
    with torch.no_grad():
        flops = {}
        for hands in (1, 4):
            fc = FlopCounterMode(display=False)
            with fc:
                dec(*decoder_inputs(model, hands))
            flops[hands] = fc.get_total_flops() / 1e9
        out["gflop_h1"] = flops[1]
        out["gflop_per_extra_hand"] = (flops[4] - flops[1]) / 3  # per image: the value projections
        for hands in (1, 4):
            args = decoder_inputs(model, hands)
            for _ in range(2):
                dec(*args)
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                dec(*args)
                times.append((time.perf_counter() - t0) * 1000)
            out[f"ms_h{hands}"] = float(np.median(times))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    hand = load_hand_model("open")
    result: dict = {"upsampling": {}, "decoder": {}}
    print(f"open hand: V = {hand.num_vertices}")
    for c in (64, 96, 128, 160, 192):
        err = upsampling_error_mm(hand, build_coarse_mesh(hand, c))
        result["upsampling"][c] = err
        print(f"C = {c:3d}: upsampling error mean {err['mean_mm']:.2f} mm, p99 {err['p99_mm']:.2f}, max {err['max_mm']:.2f}")
    base = load_config(CONFIGS_DIR / "handos_lite.yaml")
    base["model"]["detector"]["pretrained_backbone"] = False
    for name, dec_cfg in VARIANTS.items():
        cfg = copy.deepcopy(base)
        cfg["model"]["decoder"].update(dec_cfg)
        torch.manual_seed(0)
        r = measure(build_model(cfg), a.repeats)
        result["decoder"][name] = r
        print(f"{name}: {r['tokens_per_hand']} tokens, {r['samples_per_hand']} samples, "
              f"{r['gflop_h1']:.3f} GFLOP at H=1, {r['gflop_per_extra_hand']:.3f} per extra hand; {r['ms_h1']:.1f} ms (H=1), {r['ms_h4']:.1f} ms (H=4)")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
