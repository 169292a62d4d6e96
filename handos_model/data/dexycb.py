"""DexYCB loader (Chao et al. 2021; https://github.com/NVlabs/dex-ycb-toolkit).

On-disk layout (``root`` = ``$DEX_YCB_DIR``)::

    root/calibration/intrinsics/<serial>_640x480.yml   color: {fx, fy, ppx, ppy}
    root/<subject>/<sequence>/meta.yml                 serials, num_frames, mano_sides, mano_calib, ...
    root/<subject>/<sequence>/<serial>/color_%06d.jpg  640 x 480
    root/<subject>/<sequence>/<serial>/labels_%06d.npz seg, pose_y, pose_m (1, 51),
                                                       joint_3d (1, 21, 3) metres, camera frame,
                                                       joint_2d (1, 21, 2) pixels

``joint_3d``/``joint_2d`` are all -1 on frames without the hand (the toolkit's
``hpe_eval.py`` skips them); such frames carry no hand here. The joints come from
manopth's MANO layer, whose order is MANO/FreiHAND's (``_MANO_JOINTS`` of the
toolkit), so no remap is needed. One hand per sequence; its side is
``meta.yml: mano_sides[0]`` ("right"/"left"). Vertices need the licensed MANO model
(``pose_m`` is a 45-PCA pose), so ``vertices`` stays None.

Splits follow the toolkit's ``dex_ycb.py`` setups (s0 = the default "seen subjects,
views and objects" benchmark): sequences are the sorted folders of each subject,
selected by index. Subjects absent from ``root`` are skipped (partial downloads).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from .loader_utils import hand_from_camera_joints, read_rgb
from .schema import LEFT, RIGHT, CorruptSampleError, Sample

SUBJECTS = (
    "20200709-subject-01",
    "20200813-subject-02",
    "20200820-subject-03",
    "20200903-subject-04",
    "20200908-subject-05",
    "20200918-subject-06",
    "20200928-subject-07",
    "20201002-subject-08",
    "20201015-subject-09",
    "20201022-subject-10",
)
SERIALS = (
    "836212060125",
    "839512060362",
    "840412060917",
    "841412060263",
    "932122060857",
    "932122060861",
    "932122061900",
    "932122062010",
)


def split_indices(setup: str, split: str) -> tuple[list[int], list[int], list[int]]:
    """(subject, serial, sequence) indices of a toolkit setup/split (s0-s3)."""
    all_subj, all_ser, all_seq = list(range(10)), list(range(8)), list(range(100))
    table = {
        ("s0", "train"): (all_subj, all_ser, [i for i in all_seq if i % 5 != 4]),
        ("s0", "val"): ([0, 1], all_ser, [i for i in all_seq if i % 5 == 4]),
        ("s0", "test"): (list(range(2, 10)), all_ser, [i for i in all_seq if i % 5 == 4]),
        ("s1", "train"): ([0, 1, 2, 3, 4, 5, 9], all_ser, all_seq),
        ("s1", "val"): ([6], all_ser, all_seq),
        ("s1", "test"): ([7, 8], all_ser, all_seq),
        ("s2", "train"): (all_subj, [0, 1, 2, 3, 4, 5], all_seq),
        ("s2", "val"): (all_subj, [6], all_seq),
        ("s2", "test"): (all_subj, [7], all_seq),
        ("s3", "train"): (all_subj, all_ser, [i for i in all_seq if i // 5 not in (3, 7, 11, 15, 19)]),
        ("s3", "val"): (all_subj, all_ser, [i for i in all_seq if i // 5 in (3, 19)]),
        ("s3", "test"): (all_subj, all_ser, [i for i in all_seq if i // 5 in (7, 11, 15)]),
    }
    if (setup, split) not in table:
        raise ValueError(f"unknown DexYCB setup/split {setup}/{split}; setups s0-s3, splits train/val/test")
    return table[(setup, split)]


def _read_yaml(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


class DexYCBDataset:
    """DexYCB frames as ``schema.Sample``s (one hand, left or right, 21 joints in 3D).

    Args:
        root: the DexYCB folder (subjects + ``calibration/``).
        split: ``"train"``, ``"val"`` or ``"test"``.
        setup: ``"s0"`` (default benchmark), ``"s1"``, ``"s2"`` or ``"s3"``.
    """

    source = "dexycb"
    intrinsics_known = True

    def __init__(self, root: str | Path, split: str = "train", setup: str = "s0") -> None:
        self.root = Path(root)
        self.split, self.setup = split, setup
        subj_ind, serial_ind, seq_ind = split_indices(setup, split)
        serials = [SERIALS[i] for i in serial_ind]
        self._K: dict[str, np.ndarray] = {}
        # (sequence dir, serial, frame, side)
        self.frames: list[tuple[Path, str, int, int]] = []
        for si in subj_ind:
            subj_dir = self.root / SUBJECTS[si]
            if not subj_dir.is_dir():
                continue
            seqs = sorted(p for p in subj_dir.iterdir() if p.is_dir())
            for qi in seq_ind:
                if qi >= len(seqs):
                    break
                meta = _read_yaml(seqs[qi] / "meta.yml")
                side_name = str(meta["mano_sides"][0]).lower()
                if side_name not in ("left", "right"):
                    raise ValueError(f"{seqs[qi]}/meta.yml: unknown mano side {side_name!r}")
                side = RIGHT if side_name == "right" else LEFT
                for serial in serials:
                    if serial not in [str(s) for s in meta.get("serials", SERIALS)]:
                        continue
                    self.frames.extend((seqs[qi], serial, f, side) for f in range(int(meta["num_frames"])))

    def intrinsics(self, serial: str) -> np.ndarray:
        """(3, 3) color intrinsics of camera ``serial`` at 640 x 480."""
        if serial not in self._K:
            c = _read_yaml(self.root / "calibration" / "intrinsics" / f"{serial}_640x480.yml")["color"]
            self._K[serial] = np.array(
                [[c["fx"], 0.0, c["ppx"]], [0.0, c["fy"], c["ppy"]], [0.0, 0.0, 1.0]], dtype=np.float32
            )
        return self._K[serial]

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> Sample:
        seq_dir, serial, frame, side = self.frames[index]
        d = seq_dir / serial
        image = read_rgb(d / f"color_{frame:06d}.jpg")
        K = self.intrinsics(serial)
        label_path = d / f"labels_{frame:06d}.npz"
        try:
            with np.load(label_path, allow_pickle=False) as label:
                j3d = np.asarray(label["joint_3d"], dtype=np.float32).reshape(21, 3)
                j2d = np.asarray(label["joint_2d"], dtype=np.float32).reshape(21, 2)
        except Exception as e:  # missing/corrupt npz or missing keys
            raise CorruptSampleError(f"cannot read DexYCB labels {label_path}: {e}") from e
        hands = []
        if not np.all(j3d == -1):
            hands.append(hand_from_camera_joints(j3d, K, image.shape[0], image.shape[1], side, joints_2d=j2d))
        key = f"{seq_dir.parent.name}/{seq_dir.name}/{serial}/{frame:06d}"
        return Sample(image=image, K=K, hands=hands, source=self.source, key=key)
