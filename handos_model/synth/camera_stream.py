"""A synthetic video camera: smoothly moving and articulating hands with ground truth.

    cam = SyntheticCamera(seed=0, width=640, height=480, num_hands=2, fps=30)
    sample = cam.next()          # schema.Sample; sample.K is the same for every frame

Each hand moves between random keyframes (pose within the joint limits, orientation,
image position and depth) with smooth-step interpolation; background, lighting,
skin and intrinsics stay fixed for the whole stream. ``easy=True`` gives one large,
well-lit hand on a plain background, facing the camera (proof-of-life tests).
``motion`` picks how hands move: ``"keyframes"`` (default, above), ``"still"`` (every hand
holds its first keyframe: only the per-frame sensor noise changes, for jitter measurements) or
``"cross"`` (two or more hands keep their first pose and swap their horizontal positions back
and forth, crossing in the middle of the image every ``2 * key_seconds``, for trackers).
Frame ``k`` depends only on ``(seed, k)`` and the constructor arguments, so streams are
reproducible; ``frame(k)`` renders any frame directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.schema import LEFT, RIGHT, Sample
from ..hand.hand_model import HandModel, load_hand_model
from .appearance import Material, sample_lighting, sample_material
from .background import random_background
from .body import Forearm
from .camera_fx import PostFx
from .compose import render_scene
from .config import SynthConfig, easy_config
from .geometry import rot
from .placement import sample_orientation
from .scene import HandInstance, Scene


def _log_rot(R: np.ndarray) -> np.ndarray:
    """Rotation matrix -> axis-angle (3,)."""
    c = np.clip((np.trace(R) - 1) / 2, -1.0, 1.0)
    a = float(np.arccos(c))
    if a < 1e-8:
        return np.zeros(3)
    if a > np.pi - 1e-4:  # axis from the symmetric part
        M = (R + np.eye(3)) / 2
        ax = M[:, int(np.argmax(np.diag(M)))]
        return ax / np.linalg.norm(ax) * a
    v = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]]) / (2 * np.sin(a))
    return v * a


def _slerp(R0: np.ndarray, R1: np.ndarray, s: float) -> np.ndarray:
    w = _log_rot(R0.T @ R1)
    n = np.linalg.norm(w)
    return R0 if n < 1e-9 else R0 @ rot(w / n, s * n)


def _smooth(s: float) -> float:
    s = min(max(s, 0.0), 1.0)
    return s * s * (3 - 2 * s)


@dataclass
class _Key:
    pose: np.ndarray
    R: np.ndarray
    uv: np.ndarray  # image position of the hand centre, fraction of (width, height)
    size: float  # hand extent as a fraction of the image height


@dataclass
class _HandTrack:
    side: int
    shape: np.ndarray
    material: Material
    forearm: Forearm
    region: tuple[float, float]  # horizontal band (fractions) the hand stays in
    keys: list[_Key]
    times: list[float]
    rng: np.random.Generator  # this track's own generator: frames do not depend on call order


class SyntheticCamera:
    """Endless stream of synthetic frames (``next()``/iteration -> ``schema.Sample``).

    Args:
        seed: stream seed.
        width, height: image size in pixels.
        num_hands: hands in view (1-4; hands keep to separate horizontal bands).
        fps: frame rate used to advance time.
        easy: one large, well-lit hand on a plain background (overrides num_hands, except with
            ``motion="cross"``: then ``num_hands`` easy hands, smaller).
        hand_model: ``"open"`` or a MANO path.
        key_seconds: mean time between motion keyframes (``"cross"``: half the crossing period).
        motion: ``"keyframes"``, ``"still"`` or ``"cross"`` (see the module docstring).
        noise_sigma: per-frame sensor noise std in uint8 units; None: 0 when ``easy``, else 2.
    """

    MOTIONS = ("keyframes", "still", "cross")

    def __init__(self, seed: int = 0, width: int = 640, height: int = 480, num_hands: int = 1, fps: float = 30.0,
                 easy: bool = False, hand_model: str = "open", key_seconds: float = 1.5, motion: str = "keyframes",
                 noise_sigma: float | None = None) -> None:
        if not 1 <= num_hands <= 4:
            raise ValueError("num_hands must be 1..4")
        if motion not in self.MOTIONS:
            raise ValueError(f"motion must be one of {self.MOTIONS}, got {motion!r}")
        self.motion = motion
        self.noise_sigma = noise_sigma
        self.seed, self.width, self.height, self.fps = int(seed), int(width), int(height), float(fps)
        self.easy = bool(easy)
        self.num_hands = 1 if easy and motion != "cross" else int(num_hands)  # easy crossing: several easy hands
        self.key_seconds = float(key_seconds)
        self.model: HandModel = load_hand_model(hand_model)
        self.cfg = easy_config(width=width, height=height) if easy else SynthConfig(
            width=width, height=height, uniform_rotation_prob=0.0)
        rng = np.random.default_rng([self.seed, 0x5EED])
        fx = (1.0 if easy else rng.uniform(0.8, 1.3)) * self.width
        self.K = np.array([[fx, 0, (self.width - 1) / 2], [0, fx, (self.height - 1) / 2], [0, 0, 1]], np.float32)
        self.background = random_background(rng, self.height, self.width, plain=easy)
        self.lighting = sample_lighting(rng, easy=easy)
        self.tracks = [self._new_track(i) for i in range(self.num_hands)]
        self.frame_index = 0

    # ------------------------------------------------------------------ keyframes
    def _new_key(self, region: tuple[float, float], rng: np.random.Generator) -> _Key:
        kinds = ("open", "relaxed", "point", "peace", "grasp") if self.easy else (None,)
        pose = self.model.sample_pose(rng, kind=kinds[int(rng.integers(len(kinds)))])
        R = sample_orientation(rng, self.cfg)
        if self.easy:
            size = rng.uniform(0.45, 0.65) / (1 + 0.4 * (self.num_hands - 1))
            uv = np.array([rng.uniform(0.4, 0.6), rng.uniform(0.42, 0.58)])
        else:
            size = rng.uniform(0.25, 0.55) / (1 + 0.4 * (self.num_hands - 1))
            lo, hi = region
            uv = np.array([rng.uniform(lo + 0.15 * (hi - lo), hi - 0.15 * (hi - lo)), rng.uniform(0.3, 0.7)])
        return _Key(pose=pose, R=R, uv=uv, size=float(size))

    def _new_track(self, i: int) -> _HandTrack:
        rng = np.random.default_rng([self.seed, 0x5EED, i + 1])
        region = (i / self.num_hands, (i + 1) / self.num_hands)
        if self.num_hands == 1:
            side = RIGHT if rng.random() < 0.5 else LEFT
        else:  # left hand on the image's right half and vice versa, like a person facing the camera
            side = LEFT if (region[0] + region[1]) / 2 > 0.5 else RIGHT
        bend = rot([1, 0, 0], rng.normal(0, 0.25)) @ rot([0, 0, 1], rng.normal(0, 0.15))
        forearm = Forearm(bend=bend, length=0.45, sleeve_start=None if self.easy or rng.random() < 0.5
                          else float(rng.uniform(0.04, 0.15)))
        keys = [self._new_key(region, rng), self._new_key(region, rng)]
        times = [0.0, self._dt(rng)]
        return _HandTrack(side=side, shape=self.model.sample_shape(rng), material=sample_material(rng),
                          forearm=forearm, region=region, keys=keys, times=times, rng=rng)

    def _dt(self, rng: np.random.Generator) -> float:
        return float(self.key_seconds * rng.uniform(0.7, 1.3))

    def _state(self, tr: _HandTrack, t: float) -> _Key:
        if self.motion == "still":
            return tr.keys[0]
        if self.motion == "cross" and self.num_hands > 1:
            k0, mid = tr.keys[0], (tr.region[0] + tr.region[1]) / 2
            s = 0.5 - 0.5 * np.cos(np.pi * t / self.key_seconds)  # 0 -> 1 -> 0 ..., smooth at the ends
            u = mid + s * (1.0 - 2.0 * mid)  # mirrored about the image centre at s = 1
            return _Key(pose=k0.pose, R=k0.R, uv=np.array([u, k0.uv[1]]), size=k0.size)
        while t > tr.times[-1]:
            tr.keys.append(self._new_key(tr.region, tr.rng))
            tr.times.append(tr.times[-1] + self._dt(tr.rng))
        j = int(np.searchsorted(tr.times, t, side="right")) - 1
        j = min(max(j, 0), len(tr.times) - 2)
        s = _smooth((t - tr.times[j]) / (tr.times[j + 1] - tr.times[j]))
        a, b = tr.keys[j], tr.keys[j + 1]
        return _Key(pose=(1 - s) * a.pose + s * b.pose, R=_slerp(a.R, b.R, s), uv=(1 - s) * a.uv + s * b.uv,
                    size=(1 - s) * a.size + s * b.size)

    # ------------------------------------------------------------------ frames
    def frame(self, k: int) -> Sample:
        """Frame ``k`` of the stream (time k / fps)."""
        t = k / self.fps
        hands: list[HandInstance] = []
        for tr in self.tracks:
            st = self._state(tr, t)
            v, j = self.model.forward(st.pose[None].astype(np.float32), tr.shape[None])
            vh, jh = v[0].astype(np.float64), j[0].astype(np.float64)
            if tr.side == LEFT:
                vh, jh = self.model.mirror_left(vh), self.model.mirror_left(jh)
            v_rel = vh @ st.R.T
            lo, hi = v_rel.min(0), v_rel.max(0)
            center = (lo + hi) / 2
            ext = max(hi[0] - lo[0], hi[1] - lo[1], 0.03)
            z = float(np.clip(self.K[0, 0] * ext / (st.size * self.height), 0.2, 2.0))
            u, vv = st.uv[0] * self.width, st.uv[1] * self.height
            ray = np.array([(u - self.K[0, 2]) / self.K[0, 0], (vv - self.K[1, 2]) / self.K[1, 1], 1.0])
            cam_t = ray * z - center
            cam_t[2] = max(cam_t[2], 0.2)
            hands.append(HandInstance(side=tr.side, pose=st.pose, shape=tr.shape, rotation=st.R, cam_t=cam_t,
                                      material=tr.material, forearm=tr.forearm, verts_hand=vh, joints_hand=jh))
        rng = np.random.default_rng([self.seed, 1, k])
        sigma = self.noise_sigma if self.noise_sigma is not None else (0.0 if self.easy else 2.0)
        post = PostFx(noise_sigma=float(sigma))
        scene = Scene(width=self.width, height=self.height, K=self.K, background=self.background, hands=hands,
                      lighting=self.lighting, post=post, skin_texture=False)
        return render_scene(scene, rng, self.model, key=f"{k:06d}")

    def next(self) -> Sample:
        s = self.frame(self.frame_index)
        self.frame_index += 1
        return s

    __next__ = next

    def __iter__(self) -> SyntheticCamera:
        return self
