"""Fast CPU renderer: painter's algorithm into a G-buffer, then per-pixel shading.

1. ``rasterize``: every front-facing triangle (back-face culled) of every mesh is
   sorted far-to-near and filled with ``cv2.fillConvexPoly`` (sub-pixel, 1/16 px)
   into a float32 (H, W, 4) G-buffer holding the face normal (x, y), the face depth
   and a code ``object + attribute`` (object index, material attribute in [0, 0.9]).
   Hands are objects 0-3, their forearms 4-7, objects they hold 8-11 (``props``), occluders
   12+; background is -1.
2. ``shade``: normals are smoothed by normalised convolution (hides the facets),
   then wrap-Lambert + Blinn-Phong lighting with skin/palm/nail/sleeve albedo,
   screen-space skin mottling, skin creases (an optional screen-space mask) and a depth-based
   ambient occlusion (fingers in front of the palm cast soft contact shadows), composited
   with a 1-px soft edge.

Pixel centres are at integer coordinates, the projection is ``u = fx x / z + cx``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .appearance import Lighting, Material

MAX_HANDS = 4
OBJ_FOREARM0 = 4
OBJ_HELD0 = 8
OBJ_OCCLUDER0 = 12
ATTR_PALM_MAX = 0.40  # attribute in [0, 0.4]: skin, value/0.4 = palm-ness
ATTR_NAIL = 0.60
ATTR_SLEEVE = 0.85
ATTR_HELD = 0.95  # a held object: the hand slot's ``Material.held`` colour
NEAR = 0.03


@dataclass
class RenderMesh:
    """A triangle mesh in the camera frame.

    vertices: (V, 3) metres, faces: (F, 3) outward-oriented, obj: object index,
    attr: (F,) material attribute per face (see module docstring).
    """

    vertices: np.ndarray
    faces: np.ndarray
    obj: int
    attr: np.ndarray


def project(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(..., 3) camera-frame points -> (..., 2) pixels."""
    p = np.asarray(points, np.float64)
    z = np.maximum(p[..., 2:3], 1e-9)
    return np.stack([K[0, 0] * p[..., 0] / z[..., 0] + K[0, 2], K[1, 1] * p[..., 1] / z[..., 0] + K[1, 2]], -1)


def rasterize(meshes: list[RenderMesh], K: np.ndarray, height: int, width: int) -> np.ndarray:
    """G-buffer (H, W, 4) float32: normal x, normal y, depth (m), code (-1 = background)."""
    buf = np.zeros((height, width, 4), np.float32)
    buf[..., 3] = -1.0
    all_pts, all_col, all_z = [], [], []
    lim = 8 * max(height, width)
    for m in meshes:
        v = np.asarray(m.vertices, np.float64)
        f = np.asarray(m.faces)
        # per-corner (F, 3) arrays: the same arithmetic as np.cross / tri.mean(1) / .min(1) on
        # the (F, 3, 3) stack, without numpy's slow generic paths for a length-3 middle axis
        a, b, c3 = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
        e1, e2 = b - a, c3 - a
        n = np.empty_like(e1)
        n[:, 0] = e1[:, 1] * e2[:, 2] - e1[:, 2] * e2[:, 1]
        n[:, 1] = e1[:, 2] * e2[:, 0] - e1[:, 0] * e2[:, 2]
        n[:, 2] = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
        c = (a + b + c3) / 3.0
        zmin = np.minimum(np.minimum(a[:, 2], b[:, 2]), c3[:, 2])
        keep = (np.einsum("ij,ij->i", n, c) < 0) & (zmin > NEAR)
        if not keep.any():
            continue
        n = n[keep]
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-15)
        uv = project(v, K)
        pts = np.clip(uv[f[keep]], -lim, lim)
        z = c[keep, 2]
        col = np.stack([n[:, 0], n[:, 1], z, m.obj + np.asarray(m.attr)[keep]], 1)
        all_pts.append(pts)
        all_col.append(col)
        all_z.append(z)
    if not all_pts:
        return buf
    pts = np.concatenate(all_pts)
    col = np.concatenate(all_col)
    order = np.argsort(-np.concatenate(all_z), kind="stable")
    pts16 = np.round(pts[order] * 16).astype(np.int32)
    cols = col[order].tolist()
    fill = cv2.fillConvexPoly
    for p, c in zip(list(pts16), cols, strict=True):
        fill(buf, p, c, cv2.LINE_8, 4)
    return buf


def _norm_blur(x: np.ndarray, m: np.ndarray, sigma: float) -> np.ndarray:
    """Normalised-convolution Gaussian blur of x (H, W[, C]) over mask m (H, W)."""
    if sigma < 0.3:
        return x
    mb = cv2.GaussianBlur(m, (0, 0), sigma)
    xb = cv2.GaussianBlur(x * (m[..., None] if x.ndim == 3 else m), (0, 0), sigma)
    d = np.maximum(mb, 1e-6)
    return xb / (d[..., None] if x.ndim == 3 else d)


def shade(
    buf: np.ndarray,
    background: np.ndarray,
    K: np.ndarray,
    materials: dict[int, Material],
    lighting: Lighting,
    rng: np.random.Generator,
    skin_texture: bool = True,
    half_res_area: int = 24000,
    creases: np.ndarray | None = None,
) -> np.ndarray:
    """Composite the shaded hands/forearms (objects < OBJ_OCCLUDER0) over ``background``.

    background: (H, W, 3) uint8 RGB. Returns a new (H, W, 3) uint8 RGB image. When the
    hands' bounding box exceeds ``half_res_area`` pixels, lighting is computed on a
    half-resolution G-buffer and upsampled (shading is smooth); the silhouette and the
    compositing stay at full resolution. ``creases``: optional (H, W, 2) float32 darkening of
    the hands' skin in [0, 1] (channel 0 everywhere, channel 1 on the palm side only).
    """
    out = background.copy()
    code = buf[..., 3]
    mask_full = (code >= 0) & (code < OBJ_OCCLUDER0)
    rows = np.flatnonzero(mask_full.any(1))
    if len(rows) == 0:
        return out
    cols = np.flatnonzero(mask_full.any(0))
    H, W = code.shape
    pad = 3
    y0, y1 = max(0, rows[0] - pad), min(H, rows[-1] + pad + 1)
    x0, x1 = max(0, cols[0] - pad), min(W, cols[-1] + pad + 1)
    b = buf[y0:y1, x0:x1]
    mask = mask_full[y0:y1, x0:x1]
    m = mask.astype(np.float32)
    hh, ww = mask.shape
    if hh * ww > half_res_area:
        bs = b[::2, ::2]
        ms = mask[::2, ::2].astype(np.float32)
        cr = None if creases is None else creases[y0:y1:2, x0:x1:2]
        fg_s = _shade_region(bs, ms, float(K[0, 0]) / 2, materials, lighting, rng, skin_texture, cr)
        # spread colours one pixel so the full-resolution silhouette is covered, then upsample
        k3 = np.ones((3, 3), np.float32)
        num = cv2.filter2D(fg_s, -1, k3)
        den = cv2.filter2D(ms, -1, k3)
        fg_s = np.where(ms[..., None] > 0, fg_s, num / np.maximum(den, 1e-6)[..., None])
        fg = cv2.resize(fg_s, (ww, hh), interpolation=cv2.INTER_LINEAR) * m[..., None]
    else:
        cr = None if creases is None else creases[y0:y1, x0:x1]
        fg = _shade_region(b, m, float(K[0, 0]), materials, lighting, rng, skin_texture, cr)
    # --- soft 1-px edge compositing
    alpha = cv2.GaussianBlur(m, (3, 3), 0.6)
    fg = cv2.GaussianBlur(fg, (3, 3), 0.6)
    region = out[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = np.clip(region * (1 - alpha[..., None]) + fg + 0.5, 0, 255).astype(np.uint8)
    return out


def _shade_region(
    b: np.ndarray,
    m: np.ndarray,
    fx: float,
    materials: dict[int, Material],
    lighting: Lighting,
    rng: np.random.Generator,
    skin_texture: bool,
    creases: np.ndarray | None = None,
) -> np.ndarray:
    """Shaded colour (h, w, 3) float32 in [0, 255] of the G-buffer region ``b`` where ``m`` > 0 (0 elsewhere)."""
    hh, ww = m.shape
    idx = np.flatnonzero(m > 0)
    cm = b[..., 3].reshape(-1)[idx]
    obj = np.floor(cm + 1e-4).astype(np.int32)
    attr = cm - obj
    depth = b[..., 2]
    zmed = float(np.median(depth.reshape(-1)[idx[:: max(1, len(idx) // 256)]]))
    tri_px = fx * 0.007 / max(zmed, 1e-3)
    # --- normals: rebuild z, smooth away the facets (normalised convolution on the bbox)
    nx, ny = b[..., 0], b[..., 1]
    nz = -np.sqrt(np.clip(1.0 - nx * nx - ny * ny, 0.0, 1.0))
    N = np.dstack([nx, ny, nz])
    N = _norm_blur(N, m, float(np.clip(0.45 * tri_px, 0.0, 6.0))).reshape(-1, 3)[idx]
    N /= np.maximum(np.linalg.norm(N, axis=-1, keepdims=True), 1e-6)
    # --- albedo from per-object material tables
    slots = obj % MAX_HANDS
    keys = sorted(materials)
    tab = {k: np.zeros((MAX_HANDS, 3), np.float32) for k in ("skin", "palm", "nail", "sleeve", "held")}
    spec_t = np.zeros(MAX_HANDS, np.float32)
    shin_t = np.full(MAX_HANDS, 10.0, np.float32)
    for k in keys:
        mat = materials[k]
        for name in tab:
            tab[name][k % MAX_HANDS] = getattr(mat, name)
        spec_t[k % MAX_HANDS] = mat.specular
        shin_t[k % MAX_HANDS] = mat.shininess
    pal = np.clip(attr / ATTR_PALM_MAX, 0, 1)[:, None]
    albedo = tab["skin"][slots] * (1 - pal) + tab["palm"][slots] * pal
    spec = spec_t[slots]
    shin = shin_t[slots]
    held = attr > 0.9
    sleeve = (attr > 0.75) & ~held
    nail = (attr > 0.5) & (attr <= 0.75)
    if nail.any():
        albedo[nail] = tab["nail"][slots[nail]]
        spec[nail] = spec[nail] * 2.5 + 0.1
    if sleeve.any():
        albedo[sleeve] = tab["sleeve"][slots[sleeve]]
        spec[sleeve] = 0.02
    if held.any():
        albedo[held] = tab["held"][slots[held]]
        spec[held] = 0.25
    if creases is not None:
        skin = (attr <= 0.5) & (obj < OBJ_FOREARM0)
        c = creases.reshape(-1, 2)[idx]
        albedo *= (1.0 - (c[:, 0] + c[:, 1] * pal[:, 0]) * skin)[:, None]
    if skin_texture:
        ts = max((materials[k].texture_scale for k in keys), default=0.0)
        if ts > 0:
            noise = _mottle(rng, hh, ww, tri_px).reshape(-1)[idx]
            albedo *= (1.0 + ts * (noise - 0.5) * 2)[:, None]
    # --- lighting (camera frame; view direction ~ (0, 0, -1) towards the camera)
    col = albedo * (lighting.ambient * lighting.ambient_color)
    V = np.array([0.0, 0.0, -1.0], np.float32)
    for L, inten, lc in zip(lighting.dirs, lighting.intensities, lighting.colors, strict=True):
        ndl = N @ L.astype(np.float32)
        diff = np.clip((ndl + lighting.wrap) * (1.0 / (1 + lighting.wrap)), 0, 1)
        Hh = (L + V) / np.linalg.norm(L + V)
        ndh = np.clip(N @ Hh.astype(np.float32), 1e-4, 1)
        sp = spec * np.exp(shin * np.log(ndh)) * (ndl > 0)
        col += (albedo * (inten * diff)[:, None] + (inten * sp)[:, None]) * lc
    # --- ambient occlusion from depth: pixels well behind their neighbourhood get darker
    sig_ao = float(np.clip(0.7 * fx * 0.02 / max(zmed, 1e-3), 1.0, 40.0))
    dblur = _norm_blur_fast(depth, m, sig_ao).reshape(-1)[idx]
    occl = np.clip((depth.reshape(-1)[idx] - dblur - 0.006) / 0.015, 0, 1)
    occl[obj >= OBJ_FOREARM0] = 0.0  # forearm faces are large: their flat depth would band
    col *= (1.0 - 0.45 * occl)[:, None]
    fg = np.zeros((hh * ww, 3), np.float32)
    fg[idx] = np.clip(col * 255.0, 0, 255)
    return fg.reshape(hh, ww, 3)


def _norm_blur_fast(x: np.ndarray, m: np.ndarray, sigma: float) -> np.ndarray:
    """Like ``_norm_blur`` for a single channel, computed at reduced resolution for large sigmas."""
    if sigma <= 4.0:
        return _norm_blur(x, m, sigma)
    h, w = x.shape
    f = sigma / 3.0
    sw, sh = max(2, int(round(w / f))), max(2, int(round(h / f)))
    xs = cv2.resize(x * m, (sw, sh), interpolation=cv2.INTER_AREA)
    ms = cv2.resize(m, (sw, sh), interpolation=cv2.INTER_AREA)
    xb = cv2.GaussianBlur(xs, (0, 0), 3.0)
    mb = cv2.GaussianBlur(ms, (0, 0), 3.0)
    r = xb / np.maximum(mb, 1e-6)
    return cv2.resize(r, (w, h), interpolation=cv2.INTER_LINEAR)


def _mottle(rng: np.random.Generator, h: int, w: int, tri_px: float) -> np.ndarray:
    """Low-frequency skin mottling (H, W) in [0, 1]."""
    cells = max(2, int(max(h, w) / max(4.0 * tri_px, 2.0)))
    small = rng.random((max(2, cells * h // max(h, w) + 1), max(2, cells * w // max(h, w) + 1))).astype(np.float32)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    fine = cv2.resize(rng.random((max(2, h // 3), max(2, w // 3))).astype(np.float32), (w, h))
    return np.clip(0.75 * big + 0.25 * fine, 0, 1)


def drop_shadow(background: np.ndarray, buf: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Darken the uint8 background with a blurred, offset hand silhouette (a cast shadow)."""
    code = buf[..., 3]
    m = ((code >= 0) & (code < OBJ_OCCLUDER0)).astype(np.float32)
    rows = np.flatnonzero(m.any(1))
    if len(rows) == 0:
        return background
    cols = np.flatnonzero(m.any(0))
    h, w = m.shape
    size = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
    dx, dy = rng.normal(0, 0.12 * size, 2)
    k = rng.uniform(0.15, 0.45)
    f = 4
    small = cv2.resize(m, (max(2, w // f), max(2, h // f)), interpolation=cv2.INTER_AREA)
    M = np.float32([[1, 0, dx / f], [0, 1, dy / f]])
    sh = cv2.warpAffine(small, M, (small.shape[1], small.shape[0]))
    sh = cv2.GaussianBlur(sh, (0, 0), max(0.5, 0.06 * size / f))
    sh = cv2.resize(sh, (w, h), interpolation=cv2.INTER_LINEAR)
    ys = np.flatnonzero(sh.max(1) > 0.01)
    xs = np.flatnonzero(sh.max(0) > 0.01)
    if len(ys) == 0 or len(xs) == 0:
        return background
    out = background.copy()
    y0, y1, x0, x1 = ys[0], ys[-1] + 1, xs[0], xs[-1] + 1
    reg = out[y0:y1, x0:x1].astype(np.float32) * (1 - k * sh[y0:y1, x0:x1, None])
    out[y0:y1, x0:x1] = np.clip(reg + 0.5, 0, 255).astype(np.uint8)
    return out
