"""``HandModel``: an articulated RIGHT hand with linear blend skinning (numpy and torch).

Conventions: see ``hand_model`` (the loaders of the open hand and of MANO files live there).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .pose_sampling import sample_articulation
from .rotations import rodrigues_np, rodrigues_torch
from .topology import KEYPOINT_OF_JOINT, HandTopology


@dataclass(eq=False)
class HandModel:
    """Right-hand LBS model. Arrays are numpy float32 unless stated otherwise.

    Attributes:
        name: model name (``"handos_open_hand_v1"`` or ``"mano"``).
        template: (V, 3) rest vertices.
        faces: (F, 3) int64, outward-oriented right-hand triangles.
        joint_regressor: (21, V) rows summing to 1 (keypoint order, tips included).
        weights: (V, 16) LBS weights over the 16 articulated joints.
        parents: (16,) int64 kinematic tree (-1 for the wrist).
        joint_frames: (16, 3, 3) rest frames (columns: flexion, abduction, twist axes).
        joint_limits: (16, 3, 2) [min, max] radians of the pose components.
        shapedirs: (V, 3, S) linear shape blend shapes.
        posedirs: (P, V*3) pose correctives on ``(A_j - I)`` of joints 1..15 (MANO only) or None.
        posedirs_order: (15,) which of our joints feeds each 9-block of ``posedirs``.
        shape_names: names of the S shape coefficients.
        shape_range: (S, 2) sensible sampling range of each coefficient.
    """

    name: str
    template: np.ndarray
    faces: np.ndarray
    joint_regressor: np.ndarray
    weights: np.ndarray
    parents: np.ndarray
    joint_frames: np.ndarray
    joint_limits: np.ndarray
    shapedirs: np.ndarray
    posedirs: np.ndarray | None = None
    posedirs_order: np.ndarray | None = None
    shape_names: tuple[str, ...] = ()
    shape_range: np.ndarray | None = None
    _torch_cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.template = np.asarray(self.template, np.float32)
        self.faces = np.asarray(self.faces, np.int64)
        self.joint_regressor = np.asarray(self.joint_regressor, np.float32)
        self.weights = np.asarray(self.weights, np.float32)
        self.parents = np.asarray(self.parents, np.int64)
        self.joint_frames = np.asarray(self.joint_frames, np.float32)
        self.joint_limits = np.asarray(self.joint_limits, np.float32)
        self.shapedirs = np.asarray(self.shapedirs, np.float32)
        if self.shape_range is None:
            self.shape_range = np.tile(np.array([[-2.0, 2.0]], np.float32), (self.num_shape, 1))
        # joint order must be topological (parents before children)
        assert all(self.parents[j] < j for j in range(1, 16)) and self.parents[0] == -1

    # ------------------------------------------------------------------ properties
    @property
    def num_vertices(self) -> int:
        return int(self.template.shape[0])

    @property
    def num_shape(self) -> int:
        return int(self.shapedirs.shape[-1])

    @property
    def topology(self) -> HandTopology:
        """The package-wide contract (``skinning_weights_21``: weights remapped to keypoints)."""
        w21 = np.zeros((self.num_vertices, 21), np.float32)
        w21[:, KEYPOINT_OF_JOINT] = self.weights
        w21 /= np.maximum(w21.sum(1, keepdims=True), 1e-12)
        return HandTopology(
            name=self.name,
            template=self.template.copy(),
            faces=self.faces.copy(),
            joint_regressor=self.joint_regressor.copy(),
            skinning_weights_21=w21,
        )

    def rest_joints(self, shape: np.ndarray | None = None) -> np.ndarray:
        """(21, 3) rest keypoints (not wrist-relative) of the template or of ``shape`` (S,)."""
        v = self.template if shape is None else self.template + self.shapedirs @ np.asarray(shape, np.float32)
        return self.joint_regressor @ v

    # ------------------------------------------------------------------ forward
    def forward(self, pose, shape=None):
        """pose (B, 16, 3) [, shape (B, S)] -> (vertices (B, V, 3), joints (B, 21, 3)).

        numpy in -> numpy out (float32); torch in -> torch out (differentiable, on pose's device).
        Outputs are wrist-relative, metres, right hand.
        """
        if isinstance(pose, torch.Tensor):
            return self.forward_torch(pose, shape)
        return self.forward_numpy(pose, shape)

    __call__ = forward

    def _rel_rotations_np(self, pose: np.ndarray) -> np.ndarray:
        F = self.joint_frames.astype(np.float64)
        R = rodrigues_np(pose.astype(np.float64))
        return F @ R @ np.swapaxes(F, -1, -2)

    def forward_numpy(self, pose: np.ndarray, shape: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        pose = np.asarray(pose, np.float64)
        squeeze = pose.ndim == 2
        if squeeze:
            pose = pose[None]
        B = pose.shape[0]
        v = np.broadcast_to(self.template.astype(np.float64), (B, self.num_vertices, 3))
        if shape is not None:
            shape = np.asarray(shape, np.float64).reshape(B, -1)
            v = v + np.einsum("vcs,bs->bvc", self.shapedirs.astype(np.float64), shape)
        reg16 = self.joint_regressor[KEYPOINT_OF_JOINT].astype(np.float64)
        J = np.einsum("jv,bvc->bjc", reg16, v)  # (B, 16, 3)
        A = self._rel_rotations_np(pose)  # (B, 16, 3, 3)
        if self.posedirs is not None:
            feat = (A[:, self.posedirs_order] - np.eye(3)).reshape(B, -1)
            v = v + (feat @ self.posedirs.astype(np.float64)).reshape(B, -1, 3)
        G = np.zeros((B, 16, 4, 4))
        G[:, :, 3, 3] = 1.0
        G[:, 0, :3, :3] = A[:, 0]
        G[:, 0, :3, 3] = J[:, 0]
        for j in range(1, 16):
            p = self.parents[j]
            local = np.zeros((B, 4, 4))
            local[:, :3, :3] = A[:, j]
            local[:, :3, 3] = J[:, j] - J[:, p]
            local[:, 3, 3] = 1.0
            G[:, j] = G[:, p] @ local
        # remove rest joint positions: skinning transforms
        G[:, :, :3, 3] -= np.einsum("bjmn,bjn->bjm", G[:, :, :3, :3], J)
        T = np.einsum("vj,bjmn->bvmn", self.weights.astype(np.float64), G[:, :, :3, :])  # (B, V, 3, 4)
        verts = np.einsum("bvmn,bvn->bvm", T[..., :3], v) + T[..., 3]
        joints = np.einsum("kv,bvc->bkc", self.joint_regressor.astype(np.float64), verts)
        wrist = joints[:, :1]
        verts = (verts - wrist).astype(np.float32)
        joints = (joints - wrist).astype(np.float32)
        joints[:, 0] = 0.0
        if squeeze:
            return verts[0], joints[0]
        return verts, joints

    def _t(self, name: str, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        key = (name, str(device), dtype)
        if key not in self._torch_cache:
            arr = self.joint_regressor[KEYPOINT_OF_JOINT] if name == "reg16" else getattr(self, name)
            self._torch_cache[key] = torch.as_tensor(np.ascontiguousarray(arr), dtype=dtype, device=device)
        return self._torch_cache[key]

    def forward_torch(self, pose: torch.Tensor, shape: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        squeeze = pose.dim() == 2
        if squeeze:
            pose = pose[None]
        dev, dt = pose.device, pose.dtype
        B = pose.shape[0]
        v = self._t("template", dev, dt).expand(B, -1, -1)
        if shape is not None:
            shape = shape.reshape(B, -1).to(dt)
            v = v + torch.einsum("vcs,bs->bvc", self._t("shapedirs", dev, dt), shape)
        J = torch.einsum("jv,bvc->bjc", self._t("reg16", dev, dt), v)
        F = self._t("joint_frames", dev, dt)
        A = F @ rodrigues_torch(pose) @ F.transpose(-1, -2)
        if self.posedirs is not None:
            order = torch.as_tensor(self.posedirs_order, device=dev)
            feat = (A[:, order] - torch.eye(3, dtype=dt, device=dev)).reshape(B, -1)
            v = v + (feat @ self._t("posedirs", dev, dt)).reshape(B, -1, 3)
        Rs = [A[:, 0]]
        ts = [J[:, 0]]
        for j in range(1, 16):
            p = int(self.parents[j])
            Rs.append(Rs[p] @ A[:, j])
            ts.append(ts[p] + (Rs[p] @ (J[:, j] - J[:, p])[..., None])[..., 0])
        R = torch.stack(Rs, 1)  # (B, 16, 3, 3)
        t = torch.stack(ts, 1) - (R @ J[..., None])[..., 0]
        W = self._t("weights", dev, dt)
        Rv = torch.einsum("vj,bjmn->bvmn", W, R)
        tv = torch.einsum("vj,bjm->bvm", W, t)
        verts = (Rv @ v[..., None])[..., 0] + tv
        joints = torch.einsum("kv,bvc->bkc", self._t("joint_regressor", dev, dt), verts)
        wrist = joints[:, :1]
        verts = verts - wrist
        joints = joints - wrist
        if squeeze:
            return verts[0], joints[0]
        return verts, joints

    # ------------------------------------------------------------------ left hands
    @staticmethod
    def mirror_left(vertices):
        """Right-hand points (..., 3) -> left-hand points: negate x (numpy or torch).

        Faces stay the right hand's; on a left hand they are inward-oriented.
        """
        if isinstance(vertices, torch.Tensor):
            out = vertices.clone()
        else:
            out = np.array(vertices, copy=True)
        out[..., 0] = -out[..., 0]
        return out

    # ------------------------------------------------------------------ sampling
    def clip_pose(self, pose: np.ndarray) -> np.ndarray:
        """Clip (..., 16, 3) articulation to the joint limits (joint 0, the global orientation, untouched)."""
        pose = np.array(pose, dtype=np.float32, copy=True)
        lo, hi = self.joint_limits[1:, :, 0], self.joint_limits[1:, :, 1]
        pose[..., 1:, :] = np.clip(pose[..., 1:, :], lo, hi)
        return pose

    def within_limits(self, pose: np.ndarray, tol: float = 1e-5) -> np.ndarray:
        """(..., 16, 3) -> (...,) bool: every articulated component inside its limits."""
        p = np.asarray(pose)[..., 1:, :]
        lo, hi = self.joint_limits[1:, :, 0], self.joint_limits[1:, :, 1]
        return np.all((p >= lo - tol) & (p <= hi + tol), axis=(-1, -2))

    def sample_shape(self, rng: np.random.Generator, n: int | None = None, std: float = 0.7) -> np.ndarray:
        """Shape coefficients (S,) or (n, S): clipped normal within ``shape_range``."""
        size = (self.num_shape,) if n is None else (n, self.num_shape)
        beta = rng.normal(0.0, std, size=size)
        return np.clip(beta, self.shape_range[:, 0], self.shape_range[:, 1]).astype(np.float32)

    def sample_pose(
        self,
        rng: np.random.Generator,
        kind: str | None = None,
        global_orient: bool = False,
        n: int | None = None,
    ) -> np.ndarray:
        """Random articulation within the joint limits: (16, 3), or (n, 16, 3) if ``n``.

        ``kind`` in POSE_KINDS (open palm, relaxed, natural grasp, fist, pointing, peace,
        pinch, random per-joint); None picks one at random. Joint 0 is zero unless
        ``global_orient`` (then a uniformly random rotation).
        """
        if n is not None:
            return np.stack([self.sample_pose(rng, kind, global_orient) for _ in range(n)])
        return self.clip_pose(sample_articulation(rng, self.joint_limits, kind, global_orient))
