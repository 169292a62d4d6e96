"""Metrics on hand-computed cases (and against FreiHAND's published alignment code)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from handos_model.metrics import (
    auc,
    auc_3d,
    average_precision,
    box_iou,
    box_size,
    detection_recall,
    f_score,
    match_by_iou,
    pa_mpjpe,
    pa_mpvpe,
    pck_2d,
    pck_curve_3d,
    procrustes_align,
    procrustes_transform,
    side_precision,
)


def freihand_align_w_scale(mtx1: np.ndarray, mtx2: np.ndarray) -> np.ndarray:
    """FreiHAND eval.py ``align_w_scale`` (gt=mtx1, pred=mtx2), the reference protocol."""
    t1, t2 = mtx1.mean(0), mtx2.mean(0)
    a, b = mtx1 - t1, mtx2 - t2
    s1 = np.linalg.norm(a) + 1e-8
    s2 = np.linalg.norm(b) + 1e-8
    R, s = orthogonal_procrustes(a / s1, b / s2)
    return (b / s2) @ R.T * s * s1 + t1


def test_procrustes_undoes_a_similarity_transform() -> None:
    rng = np.random.default_rng(1)
    gt = rng.normal(scale=0.05, size=(21, 3))
    R = Rotation.from_euler("xyz", [30, -50, 110], degrees=True).as_matrix()
    pred = 1.7 * gt @ R.T + np.array([0.3, -0.1, 0.9])
    np.testing.assert_allclose(procrustes_align(pred, gt), gt, atol=1e-9)
    assert pa_mpjpe(pred, gt) == pytest.approx(0.0, abs=1e-4)  # mm; FreiHAND's +1e-8 norms leave ~1e-6
    R_est, s, t = procrustes_transform(pred, gt)
    assert s == pytest.approx(1 / 1.7)
    np.testing.assert_allclose(R_est, R.T, atol=1e-9)


def test_procrustes_matches_freihand_reference() -> None:
    rng = np.random.default_rng(2)
    for _ in range(5):
        gt, pred = rng.normal(size=(21, 3)), rng.normal(size=(21, 3))
        np.testing.assert_allclose(procrustes_align(pred, gt), freihand_align_w_scale(gt, pred), atol=1e-12)


def test_zero_prediction_collapses_to_gt_centroid() -> None:
    # GT: the centre point plus 10 antipodal pairs at 20 mm -> centroid = centre, mean distance 400/21 mm
    centre = np.array([0.1, -0.05, 0.6])
    dirs = Rotation.random(10, random_state=3).apply([1.0, 0.0, 0.0])
    gt = np.concatenate([centre[None], centre + 0.02 * dirs, centre - 0.02 * dirs])
    np.testing.assert_allclose(procrustes_align(np.zeros((21, 3)), gt), np.tile(centre, (21, 1)), atol=1e-12)
    assert pa_mpjpe(np.zeros((21, 3)), gt) == pytest.approx(400.0 / 21.0, rel=1e-9)


def test_pa_mpvpe_in_mm() -> None:
    gt = np.array([[-0.05, 0, 0], [0.05, 0, 0], [0, -0.05, 0], [0, 0.05, 0]], dtype=float)
    assert pa_mpvpe(gt * 2.0 + 1.0, gt) == pytest.approx(0.0, abs=1e-4)
    # a flat cross whose y arm is 20 mm too long: the best similarity fit spreads the error.
    # pred = diag(1, 1.4) gt; optimal scale s = (0.05^2 * 2 + 0.07 * 0.05 * 2) / (2 * 0.05^2 + 2 * 0.07^2)
    # = 0.012 / 0.0148; errors: x arm |s * 50 - 50| mm, y arm |s * 70 - 50| mm, two vertices each.
    pred = gt * np.array([1.0, 1.4, 1.0])
    s = 0.012 / 0.0148
    expected = (abs(s * 50 - 50) + abs(s * 70 - 50)) / 2
    assert pa_mpvpe(pred, gt) == pytest.approx(expected, rel=1e-6)


def test_f_score_hand_computed() -> None:
    gt = np.array([[0.0, 0, 0], [0.1, 0, 0], [0.2, 0, 0]])
    pred = np.array([[0.0, 0.004, 0], [0.1, 0.01, 0], [0.5, 0, 0]])
    # 5 mm: pred0 (4 mm) close; pred1 10 mm, pred2 300 mm far -> P = 1/3; gt0 close only -> R = 1/3
    f, p, r = f_score(pred, gt, 0.005)
    assert (p, r) == (pytest.approx(1 / 3), pytest.approx(1 / 3)) and f == pytest.approx(1 / 3)
    # 15 mm: pred0, pred1 close -> P = 2/3; gt0, gt1 close, gt2's nearest (pred1) at ~100 mm -> R = 2/3
    f, p, r = f_score(pred, gt, 0.015)
    assert (p, r) == (pytest.approx(2 / 3), pytest.approx(2 / 3)) and f == pytest.approx(2 / 3)
    # unequal sizes: 2 predicted points both on gt0 -> P = 1, R = 1/3, F = 2 * 1/3 / (4/3) = 0.5
    f, p, r = f_score(np.zeros((2, 3)), gt, 0.005)
    assert (p, r, f) == (1.0, pytest.approx(1 / 3), pytest.approx(0.5))
    assert f_score(gt + 1.0, gt, 0.005) == (0.0, 0.0, 0.0)


def test_pck_2d_thresholds_scale_with_box_size() -> None:
    gt = np.zeros((21, 2))
    err = np.array([0, 4, 4.99, 5, 6, 9, 9.99, 10, 14, 14.99, 15, 20] + [100] * 9, dtype=float)
    pred = np.stack([err, np.zeros(21)], axis=1)
    box = np.array([10.0, 20.0, 110.0, 70.0])  # w 100, h 50 -> size 100 -> 5 / 10 / 15 px
    assert box_size(box) == 100.0
    np.testing.assert_allclose(pck_2d(pred, gt, box), [3 / 21, 7 / 21, 10 / 21])
    vis = np.ones(21)
    vis[[0, 1, 20]] = 0  # ignored joints
    np.testing.assert_allclose(pck_2d(pred, gt, box, vis), [1 / 18, 5 / 18, 8 / 18])
    tall = np.array([0.0, 0.0, 40.0, 200.0])  # size = h = 200 -> 10 px at 0.05
    np.testing.assert_allclose(pck_2d(pred, gt, tall, thresholds=(0.05,)), [7 / 21])
    assert pck_2d(pred, gt, box, np.zeros(21)) is None


def test_pck_curve_and_auc_hand_computed() -> None:
    t, curve = pck_curve_3d(np.full(21, 25.0))
    assert len(t) == 100 and t[0] == 0.0 and t[-1] == 50.0
    assert curve[49] == 0.0 and curve[50] == 1.0  # t_49 = 24.75 mm, t_50 = 25.25 mm
    # step from 0 to 1 between t_49 and t_50: area = (0.5 + 49) * 50/99 over a range of 50 -> 0.5
    assert auc(t, curve) == pytest.approx(0.5)
    assert auc(*pck_curve_3d(np.zeros(5))) == pytest.approx(1.0)  # errors <= 0 mm count at t = 0
    assert auc(*pck_curve_3d(np.full(5, 60.0))) == 0.0
    # half the joints perfect, half beyond 50 mm -> 0.5
    assert auc(*pck_curve_3d(np.array([0.0, 0.0, 80.0, 80.0]))) == pytest.approx(0.5)


def test_auc_3d_of_one_hand() -> None:
    gt = np.random.default_rng(4).normal(scale=0.04, size=(21, 3))
    # a similar hand: aligned errors are ~1e-6 mm, i.e. > 0, so only the t = 0 sample of the curve
    # is 0: area = (0.5 + 98) / 99 (the official EvalUtil behaves the same)
    assert auc_3d(gt * 0.8 + 0.5, gt) == pytest.approx(98.5 / 99)
    # without alignment a 25 mm translation is an error of 25 mm at every joint -> 0.5
    assert auc_3d(gt + [0.025, 0.0, 0.0], gt, align=False) == pytest.approx(0.5)


def test_box_iou_hand_computed() -> None:
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], dtype=float)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10], [2, 2, 4, 4]], dtype=float)
    np.testing.assert_allclose(box_iou(a, b)[0], [50 / 150, 0.0, 1.0, 4 / 100])
    assert box_iou(np.array([[0, 0, 0, 0]]), np.array([[0, 0, 0, 0]]))[0, 0] == 0.0


def test_matching_maximises_detected_hands() -> None:
    gt = np.array([[0, 0, 10, 10], [4, 0, 14, 10]], dtype=float)
    # pred0 overlaps gt0 (IoU 0.67) and gt1 (IoU 0.67 * ...); pred1 only gt0
    pred = np.array([[2, 0, 12, 10], [0, 0, 10, 10]], dtype=float)
    iou = box_iou(pred, gt)
    assert iou[0, 0] > 0.5 and iou[0, 1] > 0.5 and iou[1, 0] == 1.0 and iou[1, 1] < 0.5
    # greedy (pred1-gt0 first) then pred0-gt1: both matched; a naive pred0-gt0 first would lose gt1
    assert [(p, g) for p, g, _ in match_by_iou(pred, gt)] == [(1, 0), (0, 1)]
    # conflict where the highest-IoU pair must be given up to detect both hands
    gt2 = np.array([[0, 0, 10, 10], [3, 0, 13, 10]], dtype=float)
    pred2 = np.array([[1, 0, 11, 10], [-2, 0, 8, 10]], dtype=float)
    iou2 = box_iou(pred2, gt2)
    assert iou2[0, 0] > iou2[0, 1] > 0.5 and iou2[1, 0] > 0.5 and iou2[1, 1] < 0.5
    assert [(p, g) for p, g, _ in match_by_iou(pred2, gt2)] == [(1, 0), (0, 1)]
    # below the threshold nothing matches; a duplicate prediction stays unmatched
    assert match_by_iou(np.array([[0, 0, 10, 10]]), np.array([[6, 0, 16, 10]])) == []
    m = match_by_iou(np.array([[0, 0, 10, 10], [0, 0, 10, 9]]), np.array([[0, 0, 10, 10]]))
    assert [(p, g) for p, g, _ in m] == [(0, 0)]
    assert match_by_iou(np.zeros((0, 4)), gt) == []


def test_recall_and_side_precision() -> None:
    assert detection_recall(3, 4) == 0.75 and detection_recall(0, 0) is None
    # gt side -1 (unknown) is skipped: 2 of 3 known are right
    assert side_precision([1, 0, 1, 0], [1, 1, 1, -1]) == pytest.approx(2 / 3)
    assert side_precision([1], [-1]) is None


def test_average_precision_scores_the_ranking() -> None:
    gt = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)
    hit0, hit1, miss = [0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60]
    # both hands ranked above the false box: AP 1
    assert average_precision([(np.array([hit0, hit1, miss]), np.array([0.9, 0.8, 0.1]), gt)], 0.5) == 1.0
    # the false box first: precision 1/2 at recall 1/2, 2/3 at recall 1 -> (0.5 + 0.5) * 2/3
    ap = average_precision([(np.array([hit0, hit1, miss]), np.array([0.5, 0.4, 0.9]), gt)], 0.5)
    assert abs(ap - 2 / 3) < 1e-9
    # a duplicate of a found hand is a false positive; a missed hand caps the recall
    ap = average_precision([(np.array([hit0, hit0]), np.array([0.9, 0.8]), gt)], 0.5)
    assert abs(ap - 0.5) < 1e-9
    # over images; no prediction at all; no ground truth
    assert average_precision([(np.array([hit0]), np.array([0.9]), gt[:1]), (np.zeros((0, 4)), np.zeros(0), gt[1:])], 0.5) == 0.5
    assert average_precision([(np.zeros((0, 4)), np.zeros(0), gt)], 0.5) == 0.0
    assert average_precision([(np.array([miss]), np.array([0.9]), np.zeros((0, 4)))], 0.5) is None
