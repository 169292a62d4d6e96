"""HInt loader (Hand Interactions in the wild; Pavlakos et al. 2024, https://github.com/ddshan/hint).

Released layout (``root`` = ``HInt_annotation`` / ``HInt_annotation_partial``)::

    root/{TRAIN,VAL,TEST}_{newdays,epick,ego4d}_img/<name>.jpg + <name>.json
    root/{VAL,TEST}_ego4d_seq/...                      (same pairs, video subsets)

Each ``.json`` holds a list of hands (normally one), each a dict with
``keypoints`` (21 x 2 pixels, COCO-WholeBody hand order = MANO/FreiHAND order),
``bbox`` (``[[x0, y0, x1, y1]]``) and ``occlusion`` (21 flags, 1 = occluded; the
official ``draw_hand.py`` uses ``1 - occlusion`` as the keypoint score). The side is
the file-name suffix ``_l`` / ``_r`` (e.g. ``..._pre_frame_r.json``) unless the
dict carries ``is_right``/``right``. Ego4D frames must be extracted by the
official ``prep_ego4d.py``; JSONs without their image are skipped and counted.

``HIntNpzDataset`` reads HaMeR's evaluation metadata instead
(``hamer_evaluation_data/TEST_{newdays,epick,ego4d}_img_{all,vis,occ}.npz``: one
row per hand with ``imgname``, ``center`` (2,), ``scale`` (the box side in pixels:
HaMeR's ``ImageDataset`` divides it by 200 and crops ``2 * scale * 200`` pixels),
``right``, ``hand_keypoints_2d`` (21, 3) with a confidence column).

2D only: K is the ``default_intrinsics`` stand-in.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from .loader_utils import clip_box, default_intrinsics, inside_image, joint_box, read_json, read_rgb
from .safe_pickle import safe_load_npz
from .schema import LEFT, RIGHT, CorruptSampleError, HandAnnotation, Sample

SUBSETS = ("newdays", "epick", "ego4d")
JOINT_MODES = ("all", "visible", "occluded")


def _side(hand: dict, stem: str) -> int:
    for key in ("is_right", "right"):
        if key in hand and hand[key] is not None:
            return RIGHT if bool(hand[key]) else LEFT
    if stem.endswith("_r"):
        return RIGHT
    if stem.endswith("_l"):
        return LEFT
    return -1


def _select(visibility: np.ndarray, occluded: np.ndarray, joints: str) -> np.ndarray:
    if joints == "visible":
        return visibility * (occluded < 0.5)
    if joints == "occluded":
        return visibility * (occluded >= 0.5)
    return visibility


class HIntDataset:
    """HInt per-image JSON annotations as ``schema.Sample``s (2D joints, side known).

    Args:
        root: the HInt annotation folder.
        split: ``"train"``, ``"val"`` or ``"test"``.
        subsets: any of ``"newdays"``, ``"epick"``, ``"ego4d"``.
        joints: which joints count as annotated (``visibility`` = 1): ``"all"``,
            ``"visible"`` (not occluded) or ``"occluded"`` — HaMeR's ALL/VIS/OCC protocols.
        include_seq: also read the ``*_ego4d_seq`` folders (val/test only).
    """

    source = "hint"
    intrinsics_known = False

    def __init__(
        self,
        root: str | Path,
        split: str = "test",
        subsets: tuple[str, ...] | list[str] = SUBSETS,
        joints: str = "all",
        include_seq: bool = False,
    ) -> None:
        self.root = Path(root)
        if joints not in JOINT_MODES:
            raise ValueError(f"joints must be one of {JOINT_MODES}, got {joints!r}")
        if isinstance(subsets, str):
            subsets = (subsets,)
        bad = set(subsets) - set(SUBSETS)
        if bad:
            raise ValueError(f"unknown HInt subsets {sorted(bad)}; valid: {SUBSETS}")
        self.joints = joints
        folders = [f"{split.upper()}_{s}_img" for s in subsets]
        if include_seq and "ego4d" in subsets:
            folders.append(f"{split.upper()}_ego4d_seq")
        self.items: list[Path] = []
        self.num_missing_images = 0
        for folder in folders:
            d = self.root / folder
            if not d.is_dir():
                continue
            for js in sorted(d.glob("*.json")):
                if js.with_suffix(".jpg").exists():
                    self.items.append(js)
                else:
                    self.num_missing_images += 1

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Sample:
        js = self.items[index]
        image = read_rgb(js.with_suffix(".jpg"))
        h, w = image.shape[:2]
        data = read_json(js)
        entries = [data] if isinstance(data, dict) else data
        hands = []
        try:
            for entry in entries:
                kp = np.asarray(entry["keypoints"], dtype=np.float32).reshape(21, -1)[:, :2]
                occ = np.asarray(entry.get("occlusion", np.zeros(21)), dtype=np.float32).reshape(21)
                vis = _select(inside_image(kp, h, w), occ, self.joints)
                bbox = entry.get("bbox")
                if bbox is not None:
                    box = clip_box(np.asarray(bbox, dtype=np.float32).reshape(-1)[:4], h, w)
                else:
                    box = joint_box(kp, inside_image(kp, h, w), h, w)
                hands.append(HandAnnotation(box=box, joints_2d=kp, visibility=vis, side=_side(entry, js.stem)))
        except (KeyError, TypeError, ValueError) as e:
            raise CorruptSampleError(f"malformed HInt annotation {js}: {e}") from e
        return Sample(image=image, K=default_intrinsics(h, w), hands=hands, source=self.source,
                      key=f"{js.parent.name}/{js.stem}")


class HIntNpzDataset:
    """HaMeR's HInt evaluation ``.npz`` (one row per hand), grouped per image.

    Args:
        npz_path: e.g. ``hamer_evaluation_data/TEST_ego4d_img_all.npz``.
        img_dir: folder the ``imgname`` entries are relative to (``TEST_ego4d_img/``).
    """

    source = "hint"
    intrinsics_known = False

    def __init__(self, npz_path: str | Path, img_dir: str | Path) -> None:
        self.img_dir = Path(img_dir)
        data = safe_load_npz(npz_path)
        names = [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in data["imgname"]]
        self.center = np.asarray(data["center"], dtype=np.float32).reshape(len(names), 2)
        self.size = np.asarray(data["scale"], dtype=np.float32).reshape(len(names), -1).max(axis=1)
        self.right = np.asarray(data.get("right", np.ones(len(names))), dtype=np.float32).reshape(len(names))
        kp = data.get("hand_keypoints_2d")
        self.keypoints = np.zeros((len(names), 21, 3), np.float32) if kp is None else np.asarray(kp, np.float32)
        groups: OrderedDict[str, list[int]] = OrderedDict()
        for i, name in enumerate(names):
            groups.setdefault(name, []).append(i)
        self.images = list(groups.items())

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Sample:
        name, rows = self.images[index]
        image = read_rgb(self.img_dir / name)
        h, w = image.shape[:2]
        hands = []
        for r in rows:
            c, half = self.center[r], self.size[r] / 2.0
            box = clip_box(np.array([c[0] - half, c[1] - half, c[0] + half, c[1] + half], np.float32), h, w)
            kp = self.keypoints[r]
            vis = (kp[:, 2] > 0).astype(np.float32) * inside_image(kp[:, :2], h, w)
            hands.append(HandAnnotation(box=box, joints_2d=kp[:, :2].copy(), visibility=vis,
                                        side=RIGHT if self.right[r] > 0.5 else LEFT))
        return Sample(image=image, K=default_intrinsics(h, w), hands=hands, source=self.source, key=name)
