"""Small real inputs for the model tests: a tiny closed hand-like mesh topology and a tiny HandOS config."""

from __future__ import annotations

import copy

import numpy as np
import torch

from handos_model.data.schema import HandAnnotation, Sample, box_from_points
from handos_model.data.transforms import sample_to_network
from handos_model.hand.topology import FINGERTIPS, NUM_KEYPOINTS, HandTopology


def icosphere(subdivisions: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Unit icosphere with outward-oriented faces: (V, 3) float64, (F, 3) int64."""
    t = (1.0 + 5**0.5) / 2.0
    verts = [
        (-1, t, 0),
        (1, t, 0),
        (-1, -t, 0),
        (1, -t, 0),
        (0, -1, t),
        (0, 1, t),
        (0, -1, -t),
        (0, 1, -t),
        (t, 0, -1),
        (t, 0, 1),
        (-t, 0, -1),
        (-t, 0, 1),
    ]
    faces = [
        (0, 11, 5),
        (0, 5, 1),
        (0, 1, 7),
        (0, 7, 10),
        (0, 10, 11),
        (1, 5, 9),
        (5, 11, 4),
        (11, 10, 2),
        (10, 7, 6),
        (7, 1, 8),
        (3, 9, 4),
        (3, 4, 2),
        (3, 2, 6),
        (3, 6, 8),
        (3, 8, 9),
        (4, 9, 5),
        (2, 4, 11),
        (6, 2, 10),
        (8, 6, 7),
        (9, 8, 1),
    ]
    v = [np.array(p, float) / np.linalg.norm(p) for p in verts]
    for _ in range(subdivisions):
        cache: dict[tuple[int, int], int] = {}
        new_faces = []

        def mid(a: int, b: int, cache: dict[tuple[int, int], int] = cache) -> int:
            key = (min(a, b), max(a, b))
            if key not in cache:
                m = (v[a] + v[b]) / 2.0
                v.append(m / np.linalg.norm(m))
                cache[key] = len(v) - 1
            return cache[key]

        for a, b, c in faces:
            ab, bc, ca = mid(a, b), mid(b, c), mid(c, a)
            new_faces += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        faces = new_faces
    vv = np.array(v)
    ff = np.array(faces, dtype=np.int64)
    n = np.cross(vv[ff[:, 1]] - vv[ff[:, 0]], vv[ff[:, 2]] - vv[ff[:, 0]])
    flip = (n * vv[ff].mean(1)).sum(1) < 0
    ff[flip] = ff[flip][:, [0, 2, 1]]
    return vv, ff


def tiny_topology(subdivisions: int = 1, seed: int = 0) -> HandTopology:
    """A closed ellipsoid 'hand' (~10 x 6 x 3 cm) with random skinning weights over the 21 keypoints."""
    rng = np.random.default_rng(seed)
    v, f = icosphere(subdivisions)
    template = (v * np.array([0.03, 0.05, 0.015])).astype(np.float32)
    nv = len(template)
    reg = np.zeros((NUM_KEYPOINTS, nv), np.float32)
    for j in range(NUM_KEYPOINTS):
        idx = rng.choice(nv, size=3, replace=False)
        reg[j, idx] = 1.0 / 3.0
    skin = rng.random((nv, NUM_KEYPOINTS)).astype(np.float32) ** 4
    skin[:, list(FINGERTIPS)] = 0.0
    skin /= skin.sum(1, keepdims=True)
    return HandTopology("tiny_test_ellipsoid", template, f, reg, skin)


TINY_MODEL_CFG = {
    "model": {
        "hand_model": "open",
        "input_size": 128,
        "detector": {
            "type": "rtdetr_tiny",
            "d_model": 64,
            "num_queries": 30,
            "decoder_layers": 2,
            "num_heads": 2,
            "ffn_dim": 128,
            "num_points": 2,
            "backbone_embedding_size": 16,
            "backbone_hidden_sizes": [16, 16, 32, 64],
            "num_denoising": 0,
        },
        "side_tuning": {"channels": 16},
        "decoder": {"num_heads": 2, "num_points": 2, "ffn_dim": 64, "num_2d_layers": 1, "num_interactive_layers": 2},
        "query_filtering": {"score_threshold": 0.0, "nms_threshold": 0.9, "max_hands": 8, "max_matches_per_gt": 2},
    },
    "loss": {},
}


def tiny_cfg(**decoder_overrides) -> dict:
    cfg = copy.deepcopy(TINY_MODEL_CFG)
    cfg["model"]["decoder"].update(decoder_overrides)
    return cfg


def synthetic_sample(topology: HandTopology, num_hands: int = 1, size: int = 128, seed: int = 0, left: bool = False):
    """A real (image, target) pair: the template mesh placed in front of a camera, boxes from its projection."""
    rng = np.random.default_rng(seed)
    h, w = 96, 128
    image = (rng.random((h, w, 3)) * 255).astype(np.uint8)
    K = np.array([[120.0, 0, w / 2], [0, 120.0, h / 2], [0, 0, 1]], np.float32)
    hands = []
    wrist = topology.joint_regressor[0] @ topology.template
    for i in range(num_hands):
        verts = topology.template - wrist
        if left:
            verts = verts * np.array([-1.0, 1.0, 1.0], np.float32)
        cam_t = np.array([-0.08 + 0.16 * (i + 0.5) / max(num_hands, 1), rng.uniform(-0.03, 0.03), 0.35], np.float32)
        joints_3d = topology.joint_regressor @ verts
        pts = (verts + cam_t) @ K.T
        p2 = pts[:, :2] / pts[:, 2:3]
        j = (joints_3d + cam_t) @ K.T
        j2 = j[:, :2] / j[:, 2:3]
        box = box_from_points(p2)
        hands.append(
            HandAnnotation(
                box=box,
                joints_2d=j2.astype(np.float32),
                visibility=np.ones(21, np.float32),
                joints_3d=joints_3d.astype(np.float32),
                vertices=verts.astype(np.float32),
                cam_t=cam_t,
                side=0 if left else 1,
            )
        )
    sample = Sample(image=image, K=K, hands=hands, source="test", key=str(seed))
    return sample_to_network(sample, size, topology.num_vertices)


def batch(samples):
    from handos_model.data.transforms import collate

    images, targets = collate(samples)
    return images, torch.stack([t["K"] for t in targets]), targets


def posed_hand_sample(hand_model, size: int = 128, seed: int = 0, left: bool = False, num_hands: int = 1):
    """A real (image, target) pair from the hand model: posed hands in front of a camera, drawn as dots."""
    rng = np.random.default_rng(seed)
    h, w = 96, 128
    image = (rng.random((h, w, 3)) * 60).astype(np.uint8)
    K = np.array([[110.0, 0, w / 2], [0, 110.0, h / 2], [0, 0, 1]], np.float32)
    hands = []
    for i in range(num_hands):
        verts, joints = hand_model.forward_numpy(hand_model.sample_pose(rng, "relaxed"))
        verts, joints = verts[0] if verts.ndim == 3 else verts, joints[0] if joints.ndim == 3 else joints
        if left:
            verts, joints = verts * np.array([-1, 1, 1], np.float32), joints * np.array([-1, 1, 1], np.float32)
        cam_t = np.array([-0.1 + 0.2 * (i + 0.5) / num_hands, -0.05, 0.45], np.float32)
        pv = (verts + cam_t) @ K.T
        pv = pv[:, :2] / pv[:, 2:3]
        pj = (joints + cam_t) @ K.T
        pj = pj[:, :2] / pj[:, 2:3]
        for x, y in pv.astype(int):
            if 0 <= x < w and 0 <= y < h:
                image[y, x] = (220, 180, 150)
        hands.append(
            HandAnnotation(
                box=box_from_points(pv, pad=0.05),
                joints_2d=pj.astype(np.float32),
                visibility=np.ones(21, np.float32),
                joints_3d=joints.astype(np.float32),
                vertices=verts.astype(np.float32),
                cam_t=cam_t,
                side=0 if left else 1,
            )
        )
    sample = Sample(image=image, K=K, hands=hands, source="test", key=str(seed))
    return sample_to_network(sample, size, hand_model.num_vertices)
