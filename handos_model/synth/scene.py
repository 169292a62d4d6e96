"""Random scenes: what is in the image, before anything is drawn.

``sample_scene(rng, cfg, model)`` draws a :class:`Scene` (camera, background, hands with
pose/shape/side/orientation/placement/skin, forearms, occluders, lights, camera effects);
``compose.render_scene`` draws it and computes its ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data.schema import LEFT, RIGHT
from ..hand.hand_model import HandModel, load_hand_model
from .appearance import Lighting, Material, sample_lighting, sample_material
from .background import random_background
from .body import Forearm
from .camera_fx import PostFx, sample_post_fx
from .config import SynthConfig
from .geometry import box_overlap, points_box, rot
from .placement import place_hand, sample_hand_size, sample_image_size, sample_intrinsics, sample_orientation
from .render import MAX_HANDS, project


@dataclass
class HandInstance:
    side: int
    pose: np.ndarray  # (16, 3)
    shape: np.ndarray  # (S,)
    rotation: np.ndarray  # (3, 3) hand frame -> camera frame
    cam_t: np.ndarray  # (3,) wrist position in the camera frame
    material: Material
    forearm: Forearm | None = None
    # cached forward pass in the hand frame (already mirrored for left hands)
    verts_hand: np.ndarray | None = field(default=None, repr=False)
    joints_hand: np.ndarray | None = field(default=None, repr=False)


@dataclass
class Occluder:
    polygon: np.ndarray  # (N, 2) pixels
    texture_seed: int


@dataclass
class Scene:
    width: int
    height: int
    K: np.ndarray
    background: np.ndarray
    hands: list[HandInstance]
    lighting: Lighting
    occluders: list[Occluder] = field(default_factory=list)
    shadow: bool = False
    post: PostFx = field(default_factory=PostFx)
    skin_texture: bool = True


def sample_scene(rng: np.random.Generator, cfg: SynthConfig, model: HandModel | None = None) -> Scene:
    model = model or load_hand_model(cfg.hand_model)
    w, h = sample_image_size(rng, cfg)
    K = sample_intrinsics(rng, w, h, cfg)
    bg = random_background(rng, h, w, plain=cfg.easy)
    n = cfg.num_hands or int(rng.choice(len(cfg.hands_probs), p=np.asarray(cfg.hands_probs) / sum(cfg.hands_probs))) + 1
    n = min(n, MAX_HANDS)
    kinds = ("open", "relaxed", "point", "peace") if cfg.easy else (None,)
    poses = np.stack([model.sample_pose(rng, kind=kinds[int(rng.integers(len(kinds)))]) for _ in range(n)])
    shapes = model.sample_shape(rng, n)
    verts, joints = model.forward(poses, shapes)
    hands: list[HandInstance] = []
    boxes: list[np.ndarray] = []
    for i in range(n):
        side = RIGHT if rng.random() < 0.5 else LEFT
        vh, jh = verts[i].astype(np.float64), joints[i].astype(np.float64)
        if side == LEFT:
            vh, jh = model.mirror_left(vh), model.mirror_left(jh)
        frac = sample_hand_size(rng, cfg, n)
        placed = False
        for _ in range(10):
            R = sample_orientation(rng, cfg)
            v_rel = vh @ R.T
            t = place_hand(rng, v_rel, K, w, h, frac, cfg)
            v_cam = v_rel + t
            if v_cam[:, 2].min() < 0.08:
                continue
            box = points_box(project(v_cam, K))
            full = (box[2] - box[0]) * (box[3] - box[1])
            cb = np.clip(box, [0, 0, 0, 0], [w - 1, h - 1, w - 1, h - 1])
            inside = (cb[2] - cb[0]) * (cb[3] - cb[1]) / max(full, 1e-9)
            if inside < 0.75 or min(box[2] - box[0], box[3] - box[1]) < 4:
                continue
            if any(max(box_overlap(box, b)[0] * 2.0, box_overlap(box, b)[1]) > 0.45 for b in boxes):
                frac *= 0.85
                continue
            placed = True
            break
        if not placed:
            continue
        boxes.append(box)
        scale = 1.0 + 0.1 * float(shapes[i][0]) if model.name != "mano" else 1.0
        forearm = None
        bend = rot([1, 0, 0], rng.normal(0, 0.35)) @ rot([0, 0, 1], rng.normal(0, 0.2))
        fa_dir_cam = R @ (bend @ np.array([0.0, -1.0, 0.0]))
        # an arm pointing at the camera would show its cut end: leave it out then
        if rng.random() < cfg.forearm_prob and fa_dir_cam[2] > -0.35:
            length = 0.45 * scale
            if fa_dir_cam[2] < 0:  # towards the camera: stop before the near plane
                length = min(length, (t[2] - 0.1) / -fa_dir_cam[2])
            sleeve = rng.uniform(0.02, 0.2) * scale if rng.random() < cfg.sleeve_prob else None
            forearm = Forearm(bend=bend, length=float(max(length, 0.0)), sleeve_start=sleeve)
        hands.append(HandInstance(side=side, pose=poses[i], shape=shapes[i], rotation=R, cam_t=t.astype(np.float64),
                                  material=sample_material(rng), forearm=forearm, verts_hand=vh, joints_hand=jh))
    occluders: list[Occluder] = []
    if hands and rng.random() < cfg.occluder_prob:
        for _ in range(int(rng.integers(1, 3))):
            hi = int(rng.integers(len(hands)))
            occluders.append(_sample_occluder(rng, hands[hi], boxes[hi], K, w, h))
    post = sample_post_fx(rng, cfg)
    return Scene(
        width=w, height=h, K=K, background=bg, hands=hands, lighting=sample_lighting(rng, cfg.easy),
        occluders=occluders, shadow=bool(rng.random() < cfg.shadow_prob), post=post, skin_texture=not cfg.easy,
    )


def _sample_occluder(rng: np.random.Generator, hand: HandInstance, box: np.ndarray, K: np.ndarray, w: int, h: int) -> Occluder:
    j2d = project(hand.joints_hand @ hand.rotation.T + hand.cam_t, K)
    c = j2d[int(rng.integers(21))] + rng.normal(0, 0.1, 2) * (box[2:] - box[:2])
    size = max(box[2] - box[0], box[3] - box[1]) * rng.uniform(0.2, 0.55)
    kind = int(rng.integers(4))
    a = rng.uniform(0, np.pi)
    if kind == 0:  # rotated rectangle
        sx, sy = size * rng.uniform(0.4, 1.0), size * rng.uniform(0.4, 1.0)
        pts = np.array([[-sx, -sy], [sx, -sy], [sx, sy], [-sx, sy]]) / 2
    elif kind == 1:  # stick / pen / cable
        sx, sy = size * rng.uniform(1.2, 3.0), size * rng.uniform(0.08, 0.2)
        pts = np.array([[-sx, -sy], [sx, -sy], [sx, sy], [-sx, sy]]) / 2
    elif kind == 2:  # ellipse
        t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        pts = np.stack([np.cos(t) * size * rng.uniform(0.3, 0.6), np.sin(t) * size * rng.uniform(0.3, 0.6)], 1)
    else:  # random convex blob
        t = np.sort(rng.uniform(0, 2 * np.pi, 7))
        r = size * rng.uniform(0.3, 0.6, 7)
        pts = np.stack([np.cos(t) * r, np.sin(t) * r], 1)
    Rm = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return Occluder(polygon=pts @ Rm.T + c, texture_seed=int(rng.integers(2**31)))
