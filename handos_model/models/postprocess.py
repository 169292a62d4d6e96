"""Network outputs -> ``HandPrediction`` per image, in original-image pixels and metres.

Uses the last decoder layer. 2D quantities are mapped back from the network input
with ``Letterbox.to_image``; 3D quantities are already metric in the camera frame
(``t`` is decoded with the network-input K, which is the real camera's K scaled by
the letterbox), so vertices/joints become absolute by adding ``t``. Left/right
comes from the mesh normals (paper Sec. 3.5, ``hand.handedness.side_from_normals``).
"""

from __future__ import annotations

import numpy as np
from torch import Tensor

from ..data.transforms import Letterbox
from ..hand.handedness import side_from_normals
from ..prediction import HandPrediction


def _side_from_normals(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    side, conf = side_from_normals(vertices, faces)
    return np.asarray(side).reshape(-1), np.asarray(conf, dtype=np.float32).reshape(-1)


def postprocess(outputs: dict, letterboxes: list[Letterbox], faces: np.ndarray) -> list[list[HandPrediction]]:
    """
    Args:
        outputs: ``HandOS.forward`` output in inference mode (``instance_batch_index`` (K,),
            ``instance_scores`` (K,), ``instance_boxes`` (K, 4) normalised ``cxcywh``, per-layer lists),
            torch tensors or numpy arrays (the ONNX Runtime backend's).
        letterboxes: one ``Letterbox`` per image of the batch.
        faces: (F, 3) hand-model faces (right-hand orientation).

    Returns:
        per image, a list of ``HandPrediction`` sorted by descending score. A 2D-stage model
        (no 3D outputs) returns zero 3D fields, ``joints_2d_proj = joints_2d`` and ``side = -1``.
    """
    size = float(outputs["image_size"])
    bidx = _np(outputs["instance_batch_index"], np.int64)
    scores = _np(outputs["instance_scores"])
    cx, cy, w, h = np.moveaxis(_np(outputs["instance_boxes"]).reshape(-1, 4), -1, 0)
    boxes = np.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], axis=-1) * np.float32(size)
    j2d = _last(outputs["pred_joints_2d"])
    k = len(bidx)
    has_3d = len(outputs.get("pred_vertices", [])) > 0
    if has_3d:
        verts = _last(outputs["pred_vertices"])
        j3d = _last(outputs["pred_joints_3d"])
        cam_t = _last(outputs["pred_cam_t"])
        jproj = _last(outputs["pred_joints_proj"])
        if k:
            sides, confs = _side_from_normals(verts, np.asarray(faces))
        else:
            sides, confs = np.zeros(0, np.int64), np.zeros(0, np.float32)
    results: list[list[HandPrediction]] = [[] for _ in letterboxes]
    for i in range(k):
        b = int(bidx[i])
        lb = letterboxes[b]
        joints_2d = lb.to_image(j2d[i])
        if has_3d:
            t = cam_t[i].astype(np.float32)
            pred = HandPrediction(
                score=float(scores[i]),
                box=lb.to_image(boxes[i].reshape(2, 2)).reshape(4),
                joints_2d=joints_2d,
                joints_2d_proj=lb.to_image(jproj[i]),
                joints_3d=(j3d[i] + t[None]).astype(np.float32),
                vertices=(verts[i] + t[None]).astype(np.float32),
                cam_t=t,
                side=int(sides[i]),
                side_confidence=float(confs[i]),
            )
        else:
            pred = HandPrediction(
                score=float(scores[i]),
                box=lb.to_image(boxes[i].reshape(2, 2)).reshape(4),
                joints_2d=joints_2d,
                joints_2d_proj=joints_2d.copy(),
                joints_3d=np.zeros((j2d.shape[1], 3), np.float32),
                vertices=np.zeros((0, 3), np.float32),
                cam_t=np.zeros(3, np.float32),
                side=-1,
                side_confidence=0.5,
            )
        results[b].append(pred)
    for preds in results:
        preds.sort(key=lambda p: -p.score)
    return results


def _np(x: Tensor | np.ndarray, dtype: type = np.float32) -> np.ndarray:
    if isinstance(x, Tensor):
        x = (x.detach().float() if x.is_floating_point() else x.detach()).cpu().numpy()
    return np.asarray(x, dtype=dtype)


def _last(per_layer: list[Tensor | np.ndarray]) -> np.ndarray:
    return _np(per_layer[-1])
