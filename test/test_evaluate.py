"""Evaluation: the pure aggregation on hand-built predictions, and the full path over a dataset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.spatial.transform import Rotation

from handos_model.data.loader_utils import project
from handos_model.data.schema import LEFT, RIGHT, HandAnnotation, Sample
from handos_model.engine.evaluate import (
    build_eval_dataset,
    evaluate_model,
    evaluate_predictions,
    format_markdown,
    parse_args,
    resolve_weights,
)
from handos_model.prediction import HandPrediction

K = np.array([[500.0, 0, 160], [0, 500, 120], [0, 0, 1]])


def symmetric_hand(centre: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Joints: centre + 10 antipodal pairs at 20 mm; vertices: 6 points at 30 mm on the axes.

    An all-zero prediction aligns onto the centroid (= centre): its PA-MPJPE is
    (0 + 20 * 20) / 21 mm, its PA-MPVPE 30 mm and no vertex lies within 15 mm (F = 0).
    """
    dirs = Rotation.random(10, random_state=seed).apply([1.0, 0.0, 0.0])
    joints = np.concatenate([centre[None], centre + 0.02 * dirs, centre - 0.02 * dirs])
    axes = np.concatenate([np.eye(3), -np.eye(3)])
    return joints, centre + 0.03 * axes


def gt_hand(joints: np.ndarray, verts: np.ndarray, side: int) -> HandAnnotation:
    j2d = project(joints, K)
    box = np.array([*j2d.min(0) - 5, *j2d.max(0) + 5], np.float32)
    return HandAnnotation(box=box, joints_2d=j2d, visibility=np.ones(21, np.float32), joints_3d=joints - joints[0],
                          vertices=verts - joints[0], cam_t=joints[0].copy(), side=side)


def similar_prediction(hand: HandAnnotation, side: int, dx_2d: float = 0.0, dx_proj: float = 0.0) -> HandPrediction:
    """GT moved by a similarity transform in 3D (PA error 0) and shifted in 2D by known pixel offsets."""
    R = Rotation.from_euler("xyz", [20, -35, 60], degrees=True).as_matrix()
    j = 1.2 * (hand.joints_3d + hand.cam_t) @ R.T + [0.05, -0.02, 0.1]
    v = 1.2 * (hand.vertices + hand.cam_t) @ R.T + [0.05, -0.02, 0.1]
    return HandPrediction(score=0.9, box=hand.box.copy(), joints_2d=hand.joints_2d + [dx_2d, 0],
                          joints_2d_proj=hand.joints_2d + [dx_proj, 0], joints_3d=j, vertices=v, cam_t=j[0],
                          side=side, side_confidence=0.9)


def test_evaluate_predictions_hand_built() -> None:
    ja, va = symmetric_hand(np.array([-0.06, 0.0, 0.5]), seed=1)
    jb, vb = symmetric_hand(np.array([0.07, 0.01, 0.55]), seed=2)
    hand_a, hand_b = gt_hand(ja, va, RIGHT), gt_hand(jb, vb, LEFT)
    assert hand_a.box[2] < hand_b.box[0]  # disjoint boxes
    # image 1: A found (right side, 2D exact), B missed; a false positive far away
    fp = similar_prediction(hand_a, RIGHT)
    fp.box = np.array([300.0, 200, 320, 230])
    pred1 = [similar_prediction(hand_a, RIGHT), fp]
    # image 2: a 2D-only hand of unknown side, box 100 x 60 -> PCK thresholds 5 / 10 / 15 px
    c2d = np.stack([np.linspace(10, 90, 21), np.linspace(10, 50, 21)], axis=1).astype(np.float32)
    hand_c = HandAnnotation(box=np.array([0.0, 0, 100, 60]), joints_2d=c2d, visibility=np.ones(21), side=-1)
    pred_c = HandPrediction(score=0.8, box=np.array([1.0, 0, 100, 60]), joints_2d=c2d + [3.0, 0],
                            joints_2d_proj=c2d + [7.0, 0], joints_3d=np.zeros((21, 3)), vertices=np.zeros((6, 3)),
                            cam_t=np.zeros(3), side=LEFT, side_confidence=0.6)
    gt = [Sample(image=np.zeros((240, 320, 3), np.uint8), K=K, hands=[hand_a, hand_b]), [hand_c]]
    r = evaluate_predictions(gt, [pred1, [pred_c]])

    assert (r["num_images"], r["num_gt_hands"], r["num_predictions"], r["num_detected"]) == (2, 3, 3, 2)
    assert r["detection_recall"] == pytest.approx(2 / 3)
    assert r["side_precision"] == 1.0  # A right/right; C has no annotated side
    assert (r["num_hands_3d"], r["num_hands_mesh"], r["num_hands_2d"]) == (2, 2, 3)
    # 3D: A is exact after alignment; the missed B scores an all-zero mesh (V = 0)
    assert r["pa_mpjpe_mm"] == pytest.approx((0.0 + 400.0 / 21.0) / 2, abs=1e-4)
    assert r["pa_mpvpe_mm"] == pytest.approx((0.0 + 30.0) / 2, abs=1e-4)
    assert r["f_score_5mm"] == pytest.approx(0.5) and r["f_score_15mm"] == pytest.approx(0.5)
    # AUC: A's aligned errors are ~1e-6 mm (> 0: only t = 0 misses) -> 98.5 / 99; B (missed) -> 0
    assert r["auc_3d"] == pytest.approx((98.5 / 99 + 0.0) / 2)
    # PCK over hands: A exact (1), B missed (0), C off by 3 px (2D) / 7 px (proj)
    assert r["pck_2d"] == {"0.05": pytest.approx(2 / 3), "0.1": pytest.approx(2 / 3), "0.15": pytest.approx(2 / 3)}
    assert r["pck_proj"] == {"0.05": pytest.approx(1 / 3), "0.1": pytest.approx(2 / 3), "0.15": pytest.approx(2 / 3)}
    # not aligned, detected hands with 3D only (A): the similarity transform is an error here
    R = Rotation.from_euler("xyz", [20, -35, 60], degrees=True).as_matrix()
    rel = hand_a.joints_3d
    assert r["mpjpe_mm"] == pytest.approx(1000 * np.linalg.norm(1.2 * rel @ R.T - rel, axis=1).mean(), rel=1e-6)
    wrist = 1.2 * hand_a.cam_t @ R.T + [0.05, -0.02, 0.1]
    assert r["wrist_error_mm"] == pytest.approx(1000 * np.linalg.norm(wrist - hand_a.cam_t), rel=1e-6)
    assert r["wrist_depth_rel_error"] == pytest.approx(abs(wrist[2] - hand_a.cam_t[2]) / hand_a.cam_t[2], rel=1e-6)

    # a wrong side leaves the 3D metrics alone but drops the left/right precision to 0
    pred1_wrong = [similar_prediction(hand_a, LEFT), fp]
    assert evaluate_predictions(gt, [pred1_wrong, [pred_c]])["side_precision"] == 0.0
    # nothing predicted: recall 0, every PCK 0, 3D errors = the V = 0 errors
    r0 = evaluate_predictions(gt, [[], []])
    assert r0["detection_recall"] == 0.0 and r0["side_precision"] is None
    assert r0["pck_2d"]["0.15"] == 0.0 and r0["auc_3d"] == 0.0
    assert r0["pa_mpjpe_mm"] == pytest.approx(400.0 / 21.0, abs=1e-4)
    assert r0["mpjpe_mm"] is None and r0["wrist_error_mm"] is None  # detected hands only
    with pytest.raises(ValueError):
        evaluate_predictions(gt, [[]])


def test_mesh_with_other_topology_uses_joint_alignment() -> None:
    ja, va = symmetric_hand(np.array([-0.06, 0.0, 0.5]), seed=3)
    jb, vb = symmetric_hand(np.array([0.07, 0.0, 0.5]), seed=4)
    hand_a, hand_b = gt_hand(ja, va, RIGHT), gt_hand(jb, vb, LEFT)
    pred = similar_prediction(hand_a, RIGHT)
    # predicted mesh with 12 vertices: each GT vertex duplicated (same surface, other vertex count)
    pred.vertices = np.concatenate([pred.vertices, pred.vertices])
    r = evaluate_predictions([[hand_a, hand_b]], [[pred]])  # B is missed
    # no PA-MPVPE for either hand (the missed one is scored with the model's 12-vertex V = 0)
    assert r["pa_mpvpe_mm"] is None and r["num_hands_mesh_topology_mismatch"] == 2
    # A: vertices moved with the joint alignment land on the GT (F = 1); B: the zero mesh goes to
    # the joint centroid, 30 mm from every GT vertex (F = 0)
    assert r["f_score_5mm"] == pytest.approx(0.5) and r["f_score_15mm"] == pytest.approx(0.5)
    assert r["pa_mpjpe_mm"] == pytest.approx((0.0 + 400.0 / 21.0) / 2, abs=1e-4)
    # told the model has 6 vertices, the missed hand is scored on vertices again
    r6 = evaluate_predictions([[hand_b]], [[]], num_model_vertices=6)
    assert r6["pa_mpvpe_mm"] == pytest.approx(30.0, abs=1e-4)


# ----------------------------------------------------------------------------- full path over a dataset


class OffsetOracle:
    """A predictor returning the ground truth of the sample it is shown, moved by known offsets.

    It reads the same dataset in the same order and checks it is given that sample's image.
    """

    def __init__(self, dataset, dx_px: float, shift_m: float) -> None:
        self.dataset, self.i, self.dx, self.shift = dataset, 0, dx_px, shift_m

    def predict(self, image: np.ndarray, K: np.ndarray) -> list[HandPrediction]:
        while True:  # skip the indices the evaluator skipped as corrupt
            try:
                s = self.dataset[self.i]
                break
            except Exception:
                self.i += 1
        self.i += 1
        assert np.array_equal(s.image, image) and np.allclose(s.K, K)
        out = []
        for h in s.hands:
            j = h.joints_3d + h.cam_t + [self.shift, 0, 0]
            out.append(HandPrediction(score=1.0, box=h.box.copy(), joints_2d=h.joints_2d + [self.dx, 0],
                                      joints_2d_proj=h.joints_2d - [self.dx, 0], joints_3d=j,
                                      vertices=h.vertices + h.cam_t + [self.shift, 0, 0], cam_t=j[0],
                                      side=h.side, side_confidence=1.0))
        return out


def test_evaluate_model_over_a_freihand_layout_dataset(tmp_path: Path) -> None:
    from test_datasets import make_freihand  # fixture writer in the real FreiHAND layout

    make_freihand(tmp_path / "fh", n=3)
    (tmp_path / "fh" / "evaluation" / "rgb" / "00000001.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "data.yaml").write_text(yaml.safe_dump({"type": "freihand", "root": "fh", "split": "evaluation"}))
    dataset = build_eval_dataset(tmp_path / "data.yaml")
    sizes = [max(b[2] - b[0], b[3] - b[1]) for b in (dataset[i].hands[0].box for i in (0, 2))]
    assert all(4.0 < 0.05 * s and 0.05 * s < 12.0 < 0.15 * s for s in sizes)  # the offsets used below

    result = evaluate_model(OffsetOracle(dataset, dx_px=4.0, shift_m=0.01), dataset, tmp_path / "out")
    m = result["overall"]
    assert result["num_corrupt"] == 1 and m["num_images"] == 2 and m["num_detected"] == 2
    assert m["detection_recall"] == 1.0 and m["side_precision"] == 1.0
    assert m["pa_mpjpe_mm"] == pytest.approx(0.0, abs=1e-3)  # a 1 cm translation is aligned away
    assert m["pa_mpvpe_mm"] == pytest.approx(0.0, abs=1e-3)
    assert m["f_score_5mm"] == 1.0 and m["f_score_15mm"] == 1.0
    assert m["pck_2d"]["0.05"] == 1.0 and m["pck_proj"]["0.05"] == 1.0
    assert result["per_source"]["freihand"] == m
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["overall"]["num_detected"] == 2
    md = (tmp_path / "out" / "metrics.md").read_text()
    assert "| PA-MPJPE (mm) | 0.00 |" in md and "| detection recall (IoU >= 0.5) | 1.000 |" in md
    assert "Corrupt samples skipped: 1" in md

    # a 2D offset of 12 px: above 0.05 x box size but below 0.15 x box size
    r12 = evaluate_model(OffsetOracle(dataset, dx_px=12.0, shift_m=0.0), dataset, max_samples=1)["overall"]
    assert r12["num_images"] == 1 and r12["pck_2d"]["0.05"] == 0.0 and r12["pck_2d"]["0.15"] == 1.0


def test_format_markdown_and_cli_arguments(tmp_path: Path) -> None:
    r = evaluate_predictions([[]], [[]])
    md = format_markdown({"overall": r, "per_source": {}, "num_corrupt": 0})
    assert "| detection recall (IoU >= 0.5) | n/a |" in md and "PCK 2D@0.05" in md
    args = parse_args(["--weights", "w.safetensors", "--data", "d.yaml", "--max-samples", "5", "--out", "o"])
    assert (args.weights, args.data, args.max_samples, args.out, args.iou) == ("w.safetensors", "d.yaml", 5, "o", 0.5)
    assert resolve_weights("some/path.safetensors") == Path("some/path.safetensors")
    with pytest.raises(FileNotFoundError):
        build_eval_dataset(tmp_path / "missing.yaml")


def test_evaluate_model_over_a_synthetic_folder(tmp_path: Path) -> None:
    from handos_model.synth.cli import main as synth_main

    assert synth_main(["--num", "2", "--out", str(tmp_path / "syn"), "--size", "200", "--hands", "2"]) == 0
    dataset = build_eval_dataset(tmp_path / "syn")  # a folder -> the synthetic reader
    assert len(dataset) == 2 and dataset[0].source == "synthetic"
    m = evaluate_model(OffsetOracle(dataset, dx_px=0.0, shift_m=0.02), dataset)["overall"]
    assert m["num_gt_hands"] == 4 and m["detection_recall"] == 1.0 and m["side_precision"] == 1.0
    assert m["pa_mpjpe_mm"] == pytest.approx(0.0, abs=1e-3) and m["pa_mpvpe_mm"] == pytest.approx(0.0, abs=1e-3)
    assert m["f_score_5mm"] == 1.0 and m["pck_2d"]["0.05"] == 1.0
