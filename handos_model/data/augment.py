"""Training augmentations on ``schema.Sample`` (before letterboxing).

Every augmentation keeps the camera model consistent: a 3D point ``X`` (camera frame,
absolute = ``joints_3d + cam_t``) still projects onto its 2D joint with the new ``K``.

* ``photometric``: brightness / contrast / saturation jitter and pixel noise (geometry untouched).
* ``scale_crop``: zoom by ``s`` and shift by ``(tx, ty)`` in pixels, output keeps the input size.
  Pixel centres are at integer coordinates, so ``x' = s * x + tx`` for 2D points and
  ``K' = [[s fx, s k01, s cx + tx], [0, s fy, s cy + ty], [0, 0, 1]]``; 3D is unchanged.
* ``hflip``: mirror the image; ``x' = W - 1 - x`` for 2D points, ``X' = -X`` for 3D joints,
  vertices and ``cam_t``, ``cx' = W - 1 - cx`` (skew negated), and a right hand becomes a
  left hand (``side`` swapped). The mirrored right-hand mesh is exactly how this project
  represents a left hand (see ``hand.topology``).

Randomness comes only from the ``numpy.random.Generator`` passed in, so a sample's
augmentation is a pure function of the generator's seed (the training engine seeds it from
``(seed, epoch, index)``, which makes resumed runs bit-exact whatever the worker count).

Note: the paper (Table 2) reports that flipping FreiHand right hands into left ones
*slightly hurts* FreiHand accuracy; flipping is therefore off by default (``flip_prob: 0``)
and meant for right-hand-only data mixed into a two-handed training set.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from .schema import LEFT, RIGHT, HandAnnotation, Sample


@dataclass
class AugmentConfig:
    """Probabilities and ranges of the training augmentations (YAML ``augment:`` section)."""

    enabled: bool = True
    photometric_prob: float = 0.8
    brightness: float = 0.25  # additive, fraction of 255
    contrast: float = 0.25  # multiplicative around the mean, 1 +- contrast
    saturation: float = 0.25  # blend with grey, 1 +- saturation
    noise_std: float = 3.0  # max per-image std of Gaussian pixel noise (uint8 units)
    hue_prob: float = 0.0  # the whole image's hue rotated by a random angle (skin colour is no cue)
    grey_prob: float = 0.0  # the whole image in grey (after the hue rotation when both apply)
    scale_crop_prob: float = 0.5
    scale_range: tuple[float, float] = (0.8, 1.3)
    max_shift: float = 0.15  # fraction of the image size
    flip_prob: float = 0.0
    min_visible_joints: int = 3  # hands with fewer joints left in the image after a crop are dropped
    min_box_size: float = 4.0  # pixels; hands whose clipped box is smaller are dropped
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> AugmentConfig:
        d = dict(d or {})
        known = {k: d.pop(k) for k in list(d) if k in cls.__dataclass_fields__ and k != "extra"}
        if "scale_range" in known:
            known["scale_range"] = tuple(float(v) for v in known["scale_range"])
        return cls(**known, extra=d)


# ----------------------------------------------------------------------------- photometric


def photometric_jitter(image: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Brightness/contrast/saturation jitter + Gaussian noise. (H, W, 3) uint8 -> same."""
    img = image.astype(np.float32)
    order = rng.permutation(3)
    b = rng.uniform(-cfg.brightness, cfg.brightness) * 255.0
    c = rng.uniform(1.0 - cfg.contrast, 1.0 + cfg.contrast)
    s = rng.uniform(1.0 - cfg.saturation, 1.0 + cfg.saturation)
    for op in order:
        if op == 0:
            img += b
        elif op == 1:
            img = (img - img.mean()) * c + img.mean()
        else:
            grey = img @ np.array([0.299, 0.587, 0.114], np.float32)
            img = (img - grey[..., None]) * s + grey[..., None]
    if cfg.noise_std > 0:
        std = rng.uniform(0.0, cfg.noise_std)
        img += rng.standard_normal(img.shape, dtype=np.float32) * std
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def colour_randomise(image: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """With ``hue_prob`` the hue of the whole image rotated by a uniform angle, with ``grey_prob``
    the image in grey. (H, W, 3) uint8 RGB -> same. Always draws 3 numbers from ``rng``."""
    u_hue, u_grey, shift = rng.random(3)
    img = image
    if u_hue < cfg.hue_prob:
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)  # OpenCV's uint8 hue: [0, 180)
        hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + int(shift * 180)) % 180).astype(np.uint8)
        img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    if u_grey < cfg.grey_prob:
        img = np.repeat(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    return img


# ----------------------------------------------------------------------------- geometry


def _map_hand_2d(hand: HandAnnotation, fn) -> HandAnnotation:
    """Apply a 2D point map ``fn((N, 2)) -> (N, 2)`` to joints and box (box re-fitted on its corners)."""
    h = copy.copy(hand)
    if hand.joints_2d is not None:
        h.joints_2d = fn(np.asarray(hand.joints_2d, np.float32)).astype(np.float32)
    box = np.asarray(hand.box, np.float32).reshape(2, 2)
    corners = fn(box)
    h.box = np.concatenate([corners.min(0), corners.max(0)]).astype(np.float32)
    return h


def scale_crop(
    sample: Sample, scale: float, tx: float, ty: float, cfg: AugmentConfig | None = None
) -> Sample:
    """Zoom the image by ``scale`` and shift by ``(tx, ty)`` pixels; output size = input size.

    ``x' = scale * x + tx``. Joints that leave the image get visibility 0; hands with too few
    visible joints / too small a box are dropped. ``K`` follows so that projection stays exact.
    The box goes through the same map as the joints and is clipped to the image: a box tight
    around the projected mesh stays tight around it (it is not re-fitted on the joints, which
    would shrink it to the joints' extent, about 0.5-0.75 of the mesh box's area).
    """
    cfg = cfg or AugmentConfig()
    h, w = sample.height, sample.width
    M = np.array([[scale, 0.0, tx], [0.0, scale, ty]], np.float64)
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    image = cv2.warpAffine(sample.image, M, (w, h), flags=interp, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    K = np.asarray(sample.K, np.float64).copy()
    K[:2] = M @ K  # [[s,0,tx],[0,s,ty]] @ K, row 2 of K is (0, 0, 1)
    K = K.astype(np.float32)

    def fn(p: np.ndarray) -> np.ndarray:
        return p * np.float32(scale) + np.array([tx, ty], np.float32)

    hands: list[HandAnnotation] = []
    for hand in sample.hands:
        nh = _map_hand_2d(hand, fn)
        nh.box = np.array(
            [np.clip(nh.box[0], 0, w - 1), np.clip(nh.box[1], 0, h - 1), np.clip(nh.box[2], 0, w - 1), np.clip(nh.box[3], 0, h - 1)],
            np.float32,
        )
        if nh.joints_2d is not None:
            j = nh.joints_2d
            inside = (j[:, 0] >= 0) & (j[:, 0] <= w - 1) & (j[:, 1] >= 0) & (j[:, 1] <= h - 1)
            vis = np.ones(len(j), np.float32) if hand.visibility is None else np.asarray(hand.visibility, np.float32)
            nh.visibility = (vis * inside).astype(np.float32)
            if nh.visibility.sum() < cfg.min_visible_joints:
                continue
        if min(nh.box[2] - nh.box[0], nh.box[3] - nh.box[1]) < cfg.min_box_size:
            continue
        hands.append(nh)
    return Sample(image=image, K=K, hands=hands, source=sample.source, key=sample.key)


def hflip(sample: Sample) -> Sample:
    """Mirror a Sample horizontally; right hands become left hands (and vice versa)."""
    w = sample.width
    image = np.ascontiguousarray(sample.image[:, ::-1])
    K = np.asarray(sample.K, np.float32).copy()
    K[0, 2] = (w - 1) - K[0, 2]
    K[0, 1] = -K[0, 1]

    def fn(p: np.ndarray) -> np.ndarray:
        q = p.copy()
        q[:, 0] = (w - 1) - q[:, 0]
        return q

    def neg_x(a: np.ndarray | None) -> np.ndarray | None:
        if a is None:
            return None
        b = np.asarray(a, np.float32).copy()
        b[..., 0] = -b[..., 0]
        return b

    hands = []
    for hand in sample.hands:
        nh = _map_hand_2d(hand, fn)
        nh.joints_3d = neg_x(hand.joints_3d)
        nh.vertices = neg_x(hand.vertices)
        nh.cam_t = neg_x(hand.cam_t)
        nh.side = {LEFT: RIGHT, RIGHT: LEFT}.get(hand.side, hand.side)
        hands.append(nh)
    return Sample(image=image, K=K, hands=hands, source=sample.source, key=sample.key)


def augment_sample(sample: Sample, rng: np.random.Generator, cfg: AugmentConfig) -> Sample:
    """Random augmentation of one Sample; the only randomness is ``rng``.

    The same number of draws is made whatever the outcome of each coin, so changing one
    probability does not reshuffle the others' random values.
    """
    if not cfg.enabled:
        return sample
    u = rng.random(3)
    scale = rng.uniform(*cfg.scale_range)
    shift = rng.uniform(-cfg.max_shift, cfg.max_shift, size=2)
    photo_seed = int(rng.integers(0, 2**63 - 1))
    out = sample
    if u[0] < cfg.flip_prob:
        out = hflip(out)
    if u[1] < cfg.scale_crop_prob:
        h, w = out.height, out.width
        # zoom about the image centre, then shift
        tx = (1.0 - scale) * (w - 1) / 2.0 + shift[0] * w
        ty = (1.0 - scale) * (h - 1) / 2.0 + shift[1] * h
        out = scale_crop(out, scale, tx, ty, cfg)
    if u[2] < cfg.photometric_prob:
        out = Sample(
            image=photometric_jitter(out.image, np.random.default_rng(photo_seed), cfg),
            K=out.K, hands=out.hands, source=out.source, key=out.key,
        )
    if cfg.hue_prob > 0 or cfg.grey_prob > 0:  # its own stream: the draws above stay the same
        out = Sample(
            image=colour_randomise(out.image, np.random.default_rng([photo_seed, 1]), cfg),
            K=out.K, hands=out.hands, source=out.source, key=out.key,
        )
    return out


def project(points_3d: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Pinhole projection (N, 3) metres -> (N, 2) pixels."""
    p = np.asarray(points_3d, np.float64) @ np.asarray(K, np.float64).T
    return (p[:, :2] / p[:, 2:3]).astype(np.float32)
