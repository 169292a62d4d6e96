"""Drawing a sampled :class:`~.scene.Scene` and computing its exact ground truth.

Ground truth per hand (``schema.HandAnnotation``, camera optical frame):
    joints_3d / vertices: wrist-relative, metres (joints_3d[0] == 0); left hands are the
        right model mirrored (x -> -x) in the hand frame, then rotated.
    cam_t: wrist position in the camera frame.
    joints_2d: projection of joints_3d + cam_t with K (exact, float).
    visibility: 1 if the joint projects inside the image and is not covered by an occluder,
        a held object, another hand or arm, or its own sleeve (self-occlusion by the hand or
        its bare forearm keeps 1), else 0.
    box: tight box of the projected mesh vertices, clipped to the image.
    side: 0 left / 1 right.
Arms whose hand is out of view (``Scene.arms``) and people are not annotated.

Drawing order: background, people (behind everything), touched surfaces, cast shadow, the rasterised hands /
forearms / held objects (shaded, with creases), occluders, camera effects.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..data.schema import LEFT, RIGHT, HandAnnotation, Sample
from ..hand.hand_model import HandModel, load_hand_model
from .background import GENERATORS
from .body import forearm_mesh, hand_face_attributes
from .camera_fx import apply_post_fx
from .colors import random_color
from .creases import crease_map
from .geometry import points_box
from .people import draw_person
from .props import draw_surface, held_object_mesh
from .render import (
    ATTR_HELD,
    ATTR_SLEEVE,
    MAX_HANDS,
    OBJ_FOREARM0,
    OBJ_HELD0,
    OBJ_OCCLUDER0,
    RenderMesh,
    drop_shadow,
    project,
    rasterize,
    shade,
)
from .scene import Occluder, Scene

SOURCE = "synthetic"


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


def render_scene(scene: Scene, rng: np.random.Generator, model: HandModel | None = None, key: str = "") -> Sample:
    """Render ``scene`` and compute its ground truth."""
    model = model or load_hand_model("open")
    attrs = hand_face_attributes(model)
    K = scene.K.astype(np.float64)
    w, h = scene.width, scene.height
    meshes: list[RenderMesh] = []
    geo = []
    # arms whose hand is out of view take the object slots after the hands'
    arms = scene.arms[:max(0, MAX_HANDS - len(scene.hands))]
    for k, arm in enumerate(arms):
        if arm.forearm is not None:
            fv, ff, fa = forearm_mesh(arm.forearm, 1.0)
            meshes.append(RenderMesh(fv @ arm.rotation.T + arm.cam_t, ff, OBJ_FOREARM0 + len(scene.hands) + k, fa))
    for i, hd in enumerate(scene.hands):
        R = hd.rotation
        if hd.verts_hand is None or hd.joints_hand is None:
            vh, jh = model.forward(hd.pose[None], hd.shape[None])
            vh, jh = vh[0].astype(np.float64), jh[0].astype(np.float64)
            if hd.side == LEFT:
                vh, jh = model.mirror_left(vh), model.mirror_left(jh)
            hd.verts_hand, hd.joints_hand = vh, jh
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
        if hd.held is not None:  # in the hand frame, already mirrored with the hand for left hands
            hv, hf, ha = held_object_mesh(hd.held)
            meshes.append(RenderMesh(hv @ R.T + hd.cam_t, hf, OBJ_HELD0 + i, ha))
        geo.append((v_rel, j_rel))
    buf = rasterize(meshes, K, h, w)
    bg = scene.background
    if scene.people or scene.surfaces:
        bg = bg.copy()
        for person in scene.people:
            draw_person(bg, person)
        for surface in scene.surfaces:
            draw_surface(bg, surface)
    if scene.shadow:
        bg = drop_shadow(bg, buf, rng)
    mats = {i: hd.material for i, hd in enumerate(scene.hands + arms)}
    creases = None
    if scene.creases:
        fx = float(K[0, 0])
        creases = crease_map(h, w, [(project(g[1] + hd.cam_t, K), fx * 0.017 / max(float(hd.cam_t[2]), 0.05))
                                    for hd, g in zip(scene.hands, geo, strict=True)])
    img = shade(buf, bg, K, mats, scene.lighting, rng, skin_texture=scene.skin_texture, creases=creases)
    _draw_occluders(img, buf, scene.occluders)
    image = apply_post_fx(img, scene.post, rng)
    code = buf[..., 3]
    hands: list[HandAnnotation] = []
    attr_px = code - np.floor(code + 1e-4)
    for i, (hd, (v_rel, j_rel)) in enumerate(zip(scene.hands, geo, strict=True)):
        j_abs = j_rel + hd.cam_t
        uv = project(j_abs, K)
        inside = (uv[:, 0] >= 0) & (uv[:, 0] <= w - 1) & (uv[:, 1] >= 0) & (uv[:, 1] <= h - 1)
        px = np.clip(np.round(uv[:, 0]), 0, w - 1).astype(np.int64)
        py = np.clip(np.round(uv[:, 1]), 0, h - 1).astype(np.int64)
        o = np.floor(code[py, px] + 1e-4).astype(np.int64)
        sleeve = (attr_px[py, px] > ATTR_SLEEVE - 0.05) & (attr_px[py, px] < ATTR_HELD - 0.05)
        own = (o < 0) | ((o < OBJ_HELD0) & (o % MAX_HANDS == i) & ~sleeve)
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
