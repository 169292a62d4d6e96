"""People in the scene as hard negatives: faces, necks, torsos and bare arms that are not hands.

``sample_people`` places 1-3 people (sprites of ``person_sprites``) behind the hands: busts
standing in the room, close-up faces, small whole people (head to shoes), some right next to a
hand (a person waving beside their face); with ``crowd_prob`` also a group of 2-6 small whole
people standing on one ground line (a street, a sports field, a hall). Their skin tones come from the same ``colors.sample_skin`` as the hands', often the
tone of a hand in the image. ``draw_person`` colours a sprite, scales / rotates / mirrors it,
lights it from the scene's light direction and composites it into the background. People are
drawn before the hands and hide nothing of them, so the hands' ground truth is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .colors import random_color, sample_skin
from .person_sprites import ALPHA, PARTS, PROP, SHADE, SHADE_UNIT, SPRITE_H, sprite_bank, sprites_of_kind

_HAIR = np.array([[20, 16, 14], [45, 30, 22], [85, 55, 35], [140, 100, 60], [200, 170, 110], [150, 145, 140],
                  [60, 40, 30], [110, 50, 30]], np.float32)


@dataclass
class Person:
    """One person: which sprite, where its head lands, its colours and light.

    Attributes:
        sprite: index into ``person_sprites.sprite_bank()``.
        head_center: (2,) image pixels of the head box centre.
        head_height: head box height in pixels.
        angle: in-plane rotation, degrees.
        mirror: mirrored sprite.
        colors: (len(PARTS), 3) float32 RGB in [0, 255], one per part.
        light: (2,) image-plane direction towards the light (shading ramp across the sprite).
        blur: Gaussian sigma (pixels) of the composited person (out of focus), 0 = sharp.
        counter: RGB of a desk / counter in front of the person's lower body (where the sprite
            ends inside the image), or None.
    """

    sprite: int
    head_center: np.ndarray
    head_height: float
    angle: float
    mirror: bool
    colors: np.ndarray
    light: np.ndarray
    blur: float = 0.0
    counter: np.ndarray | None = None


def _colors(rng: np.random.Generator, skin: np.ndarray | None) -> np.ndarray:
    c = np.zeros((len(PARTS), 3), np.float32)
    tone = sample_skin(rng)[0] * 255.0 if skin is None else skin * 255.0 * rng.uniform(0.92, 1.05)
    c[0] = tone
    c[1] = _HAIR[int(rng.integers(len(_HAIR)))] * rng.uniform(0.8, 1.2)
    c[2] = random_color(rng, (0.0, 0.9), (0.1, 0.95))
    c[3] = np.array([232, 226, 220]) * rng.uniform(0.8, 1.0)
    c[4] = np.array([40, 28, 24]) * rng.uniform(0.5, 1.3)
    c[5] = tone * np.array([0.86, 0.58, 0.58])
    c[6] = random_color(rng, (0.0, 1.0), (0.2, 1.0))
    return np.clip(c, 0, 255)


def _pick_sprite(rng: np.random.Generator, kind: str | None, figure_prob: float) -> int:
    """A sprite index: of ``kind``, else a whole person with ``figure_prob``, else a bust (3/4) or
    a face close-up (1/4)."""
    if kind is None:
        kind = "figure" if rng.random() < figure_prob else ("face" if rng.random() < 0.25 else "bust")
    idx = sprites_of_kind(kind)
    return idx[int(rng.integers(len(idx)))]


def sample_person(rng: np.random.Generator, w: int, h: int, head_center: np.ndarray | None = None,
                  head_height: float | None = None, skin: np.ndarray | None = None,
                  light: np.ndarray | None = None, kind: str | None = None, figure_prob: float = 0.3,
                  feet_y: float | None = None) -> Person:
    """A random person; ``head_center`` / ``head_height`` pin where its head goes (else random);
    ``kind`` one of the sprite kinds (else random); a whole person (``"figure"``) stands with its
    shoes at ``feet_y`` (else random in the lower half of the image)."""
    bank = sprite_bank()
    idx = _pick_sprite(rng, kind, figure_prob)
    kind = bank[idx].kind
    if head_height is None:
        lo, hi = {"face": (0.25, 0.9), "bust": (0.07, 0.35), "figure": (0.02, 0.12)}[kind]
        head_height = float(np.exp(rng.uniform(np.log(lo), np.log(hi)))) * h
    hb = bank[idx].head_box
    # image pixels from the head box's centre down to the sprite's bottom row (a figure's shoes)
    below_head = (SPRITE_H - (hb[1] + hb[3]) / 2) * head_height / (hb[3] - hb[1])
    if head_center is None:
        if kind == "figure":
            fy = float(rng.uniform(0.5, 1.02) * h) if feet_y is None else feet_y
            head_center = np.array([rng.uniform(0.03, 0.97) * w, fy - below_head])
        else:
            head_center = np.array([rng.uniform(0.05, 0.95) * w, rng.uniform(0.1, 0.75) * h])
    if light is None:
        a = rng.uniform(0, 2 * np.pi)
        light = np.array([np.cos(a), np.sin(a)])
    head_center = np.asarray(head_center, np.float64).copy()
    # a bust that ends inside the image: behind a desk / counter, or moved down out of the frame
    bottom = head_center[1] + below_head
    counter = None
    if bottom < h + 2 and kind != "figure":
        if rng.random() < 0.6 or head_center[1] + (h + 2 - bottom) > h - 0.4 * head_height:
            counter = random_color(rng, (0.0, 0.6), (0.15, 0.9))
        else:
            head_center[1] += h + 2 - bottom
    return Person(sprite=idx, head_center=head_center, head_height=float(head_height),
                  angle=float(rng.normal(0, 8 if kind != "figure" else 3)), mirror=bool(rng.random() < 0.5),
                  colors=_colors(rng, skin), light=np.asarray(light, np.float64),
                  blur=float(rng.uniform(0.5, 2.5)) if rng.random() < 0.3 else 0.0, counter=counter)


def sample_crowd(rng: np.random.Generator, w: int, h: int, light: np.ndarray,
                 skins: list[np.ndarray] | None = None) -> list[Person]:
    """2-6 small whole people standing on one ground line, about the same size."""
    n = int(rng.integers(2, 7))
    feet = float(rng.uniform(0.6, 1.0) * h)
    size = float(np.exp(rng.uniform(np.log(0.025), np.log(0.1)))) * h
    out = []
    for _ in range(n):
        skin = skins[int(rng.integers(len(skins)))] if skins and rng.random() < 0.5 else None
        k = float(rng.uniform(0.8, 1.25))
        out.append(sample_person(rng, w, h, head_height=size * k, skin=skin, light=light, kind="figure",
                                 feet_y=feet + (k - 1.0) * 0.5 * size * 7 + float(rng.normal(0, 0.02 * h))))
    return out


def sample_people(rng: np.random.Generator, w: int, h: int, hand_boxes: list[np.ndarray],
                  hand_skins: list[np.ndarray], light: np.ndarray, max_people: int = 3,
                  beside_hand_prob: float = 0.5, figure_prob: float = 0.3, crowd_prob: float = 0.0) -> list[Person]:
    """1 to ``max_people`` people, small (far) to big (near); with ``beside_hand_prob`` one of them
    has its face right next to a hand, about as big as the hand; a ``figure_prob`` share of the
    others are whole people; with ``crowd_prob`` a group of small whole people besides."""
    n = 1 + int(rng.integers(max_people))
    people: list[Person] = []
    for k in range(n):
        skin = hand_skins[int(rng.integers(len(hand_skins)))] if hand_skins and rng.random() < 0.6 else None
        if k == 0 and hand_boxes and rng.random() < beside_hand_prob:
            b = hand_boxes[int(rng.integers(len(hand_boxes)))]
            bw, bh = b[2] - b[0], b[3] - b[1]
            size = max(bw, bh) * rng.uniform(0.9, 1.6)  # a head about a hand's length
            side = 1.0 if rng.random() < 0.5 else -1.0
            c = np.array([(b[0] + b[2]) / 2 + side * (0.5 * bw + 0.45 * size * rng.uniform(0.8, 1.6)),
                          (b[1] + b[3]) / 2 + rng.uniform(-0.4, 0.6) * bh])
            people.append(sample_person(rng, w, h, head_center=c, head_height=size, skin=skin, light=light,
                                        kind="face" if rng.random() < 0.25 else "bust"))
        else:
            people.append(sample_person(rng, w, h, skin=skin, light=light, figure_prob=figure_prob))
    if crowd_prob > 0 and rng.random() < crowd_prob:
        people.extend(sample_crowd(rng, w, h, light, hand_skins))
    return sorted(people, key=lambda p: p.head_height)  # drawn far (small) to near (big)


def draw_person(img: np.ndarray, p: Person) -> None:
    """Composite person ``p`` into the uint8 RGB image ``img`` (in place).

    The sprite level nearest the target scale is coloured and lit at its own resolution
    (at most 192x256 pixels, so the cost does not grow with the person's size in the image),
    then warped as premultiplied RGBA into the image.
    """
    sprite = sprite_bank()[p.sprite]
    hb = sprite.head_box
    scale0 = p.head_height / float(hb[3] - hb[1])
    level = int(np.clip(np.floor(-np.log2(max(scale0, 1e-6)) + 0.3), 0, len(sprite.levels) - 1))
    c0, c1, c2 = sprite.levels[level]
    sh, sw = c0.shape[:2]
    s = scale0 * 2**level  # scale from this level's pixels
    hc = (hb[:2] + hb[2:]) / 2 / 2**level
    a = np.deg2rad(p.angle)
    R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) * s
    if p.mirror:
        R = R @ np.diag([-1.0, 1.0])
    t = p.head_center - R @ hc
    corners = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], np.float64) @ R.T + t
    H, W = img.shape[:2]
    x0, y0 = np.maximum(np.floor(corners.min(0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(corners.max(0)).astype(int) + 1, [W, H])
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    # colour and light in sprite space (uint8 throughout): premultiplied RGB (sum of part mask x
    # part colour) times shading x a light ramp, plus alpha
    cols = p.colors.astype(np.float32) * np.float32(1.0 / 255.0)
    prop = np.zeros((3, 3), np.float32)
    prop[:, 0] = cols[PROP]
    rgb = cv2.add(cv2.add(cv2.transform(c0, cols[0:3].T), cv2.transform(c1, cols[3:6].T)), cv2.transform(c2, prop))
    light = np.linalg.solve(R / s, p.light)  # the image-plane light direction in sprite axes
    yy = (np.arange(sh, dtype=np.float32) - sh / 2)[:, None] * np.float32(light[1])
    xx = (np.arange(sw, dtype=np.float32) - sw / 2)[None, :] * np.float32(light[0])
    ramp = 1.0 + 0.25 * np.clip((xx + yy) * np.float32(1.0 / max(sh * 0.6, 1.0)), -1, 1)
    shade = cv2.convertScaleAbs(c2[..., SHADE - PROP] * ramp)
    rgb = cv2.multiply(rgb, cv2.merge([shade, shade, shade]), scale=1.0 / SHADE_UNIT)
    rgba = cv2.merge([rgb, c2[..., ALPHA - PROP]])
    M = np.concatenate([R, (t - [x0, y0])[:, None]], 1)
    warped = cv2.warpAffine(rgba, M, (int(x1 - x0), int(y1 - y0)), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if p.blur > 0:
        warped = cv2.GaussianBlur(warped, (0, 0), p.blur)
    inv = 255 - warped[..., 3]
    region = img[y0:y1, x0:x1]
    img[y0:y1, x0:x1] = cv2.add(cv2.multiply(region, cv2.merge([inv, inv, inv]), scale=1.0 / 255.0), warped[..., :3])
    if p.counter is not None:  # covers the bottom tenth of the sprite and everything below it
        top = int(corners[:, 1].max() - 0.12 * sh * s)
        span = corners[:, 0].max() - corners[:, 0].min()
        cx0, cx1 = int(corners[:, 0].min() - 0.3 * span), int(corners[:, 0].max() + 0.3 * span)
        col = tuple(float(c) for c in p.counter)
        cv2.rectangle(img, (cx0, top), (cx1, H), col, -1)
        edge = tuple(min(255.0, float(c) * 1.3 + 20) for c in p.counter)
        cv2.line(img, (cx0, top), (cx1, top), edge, max(1, int(0.02 * sh * s)), cv2.LINE_AA)
        cv2.rectangle(img, (cx0, top), (cx1, H), tuple(float(c) * 0.5 for c in p.counter), 1, cv2.LINE_AA)
