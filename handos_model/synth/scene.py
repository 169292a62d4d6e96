"""Random scenes: what is in the image, before anything is drawn.

``sample_scene(rng, cfg, model)`` draws a :class:`Scene`: camera, background (procedural room
or texture, or a crop of the user's photos), 0-4 hands with pose / shape / side / orientation /
placement / skin, forearms with sleeves, objects held in the hands, bare arms whose hand is out
of view, people behind the hands (faces, necks, torsos, small whole people and crowds: hard negatives), point lights, occluders, lights,
panels and screens under fingertips, skin creases and camera effects. ``compose.render_scene`` draws it and computes its exact
ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data.schema import LEFT, RIGHT
from ..hand.hand_model import HandModel, load_hand_model
from .appearance import Lighting, Material, sample_lighting, sample_material
from .background import light_spots, random_background
from .body import Forearm
from .camera_fx import PostFx, sample_post_fx
from .clutter import busy_patches
from .config import SynthConfig
from .geometry import box_overlap, points_box, rot
from .people import Person, sample_people
from .photos import photo_backgrounds
from .placement import place_hand, sample_hand_size, sample_image_size, sample_intrinsics, sample_orientation
from .props import HeldObject, Surface, sample_held_object, sample_surface
from .render import MAX_HANDS, project


@dataclass
class HandInstance:
    """A hand (and its forearm) in the scene; ``held``: an object in the hand's grip. In
    ``Scene.arms`` only the forearm is drawn (its hand is out of view) and nothing is annotated."""

    side: int
    pose: np.ndarray  # (16, 3)
    shape: np.ndarray  # (S,)
    rotation: np.ndarray  # (3, 3) hand frame -> camera frame
    cam_t: np.ndarray  # (3,) wrist position in the camera frame
    material: Material
    forearm: Forearm | None = None
    held: HeldObject | None = None
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
    people: list[Person] = field(default_factory=list)
    arms: list[HandInstance] = field(default_factory=list)  # forearms whose hand is out of view
    surfaces: list[Surface] = field(default_factory=list)  # touched by a fingertip, behind the hands
    creases: bool = False


def sample_scene(rng: np.random.Generator, cfg: SynthConfig, model: HandModel | None = None) -> Scene:
    model = model or load_hand_model(cfg.hand_model)
    w, h = sample_image_size(rng, cfg)
    K = sample_intrinsics(rng, w, h, cfg)
    if cfg.backgrounds and rng.random() < cfg.photo_prob:
        bg = photo_backgrounds(cfg.backgrounds).sample(rng, h, w)
    else:
        plain = cfg.easy and (cfg.easy_plain_prob >= 1.0 or rng.random() < cfg.easy_plain_prob)
        bg = random_background(rng, h, w, plain=plain, clutter_prob=cfg.clutter_prob)
    if cfg.busy_patch_prob > 0 and rng.random() < cfg.busy_patch_prob:
        bg = busy_patches(rng, bg)
    if cfg.light_spots_prob > 0 and rng.random() < cfg.light_spots_prob:
        bg = light_spots(rng, bg)
    n = cfg.num_hands or int(rng.choice(len(cfg.hands_probs), p=np.asarray(cfg.hands_probs) / sum(cfg.hands_probs))) + 1
    n = min(n, MAX_HANDS)
    if cfg.num_hands is None and cfg.no_hand_prob > 0 and rng.random() < cfg.no_hand_prob:
        n = 0  # (a fixed num_hands is kept)
    holds = [cfg.held_prob > 0 and rng.random() < cfg.held_prob for _ in range(n)]
    kinds = ("open", "relaxed", "point", "peace") if cfg.easy else (None,)
    poses = [model.sample_pose(rng, kind=("grasp", "pinch", "fist")[int(rng.integers(3))] if holds[i]
                               else kinds[int(rng.integers(len(kinds)))]) for i in range(n)]
    poses = np.stack(poses) if n else np.zeros((0, 16, 3))
    shapes = model.sample_shape(rng, n)
    verts, joints = model.forward(poses, shapes) if n else (np.zeros((0, 1, 3)), np.zeros((0, 21, 3)))
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
            if not cfg.easy:  # the arm goes on (upper arm) until it leaves the image: no cut end in view
                length = _length_to_leave(t, fa_dir_cam, K, w, h, length)
            if fa_dir_cam[2] < 0:  # towards the camera: stop before the near plane
                length = min(length, (t[2] - 0.1) / -fa_dir_cam[2])
            # a sleeve starting at the wrist (0) covers the wrist joint: hidden in the ground truth
            sleeve = rng.uniform(0.0, 0.2) * scale if rng.random() < cfg.sleeve_prob else None
            forearm = Forearm(bend=bend, length=float(max(length, 0.0)), sleeve_start=sleeve)
        material = sample_material(rng)
        held = None
        if holds[i]:
            held = sample_held_object(rng, jh)
            material.held = held.color
        hands.append(HandInstance(side=side, pose=poses[i], shape=shapes[i], rotation=R, cam_t=t.astype(np.float64),
                                  material=material, forearm=forearm, held=held, verts_hand=vh, joints_hand=jh))
    occluders: list[Occluder] = []
    if hands and rng.random() < cfg.occluder_prob:
        for _ in range(int(rng.integers(1, 3))):
            hi = int(rng.integers(len(hands)))
            occluders.append(_sample_occluder(rng, hands[hi], boxes[hi], K, w, h))
    post = sample_post_fx(rng, cfg)
    lighting = sample_lighting(rng, cfg.easy)
    shadow = bool(rng.random() < cfg.shadow_prob)
    scene = Scene(width=w, height=h, K=K, background=bg, hands=hands, lighting=lighting, occluders=occluders,
                  shadow=shadow, post=post, skin_texture=not cfg.easy)
    if len(hands) < MAX_HANDS and cfg.bare_arm_prob > 0 and rng.random() < cfg.bare_arm_prob:
        arm = sample_bare_arm(rng, K, w, h, cfg)
        if arm is not None:
            scene.arms.append(arm)
    for hd, box in zip(hands, boxes, strict=True):
        if hd.held is None and cfg.touch_prob > 0 and rng.random() < cfg.touch_prob:
            j2d = project(hd.joints_hand @ hd.rotation.T + hd.cam_t, K)
            tip = j2d[(8, 8, 12, 4)[int(rng.integers(4))]]
            scene.surfaces.append(sample_surface(rng, tip, j2d[0], float(max(box[2] - box[0], box[3] - box[1]))))
    people_prob = cfg.people_prob if boxes else cfg.people_no_hand_prob * (cfg.people_prob > 0)
    if people_prob > 0 and rng.random() < people_prob:
        light = -lighting.dirs[0, :2].astype(np.float64)  # towards the light, image plane (y down)
        light = light / max(float(np.linalg.norm(light)), 1e-6)
        skins = [hd.material.skin for hd in hands]
        scene.people = sample_people(rng, w, h, boxes, skins, light, beside_hand_prob=cfg.beside_face_prob,
                                     figure_prob=cfg.figure_prob, crowd_prob=cfg.crowd_prob)
    scene.creases = bool(cfg.crease_prob > 0 and rng.random() < cfg.crease_prob)
    return scene


def _length_to_leave(start: np.ndarray, d: np.ndarray, K: np.ndarray, w: int, h: int, length: float,
                     max_length: float = 1.0) -> float:
    """How far (m, at least ``length``) a ray from ``start`` along ``d`` runs until its projection
    is clear of the image (by an arm's radius), capped at ``max_length``."""
    s = np.arange(length, max_length + 1e-9, 0.05)
    p = start[None, :] + s[:, None] * d[None, :]
    z = np.maximum(p[:, 2], 1e-3)
    u, v = K[0, 0] * p[:, 0] / z + K[0, 2], K[1, 1] * p[:, 1] / z + K[1, 2]
    m = 0.05 * K[0, 0] / z
    out = (u < -m) | (u > w - 1 + m) | (v < -m) | (v > h - 1 + m) | (p[:, 2] < 0.1)
    return float(s[int(np.argmax(out))]) if out.any() else float(max_length)


def sample_bare_arm(rng: np.random.Generator, K: np.ndarray, w: int, h: int, cfg: SynthConfig) -> HandInstance | None:
    """A bare or sleeved forearm crossing the image whose both ends (wrist, elbow) are outside it.

    Its hand is not drawn (it goes to ``Scene.arms``) and not annotated: an arm whose hand is out
    of view.
    """
    z = float(rng.uniform(max(cfg.depth_range[0], 0.35), min(cfg.depth_range[1], 1.6)))
    r_px = 0.05 * float(K[0, 0]) / z  # a generous arm radius in pixels

    def outside(edge: int) -> np.ndarray:
        u = rng.uniform(0.1, 0.9)
        m = r_px + rng.uniform(2.0, 0.2 * max(w, h))
        return np.array([[-m, u * h], [w + m, u * h], [u * w, -m], [u * w, h + m]][edge])

    e0 = int(rng.integers(4))
    e1 = (e0 + int(rng.integers(1, 4))) % 4
    p0, p1 = outside(e0), outside(e1)
    z1 = z * float(rng.uniform(0.9, 1.4))
    W = np.array([(p0[0] - K[0, 2]) / K[0, 0], (p0[1] - K[1, 2]) / K[1, 1], 1.0]) * z
    E = np.array([(p1[0] - K[0, 2]) / K[0, 0], (p1[1] - K[1, 2]) / K[1, 1], 1.0]) * z1
    d = E - W
    length = float(np.linalg.norm(d))
    if length < 0.05:
        return None
    y_h = -d / length  # the forearm runs along -y of the hand frame
    x_h = np.cross(y_h, rng.normal(size=3))
    x_h /= max(float(np.linalg.norm(x_h)), 1e-9)
    R = np.stack([x_h, y_h, np.cross(x_h, y_h)], 1)
    sleeve = float(rng.uniform(0.0, 0.6) * length) if rng.random() < cfg.sleeve_prob else None
    forearm = Forearm(bend=np.eye(3), length=length + 0.02, sleeve_start=sleeve)
    return HandInstance(side=RIGHT if rng.random() < 0.5 else LEFT, pose=np.zeros((16, 3)), shape=np.zeros(1),
                        rotation=R, cam_t=W, material=sample_material(rng), forearm=forearm)


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
