"""Synthetic hand data: the on-disk format, its writer/reader, and an on-the-fly dataset.

On-disk format (version 1), written by ``handos-synth`` (``handos_model.synth.cli``)::

    DIR/meta.json                   {"format": "handos-synthetic", "version": 1,
                                     "hand_model": "handos_open_hand_v1", "num_vertices": V,
                                     "count": N, "seed": S, "jpeg_quality": Q,
                                     "config": {SynthConfig fields}, "image_ext": ".jpg"}
    DIR/images/000000.jpg           RGB image (JPEG, quality Q; baseline, 4:2:0)
    DIR/annotations/000000.npz      uncompressed-zip-of-npy, deflated; keys:
        K           (3, 3)        float32  intrinsics of the image
        image_size  (2,)          int32    [height, width]
        side        (H,)          int64    0 left / 1 right
        boxes       (H, 4)        float32  [x0, y0, x1, y1] pixels, tight around the projected mesh
        joints_2d   (H, 21, 2)    float32  pixels (= projection of joints_3d + cam_t with K)
        visibility  (H, 21)       float32  1 visible, 0 outside the image / hidden by an occluder
                                           or another hand
        joints_3d   (H, 21, 3)    float32  metres, camera axes, wrist-relative (joints_3d[:, 0] = 0)
        vertices    (H, V, 3)     float32  metres, same frame as joints_3d (right-hand faces)
        cam_t       (H, 3)        float32  wrist position in the camera frame, metres

H is the number of hands in the image (may be 0), V the hand model's vertex count, joints
in MANO/FreiHAND order. Sample ``i`` of a dataset with seed ``S`` depends only on
``(S, i)``: the same seed gives byte-identical files whatever the number of workers
(zip entries carry a fixed timestamp).

``SyntheticOnTheFly(seed, length)`` renders the same samples in memory (by default
passing the image through the same JPEG encode/decode, so its Samples equal what
``SyntheticDataset`` reads back from a folder written with that seed).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .schema import CorruptSampleError, HandAnnotation, Sample

FORMAT = "handos-synthetic"
VERSION = 1
DEFAULT_JPEG_QUALITY = 92
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_ARRAY_KEYS = ("K", "image_size", "side", "boxes", "joints_2d", "visibility", "joints_3d", "vertices", "cam_t")


def image_path(root: str | Path, index: int) -> Path:
    return Path(root) / "images" / f"{index:06d}.jpg"


def annotation_path(root: str | Path, index: int) -> Path:
    return Path(root) / "annotations" / f"{index:06d}.npz"


def encode_jpeg(image: np.ndarray, quality: int = DEFAULT_JPEG_QUALITY) -> bytes:
    """RGB uint8 (H, W, 3) -> JPEG bytes (deterministic)."""
    ok, enc = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return enc.tobytes()


def decode_jpeg(data: bytes | np.ndarray) -> np.ndarray | None:
    """JPEG bytes -> RGB uint8, or None if undecodable."""
    arr = np.frombuffer(data, np.uint8) if isinstance(data, (bytes, bytearray)) else data
    img = cv2.imdecode(arr, cv2.IMREAD_COLOR)
    return None if img is None else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def jpeg_roundtrip(image: np.ndarray, quality: int = DEFAULT_JPEG_QUALITY) -> np.ndarray:
    out = decode_jpeg(encode_jpeg(image, quality))
    assert out is not None
    return out


def annotation_arrays(sample: Sample, num_vertices: int) -> dict[str, np.ndarray]:
    """The npz arrays of ``sample`` (see module docstring)."""
    n = len(sample.hands)
    a = {
        "K": np.asarray(sample.K, np.float32).reshape(3, 3),
        "image_size": np.array([sample.height, sample.width], np.int32),
        "side": np.array([h.side for h in sample.hands], np.int64).reshape(n),
        "boxes": np.zeros((n, 4), np.float32),
        "joints_2d": np.zeros((n, 21, 2), np.float32),
        "visibility": np.zeros((n, 21), np.float32),
        "joints_3d": np.zeros((n, 21, 3), np.float32),
        "vertices": np.zeros((n, num_vertices, 3), np.float32),
        "cam_t": np.zeros((n, 3), np.float32),
    }
    for i, h in enumerate(sample.hands):
        a["boxes"][i] = h.box
        a["joints_2d"][i] = h.joints_2d
        a["visibility"][i] = h.visibility
        a["joints_3d"][i] = h.joints_3d
        a["vertices"][i] = h.vertices
        a["cam_t"][i] = h.cam_t
    return a


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """A deterministic .npz (deflated zip, fixed timestamps, sorted-by-insertion keys)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for k, v in arrays.items():
            info = zipfile.ZipInfo(f"{k}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            arr_buf = io.BytesIO()
            np.lib.format.write_array(arr_buf, np.ascontiguousarray(v), allow_pickle=False)
            zf.writestr(info, arr_buf.getvalue())
    return buf.getvalue()


def write_sample(root: str | Path, index: int, sample: Sample, num_vertices: int,
                 jpeg_quality: int = DEFAULT_JPEG_QUALITY) -> None:
    """Write image + annotation of sample ``index`` under ``root`` (directories must exist)."""
    image_path(root, index).write_bytes(encode_jpeg(sample.image, jpeg_quality))
    annotation_path(root, index).write_bytes(npz_bytes(annotation_arrays(sample, num_vertices)))


def prepare_dir(root: str | Path) -> Path:
    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    return root


def write_meta(root: str | Path, *, count: int, seed: int, hand_model: str, num_vertices: int,
               config: dict[str, Any], jpeg_quality: int = DEFAULT_JPEG_QUALITY) -> None:
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "hand_model": hand_model,
        "num_vertices": int(num_vertices),
        "count": int(count),
        "seed": int(seed),
        "jpeg_quality": int(jpeg_quality),
        "image_ext": ".jpg",
        "config": config,
    }
    (Path(root) / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def read_meta(root: str | Path) -> dict[str, Any]:
    path = Path(root) / "meta.json"
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise FileNotFoundError(f"{path}: not a synthetic-data folder ({e})") from e
    if meta.get("format") != FORMAT or int(meta.get("version", -1)) > VERSION:
        raise ValueError(f"{path}: unsupported format {meta.get('format')!r} version {meta.get('version')}")
    return meta


def sample_from_arrays(image: np.ndarray, a: dict[str, np.ndarray], source: str, key: str) -> Sample:
    n = int(a["side"].shape[0])
    hands = [
        HandAnnotation(
            box=a["boxes"][i].astype(np.float32),
            joints_2d=a["joints_2d"][i].astype(np.float32),
            visibility=a["visibility"][i].astype(np.float32),
            joints_3d=a["joints_3d"][i].astype(np.float32),
            vertices=a["vertices"][i].astype(np.float32),
            cam_t=a["cam_t"][i].astype(np.float32),
            side=int(a["side"][i]),
        )
        for i in range(n)
    ]
    return Sample(image=image, K=a["K"].astype(np.float32), hands=hands, source=source, key=key)


class SyntheticDataset:
    """Reader of a folder written by ``handos-synth`` (``__getitem__ -> schema.Sample``).

    Raises ``schema.CorruptSampleError`` for a missing/unreadable image or annotation.
    """

    source = "synthetic"

    def __init__(self, root: str | Path, limit: int | None = None) -> None:
        self.root = Path(root)
        self.meta = read_meta(self.root)
        self.count = int(self.meta["count"]) if limit is None else min(int(limit), int(self.meta["count"]))
        self.num_vertices = int(self.meta["num_vertices"])

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < self.count:
            raise IndexError(index)
        ip, ap = image_path(self.root, index), annotation_path(self.root, index)
        try:
            image = decode_jpeg(ip.read_bytes())
        except OSError as e:
            raise CorruptSampleError(f"{ip}: {e}") from e
        if image is None:
            raise CorruptSampleError(f"{ip}: cannot decode image")
        try:
            with np.load(ap, allow_pickle=False) as z:
                a = {k: z[k] for k in _ARRAY_KEYS}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
            raise CorruptSampleError(f"{ap}: {e}") from e
        if tuple(a["image_size"].tolist()) != image.shape[:2]:
            raise CorruptSampleError(f"{ip}: image size {image.shape[:2]} != annotated {a['image_size'].tolist()}")
        return sample_from_arrays(image, a, self.source, f"{index:06d}")


def _make_config(config: Any = None, **overrides: Any):
    from ..synth.config import SynthConfig

    if config is None:
        cfg = SynthConfig()
    elif isinstance(config, SynthConfig):
        cfg = config
    else:
        cfg = SynthConfig(**dict(config))
    if overrides:
        known = {f.name for f in fields(SynthConfig)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown synthetic config keys {sorted(unknown)}; known: {sorted(known)}")
        cfg = SynthConfig(**{**asdict(cfg), **overrides})
    return cfg


class SyntheticOnTheFly:
    """In-memory synthetic dataset: ``__getitem__(i)`` renders sample ``i`` of ``seed``.

    Args:
        seed: dataset seed; sample i depends only on (seed, i).
        length: number of samples (``__len__``).
        config: a ``SynthConfig`` or dict of its fields; further keyword arguments override
            single fields (e.g. ``width=320, height=320, num_hands=1, easy=True``, or
            ``backgrounds="DIR"``: composite onto random crops of the photos in DIR, a path
            absolute or relative to the working directory; ``photo_prob``: the share of
            samples that use them).
        jpeg_quality: pass images through this JPEG quality (as the on-disk format does), or
            None to keep the raw render.
        easy_fraction: probability in [0, 1] that a sample is rendered with the config's easy
            variant (``synth.config.easy_variant``: one big, well-lit hand on a plain background,
            image size and camera ranges kept). Which samples are easy depends only on
            ``(seed, index)``. A curriculum knob: the node's typical input (a hand or two held in
            front of the camera) is closer to the easy scenes than to the cluttered ones.
    """

    source = "synthetic"

    def __init__(self, seed: int = 0, length: int = 1000, config: Any = None,
                 jpeg_quality: int | None = DEFAULT_JPEG_QUALITY, easy_fraction: float = 0.0,
                 **overrides: Any) -> None:
        from ..synth.config import easy_variant

        self.seed = int(seed)
        self.length = int(length)
        self.config = _make_config(config, **overrides)
        self.jpeg_quality = jpeg_quality
        self.easy_fraction = float(easy_fraction)
        if not 0.0 <= self.easy_fraction <= 1.0:
            raise ValueError(f"easy_fraction must be in [0, 1], got {easy_fraction}")
        self.easy_config = easy_variant(self.config)
        self._model = None

    @property
    def model(self):
        if self._model is None:
            from ..hand.hand_model import load_hand_model

            self._model = load_hand_model(self.config.hand_model)
        return self._model

    @property
    def num_vertices(self) -> int:
        return self.model.num_vertices

    def __len__(self) -> int:
        return self.length

    def is_easy(self, index: int) -> bool:
        """Whether sample ``index`` is rendered with the easy variant (a pure function of (seed, index))."""
        if self.easy_fraction <= 0.0:
            return False
        # a stream of its own, so the scene's generator (seed, index) is untouched
        return bool(np.random.default_rng([self.seed, int(index), 0xEA5]).random() < self.easy_fraction)

    def config_of(self, index: int):
        """The SynthConfig sample ``index`` is rendered with."""
        return self.easy_config if self.is_easy(index) else self.config

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < self.length:
            raise IndexError(index)
        from ..synth.generate import render_sample

        s = render_sample(self.seed, index, self.config_of(index), self.model)
        if self.jpeg_quality:
            s.image = jpeg_roundtrip(s.image, self.jpeg_quality)
        return s
