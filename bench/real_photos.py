"""HandOS with the node's defaults on real photographs, against MediaPipe Hands as the reference.

The photos (``../shared/real_photos/images``, 58 real photographs of people, hands and crowds;
its README says where they come from) are for MEASURING ONLY: never train on them, never tune
on them photo by photo. The reference is ``mediapipe_reference.json`` beside them (MediaPipe
Hands 0.10.14, static-image mode): 39 hands, none in 29 of the photos.

Per photo, HandOS's hands (score / NMS / max-hands thresholds of the node's parameters file,
``config/handos.yaml``) are matched one-to-one to MediaPipe's by box IoU >= 0.2 (Hungarian,
``metrics.match_by_iou``; MediaPipe's box is the tight box of its 21 landmarks, no margin).
Reported:

* recall: matched MediaPipe hands / all MediaPipe hands;
* unmatched HandOS boxes per photo, on all photos and on those where MediaPipe finds no hand;
* on matched hands: mean 2D joint error in % of the reference box size (max of its width and
  height) for ``joints_2d`` (and ``joints_2d_proj``), PCK@0.2 (share of joints within 0.2 of
  the box size), and side agreement with MediaPipe's left/right (and how often each says
  "right": a model that cannot tell says its mesh template's side);
* average precision of MediaPipe's hands over every box scored >= 0.05 (threshold-free: how
  well the scores rank hands above the rest, whatever the node's threshold);
* an overlay picture per photo (``--out``): MediaPipe's hands in white, HandOS's matched hands
  in green (right) / orange (left), unmatched ones in red.

Intrinsics: photos carry none; K is a pinhole with focal length max(w, h) at the image centre
(it changes the 3D translation only, none of the 2D figures above).

    python bench/real_photos.py [--weights default] [--out out/real_photos] [--json F --md F]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from handos_model import CONFIGS_DIR  # noqa: E402
from handos_model.checkpoint import load_model  # noqa: E402
from handos_model.engine.evaluate import resolve_weights  # noqa: E402
from handos_model.hand.topology import SKELETON_PARENTS  # noqa: E402
from handos_model.metrics import average_precision, match_by_iou  # noqa: E402
from handos_model.models.build import build_model, load_config  # noqa: E402
from handos_model.predictor import HandPredictor  # noqa: E402

IOU_MATCH = 0.2
PCK_THRESHOLD = 0.2
AP_SCORE_FLOOR = 0.05  # boxes down to this score enter the average precision
AP_MAX_BOXES = 20
DEFAULT_PHOTOS = REPO.parent / "shared" / "real_photos"
SIDE_NAMES = {0: "left", 1: "right"}


def node_defaults(params_file: Path) -> dict[str, float]:
    """score / NMS / max hands as the node starts with them (``config/handos.yaml``)."""
    doc = yaml.safe_load(params_file.read_text())
    params = next(iter(doc.values()))["ros__parameters"]
    return {k: params[k] for k in ("score_threshold", "nms_threshold", "max_hands")}


def pinhole(width: int, height: int) -> np.ndarray:
    f = float(max(width, height))
    return np.array([[f, 0, width / 2.0], [0, f, height / 2.0], [0, 0, 1]], np.float32)


def evaluate_photo(preds: list, ref_hands: list[dict]) -> dict:
    """Match one photo's predictions to its reference hands; per-hand figures."""
    ref_boxes = np.array([h["box"] for h in ref_hands], np.float64).reshape(-1, 4)
    pred_boxes = np.array([p.box for p in preds], np.float64).reshape(-1, 4)
    pairs = match_by_iou(pred_boxes, ref_boxes, iou_threshold=IOU_MATCH)
    hands = []
    for pi, gi, iou in pairs:
        ref = ref_hands[gi]
        j = np.asarray(ref["joints"], np.float64)
        b = ref_boxes[gi]
        size = max(b[2] - b[0], b[3] - b[1], 1.0)
        d = np.linalg.norm(np.asarray(preds[pi].joints_2d, np.float64) - j, axis=1) / size
        dp = np.linalg.norm(np.asarray(preds[pi].joints_2d_proj, np.float64) - j, axis=1) / size
        pb = pred_boxes[pi]
        area = max(pb[2] - pb[0], 0.0) * max(pb[3] - pb[1], 0.0) / max((b[2] - b[0]) * (b[3] - b[1]), 1.0)
        hands.append({
            "pred": pi, "ref": gi, "iou": iou, "box_area_ratio": float(area), "err_box": float(d.mean()), "err_box_proj": float(dp.mean()),
            "pck": float((d < PCK_THRESHOLD).mean()),
            "side_pred": SIDE_NAMES[int(preds[pi].side)], "side_ref": ref["side"],
        })
    return {"matched": hands, "num_pred": len(preds), "num_ref": len(ref_hands),
            "unmatched_pred": len(preds) - len(pairs)}


def draw_overlay(image: np.ndarray, preds: list, ref_hands: list[dict], result: dict, path: Path) -> None:
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    width = max(2, image.shape[1] // 300)

    def skeleton(joints: np.ndarray, colour: tuple[int, int, int]) -> None:
        for j, p in enumerate(SKELETON_PARENTS):
            if p >= 0:
                draw.line([tuple(joints[p]), tuple(joints[j])], fill=colour, width=width)

    for h in ref_hands:
        draw.rectangle(h["box"], outline=(255, 255, 255), width=width)
        skeleton(np.asarray(h["joints"]), (255, 255, 255))
    matched = {m["pred"] for m in result["matched"]}
    for i, p in enumerate(preds):
        colour = ((0, 220, 0) if int(p.side) == 1 else (255, 150, 0)) if i in matched else (230, 0, 0)
        draw.rectangle([float(v) for v in p.box], outline=colour, width=width)
        skeleton(np.asarray(p.joints_2d, np.float64), colour)
        draw.text((float(p.box[0]) + 3, float(p.box[1]) + 2), f"{SIDE_NAMES[int(p.side)][0].upper()} {p.score:.2f}",
                  fill=colour)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.convert("RGB").save(path, quality=85)


def summarise(per_photo: dict[str, dict]) -> dict:
    hands = [h for r in per_photo.values() for h in r["matched"]]
    n_ref = sum(r["num_ref"] for r in per_photo.values())
    empty = [r for r in per_photo.values() if r["num_ref"] == 0]

    def mean(xs: list[float]) -> float | None:
        return float(np.mean(xs)) if xs else None

    return {
        "photos": len(per_photo), "reference_hands": n_ref, "matched": len(hands),
        "recall": len(hands) / n_ref if n_ref else None,
        "unmatched_per_photo": mean([r["unmatched_pred"] for r in per_photo.values()]),
        "photos_without_reference_hand": len(empty),
        "unmatched_per_photo_without_reference_hand": mean([r["unmatched_pred"] for r in empty]),
        "boxes_per_photo": mean([r["num_pred"] for r in per_photo.values()]),
        "err_box": mean([h["err_box"] for h in hands]),
        "err_box_proj": mean([h["err_box_proj"] for h in hands]),
        "pck_0.2": mean([h["pck"] for h in hands]),
        "side_agreement": mean([float(h["side_pred"] == h["side_ref"]) for h in hands]),
        "side_pred_right_share": mean([float(h["side_pred"] == "right") for h in hands]),
        "side_ref_right_share": mean([float(h["side_ref"] == "right") for h in hands]),
        "median_iou_matched": float(np.median([h["iou"] for h in hands])) if hands else None,
        "median_box_area_ratio_matched": float(np.median([h["box_area_ratio"] for h in hands])) if hands else None,
    }


def markdown(summary: dict, meta: dict) -> str:
    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.1f}%"

    def num(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.2f}"

    s = summary
    return "\n".join([
        f"# HandOS on real photos vs MediaPipe Hands ({meta['date']})",
        "",
        f"Weights `{meta['weights']}`, node defaults {meta['thresholds']}, {s['photos']} photos, "
        f"{s['reference_hands']} MediaPipe hands; `python bench/real_photos.py`, {meta['seconds']:.0f} s.",
        "",
        "| metric | HandOS | goal (issue 16) |",
        "|---|---|---|",
        f"| average precision of MediaPipe's hands (box IoU >= {IOU_MATCH}; every box scored >= {AP_SCORE_FLOOR}, "
        f"threshold-free) | {pct(s.get('average_precision'))} | |",
        f"| recall of MediaPipe's hands (box IoU >= {IOU_MATCH}) | {pct(s['recall'])} ({s['matched']}/"
        f"{s['reference_hands']}) | >= 80% |",
        f"| unmatched boxes per photo (all photos) | {num(s['unmatched_per_photo'])} | <= 0.5 |",
        f"| unmatched boxes per photo ({s['photos_without_reference_hand']} photos without a MediaPipe hand) | "
        f"{num(s['unmatched_per_photo_without_reference_hand'])} | |",
        f"| 2D joint error, % of the reference box (joints_2d) | {pct(s['err_box'])} | <= 15% |",
        f"| 2D joint error, % of the reference box (joints_2d_proj) | {pct(s['err_box_proj'])} | |",
        f"| PCK@{PCK_THRESHOLD} | {pct(s['pck_0.2'])} | |",
        f"| side agreement with MediaPipe | {pct(s['side_agreement'])} | >= 85% |",
        f"| matched hands HandOS / MediaPipe calls right | {pct(s['side_pred_right_share'])} / "
        f"{pct(s['side_ref_right_share'])} | (diagnostic) |",
        f"| matched hands: median box IoU / median area of HandOS's box over MediaPipe's landmark box | "
        f"{num(s['median_iou_matched'])} / {num(s['median_box_area_ratio_matched'])} | (diagnostic) |",
        "",
    ])


def node_hands(low: list, thresholds: dict) -> list:
    """The node's hands from a low-threshold prediction with the same NMS: greedy NMS suppresses a
    box only by higher-scored ones, so the boxes above the node's threshold are unchanged; the
    decoder decodes every hand on its own."""
    keep = [q for q in low if q.score >= thresholds["score_threshold"]]
    return keep[: int(thresholds["max_hands"])]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default="default")
    p.add_argument("--detector", type=Path, help="a stage-0 detector (detector file or a HandOS checkpoint) on "
                   "--config's architecture: only the detection figures (recall, unmatched boxes) mean anything")
    p.add_argument("--config", default="handos_lite.yaml", help="model config for --detector")
    p.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="folder with images/ and mediapipe_reference.json")
    p.add_argument("--params", type=Path, default=REPO / "config" / "handos.yaml")
    p.add_argument("--input-size", type=int, default=0,
                   help="network input side S (multiple of 32; 0 = the model's, as the node's input_size)")
    p.add_argument("--out", type=Path, default=REPO / "out" / "real_photos", help="overlay pictures go here")
    p.add_argument("--json", type=Path)
    p.add_argument("--md", type=Path)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    import torch

    torch.set_num_threads(a.threads)
    ref_file = a.photos / "mediapipe_reference.json"
    if not ref_file.is_file():
        sys.exit(f"{ref_file} not found: pass --photos DIR (a folder with images/ and mediapipe_reference.json)")
    reference = json.loads(ref_file.read_text())
    thresholds = node_defaults(a.params)
    if a.detector is not None:
        cfg = load_config(CONFIGS_DIR / a.config)
        cfg["model"]["detector"].update(weights=str(a.detector), pretrained_backbone=False)
        weights = a.detector
        model = HandPredictor(build_model(cfg).eval())
    else:
        weights = resolve_weights(a.weights)
        model = HandPredictor(load_model(weights).eval())
    if a.input_size:
        model.model.input_size = a.input_size
    t0 = time.perf_counter()
    per_photo = {}
    ranked = []  # for AP: every box down to AP_SCORE_FLOOR (node NMS, at most AP_MAX_BOXES)
    for name in sorted(reference):
        image = np.asarray(Image.open(a.photos / "images" / name).convert("RGB"))
        h, w = image.shape[:2]
        with torch.no_grad():  # one pass: the node's hands are the low-threshold ones above its threshold
            low = model.predict(image, pinhole(w, h), score_threshold=AP_SCORE_FLOOR,
                                nms_threshold=thresholds["nms_threshold"], max_hands=AP_MAX_BOXES)
        preds = node_hands(low, thresholds)
        ranked.append((np.array([q.box for q in low]).reshape(-1, 4), np.array([q.score for q in low]),
                       np.array([r["box"] for r in reference[name]["hands"]]).reshape(-1, 4)))
        result = evaluate_photo(preds, reference[name]["hands"])
        per_photo[name] = result
        draw_overlay(image, preds, reference[name]["hands"], result, a.out / name)
    summary = summarise(per_photo)
    summary["average_precision"] = average_precision(ranked, IOU_MATCH)
    meta = {"weights": str(weights.relative_to(REPO)) if weights.is_relative_to(REPO) else weights.name,
            "thresholds": thresholds, "date": time.strftime("%Y-%m-%d"), "seconds": time.perf_counter() - t0}
    report = markdown(summary, meta)
    print(report)
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps({"meta": meta, "summary": summary, "per_photo": per_photo}, indent=1))
    if a.md:
        a.md.parent.mkdir(parents=True, exist_ok=True)
        a.md.write_text(report)


if __name__ == "__main__":
    main()
