"""Backgrounds from a folder of the user's own photos (``handos-synth --backgrounds DIR``).

The way to adapt the model to one camera: record frames of the robot's empty workspace (no
hands in them: every hand in a training image must be a rendered one with ground truth) and
let the engine composite its hands, people and objects onto random crops of them.

``PhotoBackgrounds(folder)`` lists the folder's images (``IMAGE_SUFFIXES``, recursively, sorted
by path, so the list and therefore every sample depend only on the folder's content);
``sample(rng, h, w)`` picks one, takes a random crop of random scale and position with the
output's aspect ratio, mirrors it half of the time, resizes it to (w, h) and jitters its
colour a little. Decoded photos are kept per process (downscaled to at most ``max_side``).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def list_images(folder: str | Path) -> list[Path]:
    """The image files under ``folder`` (recursive, sorted); raises if there are none."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"backgrounds folder {root} does not exist")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise FileNotFoundError(f"backgrounds folder {root} holds no image ({', '.join(IMAGE_SUFFIXES)})")
    return files


class PhotoBackgrounds:
    """Random crops of the photos in ``folder`` as (H, W, 3) uint8 RGB backgrounds.

    Args:
        folder: the photos (any size; unreadable files raise when drawn).
        min_scale: smallest crop side as a fraction of the photo's largest crop of that aspect.
        max_side: photos are downscaled to at most this many pixels on their long side.
        cache_size: decoded photos kept in memory.
    """

    def __init__(self, folder: str | Path, min_scale: float = 0.35, max_side: int = 640, cache_size: int = 64) -> None:
        self.files = list_images(folder)
        self.min_scale = float(min_scale)
        self.max_side = int(max_side)
        self.cache_size = int(cache_size)
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return len(self.files)

    def photo(self, i: int) -> np.ndarray:
        """Photo ``i`` as uint8 RGB (cached, downscaled to ``max_side``)."""
        if i in self._cache:
            self._cache.move_to_end(i)
            return self._cache[i]
        bgr = cv2.imread(str(self.files[i]), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"{self.files[i]}: cannot decode the background image")
        h, w = bgr.shape[:2]
        s = self.max_side / max(h, w)
        if s < 1.0:
            bgr = cv2.resize(bgr, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        img = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        self._cache[i] = img
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return img

    def sample(self, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
        """A random crop of a random photo, mirrored or not, resized to (h, w), colour-jittered."""
        i = int(rng.integers(len(self.files)))
        scale, ux, uy = rng.uniform(self.min_scale, 1.0), rng.random(), rng.random()
        mirror = rng.random() < 0.5
        gain = rng.uniform(0.85, 1.15, 3).astype(np.float32)
        img = self.photo(i)
        ph, pw = img.shape[:2]
        # the largest crop of the output's aspect ratio, scaled
        cw, ch = (pw, pw * h / w) if pw * h / w <= ph else (ph * w / h, ph)
        cw, ch = max(1.0, cw * scale), max(1.0, ch * scale)
        x0, y0 = ux * (pw - cw), uy * (ph - ch)
        src, fx, fy = img, 1.0, 1.0
        if cw > 2 * w:  # strong downscale: area-average the photo first (no aliasing)
            f = 2.0 * w / cw
            src = cv2.resize(img, (max(1, round(pw * f)), max(1, round(ph * f))), interpolation=cv2.INTER_AREA)
            fx, fy = src.shape[1] / pw, src.shape[0] / ph
        # photo pixel centre x -> output u = sx (x + 0.5 - x0) - 0.5, with x = (x_src + 0.5) / fx - 0.5
        sx, sy = w / cw, h / ch
        M = np.array([[sx / fx, 0.0, sx * (0.5 / fx - x0) - 0.5], [0.0, sy / fy, sy * (0.5 / fy - y0) - 0.5]])
        if mirror:
            M[0] = -M[0]
            M[0, 2] += w - 1
        out = cv2.warpAffine(src, M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        return cv2.convertScaleAbs(out.astype(np.float32) * gain)


_LOADED: dict[str, PhotoBackgrounds] = {}


def photo_backgrounds(folder: str | Path) -> PhotoBackgrounds:
    """The process's ``PhotoBackgrounds`` of ``folder`` (listed once per process)."""
    key = str(Path(folder).expanduser().resolve())
    if key not in _LOADED:
        _LOADED[key] = PhotoBackgrounds(key)
    return _LOADED[key]
