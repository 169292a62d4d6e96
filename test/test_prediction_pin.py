"""Pins the shipped model's predictions on fixed frames, so that a refactoring cannot change them.

Inputs: ``fixtures/prediction_pin_frames.npz`` — three synthetic frames (two easy scenes with one
big hand, one cluttered scene with two hands) rendered once with ``SyntheticCamera`` and committed,
so that work on the renderer does not move the inputs. Expected outputs:
``fixtures/prediction_pin.npz`` — what the embedded default weights predicted on them at the
node's default thresholds, recorded by this file.

When the default weights are retrained (or a change of behaviour is intended), record again::

    source scripts/env.sh
    python test/test_prediction_pin.py --regenerate          # predictions only (frames stay)
    python test/test_prediction_pin.py --regenerate-frames   # re-render the frames too (rarely)

The comparison tolerates float noise (another CPU's vector paths) and nothing more: every array
must agree within ``RTOL`` of its own scale (e.g. 0.06 px on a 640 px image, 0.01 mm on a 10 cm
hand). The recording refuses frames whose outcome would hinge on float noise: a detector score
near the threshold or a side vote near a tie.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from handos_ros.parameters import SPEC_BY_NAME

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FRAMES_FILE = FIXTURES / "prediction_pin_frames.npz"
PIN_FILE = FIXTURES / "prediction_pin.npz"

# the node's defaults (their one home: handos_ros/parameters.py)
NODE_SCORE_THRESHOLD = float(SPEC_BY_NAME["score_threshold"].default)
NODE_NMS_THRESHOLD = float(SPEC_BY_NAME["nms_threshold"].default)
NODE_MAX_HANDS = int(SPEC_BY_NAME["max_hands"].default)

# (seed, easy, num_hands, frame index) of the committed frames; 320x240 keeps the file small
FRAME_SPECS = ((3, True, 1, 0), (5, True, 1, 7), (11, False, 2, 4))
FRAME_SIZE = (320, 240)

FIELDS = ("box", "score", "joints_2d", "joints_2d_proj", "joints_3d", "vertices", "cam_t", "side")
RTOL = 1e-4  # of each array's scale (its largest magnitude)
MARGIN = 1e-3  # how far scores must lie from the threshold, side confidences from 0.5, when recording


def render_frames() -> dict[str, np.ndarray]:
    """Render FRAME_SPECS: ``images`` (N, H, W, 3) uint8 and ``Ks`` (N, 3, 3) float32."""
    from handos_model.synth.camera_stream import SyntheticCamera

    images, Ks = [], []
    for seed, easy, hands, k in FRAME_SPECS:
        cam = SyntheticCamera(seed=seed, width=FRAME_SIZE[0], height=FRAME_SIZE[1], num_hands=hands, easy=easy)
        sample = cam.frame(k)
        images.append(np.asarray(sample.image, dtype=np.uint8))
        Ks.append(np.asarray(sample.K, dtype=np.float32))
    return {"images": np.stack(images), "Ks": np.stack(Ks)}


def load_frames() -> tuple[np.ndarray, np.ndarray]:
    with np.load(FRAMES_FILE) as f:
        return f["images"], f["Ks"]


def predict_all(model: torch.nn.Module, images: np.ndarray, Ks: np.ndarray) -> list[list]:
    """HandPredictions per frame at the node's default thresholds."""
    from handos_model.predictor import HandPredictor

    predictor = HandPredictor(model)
    return [
        predictor.predict(img, K, NODE_SCORE_THRESHOLD, NODE_NMS_THRESHOLD, NODE_MAX_HANDS)
        for img, K in zip(images, Ks, strict=True)
    ]


def flatten(preds: list[list]) -> dict[str, np.ndarray]:
    """Per field, all hands of all frames stacked in order, plus ``frame`` (N,) and ``side_confidence``."""
    out: dict[str, list] = {k: [] for k in (*FIELDS, "side_confidence", "frame")}
    for i, frame in enumerate(preds):
        for p in frame:
            for k in FIELDS:
                out[k].append(np.asarray(getattr(p, k), dtype=np.float64))
            out["side_confidence"].append(float(p.side_confidence))
            out["frame"].append(i)
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def _pairwise_iou(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) xyxy -> (N, N) IoU."""
    lt = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
    rb = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area = (boxes[:, 2:] - boxes[:, :2]).prod(-1)
    return inter / (area[:, None] + area[None, :] - inter)


def check_margins(model: torch.nn.Module, images: np.ndarray, Ks: np.ndarray, preds: list[list]) -> None:
    """Refuse a recording that float noise could flip (score at the threshold, side at a tie)."""
    from handos_model.predictor import HandPredictor

    predictor = HandPredictor(model)
    for i, (img, K) in enumerate(zip(images, Ks, strict=True)):
        everything = predictor.predict(img, K, 0.0, 1.0, 100)
        scores = np.array([p.score for p in everything])
        close = np.abs(scores - NODE_SCORE_THRESHOLD) < MARGIN
        if close.any():
            raise SystemExit(f"frame {i}: a detector score lies within {MARGIN} of the threshold: {scores[close]}")
        kept = np.array([p.box for p in everything if p.score >= NODE_SCORE_THRESHOLD], dtype=np.float64)
        iou = _pairwise_iou(kept)[np.triu_indices(len(kept), 1)]
        if (np.abs(iou - NODE_NMS_THRESHOLD) < MARGIN).any():
            raise SystemExit(f"frame {i}: two candidate boxes overlap at the NMS threshold")
    for i, frame in enumerate(preds):
        for p in frame:
            if p.side_confidence < 0.5 + MARGIN:
                raise SystemExit(f"frame {i}: side vote is a near tie ({p.side_confidence})")
    if sum(len(f) for f in preds) < 3:
        raise SystemExit("fewer than 3 hands predicted: the pin would test too little; pick other frames")


def regenerate(frames_too: bool) -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    if frames_too or not FRAMES_FILE.exists():
        np.savez_compressed(FRAMES_FILE, **render_frames())
        print(f"wrote {FRAMES_FILE.name}")
    images, Ks = load_frames()
    model = load_default()
    preds = predict_all(model, images, Ks)
    check_margins(model, images, Ks, preds)
    flat = flatten(preds)
    np.savez_compressed(PIN_FILE, **{k: v.astype(np.float32) for k, v in flat.items()})
    print(f"wrote {PIN_FILE.name}: {len(flat['score'])} hands over {len(images)} frames")


def load_default() -> torch.nn.Module:
    """The embedded default weights on CPU, eval mode, exactly as the node loads them."""
    from handos_model import DEFAULT_WEIGHTS
    from handos_model.checkpoint import load_model

    torch.set_num_threads(1)
    return load_model(DEFAULT_WEIGHTS, "cpu")


@pytest.fixture(scope="module")
def pinned() -> dict[str, np.ndarray]:
    with np.load(PIN_FILE) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def current() -> dict[str, np.ndarray]:
    images, Ks = load_frames()
    with torch.no_grad():
        return flatten(predict_all(load_default(), images, Ks))


def test_pin_covers_enough_hands(pinned: dict[str, np.ndarray]) -> None:
    """The fixture holds 3+ hands, at least one on every frame."""
    assert len(pinned["score"]) >= 3
    assert set(pinned["frame"].astype(int).tolist()) == set(range(len(FRAME_SPECS)))


def test_same_hands_found(pinned: dict[str, np.ndarray], current: dict[str, np.ndarray]) -> None:
    assert current["frame"].astype(int).tolist() == pinned["frame"].astype(int).tolist()
    assert current["side"].astype(int).tolist() == pinned["side"].astype(int).tolist()


COMPARED = [f for f in FIELDS if f != "side"] + ["side_confidence"]


def mismatch(ref: np.ndarray, got: np.ndarray) -> str:
    """'' when ``got`` equals ``ref`` within RTOL of ref's scale, else what differs."""
    ref = ref.astype(np.float64)
    if got.shape != ref.shape:
        return f"shape {got.shape} != {ref.shape}"
    scale = float(np.abs(ref).max()) if ref.size else 1.0
    err = float(np.abs(got - ref).max()) if ref.size else 0.0
    return "" if err <= RTOL * scale + 1e-7 else f"max |diff| {err:.3g} > {RTOL} x scale {scale:.3g}"


@pytest.mark.parametrize("field", COMPARED)
def test_predictions_match_pin(pinned: dict[str, np.ndarray], current: dict[str, np.ndarray], field: str) -> None:
    assert mismatch(pinned[field], current[field]) == "", field


def test_pin_catches_a_small_weight_change(pinned: dict[str, np.ndarray]) -> None:
    """Scaling the side-tuning weights by 1.001 (a 0.1% change) must break the pin."""
    model = load_default()
    with torch.no_grad():
        for p in model.side_tuning.parameters():
            p.mul_(1.001)
        images, Ks = load_frames()
        changed = flatten(predict_all(model, images, Ks))
    assert any(mismatch(pinned[f], changed[f]) for f in COMPARED)


def _main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--regenerate", action="store_true", help="record the predictions of the current weights")
    ap.add_argument("--regenerate-frames", action="store_true", help="re-render the input frames, then record")
    args = ap.parse_args(argv)
    if not (args.regenerate or args.regenerate_frames):
        ap.error("nothing to do: --regenerate or --regenerate-frames (run the test with pytest)")
    regenerate(args.regenerate_frames)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
