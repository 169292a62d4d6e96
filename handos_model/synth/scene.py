"""Random scenes of 1-4 hands and their exact ground truth.

``render_sample(seed, index, config)`` is the whole engine for one image: it seeds a
generator with ``(seed, index)`` (so the output of sample ``index`` never depends on
worker count or order), samples a :class:`Scene` (camera, background, hands with
pose/shape/side/orientation/placement/skin, forearms, occluders, lights, camera
effects) and renders it into a :class:`~handos_model.data.schema.Sample`.

Ground truth per hand (``schema.HandAnnotation``, camera optical frame):
    joints_3d / vertices: wrist-relative, metres (joints_3d[0] == 0); left hands are the
        right model mirrored (x -> -x) in the hand frame, then rotated.
    cam_t: wrist position in the camera frame.
    joints_2d: projection of joints_3d + cam_t with K (exact, float).
    visibility: 1 if the joint projects inside the image and is not covered by an
        occluder or by another hand (self-occlusion keeps 1), else 0.
    box: tight box of the projected mesh vertices, clipped to the image.
    side: 0 left / 1 right.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from ..data.schema import LEFT, RIGHT, HandAnnotation, Sample
from ..hand.hand_model import KEYPOINT_OF_JOINT, HandModel, load_hand_model
from .appearance import Lighting, Material, sample_lighting, sample_material
from .background import GENERATORS, random_background, random_color
from .render import (
    ATTR_NAIL,
    ATTR_PALM_MAX,
    ATTR_SLEEVE,
    MAX_HANDS,
    OBJ_FOREARM0,
    OBJ_OCCLUDER0,
    RenderMesh,
    drop_shadow,
    project,
    rasterize,
    shade,
)

SOURCE = "synthetic"


@dataclass
class SynthConfig:
    """What the random scenes look like. ``None`` sizes mean random per image."""

    width: int | None = None
    height: int | None = None
    min_side: int = 240
    max_side: int = 640
    num_hands: int | None = None  # fixed number, else drawn from hands_probs
    hands_probs: tuple[float, ...] = (0.45, 0.32, 0.15, 0.08)
    min_height_frac: float = 0.05  # hand size relative to image height
    max_height_frac: float = 0.8
    focal_range: tuple[float, float] = (0.6, 1.6)  # fx / width
    depth_range: tuple[float, float] = (0.2, 2.0)  # wrist z in metres
    occluder_prob: float = 0.35
    forearm_prob: float = 0.85
    sleeve_prob: float = 0.5
    shadow_prob: float = 0.3
    uniform_rotation_prob: float = 0.2
    jpeg_prob: float = 0.5
    blur_prob: float = 0.3
    noise_prob: float = 0.5
    easy: bool = False  # one big, well-lit hand on a plain background, no effects
    hand_model: str = "open"


# the SynthConfig fields that make a scene "easy": one big, well-lit hand on a plain background
EASY_FIELDS: dict = dict(num_hands=1, min_height_frac=0.4, max_height_frac=0.7, occluder_prob=0.0, forearm_prob=1.0,
                         sleeve_prob=0.0, shadow_prob=0.0, uniform_rotation_prob=0.0, jpeg_prob=0.0,
                         blur_prob=0.0, noise_prob=0.0, easy=True)


def easy_config(**kw) -> SynthConfig:
    return SynthConfig(**{**EASY_FIELDS, **kw})


def easy_variant(cfg: SynthConfig) -> SynthConfig:
    """``cfg`` with the easy fields set (image size, depth, focal range and hand model kept)."""
    return SynthConfig(**{**asdict(cfg), **EASY_FIELDS})


@dataclass
class Forearm:
    bend: np.ndarray  # (3, 3) wrist bend applied to the forearm direction (hand frame)
    length: float
    sleeve_start: float | None  # metres from the wrist, None = bare arm


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
class PostFx:
    brightness: float = 1.0
    contrast: float = 1.0
    saturation: float = 1.0
    gamma: float = 1.0
    noise_sigma: float = 0.0
    blur_sigma: float = 0.0
    motion_len: int = 0
    motion_angle: float = 0.0
    jpeg_quality: int = 0  # 0 = none
    downscale: float = 1.0


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


# ----------------------------------------------------------------------------- geometry helpers

def rot(axis: np.ndarray | list[float], angle: float) -> np.ndarray:
    a = np.asarray(axis, np.float64)
    a = a / np.linalg.norm(a)
    Kx = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(angle) * Kx + (1 - np.cos(angle)) * Kx @ Kx


def uniform_rotation(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


# palm view: hand y (fingers) -> image up (-y cam), palmar (+z hand) -> towards the camera (-z cam)
R_PALM_VIEW = rot([1, 0, 0], np.pi)


def sample_orientation(rng: np.random.Generator, cfg: SynthConfig) -> np.ndarray:
    """Hand frame -> camera frame rotation: palm/dorsal views with tilt and roll, or uniform."""
    if not cfg.easy and rng.random() < cfg.uniform_rotation_prob:
        return uniform_rotation(rng)
    base = R_PALM_VIEW
    if rng.random() < 0.5:  # dorsal view
        base = base @ rot([0, 1, 0], np.pi)
    tilt_std, roll_std = (0.25, 0.35) if cfg.easy else (0.55, 0.9)
    a = rng.uniform(0, 2 * np.pi)
    tilt = rot([np.cos(a), np.sin(a), 0.0], float(np.clip(abs(rng.normal(0, tilt_std)), 0, 1.3)))
    if not cfg.easy and rng.random() < 0.35:
        roll = rng.uniform(-np.pi, np.pi)
    else:
        roll = rng.normal(0, roll_std)
    return rot([0, 0, 1], roll) @ tilt @ base


def face_attributes(model: HandModel) -> np.ndarray:
    """(F,) material attribute per face of the right hand: palm-ness in [0, 0.4] or nail."""
    v, f = model.template, model.faces
    tri = v[f]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    frames = model.joint_frames
    # palm normal of the hand frame = abduction axis of the middle MCP (+z for the open hand)
    n_palm = frames[7][:, 1]
    attr = np.clip(n @ n_palm * 1.4, 0, 1) * ATTR_PALM_MAX
    # nails: dorsal faces of the distal phalanges, from 30 % to 86 % of the way to the tip
    rest = model.rest_joints()
    c = tri.mean(1)
    w_face = model.weights[f].mean(1)
    for dip_j in (6, 9, 12, 15):  # long-finger DIP joints (16-joint indices)
        k = int(KEYPOINT_OF_JOINT[dip_j])
        d = rest[k + 1] - rest[k]
        L = np.linalg.norm(d)
        t = (c - rest[k]) @ d / (L * L)
        sel = (w_face[:, dip_j] > 0.9) & (t > 0.3) & (t < 0.86) & (n @ n_palm < -0.45)
        attr[sel] = ATTR_NAIL
    k = int(KEYPOINT_OF_JOINT[3])  # thumb IP -> tip
    d = rest[k + 1] - rest[k]
    t = (c - rest[k]) @ d / (d @ d)
    n_t = frames[3][:, 1]
    sel = (w_face[:, 3] > 0.9) & (t > 0.3) & (t < 0.86) & (n @ n_t < -0.45)
    attr[sel] = ATTR_NAIL
    return attr.astype(np.float32)


_TUBE_CACHE: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _tube_faces(n_rings: int, n_around: int) -> tuple[np.ndarray, np.ndarray]:
    """Faces of a capped tube (rings then start/end centre vertices) and the ring index of each face."""
    key = (n_rings, n_around)
    if key not in _TUBE_CACHE:
        r, i = np.meshgrid(np.arange(n_rings - 1), np.arange(n_around), indexing="ij")
        a = r * n_around + i
        b = r * n_around + (i + 1) % n_around
        c, d = b + n_around, a + n_around
        side = np.stack([np.stack([a, b, c], -1), np.stack([a, c, d], -1)], 2).reshape(-1, 3)
        side_ring = np.repeat(r.reshape(-1), 2)
        c0, c1 = n_rings * n_around, n_rings * n_around + 1
        i = np.arange(n_around)
        last = (n_rings - 1) * n_around
        cap0 = np.stack([np.full(n_around, c0), (i + 1) % n_around, i], -1)
        cap1 = np.stack([np.full(n_around, c1), last + i, last + (i + 1) % n_around], -1)
        faces = np.concatenate([side, cap0, cap1]).astype(np.int64)
        ring = np.concatenate([side_ring, np.full(n_around, -1), np.full(n_around, n_rings)])
        _TUBE_CACHE[key] = (faces, ring)
    return _TUBE_CACHE[key]


def forearm_mesh(fa: Forearm, scale: float, n_around: int = 14) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closed tapered tube in the (right) hand frame starting inside the wrist.

    Returns vertices (V, 3), outward faces (F, 3), attributes (F,).
    """
    d = fa.bend @ np.array([0.0, -1.0, 0.0])
    e1 = fa.bend @ np.array([1.0, 0.0, 0.0])
    e2 = fa.bend @ np.array([0.0, 0.0, 1.0])
    start = np.array([0.0, 0.004, 0.0]) * scale
    ts = np.array([0.0, 0.03, 0.08, 0.16, 0.26, 0.36, 0.45]) * scale
    ts = ts[ts <= fa.length + 1e-9]
    if len(ts) < 2:
        ts = np.array([0.0, max(fa.length, 0.02)])
    ang = (np.arange(n_around) + 0.5) * 2 * np.pi / n_around
    u = np.clip(ts / 0.3, 0, 1)
    rw = (0.027 + 0.009 * u) * scale
    rt = (0.018 + 0.011 * u) * scale
    sleeve_ring = np.zeros(len(ts), bool) if fa.sleeve_start is None else ts >= fa.sleeve_start - 1e-9
    rw = np.where(sleeve_ring, rw * 1.25, rw)
    rt = np.where(sleeve_ring, rt * 1.35, rt)
    centers = start + ts[:, None] * d  # (R, 3)
    rings = (centers[:, None, :] + (rw[:, None] * np.cos(ang))[..., None] * e1
             + (rt[:, None] * np.sin(ang))[..., None] * e2)
    verts = np.concatenate([rings.reshape(-1, 3), centers[:1], centers[-1:]])
    faces, ring = _tube_faces(len(ts), n_around)
    pal = np.clip(np.sin(ang) * 1.2, 0, 1) * ATTR_PALM_MAX * 0.7  # inner forearm a bit like the palm side
    attr = np.zeros(len(faces), np.float32)
    n_side = 2 * (len(ts) - 1) * n_around
    attr[:n_side] = np.tile(np.repeat(pal, 2), len(ts) - 1)
    if fa.sleeve_start is not None:
        ring_clip = np.clip(ring, 0, len(ts) - 1)
        attr[sleeve_ring[ring_clip] & (ring >= 0)] = ATTR_SLEEVE
    # outward orientation depends on the handedness of (e1, e2, d)
    if np.dot(np.cross(e1, e2), d) < 0:
        faces = faces[:, ::-1]
    return verts, np.ascontiguousarray(faces), attr


# ----------------------------------------------------------------------------- sampling

_ATTR_CACHE: dict[int, np.ndarray] = {}


def _attrs(model: HandModel) -> np.ndarray:
    key = id(model)
    if key not in _ATTR_CACHE:
        _ATTR_CACHE[key] = face_attributes(model)
    return _ATTR_CACHE[key]


def sample_image_size(rng: np.random.Generator, cfg: SynthConfig) -> tuple[int, int]:
    if cfg.width is not None and cfg.height is not None:
        return int(cfg.width), int(cfg.height)
    ar = float(rng.choice([1.0, 4 / 3, 3 / 4, 16 / 9, 9 / 16, 3 / 2, 2 / 3, 5 / 4]))
    long_min = max(cfg.min_side, int(np.ceil(cfg.min_side * max(ar, 1 / ar))))
    long = int(rng.integers(min(long_min, cfg.max_side), cfg.max_side + 1))
    short = max(cfg.min_side, int(round(long / max(ar, 1 / ar))))
    return (long, short) if ar >= 1 else (short, long)


def sample_intrinsics(rng: np.random.Generator, w: int, h: int, cfg: SynthConfig) -> np.ndarray:
    fx = rng.uniform(*cfg.focal_range) * w
    fy = fx * (1.0 + rng.normal(0, 0.005))
    cx = (w - 1) / 2 + rng.normal(0, 0.015 * w)
    cy = (h - 1) / 2 + rng.normal(0, 0.015 * h)
    return np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]], np.float32)


def sample_hand_size(rng: np.random.Generator, cfg: SynthConfig, n: int) -> float:
    hi = cfg.max_height_frac / (1.0 + 0.45 * (n - 1))
    lo = min(cfg.min_height_frac, hi)
    if cfg.easy:
        return float(rng.uniform(lo, hi))
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def points_box(uv: np.ndarray) -> np.ndarray:
    """Tight ``[x0, y0, x1, y1]`` box of (N, 2) points."""
    return np.array([uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()])


def box_overlap(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(IoU, intersection over the smaller box) of two xyxy boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    aa = (a[2] - a[0]) * (a[3] - a[1])
    ab = (b[2] - b[0]) * (b[3] - b[1])
    return inter / max(aa + ab - inter, 1e-9), inter / max(min(aa, ab), 1e-9)


def place_hand(
    rng: np.random.Generator,
    v_rel: np.ndarray,
    K: np.ndarray,
    w: int,
    h: int,
    frac: float,
    cfg: SynthConfig,
) -> np.ndarray:
    """Wrist translation putting the rotated hand ``v_rel`` (V, 3) at ~``frac`` of the image height."""
    fx = float(K[0, 0])
    lo_c, hi_c = v_rel.min(0), v_rel.max(0)
    center = (lo_c + hi_c) / 2
    ext = max(hi_c[0] - lo_c[0], hi_c[1] - lo_c[1], 0.03)
    z = fx * ext / max(frac * h, 4.0)
    z_lo = max(cfg.depth_range[0], 0.08 - lo_c[2] + center[2])
    z = float(np.clip(z, z_lo, cfg.depth_range[1] + center[2]))
    bw, bh = fx * ext / z, fx * ext / z
    us = (0.45 * bw, w - 0.45 * bw) if 0.9 * bw < w else (w / 2 - 0.1 * w, w / 2 + 0.1 * w)
    vs = (0.45 * bh, h - 0.45 * bh) if 0.9 * bh < h else (h / 2 - 0.1 * h, h / 2 + 0.1 * h)
    u, v = rng.uniform(*us), rng.uniform(*vs)
    ray = np.array([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], 1.0])
    t = ray * z - center
    t[2] = float(np.clip(t[2], cfg.depth_range[0], cfg.depth_range[1]))
    return t


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
    post = PostFx()
    if not cfg.easy:
        post = PostFx(
            brightness=float(rng.uniform(0.75, 1.2)),
            contrast=float(rng.uniform(0.8, 1.2)),
            saturation=float(rng.uniform(0.6, 1.3)),
            gamma=float(rng.uniform(0.8, 1.25)),
            noise_sigma=float(rng.uniform(1, 8)) if rng.random() < cfg.noise_prob else 0.0,
            blur_sigma=float(rng.uniform(0.3, 1.3)) if rng.random() < cfg.blur_prob else 0.0,
            motion_len=int(rng.integers(3, 9)) if rng.random() < 0.08 else 0,
            motion_angle=float(rng.uniform(0, 180)),
            jpeg_quality=int(rng.integers(30, 95)) if rng.random() < cfg.jpeg_prob else 0,
            downscale=float(rng.uniform(0.35, 0.8)) if rng.random() < 0.12 else 1.0,
        )
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


# ----------------------------------------------------------------------------- rendering

def _draw_occluders(img: np.ndarray, buf: np.ndarray, occluders: list[Occluder]) -> None:
    """Draw occluders (in front of everything) into the uint8 image and the G-buffer code."""
    h, w = img.shape[:2]
    for k, occ in enumerate(occluders):
        x0, y0 = np.floor(occ.polygon.min(0)).astype(int) - 1
        x1, y1 = np.ceil(occ.polygon.max(0)).astype(int) + 2
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 <= x0 or y1 <= y0:
            continue
        ph, pw = y1 - y0, x1 - x0
        pts = np.round((occ.polygon - [x0, y0]) * 16).astype(np.int32)
        m = np.zeros((ph, pw), np.uint8)
        cv2.fillPoly(m, [pts], 255, cv2.LINE_AA, 4)
        r = np.random.default_rng(occ.texture_seed)
        if r.random() < 0.4:
            tex = np.broadcast_to(random_color(r), (ph, pw, 3)).astype(np.float32)
        else:
            tex = GENERATORS[int(r.integers(4))](r, ph, pw)
        # simple shading gradient across the object
        g = np.linspace(r.uniform(0.6, 1.0), r.uniform(0.8, 1.2), pw, dtype=np.float32)[None, :, None]
        a = (m.astype(np.float32) / 255.0)[..., None]
        reg = img[y0:y1, x0:x1].astype(np.float32) * (1 - a) + tex * g * a
        img[y0:y1, x0:x1] = np.clip(reg + 0.5, 0, 255).astype(np.uint8)
        buf[y0:y1, x0:x1, 3][m >= 128] = OBJ_OCCLUDER0 + k


_NOISE_TILE: np.ndarray | None = None


def _noise_tile() -> np.ndarray:
    """A fixed (512, 512, 3) standard-normal tile; images take random crops of it (fast, deterministic)."""
    global _NOISE_TILE
    if _NOISE_TILE is None:
        _NOISE_TILE = np.random.default_rng(12345).standard_normal((512, 512, 3), dtype=np.float32)
    return _NOISE_TILE


def _post(img: np.ndarray, p: PostFx, rng: np.random.Generator) -> np.ndarray:
    """Camera effects on a uint8 RGB image (returns uint8)."""
    out = img
    if p.saturation != 1.0:
        gray = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
        out = cv2.addWeighted(out, p.saturation, gray, 1.0 - p.saturation, 0.0)
    # brightness / contrast / gamma as one lookup table
    v = np.arange(256, dtype=np.float64)
    v = np.clip((v - 128.0) * p.contrast + 128.0, 0, 255) * p.brightness
    v = 255.0 * (np.clip(v, 0, 255) / 255.0) ** p.gamma
    out = cv2.LUT(out, np.clip(v + 0.5, 0, 255).astype(np.uint8))
    h, w = out.shape[:2]
    if p.downscale < 1.0:
        small = cv2.resize(out, (max(8, int(w * p.downscale)), max(8, int(h * p.downscale))), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if p.blur_sigma > 0:
        out = cv2.GaussianBlur(out, (0, 0), p.blur_sigma)
    if p.motion_len > 0:
        k = np.zeros((p.motion_len, p.motion_len), np.float32)
        k[p.motion_len // 2] = 1.0
        M = cv2.getRotationMatrix2D(((p.motion_len - 1) / 2, (p.motion_len - 1) / 2), p.motion_angle, 1.0)
        k = cv2.warpAffine(k, M, (p.motion_len, p.motion_len))
        out = cv2.filter2D(out, -1, k / max(float(k.sum()), 1e-6))
    if p.noise_sigma > 0:
        tile = _noise_tile()
        outf = out.astype(np.float32)
        for ty in range(0, h, 512):  # tile the fixed noise with random offsets
            for tx in range(0, w, 512):
                hh, ww = min(512, h - ty), min(512, w - tx)
                oy, ox = int(rng.integers(0, 513 - hh)), int(rng.integers(0, 513 - ww))
                cv2.scaleAdd(tile[oy:oy + hh, ox:ox + ww], p.noise_sigma, outf[ty:ty + hh, tx:tx + ww],
                             dst=outf[ty:ty + hh, tx:tx + ww])
        out = cv2.convertScaleAbs(np.maximum(outf, 0))
    if p.jpeg_quality > 0:
        ok, enc = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, p.jpeg_quality])
        out = cv2.imdecode(enc, cv2.IMREAD_UNCHANGED)
    return out


def render_scene(scene: Scene, rng: np.random.Generator, model: HandModel | None = None, key: str = "") -> Sample:
    """Render ``scene`` and compute its ground truth."""
    model = model or load_hand_model("open")
    attrs = _attrs(model)
    K = scene.K.astype(np.float64)
    w, h = scene.width, scene.height
    meshes: list[RenderMesh] = []
    geo = []
    for i, hd in enumerate(scene.hands):
        if hd.verts_hand is None or hd.joints_hand is None:
            vh, jh = model.forward(hd.pose[None], hd.shape[None])
            vh, jh = vh[0].astype(np.float64), jh[0].astype(np.float64)
            if hd.side == LEFT:
                vh, jh = model.mirror_left(vh), model.mirror_left(jh)
            hd.verts_hand, hd.joints_hand = vh, jh
        R = hd.rotation
        v_rel = hd.verts_hand @ R.T
        j_rel = hd.joints_hand @ R.T
        faces = model.faces if hd.side == RIGHT else model.faces[:, ::-1]
        meshes.append(RenderMesh(v_rel + hd.cam_t, faces, i, attrs))
        if hd.forearm is not None and hd.forearm.length > 0.01:
            scale = 1.0 + 0.1 * float(hd.shape[0]) if model.name != "mano" else 1.0
            fv, ff, fa = forearm_mesh(hd.forearm, scale)
            if hd.side == LEFT:
                fv = model.mirror_left(fv)
                ff = ff[:, ::-1]
            meshes.append(RenderMesh(fv @ R.T + hd.cam_t, ff, OBJ_FOREARM0 + i, fa))
        geo.append((v_rel, j_rel))
    buf = rasterize(meshes, K, h, w)
    bg = scene.background
    if scene.shadow:
        bg = drop_shadow(bg, buf, rng)
    mats = {i: hd.material for i, hd in enumerate(scene.hands)}
    img = shade(buf, bg, K, mats, scene.lighting, rng, skin_texture=scene.skin_texture)
    _draw_occluders(img, buf, scene.occluders)
    image = _post(img, scene.post, rng)
    code = buf[..., 3]
    hands: list[HandAnnotation] = []
    for i, (hd, (v_rel, j_rel)) in enumerate(zip(scene.hands, geo, strict=True)):
        j_abs = j_rel + hd.cam_t
        uv = project(j_abs, K)
        inside = (uv[:, 0] >= 0) & (uv[:, 0] <= w - 1) & (uv[:, 1] >= 0) & (uv[:, 1] <= h - 1)
        px = np.clip(np.round(uv[:, 0]), 0, w - 1).astype(np.int64)
        py = np.clip(np.round(uv[:, 1]), 0, h - 1).astype(np.int64)
        o = np.floor(code[py, px] + 1e-4).astype(np.int64)
        own = (o < 0) | ((o < OBJ_OCCLUDER0) & (o % MAX_HANDS == i))
        vis = (inside & own).astype(np.float32)
        vuv = project(v_rel + hd.cam_t, K)
        box = points_box(vuv)
        box = np.clip(box, [0, 0, 0, 0], [w - 1, h - 1, w - 1, h - 1]).astype(np.float32)
        hands.append(HandAnnotation(
            box=box,
            joints_2d=uv.astype(np.float32),
            visibility=vis,
            joints_3d=j_rel.astype(np.float32),
            vertices=v_rel.astype(np.float32),
            cam_t=hd.cam_t.astype(np.float32),
            side=int(hd.side),
        ))
    return Sample(image=image, K=scene.K.astype(np.float32), hands=hands, source=SOURCE, key=key)


def sample_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of sample ``index`` of a dataset with ``seed``."""
    return np.random.default_rng([int(seed), int(index)])


def render_sample(seed: int, index: int, cfg: SynthConfig | None = None, model: HandModel | None = None) -> Sample:
    """Sample ``index`` of the synthetic dataset ``seed`` (deterministic)."""
    cfg = cfg or SynthConfig()
    model = model or load_hand_model(cfg.hand_model)
    rng = sample_rng(seed, index)
    scene = sample_scene(rng, cfg, model)
    return render_scene(scene, rng, model, key=f"{index:06d}")
