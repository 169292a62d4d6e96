"""COCO-WholeBody hands (Jin et al. 2020; https://github.com/jin-s13/COCO-WholeBody).

On-disk layout (``root`` = the COCO folder)::

    root/annotations/coco_wholebody_{train,val}_v1.0.json   (or directly in root/)
    root/{train,val}2017/<file_name>

The annotation file is COCO-style (``images``, ``annotations``); every person
annotation carries ``lefthand_box`` / ``righthand_box`` (``[x, y, w, h]``),
``lefthand_kpts`` / ``righthand_kpts`` (63 numbers = 21 x (x, y, v)) and
``lefthand_valid`` / ``righthand_valid``. As in mmpose's ``CocoWholeBodyHandDataset``,
a hand is used when ``*_valid`` is true and its keypoints are not all zero, and a
keypoint is annotated when ``v > 0``. The hand keypoint order (wrist, thumb1-4,
forefinger1-4, middle, ring, pinky) is MANO/FreiHAND's. ``lefthand`` is the
person's anatomical left hand (``side = LEFT``). Crowd annotations are skipped.

2D only: COCO has no intrinsics, K is the ``default_intrinsics`` stand-in.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .loader_utils import JOINT_BOX_PAD, clip_box, default_intrinsics, inside_image, read_rgb
from .schema import LEFT, RIGHT, HandAnnotation, Sample, box_from_points


def _hand(ann: dict, side_name: str) -> HandAnnotation | None:
    if not ann.get(f"{side_name}hand_valid", False):
        return None
    kpts = np.asarray(ann.get(f"{side_name}hand_kpts", []), dtype=np.float32)
    if kpts.size != 63 or kpts.max() <= 0:
        return None
    kpts = kpts.reshape(21, 3)
    vis = (kpts[:, 2] > 0).astype(np.float32)
    x, y, bw, bh = np.asarray(ann[f"{side_name}hand_box"], dtype=np.float32).reshape(4)
    if bw > 1 and bh > 1:
        box = np.array([x, y, x + bw, y + bh], dtype=np.float32)
    else:  # a few hands have an empty box: use the padded box of the annotated keypoints
        box = box_from_points(kpts[:, :2], vis, pad=JOINT_BOX_PAD)
    return HandAnnotation(box=box, joints_2d=kpts[:, :2].copy(), visibility=vis,
                          side=LEFT if side_name == "left" else RIGHT)


class COCOWholeBodyDataset:
    """COCO-WholeBody images with at least one valid hand, as ``schema.Sample``s.

    Args:
        root: COCO folder with ``{split}2017/`` and the WholeBody annotation JSON.
        split: ``"train"`` or ``"val"``.
        keep_empty: also yield images without a valid hand (negatives for the detector).
        annotation_file: explicit path to the JSON (default: searched in
            ``root/annotations/`` then ``root/``).
    """

    source = "coco_wholebody"
    intrinsics_known = False

    def __init__(
        self,
        root: str | Path,
        split: str = "val",
        keep_empty: bool = False,
        annotation_file: str | Path | None = None,
    ) -> None:
        self.root = Path(root)
        self.split = split
        if annotation_file is None:
            name = f"coco_wholebody_{split}_v1.0.json"
            candidates = [self.root / "annotations" / name, self.root / name]
            annotation_file = next((c for c in candidates if c.exists()), candidates[0])
        with open(annotation_file, encoding="utf-8") as f:
            data = json.load(f)
        hands: dict[int, list[HandAnnotation]] = {}
        for ann in data["annotations"]:
            if ann.get("iscrowd", 0):
                continue
            for side_name in ("left", "right"):
                hand = _hand(ann, side_name)
                if hand is not None:
                    hands.setdefault(int(ann["image_id"]), []).append(hand)
        self.items: list[tuple[str, list[HandAnnotation]]] = []
        for img in sorted(data["images"], key=lambda im: int(im["id"])):
            hs = hands.get(int(img["id"]), [])
            if hs or keep_empty:
                self.items.append((img["file_name"], hs))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Sample:
        file_name, hands = self.items[index]
        image = read_rgb(self.root / f"{self.split}2017" / file_name)
        h, w = image.shape[:2]
        out = []
        for hand in hands:
            out.append(HandAnnotation(
                box=clip_box(hand.box, h, w),
                joints_2d=hand.joints_2d.copy(),
                visibility=hand.visibility * inside_image(hand.joints_2d, h, w),
                side=hand.side,
            ))
        return Sample(image=image, K=default_intrinsics(h, w), hands=out, source=self.source, key=file_name)
