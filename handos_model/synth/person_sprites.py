"""A bank of people sprites (head, face, hair, neck, torso in clothes, bare arms), built once per process.

People are the hard negatives of the engine: skin-coloured faces, necks and arms that are not
hands. A sprite is drawn once at a canonical size as soft part masks (uint8, one channel per
part in ``PARTS``), a shading map and an alpha; ``people.draw_person`` colours it per image
(skin tone, hair, clothes, ...), scales, rotates and composites it. The bank depends only on
``BANK_SEED``, so every process builds the same sprites.

Three kinds, all 192x256: ``"bust"`` (head to waist, arms at the sides running off the bottom
edge), ``"face"`` (a close-up: head, neck, top of the shoulders, a 3x bigger head) and
``"figure"`` (a whole person, head to shoes, about seven heads tall: legs in trousers, shorts or
a skirt, bare legs, shoes, hands in the pockets; some seen from behind), for the small people
of crowds and far scenes whose heads, legs and shoes are not hands.
Each sprite is stored at three resolutions (1, 1/2, 1/4) for alias-free downscaling, each as
three contiguous (H, W, 3) uint8 chunks (parts 0-2, parts 3-5, part 6 + shading + alpha) that
OpenCV colours with one ``cv2.transform`` each.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PARTS = ("skin", "hair", "clothes", "eye_white", "dark", "lips", "prop")
SKIN, HAIR, CLOTHES, EYE_WHITE, DARK, LIPS, PROP = range(len(PARTS))
SHADE, ALPHA = len(PARTS), len(PARTS) + 1  # channels after the parts
SHADE_UNIT = 200.0  # stored shading value of a factor 1.0
SPRITE_W, SPRITE_H = 192, 256
BANK_SEED = 20240611
BANK_SIZE = 40  # busts and faces
FIGURES = 24  # whole people, built after them (the first BANK_SIZE sprites do not change)
_SS = 4  # supersampling of the drawing (anti-aliased masks)


@dataclass
class Sprite:
    """One person template: ``levels[l]`` is three (H / 2^l, W / 2^l, 3) uint8 chunks of the
    (len(PARTS) + 2) channels (parts, then ``SHADE`` and ``ALPHA``).

    ``head_box``: (4,) the head's [x0, y0, x1, y1] in level-0 pixels (placement uses it).
    """

    kind: str
    levels: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    head_box: np.ndarray


class _Canvas:
    """Part masks drawn with painter's order at ``_SS`` x supersampling."""

    def __init__(self, w: int, h: int) -> None:
        self.w, self.h = w, h
        self.m = np.zeros((len(PARTS), h * _SS, w * _SS), np.uint8)
        self._layer = np.zeros((h * _SS, w * _SS), np.uint8)

    def _paint(self, part: int, draw) -> None:
        layer = self._layer
        layer[:] = 0
        draw(layer)
        x, y, bw, bh = cv2.boundingRect(layer)
        if bw == 0 or bh == 0:
            return
        on = layer[y:y + bh, x:x + bw] > 0
        region = self.m[:, y:y + bh, x:x + bw]
        region[:, on] = 0
        region[part][on] = 255

    def ellipse(self, part: int, c, axes, angle: float = 0.0, a0: float = 0, a1: float = 360) -> None:
        cc = (int(c[0] * _SS), int(c[1] * _SS))
        ax = (max(1, int(axes[0] * _SS)), max(1, int(axes[1] * _SS)))
        self._paint(part, lambda L: cv2.ellipse(L, cc, ax, angle, a0, a1, 255, -1))

    def poly(self, part: int, pts) -> None:
        p = np.round(np.asarray(pts, np.float64) * _SS).astype(np.int32)
        self._paint(part, lambda L: cv2.fillPoly(L, [p], 255))

    def line(self, part: int, p0, p1, width: float) -> None:
        a = (int(p0[0] * _SS), int(p0[1] * _SS))
        b = (int(p1[0] * _SS), int(p1[1] * _SS))
        self._paint(part, lambda L: cv2.line(L, a, b, 255, max(1, int(width * _SS))))

    def masks(self) -> np.ndarray:
        """(h, w, P) float32 in [0, 1], area-averaged."""
        small = [cv2.resize(m, (self.w, self.h), interpolation=cv2.INTER_AREA) for m in self.m]
        return np.stack(small, -1).astype(np.float32) / 255.0


def _limb(c: _Canvas, part: int, p0, p1, r0: float, r1: float) -> None:
    """A tapered limb (quad with round ends) from p0 (radius r0) to p1 (radius r1)."""
    p0, p1 = np.asarray(p0, np.float64), np.asarray(p1, np.float64)
    d = p1 - p0
    n = np.array([-d[1], d[0]]) / max(np.linalg.norm(d), 1e-6)
    c.poly(part, [p0 + n * r0, p1 + n * r1, p1 - n * r1, p0 - n * r0])
    c.ellipse(part, p0, (r0, r0))
    c.ellipse(part, p1, (r1, r1))


def _head(c: _Canvas, rng: np.random.Generator, cx: float, cy: float, a: float, b: float, yaw: float) -> None:
    """Hair behind, ears, face, features and hair in front, for a head of half-axes (a, b)."""
    style = int(rng.integers(5))  # 0 short, 1 long, 2 bald, 3 bun, 4 curly
    if style == 1:
        c.poly(HAIR, [(cx - 1.25 * a, cy - 0.2 * b), (cx + 1.25 * a, cy - 0.2 * b),
                      (cx + 1.45 * a, cy + rng.uniform(1.4, 2.4) * b), (cx - 1.45 * a, cy + rng.uniform(1.4, 2.4) * b)])
    if style == 3:
        c.ellipse(HAIR, (cx + yaw * a, cy - 1.05 * b), (0.45 * a, 0.4 * b))
    # ears: the far one hides behind the head when turned
    for s in (-1, 1):
        if s * yaw < 0.35:
            c.ellipse(SKIN, (cx + s * a * (0.98 - 0.3 * max(s * yaw, 0)) - yaw * 0.3 * a, cy + 0.05 * b), (0.2 * a, 0.3 * b))
    c.ellipse(SKIN, (cx, cy), (a, b))
    # jaw a little narrower than the cranium
    c.poly(SKIN, [(cx - 0.9 * a, cy), (cx + 0.9 * a, cy), (cx + 0.45 * a, cy + 0.98 * b), (cx - 0.45 * a, cy + 0.98 * b)])
    fx = cx + yaw * 0.55 * a  # where the face's midline is
    eye_y = cy - 0.05 * b
    for s in (-1, 1):
        ex = fx + s * 0.4 * a * (1 - 0.5 * max(-s * yaw, 0))
        ew = 0.2 * a * (1 - 0.6 * max(-s * yaw, 0))
        c.ellipse(EYE_WHITE, (ex, eye_y), (ew, 0.09 * b))
        c.ellipse(DARK, (ex + yaw * 0.05 * a, eye_y), (0.09 * a, 0.085 * b))
        c.line(DARK, (ex - ew * 1.1, eye_y - 0.24 * b), (ex + ew * 1.1, eye_y - 0.27 * b + s * 0.02 * b), 0.07 * b)
    if rng.random() < 0.15:  # glasses
        for s in (-1, 1):
            ex = fx + s * 0.4 * a
            cv_c = (int(ex * _SS), int(eye_y * _SS))
            c._paint(DARK, lambda L, cv_c=cv_c: cv2.ellipse(L, cv_c, (int(0.3 * a * _SS), int(0.2 * b * _SS)), 0, 0, 360,
                                                            255, max(1, int(0.04 * b * _SS))))
    mw = rng.uniform(0.22, 0.36) * a
    mo = rng.uniform(0.02, 0.09) * b  # open / smiling
    c.ellipse(LIPS, (fx, cy + 0.5 * b), (mw, 0.05 * b + mo))
    if mo > 0.06 * b:
        c.ellipse(DARK, (fx, cy + 0.5 * b), (mw * 0.75, mo * 0.6))
    if style == 0 or style == 3 or style == 1:
        c.ellipse(HAIR, (cx, cy - 0.25 * b), (1.04 * a, 0.85 * b), 0, 180, 360)
        c.poly(HAIR, [(cx - 1.02 * a, cy - 0.3 * b), (cx - 0.6 * a, cy - 0.55 * b), (cx - 0.95 * a, cy + 0.2 * b)])
        c.poly(HAIR, [(cx + 1.02 * a, cy - 0.3 * b), (cx + 0.6 * a, cy - 0.55 * b), (cx + 0.95 * a, cy + 0.2 * b)])
    elif style == 4:
        for k in range(9):
            t = np.pi * (1.05 + 0.9 * k / 8)
            c.ellipse(HAIR, (cx + 0.95 * a * np.cos(t), cy - 0.2 * b + 0.85 * b * np.sin(t)), (0.32 * a, 0.3 * b))
    if rng.random() < 0.15:  # beard
        c.ellipse(HAIR, (fx, cy + 0.62 * b), (0.62 * a, 0.42 * b), 0, 0, 180)
        c.ellipse(LIPS, (fx, cy + 0.5 * b), (mw, 0.05 * b))


def _shading(m: np.ndarray, rng: np.random.Generator, head: tuple[float, float, float, float], yaw: float) -> np.ndarray:
    """(H, W) float32 shading: a rounded head, darker eye sockets / under the chin, cloth folds."""
    h, w = m.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy, a, b = head
    r = np.sqrt(((xx - cx - yaw * 0.3 * a) / (1.1 * a)) ** 2 + ((yy - cy) / (1.15 * b)) ** 2)
    s = 1.08 - 0.3 * np.clip(r, 0, 1.2) ** 2  # a sphere-ish falloff on the face
    chin = np.exp(-(((yy - cy - 1.15 * b) / (0.25 * b)) ** 2)) * (np.abs(xx - cx) < 0.7 * a)
    s = s - 0.25 * chin
    sock = np.exp(-(((yy - cy + 0.08 * b) / (0.12 * b)) ** 2) - ((np.abs(xx - cx - yaw * 0.55 * a) - 0.4 * a) / (0.22 * a)) ** 2)
    s = s - 0.12 * sock
    nose = np.exp(-(((xx - cx - yaw * 0.7 * a - 0.06 * a) / (0.05 * a)) ** 2) - ((yy - cy - 0.2 * b) / (0.18 * b)) ** 2)
    s = s - 0.15 * nose
    folds = cv2.GaussianBlur(rng.random((h // 8 + 1, w // 8 + 1)).astype(np.float32), (0, 0), 0.8)
    folds = cv2.resize(folds, (w, h), interpolation=cv2.INTER_CUBIC)
    s = np.where(m[..., CLOTHES] > 0.5, 0.85 + 0.3 * folds, s)
    # limbs and torso: cylinder-like shading across the silhouette (distance to the edge)
    body = ((m[..., CLOTHES] + m[..., SKIN]) > 0.5).astype(np.uint8)
    dist = cv2.distanceTransform(body, cv2.DIST_L2, 3)
    edge = np.clip(dist / max(0.15 * a, 1.0), 0, 1)
    return np.clip(s * (0.72 + 0.28 * edge), 0.2, 1.25).astype(np.float32)


def _figure(c: _Canvas, rng: np.random.Generator, w: int, h: int) -> tuple[float, float, float, float, float]:
    """Draw a whole standing person (legs, shoes, torso, arms with the hands in the pockets,
    neck, head) and return its head (cx, cy, a, b) and yaw."""
    a, b = rng.uniform(10.0, 12.5), rng.uniform(13.0, 15.5)
    cx, cy = w / 2 + rng.normal(0, 2), 4 + b * 1.05
    unit = 2.1 * b  # one head height
    yaw = float(np.clip(rng.normal(0, 0.35), -0.7, 0.7))
    neck_w, neck_y1 = a * 0.55, cy + 1.35 * b
    shoulder_w = a * rng.uniform(1.8, 2.3)
    ankle_y = h - 4.0 - 0.62 * b  # the shoes end at the sprite's bottom (placement stands it there)
    hip_y = cy + (ankle_y - cy) * rng.uniform(0.42, 0.47)
    arm_r, leg_r = a * rng.uniform(0.3, 0.38), a * rng.uniform(0.42, 0.52)
    sleeve = int(rng.integers(3))  # 0 bare arms, 1 short sleeves, 2 long sleeves
    lower = int(rng.integers(3))  # 0 trousers, 1 shorts, 2 skirt / dress
    spread = rng.uniform(0.0, 0.6) * a
    shoe = EYE_WHITE if rng.random() < 0.3 else DARK
    toe = 1.0 if rng.random() < 0.5 else -1.0
    knee_y = (hip_y + ankle_y) / 2
    for s in (-1, 1):
        hip = (cx + s * 0.38 * shoulder_w, hip_y)
        ankle = (hip[0] + s * spread + rng.normal(0, 0.25 * a), ankle_y)
        knee = ((hip[0] + ankle[0]) / 2 + rng.normal(0, 0.15 * a), knee_y)
        c.ellipse(shoe, (ankle[0] + toe * 0.3 * a, ankle_y + 0.3 * b), (0.75 * a, 0.32 * b))
        if lower == 0:
            _limb(c, PROP, hip, knee, leg_r, leg_r * 0.85)
            _limb(c, PROP, knee, ankle, leg_r * 0.85, leg_r * 0.7)
        else:
            _limb(c, SKIN, knee, ankle, leg_r * 0.7, leg_r * 0.5)
            _limb(c, PROP if lower == 1 else SKIN, hip, knee, leg_r, leg_r * 0.75)
    # torso in clothes, then the arms, then the pelvis / skirt over the hands (in the pockets)
    c.poly(CLOTHES, [(cx - shoulder_w + arm_r * 0.4, neck_y1 + 0.6 * arm_r), (cx - shoulder_w * 0.6, neck_y1),
                     (cx + shoulder_w * 0.6, neck_y1), (cx + shoulder_w - arm_r * 0.4, neck_y1 + 0.6 * arm_r),
                     (cx + shoulder_w * 0.8, hip_y), (cx - shoulder_w * 0.8, hip_y)])
    for s in (-1, 1):
        sh = (cx + s * (shoulder_w - arm_r * 0.7), neck_y1 + 0.5 * arm_r)
        el = (sh[0] + s * rng.uniform(0.0, 0.3) * a, (neck_y1 + hip_y) / 2 + rng.normal(0, 0.1 * unit))
        wr = (cx + s * 0.7 * shoulder_w, hip_y + 0.15 * unit)
        _limb(c, SKIN if sleeve == 0 else CLOTHES, sh, el, arm_r, arm_r * 0.9)
        _limb(c, SKIN if sleeve < 2 else CLOTHES, el, wr, arm_r * 0.9, arm_r * 0.75)
    if lower == 2:
        hem = knee_y + rng.uniform(-0.3, 0.3) * unit
        c.poly(PROP, [(cx - shoulder_w * 0.8, hip_y - 0.15 * unit), (cx + shoulder_w * 0.8, hip_y - 0.15 * unit),
                      (cx + shoulder_w * rng.uniform(0.9, 1.3), hem), (cx - shoulder_w * rng.uniform(0.9, 1.3), hem)])
    else:
        c.poly(PROP, [(cx - shoulder_w * 0.8, hip_y - 0.15 * unit), (cx + shoulder_w * 0.8, hip_y - 0.15 * unit),
                      (cx + shoulder_w * 0.78, hip_y + 0.45 * unit), (cx - shoulder_w * 0.78, hip_y + 0.45 * unit)])
    c.poly(SKIN, [(cx - neck_w, cy + 0.6 * b), (cx + neck_w, cy + 0.6 * b), (cx + neck_w * 1.05, neck_y1 + 1),
                  (cx - neck_w * 1.05, neck_y1 + 1)])
    _head(c, rng, cx, cy, a, b, yaw)
    if rng.random() < 0.25:  # seen from behind: hair over the whole head
        c.ellipse(HAIR, (cx, cy - 0.05 * b), (1.02 * a, 1.02 * b))
    return cx, cy, a, b, yaw


def _build(rng: np.random.Generator, kind: str) -> Sprite:
    w, h = SPRITE_W, SPRITE_H
    c = _Canvas(w, h)
    if kind == "figure":
        cx, cy, a, b, yaw = _figure(c, rng, w, h)
        return _finish(c, rng, kind, cx, cy, a, b, yaw)
    yaw = float(np.clip(rng.normal(0, 0.35), -0.7, 0.7))
    if kind == "face":
        a, b = rng.uniform(50, 60), rng.uniform(64, 74)
        cx, cy = w / 2, 12 + b * 1.05
    else:
        a, b = rng.uniform(22, 27), rng.uniform(28, 34)
        cx, cy = w / 2 + rng.normal(0, 3), 8 + b * 1.05
    neck_w = a * rng.uniform(0.5, 0.62)
    neck_y1 = cy + b * rng.uniform(1.25, 1.5)
    shoulder_w = a * rng.uniform(2.3, 3.0)
    sleeve = int(rng.integers(3))  # 0 bare arms, 1 short sleeves, 2 long sleeves
    arm_r = a * rng.uniform(0.32, 0.42)
    # torso (behind the head and the arms)
    c.poly(CLOTHES, [(cx - shoulder_w + arm_r * 0.4, neck_y1 + 0.6 * arm_r), (cx - shoulder_w * 0.6, neck_y1),
                     (cx + shoulder_w * 0.6, neck_y1), (cx + shoulder_w - arm_r * 0.4, neck_y1 + 0.6 * arm_r),
                     (cx + shoulder_w * 0.78, h + 4), (cx - shoulder_w * 0.78, h + 4)])
    # arms in front of the torso's sides, running off the bottom edge
    for s in (-1, 1):
        sh = (cx + s * (shoulder_w - arm_r * 0.8), neck_y1 + 0.25 * b)
        el = (sh[0] + s * rng.uniform(0.0, 0.35) * a, h + 4)
        _limb(c, SKIN if sleeve == 0 else CLOTHES, sh, el, arm_r, arm_r * 0.8)
        if sleeve == 1:  # short sleeve: skin below it
            mid = (sh[0] + (el[0] - sh[0]) * 0.35, sh[1] + (el[1] - sh[1]) * 0.35)
            _limb(c, SKIN, mid, el, arm_r * 0.85, arm_r * 0.75)
    c.poly(SKIN, [(cx - neck_w, cy + 0.6 * b), (cx + neck_w, cy + 0.6 * b), (cx + neck_w * 1.05, neck_y1 + 2),
                  (cx - neck_w * 1.05, neck_y1 + 2)])
    neckline = int(rng.integers(3))  # round, V, high collar
    if neckline == 0:
        c.ellipse(SKIN, (cx, neck_y1), (neck_w * 1.5, neck_w * 0.7), 0, 0, 180)
    elif neckline == 1:
        c.poly(SKIN, [(cx - neck_w * 1.3, neck_y1 - 1), (cx + neck_w * 1.3, neck_y1 - 1), (cx, neck_y1 + rng.uniform(1.2, 2.5) * neck_w)])
    else:
        c.poly(CLOTHES, [(cx - neck_w * 1.1, neck_y1 - 0.3 * b), (cx + neck_w * 1.1, neck_y1 - 0.3 * b),
                         (cx + neck_w * 1.4, neck_y1 + 2), (cx - neck_w * 1.4, neck_y1 + 2)])
    if kind == "bust" and rng.random() < 0.35:  # a forearm across the body, its hand behind a held prop
        s = 1 if rng.random() < 0.5 else -1
        el = (cx + s * shoulder_w * 0.95, h - rng.uniform(0.1, 0.3) * h)
        wr = (cx - s * shoulder_w * rng.uniform(0.1, 0.5), el[1] - rng.uniform(0, 0.15) * h)
        _limb(c, SKIN if sleeve < 2 else CLOTHES, el, wr, arm_r * 0.8, arm_r * 0.65)
        pw, ph = a * rng.uniform(0.9, 1.6), a * rng.uniform(1.2, 2.0)
        ang = rng.uniform(-0.4, 0.4)
        rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
        box = np.array([[-pw, -ph], [pw, -ph], [pw, ph], [-pw, ph]]) / 2 @ rot.T + np.array(wr)
        c.poly(PROP, box)
    _head(c, rng, cx, cy, a, b, yaw)
    return _finish(c, rng, kind, cx, cy, a, b, yaw)


def _finish(c: _Canvas, rng: np.random.Generator, kind: str, cx: float, cy: float, a: float, b: float,
            yaw: float) -> Sprite:
    """Shade the drawn part masks and store them at three resolutions."""
    m = c.masks()
    alpha = np.clip(m.sum(-1), 0, 1)
    shade = _shading(m, rng, (cx, cy, a, b), yaw)
    full = np.concatenate([m * 255.0, (shade * SHADE_UNIT)[..., None], (alpha * 255.0)[..., None]], -1)
    full = np.clip(full + 0.5, 0, 255).astype(np.uint8)
    levels = [tuple(np.ascontiguousarray(full[..., k:k + 3]) for k in (0, 3, 6))]
    for _ in range(2):
        ph, pw = levels[-1][0].shape[0] // 2, levels[-1][0].shape[1] // 2
        levels.append(tuple(cv2.resize(ch, (pw, ph), interpolation=cv2.INTER_AREA) for ch in levels[-1]))
    head_box = np.array([cx - 1.05 * a, cy - 1.1 * b, cx + 1.05 * a, cy + 1.05 * b], np.float32)
    return Sprite(kind=kind, levels=levels, head_box=head_box)


_BANK: list[Sprite] = []


def sprite_bank() -> list[Sprite]:
    """The process's sprites (built on first use, ~1 s; identical in every process)."""
    if not _BANK:
        rng = np.random.default_rng(BANK_SEED)
        _BANK.extend(_build(rng, "face" if k % 4 == 3 else "bust") for k in range(BANK_SIZE))
        _BANK.extend(_build(rng, "figure") for _ in range(FIGURES))
    return _BANK


def sprites_of_kind(kind: str) -> list[int]:
    """Indices into ``sprite_bank()`` of the sprites of one kind."""
    return [i for i, sp in enumerate(sprite_bank()) if sp.kind == kind]
