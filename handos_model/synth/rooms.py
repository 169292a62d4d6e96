"""Room-like backgrounds: walls, floors in perspective, windows, furniture, shelves, screens, text.

Closer to where a robot's camera looks than colour fields: a wall with light fall-off and a
floor or table top whose boards run to a vanishing point, then a random set of furnishings
with dark outlines and contact shadows (cabinets, shelves of books, tables, doors, sofas),
bright windows with frames, framed pictures, posters and screens covered in text-like
strokes, lamps and cables. All drawing is OpenCV primitives plus one random crop of a fixed
grain texture (``grain``), cheap enough for hundreds of images per second.
``room(rng, h, w)`` returns float32 (H, W, 3) RGB in [0, 255] (drawn in uint8).
"""

from __future__ import annotations

import cv2
import numpy as np

from .colors import random_color

_GRAIN: np.ndarray | None = None
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 --.,:/"


def grain(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """(H, W) float32 around 1.0: a random crop of a fixed multi-scale grain tile (per process)."""
    global _GRAIN
    if _GRAIN is None:
        r = np.random.default_rng(777)
        t = np.zeros((512, 512), np.float32)
        for cells, amp in ((8, 0.5), (32, 0.3), (128, 0.2), (512, 0.12)):
            t += amp * cv2.resize(r.random((cells, cells), dtype=np.float32), (512, 512), interpolation=cv2.INTER_CUBIC)
        _GRAIN = ((t - t.mean()) / (10 * t.std()) + 1.0).astype(np.float32)
    if h > 512 or w > 512:
        return cv2.resize(grain(rng, min(h, 512), min(w, 512)), (w, h), interpolation=cv2.INTER_LINEAR)
    y, x = int(rng.integers(0, 513 - h)), int(rng.integers(0, 513 - w))
    return _GRAIN[y:y + h, x:x + w]


def _col(c, k: float = 1.0) -> tuple[float, float, float]:
    """An OpenCV colour tuple of RGB ``c`` scaled by ``k`` (clipped to [0, 255])."""
    r, g, b = (min(255.0, max(0.0, float(v) * k)) for v in c)
    return r, g, b


def text_block(img: np.ndarray, rng: np.random.Generator, x0: int, y0: int, x1: int, y1: int,
               color: np.ndarray | None = None) -> None:
    """Rows of text-like strokes (random letters in a Hershey font) inside [x0, x1) x [y0, y1)."""
    if x1 - x0 < 8 or y1 - y0 < 6:
        return
    line_h = float(rng.uniform(5, 22))
    scale = line_h / 30.0
    col = _col(color if color is not None else random_color(rng, (0, 0.5), (0.0, 0.35)))
    font = int(rng.choice([cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_DUPLEX,
                           cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX]))
    thick = 1 if line_h < 14 else int(rng.integers(1, 3))
    chars_per_line = max(1, int((x1 - x0) / (line_h * 0.55)))
    y = y0 + line_h
    while y < y1:
        n = int(rng.integers(max(1, chars_per_line // 3), chars_per_line + 1))
        txt = "".join(_LETTERS[int(i)] for i in rng.integers(0, len(_LETTERS), n))
        cv2.putText(img, txt, (int(x0), int(y)), font, scale, col, thick, cv2.LINE_AA)
        y += line_h * rng.uniform(1.3, 1.9)


def _box(img: np.ndarray, rng: np.random.Generator, x0: float, y0: float, x1: float, y1: float, col: np.ndarray,
         outline: bool = True) -> None:
    p0, p1 = (int(x0), int(y0)), (int(x1), int(y1))
    cv2.rectangle(img, p0, p1, _col(col), -1)
    if outline:
        cv2.rectangle(img, p0, p1, _col(col, rng.uniform(0.35, 0.7)), int(rng.integers(1, 3)), cv2.LINE_AA)


def _window(img: np.ndarray, rng: np.random.Generator, x0, y0, x1, y1) -> None:
    """A bright window: sky gradient, maybe greenery at the bottom, frame and mullions."""
    H, W = img.shape[:2]
    x0, y0, x1, y1 = int(x0), int(y0), int(x1), int(y1)
    hh, ww = y1 - y0, x1 - x0
    if hh < 6 or ww < 6:
        return
    top = np.array([rng.uniform(150, 230), rng.uniform(190, 240), 255.0])
    bot = np.array([235.0, 240.0, 245.0]) * rng.uniform(0.9, 1.08)
    t = np.linspace(0, 1, hh, dtype=np.float32)[:, None, None]
    sky = top * (1 - t) + bot * t
    if rng.random() < 0.5:  # trees / buildings outside
        cut = int(hh * rng.uniform(0.4, 0.8))
        g = random_color(rng, (0.3, 0.8), (0.2, 0.6))
        sky[cut:] = g * (0.7 + 0.3 * grain(rng, hh - cut, 1))[..., None] if hh - cut > 0 else sky[cut:]
    cy0, cy1, cx0, cx1 = max(y0, 0), min(y1, H), max(x0, 0), min(x1, W)
    if cy1 > cy0 and cx1 > cx0:
        img[cy0:cy1, cx0:cx1] = np.clip(np.broadcast_to(sky, (hh, ww, 3))[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0] + 0.5, 0, 255)
    frame = random_color(rng, (0, 0.2), (0.5, 1.0))
    th = max(2, int(min(hh, ww) * rng.uniform(0.03, 0.07)))
    cv2.rectangle(img, (x0, y0), (x1, y1), _col(frame), th)
    for k in range(1, int(rng.integers(1, 4))):
        xm = x0 + ww * k // int(rng.integers(2, 4))
        cv2.line(img, (xm, y0), (xm, y1), _col(frame), max(1, th // 2))
    if rng.random() < 0.5:
        ym = y0 + hh // 2
        cv2.line(img, (x0, ym), (x1, ym), _col(frame), max(1, th // 2))


def _shelf(img: np.ndarray, rng: np.random.Generator, x0, y0, x1, y1) -> None:
    """A bookshelf: a frame, boards, and rows of books of random colours and heights."""
    wood = random_color(rng, (0.2, 0.6), (0.2, 0.7))
    _box(img, rng, x0, y0, x1, y1, wood * 0.7)
    rows = int(rng.integers(2, 6))
    rh = (y1 - y0) / rows
    palette = [random_color(rng, (0.2, 0.9), (0.15, 0.9)) for _ in range(5)]
    for r in range(rows):
        yb = y0 + (r + 1) * rh
        x = x0 + 3.0
        while x < x1 - 4:
            bw = rng.uniform(0.02, 0.06) * (x1 - x0) + 2
            bh = rh * rng.uniform(0.55, 0.9)
            if rng.random() < 0.85:
                col = palette[int(rng.integers(5))]
                cv2.rectangle(img, (int(x), int(yb - bh)), (int(min(x + bw, x1 - 3)), int(yb - 2)), _col(col, rng.uniform(0.7, 1.2)), -1)
                cv2.line(img, (int(x), int(yb - bh)), (int(x), int(yb - 2)), _col(col, 0.5), 1)
            x += bw + rng.uniform(0, 2)
        cv2.line(img, (int(x0), int(yb)), (int(x1), int(yb)), _col(wood), max(2, int(rh * 0.08)))


def _screen(img: np.ndarray, rng: np.random.Generator, x0, y0, x1, y1) -> None:
    """A monitor / TV: dark bezel, a glowing screen with text or a gradient, a stand."""
    _box(img, rng, x0, y0, x1, y1, np.array([20.0, 20, 22]) * rng.uniform(0.5, 2))
    bz = max(2, int((x1 - x0) * 0.04))
    H, W = img.shape[:2]
    sx0, sy0 = max(int(x0) + bz, 0), max(int(y0) + bz, 0)
    sx1, sy1 = min(int(x1) - bz, W), min(int(y1) - bz, H)
    if sx1 - sx0 < 4 or sy1 - sy0 < 4:
        return
    bg = random_color(rng, (0, 0.6), (0.5, 1.0)) if rng.random() < 0.6 else np.array([30.0, 30, 40])
    img[sy0:sy1, sx0:sx1] = np.clip(bg + 0.5, 0, 255).astype(np.uint8)
    text_block(img, rng, sx0 + 2, sy0 + 1, sx1 - 2, sy1, 255 - bg if rng.random() < 0.7 else None)
    cx = int((x0 + x1) / 2)
    cv2.line(img, (cx, int(y1)), (cx, int(y1 + (y1 - y0) * 0.15)), (40, 40, 40), max(2, bz))


def _furniture(img: np.ndarray, rng: np.random.Generator, h: int, w: int, floor_y: int) -> None:
    kind = int(rng.choice(9, p=[0.14, 0.12, 0.14, 0.12, 0.12, 0.1, 0.08, 0.1, 0.08]))
    s = max(h, w)
    fw, fh = rng.uniform(0.1, 0.5) * s, rng.uniform(0.1, 0.6) * s
    x0 = rng.uniform(-0.2 * w, w - 0.2 * fw)
    if kind in (0, 1, 3, 6):  # standing on the floor: cabinet, shelf, door, sofa
        y1 = floor_y + rng.uniform(0, 0.1) * h
        y0 = y1 - (fh * (0.45 if kind == 6 else 1.0))
    else:  # on the wall
        y0 = rng.uniform(0.02, 0.6) * floor_y
        y1 = y0 + fh * 0.6
    x1 = x0 + fw
    if kind in (0, 1, 3, 6):  # contact shadow under it
        cv2.ellipse(img, (int((x0 + x1) / 2), int(y1)), (int(fw * 0.6), max(2, int(fh * 0.05))), 0, 0, 360,
                    _col(img[min(h - 1, max(0, int(y1))), min(w - 1, max(0, int((x0 + x1) / 2)))], 0.6), -1)
    if kind == 0:  # cabinet with doors and knobs
        col = random_color(rng, (0, 0.5), (0.2, 0.95))
        _box(img, rng, x0, y0, x1, y1, col)
        nd = int(rng.integers(1, 4))
        for k in range(nd):
            xa = x0 + (x1 - x0) * k / nd
            cv2.rectangle(img, (int(xa + 3), int(y0 + 3)), (int(xa + (x1 - x0) / nd - 3), int(y1 - 3)), _col(col, 0.75), 1)
            cv2.circle(img, (int(xa + (x1 - x0) / nd - 8), int((y0 + y1) / 2)), 2, _col(col, 0.4), -1)
    elif kind == 1:
        _shelf(img, rng, x0, y0, x1, y1)
    elif kind == 2:
        _window(img, rng, x0, y0, x1, y1)
    elif kind == 3:  # door
        col = random_color(rng, (0, 0.4), (0.3, 0.95))
        _box(img, rng, x0, y0, x0 + fw * 0.45, y1, col)
        cv2.circle(img, (int(x0 + fw * 0.4), int((y0 + y1) / 2)), 3, _col(col, 0.4), -1)
    elif kind == 4:  # framed picture / poster with text
        col = random_color(rng)
        _box(img, rng, x0, y0, x0 + fw * 0.6, y1, random_color(rng, (0, 0.3), (0.1, 0.9)))
        cv2.rectangle(img, (int(x0 + 4), int(y0 + 4)), (int(x0 + fw * 0.6 - 4), int(y1 - 4)), _col(col), -1)
        if rng.random() < 0.6:
            text_block(img, rng, int(x0 + 6), int(y0 + 5), int(x0 + fw * 0.6 - 6), int(y1 - 5))
    elif kind == 5:  # whiteboard / paper with text
        _box(img, rng, x0, y0, x1, y1, np.array([235.0, 235, 230]) * rng.uniform(0.8, 1.0))
        text_block(img, rng, int(x0 + 5), int(y0 + 4), int(x1 - 5), int(y1 - 4))
    elif kind == 6:  # sofa / bench: rounded blocks
        col = random_color(rng, (0.1, 0.8), (0.2, 0.8))
        r = int(max(2, fh * 0.12))
        for dx in (0, fw * 0.5):
            cv2.rectangle(img, (int(x0 + dx + r), int(y0)), (int(x0 + dx + fw * 0.5 - r), int(y1)), _col(col), -1)
            cv2.circle(img, (int(x0 + dx + r), int(y0 + r)), r, _col(col), -1)
        cv2.line(img, (int(x0 + fw * 0.5), int(y0)), (int(x0 + fw * 0.5), int(y1)), _col(col, 0.6), 2)
    elif kind == 7:
        _screen(img, rng, x0, y0 + 0.4 * (y1 - y0), x1, y1 + 0.2 * (y1 - y0))
    else:  # lamp: a bright disc with a soft glow
        c = (int(x0 + fw / 2), int(y0))
        r = int(max(3, 0.04 * s))
        gx0, gy0 = max(c[0] - 8 * r, 0), max(c[1] - 8 * r, 0)
        gx1, gy1 = min(c[0] + 8 * r, w), min(c[1] + 8 * r, h)
        if gx1 > gx0 and gy1 > gy0:
            glow = np.zeros((gy1 - gy0, gx1 - gx0), np.float32)
            cv2.circle(glow, (c[0] - gx0, c[1] - gy0), r * 3, 1.0, -1)
            glow = cv2.GaussianBlur(glow, (0, 0), r * 1.5)
            reg = img[gy0:gy1, gx0:gx1].astype(np.float32) + glow[..., None] * 90.0
            img[gy0:gy1, gx0:gx1] = np.clip(reg, 0, 255).astype(np.uint8)
        cv2.circle(img, c, r, (255, 250, 230), -1, cv2.LINE_AA)


def room(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A room seen from inside: wall, perspective floor / table, furnishings. (H, W, 3) float32."""
    img = np.empty((h, w, 3), np.uint8)
    floor_y = int(rng.uniform(0.35, 1.05) * h)
    wall = random_color(rng, (0, 0.35), (0.35, 0.97))
    floor = random_color(rng, (0.05, 0.6), (0.15, 0.8))
    img[:] = np.clip(wall + 0.5, 0, 255).astype(np.uint8)
    if floor_y < h:
        img[floor_y:] = np.clip(floor + 0.5, 0, 255).astype(np.uint8)
        # boards / tiles running to a vanishing point above the floor line
        vx, vy = rng.uniform(-0.5, 1.5) * w, floor_y - rng.uniform(0.3, 2.0) * h
        n = int(rng.integers(4, 16))
        line_col = _col(floor, rng.uniform(0.6, 0.85))
        for k in range(n + 1):
            xb = -0.5 * w + 2.0 * w * k / n
            t = (floor_y - vy) / max(h - vy, 1e-3)
            xa = vx + (xb - vx) * t
            cv2.line(img, (int(xa), floor_y), (int(xb), h), line_col, 1, cv2.LINE_AA)
        if rng.random() < 0.5:
            for k in range(1, int(rng.integers(2, 6))):
                y = int(floor_y + (h - floor_y) * (k / 5) ** 1.6)
                cv2.line(img, (0, y), (w, y), line_col, 1, cv2.LINE_AA)
        cv2.line(img, (0, floor_y), (w, floor_y), _col(wall, 0.6), max(1, int(rng.integers(1, 4))))
    for _ in range(int(rng.integers(2, 8))):
        _furniture(img, rng, h, w, min(floor_y, h))
    if rng.random() < 0.4:  # cables
        for _ in range(int(rng.integers(1, 4))):
            pts = np.stack([np.linspace(rng.uniform(0, w), rng.uniform(0, w), 6),
                            np.linspace(rng.uniform(0, h), rng.uniform(0, h), 6) + rng.normal(0, 0.05 * h, 6)], 1)
            cv2.polylines(img, [pts.astype(np.int32)], False, _col(random_color(rng, (0, 0.5), (0, 0.4))),
                          int(rng.integers(1, 4)), cv2.LINE_AA)
    # light fall-off from a lamp or window somewhere above, and surface grain
    f = 8
    yy = np.arange(max(2, h // f), dtype=np.float32)[:, None]
    xx = np.arange(max(2, w // f), dtype=np.float32)[None, :]
    cx, cy = rng.uniform(0, w) / f, rng.uniform(-0.5 * h, 0.4 * h) / f
    fall = 1.05 - 0.55 * np.clip(np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / (1.3 * max(h, w) / f), 0, 1)
    k = np.float32(rng.uniform(0.2, 1.0))
    fall = cv2.resize(fall, (w, h), interpolation=cv2.INTER_LINEAR) * (grain(rng, h, w) * k + (1 - k))
    f8 = cv2.convertScaleAbs(fall, alpha=200.0)  # fall-off in 1/200 units (up to 1.27)
    return cv2.multiply(img, cv2.merge([f8, f8, f8]), scale=1.0 / 200.0).astype(np.float32)
