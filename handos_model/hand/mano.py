"""Load a user's official ``MANO_RIGHT.pkl`` as a :class:`HandModel`.

The file is never shipped or downloaded; users who have accepted the MANO licence
can point ``load_hand_model`` at it. Loading goes through ``safe_unpickle`` (no
arbitrary code, no chumpy needed).

Official layout (keys used): ``v_template`` (778, 3), ``f`` (1538, 3),
``J_regressor`` (16, 778) scipy sparse, ``weights`` (778, 16), ``kintree_table``
(2, 16), ``shapedirs`` (778, 3, 10) chumpy, ``posedirs`` (778, 3, 135); also present
and kept in the raw dict: ``hands_components``, ``hands_mean``, ``J``...

MANO orders its 16 joints wrist, index1-3, middle1-3, little1-3, ring1-3, thumb1-3;
we reorder them to wrist, thumb1-3, index1-3, middle1-3, ring1-3, little1-3 (the
21-keypoint FreiHAND order without tips) and add the fingertips as the vertices
{thumb 744, index 320, middle 443, ring 554, little 671}.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .lbs import HandModel
from .safe_unpickle import restricted_load
from .skeleton import JOINT_LIMITS, joint_frames
from .topology import KEYPOINT_OF_JOINT

MANO_TIP_VERTICES = {"thumb": 744, "index": 320, "middle": 443, "ring": 554, "little": 671}
# our joint j (wrist, thumb1-3, index1-3, middle1-3, ring1-3, little1-3) <- MANO joint
OURS_FROM_MANO = np.array([0, 13, 14, 15, 1, 2, 3, 4, 5, 6, 10, 11, 12, 7, 8, 9], dtype=np.int64)
MANO_PARENTS = np.array([-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14], dtype=np.int64)
REQUIRED_KEYS = ("v_template", "f", "J_regressor", "weights", "kintree_table", "shapedirs")


class ManoFormatError(ValueError):
    """The file unpickled safely but does not have the MANO layout."""


def load_mano_dict(path: str | Path) -> dict:
    """Restricted-unpickle a MANO pkl; chumpy arrays -> numpy, J_regressor -> dense numpy."""
    path = Path(path)
    raw = restricted_load(path)
    if not isinstance(raw, dict):
        raise ManoFormatError(f"{path}: expected a dict, got {type(raw).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise ManoFormatError(f"{path}: missing MANO keys {missing}")
    out = dict(raw)
    jr = raw["J_regressor"]
    out["J_regressor"] = np.asarray(jr.toarray() if hasattr(jr, "toarray") else jr, dtype=np.float64)
    for k in ("v_template", "weights", "shapedirs", "posedirs", "kintree_table", "f"):
        if k in out and out[k] is not None:
            out[k] = np.asarray(out[k])
    V = out["v_template"].shape[0]
    if V < 778 or out["J_regressor"].shape != (16, V) or out["weights"].shape != (V, 16):
        raise ManoFormatError(
            f"{path}: unexpected shapes v_template {out['v_template'].shape}, "
            f"J_regressor {out['J_regressor'].shape}, weights {out['weights'].shape}"
        )
    return out


def mano_regressor21(J_regressor16: np.ndarray, num_vertices: int) -> np.ndarray:
    """(16, V) MANO-order regressor -> (21, V) keypoint-order regressor with tip vertices."""
    reg = np.zeros((21, num_vertices))
    reg[KEYPOINT_OF_JOINT] = J_regressor16[OURS_FROM_MANO]
    for k, name in zip((4, 8, 12, 16, 20), ("thumb", "index", "middle", "ring", "little"), strict=True):
        reg[k, MANO_TIP_VERTICES[name]] = 1.0
    return reg


def load_mano_model(path: str | Path) -> HandModel:
    """A :class:`HandModel` (pose in our joint order and frames) from ``MANO_RIGHT.pkl``."""
    d = load_mano_dict(path)
    V = d["v_template"].shape[0]
    parents_mano = d["kintree_table"][0].astype(np.int64).copy()
    parents_mano[0] = -1
    if not np.array_equal(parents_mano, MANO_PARENTS):
        raise ManoFormatError(f"{path}: kintree_table {parents_mano.tolist()} is not MANO's")
    inv = np.argsort(OURS_FROM_MANO)  # MANO joint -> our joint
    parents = np.array([-1] + [int(inv[parents_mano[OURS_FROM_MANO[j]]]) for j in range(1, 16)])
    reg21 = mano_regressor21(d["J_regressor"], V)
    template = d["v_template"].astype(np.float64)
    rest21 = reg21 @ template
    posedirs = None
    order = None
    if d.get("posedirs") is not None:
        pd = np.asarray(d["posedirs"], np.float64)  # (V, 3, 135), features of MANO joints 1..15
        posedirs = pd.reshape(V * 3, -1).T.astype(np.float32)
        order = inv[np.arange(1, 16)]  # our joint index feeding MANO's k-th 9-block
    shapedirs = np.asarray(d["shapedirs"], np.float32)
    return HandModel(
        name="mano",
        template=template,
        faces=np.asarray(d["f"], np.int64),
        joint_regressor=reg21,
        weights=d["weights"][:, OURS_FROM_MANO],
        parents=parents,
        joint_frames=joint_frames(rest21),
        joint_limits=JOINT_LIMITS,
        shapedirs=shapedirs,
        posedirs=posedirs,
        posedirs_order=order,
        shape_names=tuple(f"beta{i}" for i in range(shapedirs.shape[-1])),
    )
