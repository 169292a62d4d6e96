"""The latency benchmark's frames: synthetic 640x480 scenes with exactly H visible hands, as PNG files."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from latency_common import HEIGHT, WIDTH


def _bench_synth_config(n_hands: int):
    """Scenes with visible, unoccluded hands: MediaPipe gets a fair chance to find all of them."""
    from handos_model.synth.config import SynthConfig
    from handos_model.synth.render import MAX_HANDS

    return SynthConfig(width=WIDTH, height=HEIGHT, num_hands=max(1, min(n_hands, MAX_HANDS)), min_height_frac=0.15,
                       occluder_prob=0.0, people_prob=0.0, bare_arm_prob=0.0, held_prob=0.0, touch_prob=0.0)


def _add_hands(scene, n_total: int, rng: np.random.Generator, cfg, model) -> bool:
    """Top ``scene.hands`` up to ``n_total`` hands (the engine's scenes hold at most MAX_HANDS).

    Uses the engine's own samplers (pose, shape, orientation, placement, material); hands past
    the renderer's MAX_HANDS get no forearm (their object codes would collide). False if the
    frame has no room left for another non-overlapping hand.
    """
    from handos_model.data.schema import LEFT, RIGHT
    from handos_model.synth.appearance import sample_material
    from handos_model.synth.geometry import box_overlap, points_box
    from handos_model.synth.placement import place_hand, sample_hand_size, sample_orientation
    from handos_model.synth.render import MAX_HANDS, project
    from handos_model.synth.scene import HandInstance

    K = scene.K.astype(np.float64)
    boxes = [points_box(project(h.verts_hand @ h.rotation.T + h.cam_t, K)) for h in scene.hands]
    tries = 0
    while len(scene.hands) < n_total:
        tries += 1
        if tries > 60 * n_total:
            return False
        pose = model.sample_pose(rng)
        shape = model.sample_shape(rng, 1)[0]
        verts, joints = model.forward(pose[None], shape[None])
        side = RIGHT if rng.random() < 0.5 else LEFT
        vh, jh = verts[0].astype(np.float64), joints[0].astype(np.float64)
        if side == LEFT:
            vh, jh = model.mirror_left(vh), model.mirror_left(jh)
        frac = sample_hand_size(rng, cfg, n_total)
        R = sample_orientation(rng, cfg)
        v_rel = vh @ R.T
        t = place_hand(rng, v_rel, K, scene.width, scene.height, frac, cfg)
        v_cam = v_rel + t
        if v_cam[:, 2].min() < 0.08:
            continue
        box = points_box(project(v_cam, K))
        full = (box[2] - box[0]) * (box[3] - box[1])
        cb = np.clip(box, 0, [scene.width - 1, scene.height - 1, scene.width - 1, scene.height - 1])
        if (cb[2] - cb[0]) * (cb[3] - cb[1]) / max(full, 1e-9) < 0.75 or min(box[2] - box[0], box[3] - box[1]) < 4:
            continue
        if any(max(2.0 * iou, cover) > 0.45 for iou, cover in (box_overlap(box, b) for b in boxes)):
            continue
        boxes.append(box)
        scene.hands.append(
            HandInstance(side=side, pose=pose, shape=shape, rotation=R, cam_t=t.astype(np.float64),
                         material=sample_material(rng), forearm=None, verts_hand=vh, joints_hand=jh)
        )
    for i, h in enumerate(scene.hands):
        if i >= MAX_HANDS:
            h.forearm = None
    return True


def render_frame(seed: int, index: int, n_hands: int, model):
    """One 640x480 synthetic frame with exactly ``n_hands`` hands, or None if this index cannot hold them.

    Returns ``(image RGB uint8 (480, 640, 3), K (3, 3) float32)``.
    """
    from handos_model.synth.compose import render_scene
    from handos_model.synth.generate import sample_rng
    from handos_model.synth.scene import sample_scene

    rng = sample_rng(seed, index)
    cfg = _bench_synth_config(n_hands)
    scene = sample_scene(rng, cfg, model)
    if n_hands == 0:
        scene.hands, scene.occluders = [], []
    elif len(scene.hands) > n_hands:
        scene.hands = scene.hands[:n_hands]
    if len(scene.hands) < n_hands and not _add_hands(scene, n_hands, rng, cfg, model):
        return None
    sample = render_scene(scene, rng, model, key=f"h{n_hands}_{index}")
    if len(sample.hands) != n_hands:
        return None
    return sample.image, np.asarray(sample.K, np.float32)


def make_frames(out_dir: Path, hands: list[int], per_h: int, seed: int) -> list[dict]:
    """Render and save the frames; returns the index entries (also written to ``index.json``)."""
    from handos_model.hand.hand_model import load_hand_model

    model = load_hand_model("open")
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = []
    for h in hands:
        index, made = 0, 0
        while made < per_h:
            if index > 20 * per_h + 100:
                raise RuntimeError(f"could not render {per_h} frames with exactly {h} hands")
            res = render_frame(seed + 1000 * h, index, h, model)
            index += 1
            if res is None:
                continue
            image, K = res
            if image.shape != (HEIGHT, WIDTH, 3) or image.dtype != np.uint8:
                raise RuntimeError(f"synth engine returned {image.shape} {image.dtype}, expected ({HEIGHT}, {WIDTH}, 3) uint8")
            name = f"h{h}_{made:04d}.png"
            cv2.imwrite(str(out_dir / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            frames.append({"file": name, "hands": h, "K": K.tolist(), "seed": seed + 1000 * h, "index": index - 1})
            made += 1
    with open(out_dir / "index.json", "w", encoding="utf-8") as f:
        json.dump({"width": WIDTH, "height": HEIGHT, "frames": frames}, f)
    return frames


def read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(path)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


# ----------------------------------------------------------------------------- statistics
