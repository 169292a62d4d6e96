"""MANO loader: a MANO-layout pickle written here (with a fake chumpy) loads through the
restricted unpickler without chumpy; anything else is refused."""

from __future__ import annotations

import os
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from handos_model.hand.hand_model import load_hand_model
from handos_model.hand.mano import MANO_TIP_VERTICES, OURS_FROM_MANO, load_mano_dict
from handos_model.hand.safe_unpickle import UnsafePickleError, restricted_load
from handos_model.hand.topology import KEYPOINT_OF_JOINT

V_FAKE = 800
MANO_KINTREE = np.array([[4294967295, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14], list(range(16))], dtype=np.int64)


def _fake_chumpy_module() -> types.ModuleType:
    """A stand-in ``chumpy.ch`` whose Ch objects pickle like chumpy's (state dict with 'x')."""
    mod = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x: np.ndarray) -> None:
            self.x = x
            self._dirty_vars = {"x"}
            self._itr = None
            self._make_dense = False

        def __getstate__(self):
            return dict(self.__dict__)

    Ch.__module__ = "chumpy.ch"
    Ch.__qualname__ = "Ch"
    mod.Ch = Ch
    return mod


def _fake_mano(rng: np.random.Generator) -> dict:
    """Tiny MANO-layout model: a right hand's joints placed on known vertices."""
    hand = load_hand_model("open")
    rest = hand.rest_joints()
    v = rng.normal(0, 0.02, (V_FAKE, 3)) + np.array([0.0, 0.06, 0.0])
    # MANO joint m sits on vertex 100 + m; our keypoint order -> MANO order
    J = np.zeros((16, V_FAKE))
    for ours, mano in enumerate(OURS_FROM_MANO):
        v[100 + mano] = rest[KEYPOINT_OF_JOINT[ours]]
        J[mano, 100 + mano] = 1.0
    for name, k in zip(("thumb", "index", "middle", "ring", "little"), (4, 8, 12, 16, 20), strict=True):
        v[MANO_TIP_VERTICES[name]] = rest[k]
    weights = rng.uniform(size=(V_FAKE, 16))
    weights /= weights.sum(1, keepdims=True)
    faces = rng.integers(0, V_FAKE, size=(1538, 3)).astype(np.uint32)
    return {
        "v_template": v,
        "f": faces,
        "J_regressor": sp.csc_matrix(J),
        "weights": weights,
        "kintree_table": MANO_KINTREE,
        "posedirs": rng.normal(0, 1e-4, (V_FAKE, 3, 135)),
        "hands_components": rng.normal(size=(45, 45)),
        "hands_mean": rng.normal(size=45),
        "bs_type": "lrotmin",
        "bs_style": "lbs",
        "J": J @ v,
    }


def _write_fake_mano(path: Path, rng: np.random.Generator) -> dict:
    d = _fake_mano(rng)
    chumpy = types.ModuleType("chumpy")
    chmod = _fake_chumpy_module()
    saved = {k: sys.modules.get(k) for k in ("chumpy", "chumpy.ch")}
    sys.modules["chumpy"], sys.modules["chumpy.ch"] = chumpy, chmod
    try:
        shapedirs = rng.normal(0, 1e-3, (V_FAKE, 3, 10))
        d_pickled = dict(d, shapedirs=chmod.Ch(shapedirs))
        with open(path, "wb") as f:
            pickle.dump(d_pickled, f, protocol=2)
    finally:
        for k, m in saved.items():
            if m is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = m
    d["shapedirs"] = shapedirs
    return d


def test_fake_mano_loads_without_chumpy(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "MANO_RIGHT.pkl"
    ref = _write_fake_mano(path, rng)
    assert b"chumpy.ch" in path.read_bytes()
    assert "chumpy.ch" not in sys.modules or not hasattr(sys.modules["chumpy.ch"], "Ch")
    d = load_mano_dict(path)
    np.testing.assert_array_equal(d["shapedirs"], ref["shapedirs"])
    np.testing.assert_array_equal(d["J_regressor"], ref["J_regressor"].toarray())
    np.testing.assert_array_equal(d["v_template"], ref["v_template"])
    assert isinstance(d["shapedirs"], np.ndarray)


def test_fake_mano_model_joint_order(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    path = tmp_path / "MANO_RIGHT.pkl"
    ref = _write_fake_mano(path, rng)
    model = load_hand_model(path)
    assert model.name == "mano" and model.num_vertices == V_FAKE and model.num_shape == 10
    j21 = model.rest_joints()
    v = ref["v_template"]
    # 21-keypoint FreiHAND order: wrist, thumb (MANO 13-15), index (1-3), middle (4-6), ring (10-12), little (7-9)
    mano_of_keypoint = {0: 0, 1: 13, 2: 14, 3: 15, 5: 1, 6: 2, 7: 3, 9: 4, 10: 5, 11: 6,
                        13: 10, 14: 11, 15: 12, 17: 7, 18: 8, 19: 9}
    for k, m in mano_of_keypoint.items():
        np.testing.assert_allclose(j21[k], v[100 + m], atol=1e-7)
    for k, vid in zip((4, 8, 12, 16, 20), (744, 320, 443, 554, 671), strict=True):
        np.testing.assert_allclose(j21[k], v[vid], atol=1e-7)
    # kinematic tree in our order matches the skeleton
    np.testing.assert_array_equal(model.parents, [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14])
    # weights follow the reordering
    np.testing.assert_array_equal(model.weights[:, 1], ref["weights"][:, 13].astype(np.float32))
    # zero pose -> template (posedirs vanish at identity rotations), wrist-relative
    verts, joints = model.forward(np.zeros((16, 3), np.float32))
    np.testing.assert_allclose(verts, v - v[100], atol=1e-6)
    assert np.all(joints[0] == 0)
    # posed forward runs (posedirs permuted to our joint order) and stays finite
    pose = model.sample_pose(rng, kind="fist")
    verts, _ = model.forward(pose[None], np.zeros((1, 10), np.float32))
    assert np.isfinite(verts).all()


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_refuses_os_system(tmp_path: Path) -> None:
    path = tmp_path / "MANO_RIGHT.pkl"
    with open(path, "wb") as f:
        pickle.dump({"v_template": np.zeros((3, 3)), "evil": _Evil()}, f, protocol=2)
    with pytest.raises(UnsafePickleError) as err:
        restricted_load(path)
    msg = str(err.value)
    assert str(path) in msg and "system" in msg
    with pytest.raises(UnsafePickleError):
        load_hand_model(path)


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_refuses_other_globals(tmp_path: Path, protocol: int) -> None:
    path = tmp_path / "bad.pkl"
    with open(path, "wb") as f:
        pickle.dump({"x": np.arange(3), "mod": types.SimpleNamespace(a=1)}, f, protocol=protocol)
    with pytest.raises(UnsafePickleError, match="types.SimpleNamespace"):
        restricted_load(path)
    ok = tmp_path / "ok.pkl"
    with open(ok, "wb") as f:
        pickle.dump({"x": np.arange(3.0), "s": {1, 2}}, f, protocol=protocol)
    out = restricted_load(ok)
    np.testing.assert_array_equal(out["x"], np.arange(3.0))
