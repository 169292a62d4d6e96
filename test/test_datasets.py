"""Real-dataset loaders on small fixtures written in each dataset's released layout and formats."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from torch.utils.data import ConcatDataset

from handos_model.data.coco_wholebody import COCOWholeBodyDataset
from handos_model.data.dexycb import SERIALS, SUBJECTS, DexYCBDataset
from handos_model.data.freihand import FreiHANDDataset
from handos_model.data.hint import HIntDataset, HIntNpzDataset
from handos_model.data.ho3d import HO3D_TO_MANO, HO3DDataset
from handos_model.data.loader_utils import project
from handos_model.data.mixed import DATASET_TYPES, build_dataset, load_dataset_config
from handos_model.data.onehand10k import OneHand10KDataset
from handos_model.data.safe_pickle import UnsafePickleError
from handos_model.data.schema import LEFT, RIGHT, CorruptSampleError, Sample
from handos_model.hand.topology import JOINT_NAMES

# ----------------------------------------------------------------------------- helpers


def hand_joints(center: tuple[float, float, float], seed: int = 0) -> np.ndarray:
    """(21, 3) metres, MANO/FreiHAND order: wrist + 5 fingers of 4 joints fanning out in x-y."""
    rng = np.random.default_rng(seed)
    j = np.zeros((21, 3))
    for f, ang in enumerate(np.linspace(-0.9, 0.9, 5)):
        d = np.array([np.sin(ang), -np.cos(ang), 0.1 * (f - 2)])
        for k, r in enumerate((0.03, 0.05, 0.065, 0.08)):
            j[1 + 4 * f + k] = r * d + 0.002 * rng.normal(size=3)
    return (j + np.asarray(center)).astype(np.float32)


def hand_vertices(joints: np.ndarray, n: int = 778, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (joints[rng.integers(0, 21, n)] + 0.006 * rng.normal(size=(n, 3))).astype(np.float32)


def write_jpg(path: Path, h: int, w: int, value: int = 128) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w, 3), value, np.uint8)).save(path, quality=95)


def check_sample(s: Sample, source: str) -> None:
    assert isinstance(s, Sample) and s.source == source and s.key
    assert s.image.dtype == np.uint8 and s.image.ndim == 3 and s.image.shape[2] == 3
    assert s.K.shape == (3, 3) and s.K.dtype == np.float32
    for hand in s.hands:
        assert hand.box.shape == (4,) and hand.box[2] > hand.box[0] and hand.box[3] > hand.box[1]
        assert 0 <= hand.box[0] and hand.box[2] <= s.width and 0 <= hand.box[1] and hand.box[3] <= s.height
        if hand.joints_2d is not None:
            assert hand.joints_2d.shape == (21, 2) and hand.visibility.shape == (21,)
        if hand.joints_3d is not None:
            assert hand.joints_3d.shape == (21, 3) and np.allclose(hand.joints_3d[0], 0.0)
            assert hand.cam_t.shape == (3,)


# ----------------------------------------------------------------------------- FreiHAND


def make_freihand(root: Path, n: int = 3) -> tuple[list, list, list]:
    root.mkdir(parents=True, exist_ok=True)
    Ks, xyz, verts = [], [], []
    for i in range(n):
        K = np.array([[480.0 + 10 * i, 0, 110.0 + i], [0, 490.0, 113.0], [0, 0, 1]])
        j = hand_joints((0.01 * i, 0.005, 0.55), seed=i)
        Ks.append(K.tolist())
        xyz.append(j.tolist())
        verts.append(hand_vertices(j, seed=i).tolist())
    for split in ("training", "evaluation"):
        for name, data in (("K", Ks), ("xyz", xyz), ("verts", verts)):
            (root / f"{split}_{name}.json").write_text(json.dumps(data))
        (root / f"{split}_mano.json").write_text(json.dumps([[[0.0] * 61] for _ in range(n)]))
    for k in range(4 * n):  # file id k shows unique sample k % n in version k // n
        write_jpg(root / "training" / "rgb" / f"{k:08d}.jpg", 224, 224, value=10 + 20 * k)
    for k in range(n):
        write_jpg(root / "evaluation" / "rgb" / f"{k:08d}.jpg", 224, 224, value=200)
    return Ks, xyz, verts


def test_freihand_training_layout_and_geometry(tmp_path: Path) -> None:
    Ks, xyz, verts = make_freihand(tmp_path)
    ds = FreiHANDDataset(tmp_path, split="training")
    assert len(ds) == 12  # 4 versions x 3 unique samples
    for index in (0, 4, 11):
        s = ds[index]
        check_sample(s, "freihand")
        uid = index % 3
        # the image read is file id == index (all four versions, in order)
        assert abs(int(s.image[5, 5, 0]) - (10 + 20 * index)) <= 3
        assert s.key == f"training/{index:08d}.jpg"
        (hand,) = s.hands
        assert hand.side == RIGHT
        np.testing.assert_allclose(s.K, Ks[uid], rtol=1e-6)
        np.testing.assert_allclose(hand.joints_3d + hand.cam_t, xyz[uid], atol=1e-6)
        np.testing.assert_allclose(hand.cam_t, xyz[uid][0], atol=1e-7)
        # 2D joints are the projection of the 3D joints (FreiHAND's projectPoints)
        np.testing.assert_allclose(project(hand.joints_3d + hand.cam_t, s.K), hand.joints_2d, atol=1e-3)
        uv = np.asarray(xyz[uid]) @ np.asarray(Ks[uid]).T
        np.testing.assert_allclose(hand.joints_2d, uv[:, :2] / uv[:, 2:], atol=1e-3)
        np.testing.assert_allclose(hand.vertices + hand.cam_t, verts[uid], atol=1e-6)
        # tight box around the projected mesh
        pv = project(np.asarray(verts[uid]), s.K)
        np.testing.assert_allclose(hand.box, [*pv.min(0), *pv.max(0)], atol=1e-3)
        assert hand.visibility.sum() == 21


def test_freihand_versions_and_evaluation_split(tmp_path: Path) -> None:
    make_freihand(tmp_path)
    hom = FreiHANDDataset(tmp_path, split="training", versions=("hom",), load_vertices=False)
    assert len(hom) == 3
    s = hom[1]  # unique sample 1, version "hom" (index 1) -> file id 1 + 3
    assert s.key == "training/00000004.jpg" and s.hands[0].vertices is None
    ev = FreiHANDDataset(tmp_path, split="evaluation")
    assert len(ev) == 3 and ev[2].key == "evaluation/00000002.jpg"
    with pytest.raises(ValueError):
        FreiHANDDataset(tmp_path, versions=("nope",))


def test_freihand_cache_dir_roundtrip(tmp_path: Path) -> None:
    _, xyz, _ = make_freihand(tmp_path / "fh")
    a = FreiHANDDataset(tmp_path / "fh", cache_dir=tmp_path / "cache")
    assert (tmp_path / "cache" / "training_verts.npy").exists()
    b = FreiHANDDataset(tmp_path / "fh", cache_dir=tmp_path / "cache")  # memory-mapped copy
    np.testing.assert_array_equal(a[2].hands[0].joints_3d, b[2].hands[0].joints_3d)


def test_corrupt_and_truncated_jpg_raise(tmp_path: Path) -> None:
    make_freihand(tmp_path)
    (tmp_path / "training" / "rgb" / "00000001.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    good = (tmp_path / "training" / "rgb" / "00000002.jpg").read_bytes()
    (tmp_path / "training" / "rgb" / "00000002.jpg").write_bytes(good[: len(good) // 2])
    os.remove(tmp_path / "training" / "rgb" / "00000003.jpg")
    ds = FreiHANDDataset(tmp_path)
    for index in (1, 2, 3):
        with pytest.raises(CorruptSampleError):
            ds[index]
    check_sample(ds[0], "freihand")


# ----------------------------------------------------------------------------- HO3D


# HO3D's joint names in its own order (as HandOccNet's HO3D loader lists them), written out
# independently of the loader's HO3D_TO_MANO table.
HO3D_NAMES = ("Wrist", "Index_1", "Index_2", "Index_3", "Middle_1", "Middle_2", "Middle_3", "Pinky_1", "Pinky_2",
              "Pinky_3", "Ring_1", "Ring_2", "Ring_3", "Thumb_1", "Thumb_2", "Thumb_3", "Thumb_4", "Index_4",
              "Middle_4", "Ring_4", "Pinky_4")
FINGER = {"thumb": "Thumb", "index": "Index", "middle": "Middle", "ring": "Ring", "little": "Pinky"}


def ho3d_name(topology_name: str) -> str:
    if topology_name == "wrist":
        return "Wrist"
    finger, part = topology_name.split("_")
    k = {"cmc": 1, "mcp": 1, "pip": 2, "ip": 3, "dip": 3, "tip": 4}[part]
    if finger == "thumb":
        k = {"cmc": 1, "mcp": 2, "ip": 3, "tip": 4}[part]
    return f"{FINGER[finger]}_{k}"


def ho3d_meta(joints_optical: np.ndarray, K: np.ndarray) -> dict:
    """A train meta dict as HO3D stores it: HO3D joint order, OpenGL axes."""
    ho3d = np.zeros((21, 3))
    for i, name in enumerate(JOINT_NAMES):
        ho3d[HO3D_NAMES.index(ho3d_name(name))] = joints_optical[i]
    return {
        "handJoints3D": ho3d * np.array([1.0, -1.0, -1.0]),
        "handPose": np.zeros(48),
        "handTrans": ho3d[0] * np.array([1.0, -1.0, -1.0]),
        "handBeta": np.zeros(10),
        "camMat": K,
        "objRot": np.zeros((3, 1)),
        "objTrans": np.zeros(3),
        "objName": "006_mustard_bottle",
    }


def make_ho3d(root: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    K = np.array([[614.6, 0, 312.4], [0, 614.0, 238.2], [0, 0, 1]])
    truth = {}
    items = ["ABF10/0000", "ABF10/0001", "MC1/0003"]
    for i, item in enumerate(items):
        seq, fid = item.split("/")
        j = hand_joints((0.02 * i - 0.02, 0.01, 0.6), seed=10 + i)
        truth[item] = j
        write_jpg(root / "train" / seq / "rgb" / f"{fid}.jpg", 480, 640)
        meta = root / "train" / seq / "meta" / f"{fid}.pkl"
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_bytes(pickle.dumps(ho3d_meta(j, K), protocol=2))
    (root / "train.txt").write_text("\n".join(items) + "\n")
    # evaluation: root joint + box only
    write_jpg(root / "evaluation" / "SM1" / "rgb" / "0000.jpg", 480, 640)
    ev = {"handJoints3D": np.array([0.01, -0.02, -0.5]), "handBoundingBox": np.array([100.0, 120, 260, 300]),
          "camMat": K}
    (root / "evaluation" / "SM1" / "meta").mkdir(parents=True)
    (root / "evaluation" / "SM1" / "meta" / "0000.pkl").write_bytes(pickle.dumps(ev, protocol=2))
    (root / "evaluation.txt").write_text("SM1/0000\n")
    return K, truth


def test_ho3d_train_remaps_joint_order_and_flips_opengl(tmp_path: Path) -> None:
    K, truth = make_ho3d(tmp_path)
    ds = HO3DDataset(tmp_path, split="train")
    assert len(ds) == 3
    for i, item in enumerate(["ABF10/0000", "ABF10/0001", "MC1/0003"]):
        s = ds[i]
        check_sample(s, "ho3d")
        assert s.key == f"train/{item}"
        (hand,) = s.hands
        assert hand.side == RIGHT and hand.vertices is None
        np.testing.assert_allclose(s.K, K, rtol=1e-6)
        np.testing.assert_allclose(hand.joints_3d + hand.cam_t, truth[item], atol=1e-6)
        assert hand.cam_t[2] > 0  # in front of the camera in the optical frame
        np.testing.assert_allclose(project(truth[item], K), hand.joints_2d, atol=1e-3)
    # the loader's table agrees with the name-based mapping; e.g. thumb tip (4) is HO3D joint 16
    assert tuple(HO3D_NAMES.index(ho3d_name(n)) for n in JOINT_NAMES) == HO3D_TO_MANO
    meta = pickle.loads((tmp_path / "train" / "ABF10" / "meta" / "0000.pkl").read_bytes())
    hand = ds[0].hands[0]
    np.testing.assert_allclose(hand.joints_3d[4] + hand.cam_t, meta["handJoints3D"][16] * [1, -1, -1], atol=1e-6)
    np.testing.assert_allclose(hand.joints_3d[5] + hand.cam_t, meta["handJoints3D"][1] * [1, -1, -1], atol=1e-6)


def test_ho3d_evaluation_split_has_box_and_root(tmp_path: Path) -> None:
    make_ho3d(tmp_path)
    s = HO3DDataset(tmp_path, split="evaluation")[0]
    (hand,) = s.hands
    np.testing.assert_allclose(hand.box, [100, 120, 260, 300])
    np.testing.assert_allclose(hand.cam_t, [0.01, 0.02, 0.5], atol=1e-7)
    assert hand.joints_3d is None and hand.joints_2d is None


def test_ho3d_numpy1_pickle_loads(tmp_path: Path) -> None:
    K, truth = make_ho3d(tmp_path)
    meta = tmp_path / "train" / "ABF10" / "meta" / "0000.pkl"
    data = meta.read_bytes()
    assert b"numpy._core.multiarray" in data  # written by numpy 2: rename as numpy 1.x wrote it
    meta.write_bytes(data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    hand = HO3DDataset(tmp_path)[0].hands[0]
    np.testing.assert_allclose(hand.joints_3d + hand.cam_t, truth["ABF10/0000"], atol=1e-6)


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_ho3d_malicious_pickle_is_refused(tmp_path: Path) -> None:
    make_ho3d(tmp_path)
    marker = tmp_path / "pwned"
    payload = {"handJoints3D": np.zeros((21, 3)), "camMat": np.eye(3), "x": _Exploit(marker)}
    (tmp_path / "train" / "ABF10" / "meta" / "0001.pkl").write_bytes(pickle.dumps(payload, protocol=2))
    ds = HO3DDataset(tmp_path)
    with pytest.raises(CorruptSampleError) as err:
        ds[1]
    assert isinstance(err.value.__cause__, UnsafePickleError)
    assert "system" in str(err.value)
    assert not marker.exists()
    check_sample(ds[2], "ho3d")  # the other samples still load


# ----------------------------------------------------------------------------- DexYCB


def make_dexycb(root: Path) -> dict:
    h, w = 48, 64
    serials = [SERIALS[0], SERIALS[3]]
    for n, serial in enumerate(serials):
        p = root / "calibration" / "intrinsics" / f"{serial}_640x480.yml"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(yaml.safe_dump({"color": {"fx": 60.0 + n, "fy": 61.0, "ppx": 32.0, "ppy": 24.0 + n},
                                     "depth": {"fx": 1.0, "fy": 1.0, "ppx": 0.0, "ppy": 0.0}}))
    truth = {}
    subj = root / SUBJECTS[0]
    for q in range(5):  # s0: sequences 0-3 train, 4 val/test
        seq = subj / f"20200709_14{q:04d}"
        seq.mkdir(parents=True)
        side = "left" if q % 2 == 0 else "right"
        (seq / "meta.yml").write_text(yaml.safe_dump({
            "serials": serials, "num_frames": 2, "ycb_ids": [5], "ycb_grasp_ind": 0,
            "mano_sides": [side], "mano_calib": ["20200709-subject-01_left"],
        }))
        for serial in SERIALS:
            for f in range(2):
                d = seq / serial
                if serial not in serials:
                    continue
                write_jpg(d / f"color_{f:06d}.jpg", h, w)
                if q == 1 and f == 1:  # frame without the hand
                    j3d = -np.ones((1, 21, 3), np.float32)
                    j2d = -np.ones((1, 21, 2), np.float32)
                else:
                    j = hand_joints((0.0, 0.0, 0.5), seed=q * 10 + f)
                    n = serials.index(serial)
                    K = np.array([[60.0 + n, 0, 32.0], [0, 61.0, 24.0 + n], [0, 0, 1]])
                    j3d = j[None]
                    j2d = project(j, K)[None]
                    truth[(q, serial, f)] = (j, j2d[0], side)
                np.savez(d / f"labels_{f:06d}.npz", seg=np.zeros((h, w), np.uint8),
                         pose_y=np.zeros((1, 3, 4), np.float32), pose_m=np.zeros((1, 51), np.float32),
                         joint_3d=j3d, joint_2d=j2d)
    return truth


def test_dexycb_s0_splits_sides_and_joints(tmp_path: Path) -> None:
    truth = make_dexycb(tmp_path)
    train = DexYCBDataset(tmp_path, split="train", setup="s0")
    val = DexYCBDataset(tmp_path, split="val", setup="s0")
    test = DexYCBDataset(tmp_path, split="test", setup="s0")
    assert len(train) == 4 * 2 * 2 and len(val) == 1 * 2 * 2 and len(test) == 0  # subject 01 is not in s0 test
    sides_seen = set()
    for i in range(len(train)):
        s = train[i]
        check_sample(s, "dexycb")
        seq_dir, serial, f, _ = train.frames[i]
        q = int(seq_dir.name[-4:])
        if (q, serial, f) not in truth:
            assert s.hands == []  # joint_3d == -1: no hand in this frame
            continue
        j, j2d, side = truth[(q, serial, f)]
        (hand,) = s.hands
        assert hand.side == (LEFT if side == "left" else RIGHT)
        sides_seen.add(hand.side)
        np.testing.assert_allclose(hand.joints_3d + hand.cam_t, j, atol=1e-6)
        np.testing.assert_allclose(hand.joints_2d, j2d, atol=1e-4)
        np.testing.assert_allclose(project(hand.joints_3d + hand.cam_t, s.K), hand.joints_2d, atol=1e-3)
        n = [SERIALS[0], SERIALS[3]].index(serial)
        np.testing.assert_allclose(s.K, [[60.0 + n, 0, 32.0], [0, 61.0, 24.0 + n], [0, 0, 1]])
    assert sides_seen == {LEFT, RIGHT}
    assert sum(len(train[i].hands) == 0 for i in range(len(train))) == 2  # one hand-less frame x 2 serials


def test_dexycb_corrupt_label_raises(tmp_path: Path) -> None:
    make_dexycb(tmp_path)
    ds = DexYCBDataset(tmp_path, split="val")
    seq_dir, serial, f, _ = ds.frames[0]
    (seq_dir / serial / f"labels_{f:06d}.npz").write_bytes(b"garbage")
    with pytest.raises(CorruptSampleError):
        ds[0]
    check_sample(ds[1], "dexycb")


# ----------------------------------------------------------------------------- HInt


def make_hint(root: Path) -> np.ndarray:
    kp = project(hand_joints((0.0, 0.0, 0.5)), np.array([[300.0, 0, 160], [0, 300, 120], [0, 0, 1]]))
    occ = np.zeros(21, int)
    occ[[3, 4, 8]] = 1
    for folder, stem in (("TEST_newdays_img", "ND_1_5pHBcVhuU_frame008373_r"),
                         ("TEST_epick_img", "EK_0064_P03_10_frame_0000000249_l")):
        write_jpg(root / folder / f"{stem}.jpg", 240, 320)
        ann = [{"keypoints": kp.tolist(), "bbox": [[100.0, 60.0, 220.0, 190.0]], "occlusion": occ.tolist()}]
        (root / folder / f"{stem}.json").write_text(json.dumps(ann))
    (root / "TEST_ego4d_img").mkdir()
    (root / "TEST_ego4d_img" / "abc_123_pre_frame_l.json").write_text("[]")  # Ego4D frame not extracted
    write_jpg(root / "TRAIN_newdays_img" / "ND_x_r.jpg", 240, 320)
    (root / "TRAIN_newdays_img" / "ND_x_r.json").write_text(json.dumps([{"keypoints": kp.tolist(), "is_right": False}]))
    return kp


def test_hint_json_sides_boxes_and_occlusion_modes(tmp_path: Path) -> None:
    kp = make_hint(tmp_path)
    ds = HIntDataset(tmp_path, split="test")
    assert len(ds) == 2 and ds.num_missing_images == 1
    by_key = {ds[i].key: ds[i] for i in range(len(ds))}
    right = by_key["TEST_newdays_img/ND_1_5pHBcVhuU_frame008373_r"]
    left = by_key["TEST_epick_img/EK_0064_P03_10_frame_0000000249_l"]
    for s in (right, left):
        check_sample(s, "hint")
        np.testing.assert_allclose(s.hands[0].box, [100, 60, 220, 190])
        np.testing.assert_allclose(s.hands[0].joints_2d, kp, atol=1e-4)
        assert s.hands[0].visibility.sum() == 21 and s.hands[0].joints_3d is None
        np.testing.assert_allclose(s.K, [[320, 0, 160], [0, 320, 120], [0, 0, 1]])
    assert right.hands[0].side == RIGHT and left.hands[0].side == LEFT
    vis = HIntDataset(tmp_path, split="test", subsets=["newdays"], joints="visible")
    occ = HIntDataset(tmp_path, split="test", subsets=["newdays"], joints="occluded")
    assert len(vis) == 1
    np.testing.assert_array_equal(np.nonzero(vis[0].hands[0].visibility == 0)[0], [3, 4, 8])
    np.testing.assert_array_equal(np.nonzero(occ[0].hands[0].visibility)[0], [3, 4, 8])
    # explicit is_right overrides the file-name suffix; no bbox -> padded box around the joints
    train = HIntDataset(tmp_path, split="train")
    hand = train[0].hands[0]
    assert hand.side == LEFT
    assert hand.box[0] < kp[:, 0].min() and hand.box[2] > kp[:, 0].max()


def test_hint_malformed_json_raises(tmp_path: Path) -> None:
    make_hint(tmp_path)
    (tmp_path / "TEST_newdays_img" / "ND_1_5pHBcVhuU_frame008373_r.json").write_text("[{\"keypoints\": [1, 2")
    ds = HIntDataset(tmp_path, split="test", subsets=("newdays",))
    with pytest.raises(CorruptSampleError):
        ds[0]


def test_hint_hamer_npz_groups_rows_per_image(tmp_path: Path) -> None:
    img_dir = tmp_path / "TEST_ego4d_img"
    write_jpg(img_dir / "a.jpg", 240, 320)
    write_jpg(img_dir / "b.jpg", 240, 320)
    kp = np.zeros((3, 21, 3), np.float32)
    kp[:, :, :2] = np.linspace(50, 150, 42).reshape(21, 2)
    kp[:, :, 2] = 1.0
    kp[0, 5, 2] = 0.0
    np.savez(tmp_path / "TEST_ego4d_img_all.npz", imgname=np.array(["a.jpg", "a.jpg", "b.jpg"]),
             center=np.array([[100.0, 100], [200, 120], [160, 120]]), scale=np.array([40.0, 60.0, 50.0]),
             right=np.array([1.0, 0.0, 1.0]), hand_keypoints_2d=kp,
             extra_info=np.array([{"n": 1}, {"n": 2}, {"n": 3}], dtype=object))
    ds = HIntNpzDataset(tmp_path / "TEST_ego4d_img_all.npz", img_dir)
    assert len(ds) == 2
    a = ds[0]
    check_sample(a, "hint")
    assert [h.side for h in a.hands] == [RIGHT, LEFT]
    np.testing.assert_allclose(a.hands[0].box, [80, 80, 120, 120])
    np.testing.assert_allclose(a.hands[1].box, [170, 90, 230, 150])
    assert a.hands[0].visibility[5] == 0 and a.hands[0].visibility.sum() == 20


# ----------------------------------------------------------------------------- COCO-WholeBody


def test_coco_wholebody_hands_per_image(tmp_path: Path) -> None:
    kp = np.zeros((21, 3))
    kp[:, 0] = np.linspace(12, 30, 21)
    kp[:, 1] = np.linspace(10, 20, 21)
    kp[:, 2] = 2
    kp[[0, 7], 2] = 0  # not annotated
    kp[[0, 7], :2] = 0
    kp[9, 2] = 1
    zeros = [0.0] * 63
    anns = [
        {"id": 1, "image_id": 1, "iscrowd": 0, "lefthand_valid": True, "lefthand_box": [10, 8, 22, 14],
         "lefthand_kpts": kp.ravel().tolist(), "righthand_valid": True, "righthand_box": [30, 20, 10, 12],
         "righthand_kpts": (kp + [20, 10, 0]).ravel().tolist()},
        {"id": 2, "image_id": 1, "iscrowd": 0, "lefthand_valid": False, "lefthand_box": [0, 0, 0, 0],
         "lefthand_kpts": kp.ravel().tolist(), "righthand_valid": True, "righthand_box": [1, 1, 5, 5],
         "righthand_kpts": zeros},
        {"id": 3, "image_id": 2, "iscrowd": 1, "lefthand_valid": True, "lefthand_box": [1, 1, 5, 5],
         "lefthand_kpts": kp.ravel().tolist(), "righthand_valid": False, "righthand_box": [0, 0, 0, 0],
         "righthand_kpts": zeros},
        {"id": 4, "image_id": 3, "iscrowd": 0, "lefthand_valid": False, "lefthand_box": [0, 0, 0, 0],
         "lefthand_kpts": zeros, "righthand_valid": True, "righthand_box": [0, 0, 0, 0],
         "righthand_kpts": kp.ravel().tolist()},
    ]
    images = [{"id": i, "file_name": f"{i:012d}.jpg", "height": 48, "width": 64} for i in (1, 2, 3)]
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "coco_wholebody_val_v1.0.json").write_text(
        json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}))
    for i in (1, 2, 3):
        write_jpg(tmp_path / "val2017" / f"{i:012d}.jpg", 48, 64)
    ds = COCOWholeBodyDataset(tmp_path, split="val")
    assert len(ds) == 2  # image 2 has only a crowd annotation
    s = ds[0]
    check_sample(s, "coco_wholebody")
    assert s.key == "000000000001.jpg" and [h.side for h in s.hands] == [LEFT, RIGHT]
    np.testing.assert_allclose(s.hands[0].box, [10, 8, 32, 22])
    np.testing.assert_allclose(s.hands[1].box, [30, 20, 40, 32])
    np.testing.assert_allclose(s.hands[0].joints_2d, kp[:, :2])
    np.testing.assert_array_equal(np.nonzero(s.hands[0].visibility == 0)[0], [0, 7])
    np.testing.assert_allclose(s.K, [[64, 0, 32], [0, 64, 24], [0, 0, 1]])
    assert not ds.intrinsics_known
    # an empty hand box falls back to the padded box of the annotated keypoints (x 12-30, y 10-20)
    vis = kp[:, 2] > 0
    x0, y0 = kp[vis, :2].min(0)
    x1, y1 = kp[vis, :2].max(0)
    pad = 0.1 * np.array([x1 - x0, y1 - y0])
    np.testing.assert_allclose(ds[1].hands[0].box, [x0 - pad[0], y0 - pad[1], x1 + pad[0], y1 + pad[1]], atol=1e-4)
    assert len(COCOWholeBodyDataset(tmp_path, split="val", keep_empty=True)) == 3


# ----------------------------------------------------------------------------- OneHand10K


def make_onehand10k(root: Path) -> np.ndarray:
    root.mkdir(parents=True, exist_ok=True)
    joints = np.stack([np.linspace(22, 38, 21), np.linspace(12, 28, 21)], axis=1)
    joints[3] = -1
    d = root / "Train"
    write_jpg(d / "source" / "1.jpg", 48, 64)
    write_jpg(d / "source" / "2.jpg", 48, 64)
    mask = np.zeros((48, 64), np.uint8)
    mask[10:30, 20:40] = 255
    (d / "mask").mkdir(parents=True)
    Image.fromarray(mask).save(d / "mask" / "1.png")
    lines = [",".join(["1.jpg", "64", "48", "1"] + [f"{v:g}" for v in joints.ravel()]),
             ",".join(["2.jpg", "64", "48", "1"] + [f"{v:g}" for v in joints.ravel()])]
    (d / "label_joint.txt").write_text("\n".join(lines) + "\n")
    return joints


def test_onehand10k_label_joint_and_mask_box(tmp_path: Path) -> None:
    joints = make_onehand10k(tmp_path)
    ds = OneHand10KDataset(tmp_path, split="train")
    assert len(ds) == 2
    a, b = ds[0], ds[1]
    for s in (a, b):
        check_sample(s, "onehand10k")
        (hand,) = s.hands
        assert hand.side == -1 and hand.visibility[3] == 0 and hand.visibility.sum() == 20
        np.testing.assert_allclose(hand.joints_2d[[0, 20]], joints[[0, 20]])
    np.testing.assert_allclose(a.hands[0].box, [20, 10, 40, 30])  # from the mask
    vis = np.arange(21) != 3
    x0, y0 = joints[vis].min(0)
    x1, y1 = joints[vis].max(0)
    np.testing.assert_allclose(b.hands[0].box, [x0 - 1.6, y0 - 1.6, x1 + 1.6, y1 + 1.6], atol=1e-4)  # 10 % pad
    with pytest.raises(ValueError):
        OneHand10KDataset(tmp_path, split="val")


# ----------------------------------------------------------------------------- mixed


def test_build_dataset_from_yaml_mixes_loaders(tmp_path: Path) -> None:
    make_freihand(tmp_path / "FreiHAND")
    make_onehand10k(tmp_path / "OneHand10K")
    cfg = {"datasets": [{"type": "freihand", "root": "FreiHAND", "split": "training", "versions": ["gs"]},
                        {"type": "onehand10k", "root": "OneHand10K", "split": "train"}]}
    (tmp_path / "mix.yaml").write_text(yaml.safe_dump(cfg))
    ds = load_dataset_config(tmp_path / "mix.yaml")
    assert isinstance(ds, ConcatDataset) and len(ds) == 3 + 2
    assert [ds[i].source for i in range(len(ds))] == ["freihand"] * 3 + ["onehand10k"] * 2
    (tmp_path / "one.yaml").write_text(yaml.safe_dump({"type": "onehand10k", "root": "OneHand10K"}))
    assert isinstance(load_dataset_config(tmp_path / "one.yaml"), OneHand10KDataset)
    same = build_dataset([{"type": "onehand10k", "root": str(tmp_path / "OneHand10K")}])
    assert isinstance(same, OneHand10KDataset)
    with pytest.raises(ValueError, match="unknown dataset type"):
        build_dataset({"type": "imagenet", "root": "x"})


def test_build_dataset_reports_a_missing_loader_module(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # loader modules are imported only when their type is requested (the synthetic one lives elsewhere)
    monkeypatch.setitem(DATASET_TYPES, "synthetic", ("handos_model.data._not_written_yet", "SyntheticDataset"))
    make_onehand10k(tmp_path)
    assert len(build_dataset({"type": "onehand10k", "root": str(tmp_path)})) == 2
    with pytest.raises(ImportError, match="dataset type 'synthetic' needs handos_model.data._not_written_yet"):
        build_dataset({"type": "synthetic", "root": str(tmp_path)})
