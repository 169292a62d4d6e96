"""Finger joint angles from 21 3D keypoints (pure numpy; used by the ROS node and model-side tests).

Convention (also documented in msg/HandMesh.msg):

* Input: the 21 keypoints in MANO / FreiHAND order, metres, in any right-handed frame (the
  angles do not depend on it), and whether the hand is a left hand. A left hand is mirrored
  (x -> -x) into a right hand first, so every sign below means the same thing for both sides.
* Palm frame (the node's ``wrist_pose`` frame): x = wrist -> middle-finger MCP, z = palm normal
  pointing out of the palm, y = z cross x.
* Zero is the open hand's rest pose: palm flat, fingers straight and slightly spread, thumb at
  rest beside the palm (``REST_KEYPOINTS``). Each joint has a neutral frame there (columns:
  flexion axis, abduction axis, bone direction), built by ``skeleton.joint_frames`` exactly as
  the hand model builds its own.
* Each joint's rotation from its neutral frame (carried along the finger by the joints before
  it) is split into swing and twist; the swing is a rotation vector in the frame's
  flexion-abduction plane, and its two components are the joint's flexion and abduction. For the
  hand model's poses these are its pose parameters (flexion = ``pose[j, 0]``, abduction =
  ``pose[j, 1]``) where the joint has no twist.
* Flexion (15 values, radians): positive curls the finger towards the palm, negative is
  hyperextension; thumb CMC: positive moves the thumb across the palm towards the little finger.
* Abduction (5 values, radians, at the four MCP joints and the thumb CMC): positive towards the
  thumb side (radial) for the four fingers; for the thumb, positive lifts it out of the palm's
  plane on the palmar side (palmar abduction).
* Twist about a bone is not observable from keypoints and is not reported.

The thumb's CMC twist (up to ~35 degrees in the hand model) tilts its MCP and IP hinges without
moving the CMC bone: it is estimated as the twist (from a bounded grid) under which the MCP and
IP bones move least sideways. Values are NaN where the keypoints are degenerate (coincident or
non-finite).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .skeleton import joint_frames

FLEXION_NAMES: tuple[str, ...] = (
    "thumb_cmc", "thumb_mcp", "thumb_ip",
    "index_mcp", "index_pip", "index_dip",
    "middle_mcp", "middle_pip", "middle_dip",
    "ring_mcp", "ring_pip", "ring_dip",
    "little_mcp", "little_pip", "little_dip",
)
ABDUCTION_NAMES: tuple[str, ...] = ("thumb_cmc", "index_mcp", "middle_mcp", "ring_mcp", "little_mcp")

# Rest keypoints of the open hand (handos_open_hand_v1, mean shape), wrist-relative metres, hand
# frame (test_joint_angles checks them against the packaged asset).
REST_KEYPOINTS = np.array([
    [0.0, 0.0, 0.0],
    [0.0214, 0.0250, 0.0060], [0.0509, 0.0519, 0.0194], [0.0681, 0.0759, 0.0287], [0.0802, 0.0995, 0.0358],
    [0.0295, 0.0839, 0.0], [0.0336, 0.1228, 0.0], [0.0360, 0.1462, 0.0], [0.0382, 0.1670, 0.0],
    [0.0085, 0.0879, 0.0], [0.0093, 0.1320, 0.0], [0.0097, 0.1595, 0.0], [0.0101, 0.1810, 0.0],
    [-0.0125, 0.0834, 0.0], [-0.0154, 0.1244, 0.0], [-0.0172, 0.1508, 0.0], [-0.0187, 0.1718, 0.0],
    [-0.0315, 0.0749, 0.0], [-0.0371, 0.1065, 0.0], [-0.0404, 0.1257, 0.0], [-0.0438, 0.1449, 0.0],
])

WRIST, INDEX_MCP, MIDDLE_MCP, LITTLE_MCP = 0, 5, 9, 17
# keypoints of each finger's chain: base joint (CMC / MCP) then the next three keypoints
FINGER_KEYPOINTS = ((1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (17, 18, 19, 20))
# the 16-joint model index of each finger's three articulated joints
FINGER_JOINTS = ((1, 2, 3), (4, 5, 6), (7, 8, 9), (10, 11, 12), (13, 14, 15))


@dataclass(frozen=True)
class JointAngles:
    """``flexion`` (15,) in FLEXION_NAMES order and ``abduction`` (5,) in ABDUCTION_NAMES order, radians."""

    flexion: np.ndarray
    abduction: np.ndarray


def _unit(v: np.ndarray) -> np.ndarray | None:
    n = float(np.linalg.norm(v))
    if not np.isfinite(n) or n < 1e-9:
        return None
    return v / n


def palm_frame(joints: np.ndarray) -> np.ndarray | None:
    """(3, 3) rotation, columns = palm x, y, z (see the module docstring) of a RIGHT hand's (21, 3)
    keypoints; None if degenerate."""
    j = np.asarray(joints, np.float64)
    x = _unit(j[MIDDLE_MCP] - j[WRIST])
    if x is None:
        return None
    normal = np.cross(j[INDEX_MCP] - j[WRIST], j[LITTLE_MCP] - j[WRIST])
    z = _unit(normal - np.dot(normal, x) * x)
    if z is None:
        return None
    return np.stack([x, np.cross(z, x), z], axis=1)


def _neutral_frames() -> np.ndarray:
    """(16, 3, 3) neutral joint frames of REST_KEYPOINTS expressed in the rest palm frame."""
    P = palm_frame(REST_KEYPOINTS)
    assert P is not None
    return np.einsum("ba,jbc->jac", P, joint_frames(REST_KEYPOINTS))


NEUTRAL_FRAMES = _neutral_frames()


def _rotations(axis_angle: np.ndarray) -> np.ndarray:
    """Rodrigues: (..., 3) rotation vectors -> (..., 3, 3)."""
    w = np.asarray(axis_angle, np.float64)
    theta = np.linalg.norm(w, axis=-1)[..., None, None]
    k = w / np.maximum(theta[..., 0], 1e-12)
    K = np.zeros(w.shape[:-1] + (3, 3))
    K[..., 0, 1], K[..., 0, 2], K[..., 1, 2] = -k[..., 2], k[..., 1], -k[..., 0]
    K[..., 1, 0], K[..., 2, 0], K[..., 2, 1] = k[..., 2], -k[..., 1], k[..., 0]
    return np.eye(3) + np.sin(theta) * K + (1.0 - np.cos(theta)) * (K @ K)


def swing(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(flexion, abduction) of unit bone directions ``u`` (..., 3) given in their neutral joint frame.

    The smallest rotation taking the neutral bone direction e_z onto ``u`` is a rotation vector
    in the frame's x-y plane (the swing of a swing-twist decomposition); flexion is its x
    (flexion axis) component, abduction its y (abduction axis) component.
    """
    u = np.asarray(u, np.float64)
    theta = np.arccos(np.clip(u[..., 2], -1.0, 1.0))
    s = np.hypot(u[..., 0], u[..., 1])
    scale = np.where(s > 1e-12, theta / np.maximum(s, 1e-12), 1.0)
    return -u[..., 1] * scale, u[..., 0] * scale


_THUMB_TWISTS = np.linspace(-0.8, 0.8, 33)  # candidate thumb CMC twists (radians)
_TWIST_PRIOR = 0.05  # prefers no twist where the thumb's bones do not show one


def _chain(bones: list[np.ndarray], jts: tuple[int, ...], twists: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Swing (flexion, abduction), each (T, 3), of a finger's three bones along its chain, for T
    twists of the base joint about its own bone (the twist moves the joints after it, not its bone)."""
    T = len(twists)
    R = np.broadcast_to(np.eye(3), (T, 3, 3))  # rotation of the chain so far (palm -> current)
    fl_out, ab_out = np.zeros((T, 3)), np.zeros((T, 3))
    for k, (jt, bone) in enumerate(zip(jts, bones, strict=True)):
        F = NEUTRAL_FRAMES[jt]
        frame = R @ F
        fl, ab = swing(np.einsum("tba,b->ta", frame, bone))
        fl_out[:, k], ab_out[:, k] = fl, ab
        local = _rotations(np.stack([fl, ab, np.zeros(T)], axis=-1))
        if k == 0:
            local = local @ _rotations(np.outer(twists, [0.0, 0.0, 1.0]))
        R = frame @ local @ F.T
    return fl_out, ab_out


def joint_angles(joints_3d: np.ndarray, left: bool) -> JointAngles:
    """Flexion (15) and abduction (5) of a hand's (21, 3) keypoints (see the module docstring).

    Args:
        joints_3d: (21, 3) or (63,) keypoints, metres, any right-handed frame.
        left: True for a left hand (mirrored to a right hand before measuring).
    """
    j = np.asarray(joints_3d, np.float64).reshape(21, 3).copy()
    flex = np.full(15, np.nan)
    abd = np.full(5, np.nan)
    if not np.all(np.isfinite(j)):
        return JointAngles(flex, abd)
    if left:
        j[:, 0] = -j[:, 0]
    P = palm_frame(j)
    if P is None:
        return JointAngles(flex, abd)
    local = (j - j[WRIST]) @ P  # palm coordinates
    for f, (kps, jts) in enumerate(zip(FINGER_KEYPOINTS, FINGER_JOINTS, strict=True)):
        bones = [_unit(local[kps[i + 1]] - local[kps[i]]) for i in range(3)]
        if any(b is None for b in bones):
            continue
        twists = _THUMB_TWISTS if f == 0 else np.zeros(1)
        fl, ab = _chain(bones, jts, twists)
        # thumb: its CMC twist (up to ~35 degrees) tilts the MCP / IP hinges and does not show in
        # the CMC bone's direction: take the twist whose hinges leave the least sideways motion
        best = int(np.argmin(ab[:, 1] ** 2 + ab[:, 2] ** 2 + _TWIST_PRIOR * twists**2))
        flex[3 * f:3 * f + 3] = fl[best]
        abd[f] = ab[best, 0]
    return JointAngles(flex, abd)
