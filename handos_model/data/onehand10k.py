"""OneHand10K loader (Wang et al., "Mask-pose cascaded CNN for 2D hand pose estimation
from single color images", TCSVT 2019).

Released layout (``root`` = the unpacked ``OneHand10K`` folder)::

    root/{Train,Test}/source/<name>.jpg
    root/{Train,Test}/mask/<name>.png          hand segmentation mask
    root/{Train,Test}/label_joint.txt          one CSV line per image:
        <name>.jpg,<width>,<height>,<hand_number>,x1,y1,...,x21,y21

Joints that are not visible are written as -1. The joint order (wrist, thumb1-4,
forefinger1-4, middle, ring, pinky; see mmpose's ``OneHand10KDataset``) is
MANO/FreiHAND's. The box is the tight box of the mask (the whole hand), or the
padded box of the visible joints when the mask is missing/empty. The side is not
annotated (``side = -1``). 2D only: K is the ``default_intrinsics`` stand-in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .loader_utils import clip_box, default_intrinsics, inside_image, joint_box, mask_box, read_rgb
from .schema import CorruptSampleError, HandAnnotation, Sample


class OneHand10KDataset:
    """OneHand10K as ``schema.Sample``s (one hand per image, 2D joints, side unknown).

    Args:
        root: folder holding ``Train/`` and ``Test/``.
        split: ``"train"`` or ``"test"`` (case-insensitive).
    """

    source = "onehand10k"
    intrinsics_known = False

    def __init__(self, root: str | Path, split: str = "train") -> None:
        self.root = Path(root)
        self.split = {"train": "Train", "test": "Test"}.get(split.lower())
        if self.split is None:
            raise ValueError(f"OneHand10K split must be 'train' or 'test', got {split!r}")
        self.items: list[tuple[str, np.ndarray]] = []
        with open(self.root / self.split / "label_joint.txt", encoding="utf-8") as f:
            for line_no, line in enumerate(f, 1):
                fields = [x.strip() for x in line.strip().split(",")]
                if not fields or not fields[0]:
                    continue
                if len(fields) < 4 + 42:
                    raise ValueError(f"label_joint.txt line {line_no}: expected 46 fields, got {len(fields)}")
                joints = np.asarray([float(v) for v in fields[4:46]], dtype=np.float32).reshape(21, 2)
                self.items.append((fields[0], joints))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Sample:
        name, joints = self.items[index]
        split_dir = self.root / self.split
        image = read_rgb(split_dir / "source" / name)
        h, w = image.shape[:2]
        annotated = ~np.any(joints == -1, axis=1)
        vis = annotated.astype(np.float32) * inside_image(joints, h, w)
        box = None
        mask_path = split_dir / "mask" / (Path(name).stem + ".png")
        if mask_path.exists():
            try:
                with Image.open(mask_path) as m:
                    box = mask_box(np.asarray(m.convert("L")))
            except OSError as e:
                raise CorruptSampleError(f"cannot read mask {mask_path}: {e}") from e
        if box is None:
            if not vis.any():
                return Sample(image=image, K=default_intrinsics(h, w), hands=[], source=self.source, key=name)
            box = joint_box(joints, vis, h, w)
        hand = HandAnnotation(box=clip_box(box, h, w), joints_2d=joints.copy(), visibility=vis, side=-1)
        return Sample(image=image, K=default_intrinsics(h, w), hands=[hand], source=self.source, key=name)
