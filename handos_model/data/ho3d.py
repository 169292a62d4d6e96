"""HO-3D v3 loader (Hampali et al.; https://github.com/shreyashampali/ho3d).

On-disk layout (``root`` = the unpacked ``HO3D_v3`` folder)::

    root/train.txt, root/evaluation.txt     one "SEQ/ID" per line
    root/{train,evaluation}/SEQ/rgb/ID.jpg  640 x 480 (v2 used .png; both are read)
    root/{train,evaluation}/SEQ/meta/ID.pkl pickled dict, read with ``safe_pickle``

Meta keys used: ``camMat`` (3, 3); train: ``handJoints3D`` (21, 3) metres in
HO3D joint order; evaluation: ``handJoints3D`` (3,) = the root (wrist) joint only
and ``handBoundingBox`` (4,) ``[x0, y0, x1, y1]``. ``handPose``/``handTrans``/
``handBeta`` (MANO parameters) are not converted: vertices would need the licensed
MANO model, so ``vertices`` stays None. Frames whose ``handJoints3D`` is None carry
no hand.

HO3D stores 3D points in the OpenGL convention (the hand lies along -z). They are
moved to the optical frame by flipping y and z (``coordChangeMat = diag(1, -1, -1)``
in the official ``vis_utils.py``). The HO3D joint order is MANO's with fingertips
appended (wrist, index1-3, middle1-3, pinky1-3, ring1-3, thumb1-3, then the tips
thumb, index, middle, ring, pinky); ``HO3D_TO_MANO`` is the official
``jointsMapManoToSimple``. Only right hands.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .loader_utils import clip_box, hand_from_camera_joints, read_rgb
from .safe_pickle import safe_load
from .schema import RIGHT, CorruptSampleError, HandAnnotation, Sample

# joints_freihand = joints_ho3d[HO3D_TO_MANO]
HO3D_TO_MANO = (0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12, 19, 7, 8, 9, 20)
OPENGL_TO_OPTICAL = np.array([1.0, -1.0, -1.0], dtype=np.float32)
SPLITS = ("train", "evaluation")


class HO3DDataset:
    """HO-3D v3 as ``schema.Sample``s.

    Args:
        root: folder holding ``train.txt``, ``evaluation.txt``, ``train/``, ``evaluation/``.
        split: ``"train"`` (21 joints + wrist translation) or ``"evaluation"`` (only the
            wrist translation and the box: the rest is withheld for the online challenge).
    """

    source = "ho3d"
    intrinsics_known = True

    def __init__(self, root: str | Path, split: str = "train") -> None:
        self.root = Path(root)
        split = {"training": "train", "eval": "evaluation", "test": "evaluation"}.get(split, split)
        if split not in SPLITS:
            raise ValueError(f"HO3D split must be one of {SPLITS}, got {split!r}")
        self.split = split
        with open(self.root / f"{split}.txt", encoding="utf-8") as f:
            self.items = [tuple(line.strip().split("/")) for line in f if line.strip()]
        for item in self.items:
            if len(item) != 2:
                raise ValueError(f"{split}.txt: expected 'SEQ/ID' lines, got {'/'.join(item)!r}")

    def __len__(self) -> int:
        return len(self.items)

    def _image_path(self, seq: str, fid: str) -> Path:
        rgb = self.root / self.split / seq / "rgb"
        jpg = rgb / f"{fid}.jpg"
        return jpg if jpg.exists() or not (rgb / f"{fid}.png").exists() else rgb / f"{fid}.png"

    def __getitem__(self, index: int) -> Sample:
        seq, fid = self.items[index]
        image = read_rgb(self._image_path(seq, fid))
        meta_path = self.root / self.split / seq / "meta" / f"{fid}.pkl"
        try:
            meta = safe_load(meta_path)
            K = np.asarray(meta["camMat"], dtype=np.float32).reshape(3, 3)
            joints = meta.get("handJoints3D")
        except Exception as e:  # unreadable, refused (unsafe) or malformed pickle
            raise CorruptSampleError(f"cannot read HO3D annotation {meta_path}: {e}") from e
        if not np.isfinite(K).all():
            raise CorruptSampleError(f"non-finite camMat in {meta_path}")
        h, w = image.shape[:2]
        hands: list[HandAnnotation] = []
        if joints is not None:
            joints = np.asarray(joints, dtype=np.float32)
            if self.split == "train":
                if joints.shape != (21, 3):
                    raise CorruptSampleError(f"{meta_path}: handJoints3D has shape {joints.shape}, expected (21, 3)")
                cam = joints[list(HO3D_TO_MANO)] * OPENGL_TO_OPTICAL
                hands.append(hand_from_camera_joints(cam, K, h, w, RIGHT))
            else:
                box = meta.get("handBoundingBox")
                if box is None or joints.size != 3:
                    raise CorruptSampleError(f"{meta_path}: evaluation meta lacks handBoundingBox / root joint")
                box = clip_box(np.asarray(box, dtype=np.float32).reshape(4), h, w)
                hands.append(HandAnnotation(box=box, cam_t=joints.reshape(3) * OPENGL_TO_OPTICAL, side=RIGHT))
        return Sample(image=image, K=K, hands=hands, source=self.source, key=f"{self.split}/{seq}/{fid}")
