"""What the rest of the project needs to know about a hand model.

``HandTopology`` is the contract between the hand model (open procedural hand or
a user's MANO file, see ``hand_model.py``) and everything downstream: the decoder
takes its vertex count V and its lifting initialisation from here, the losses
take faces and the joint regressor, the ROS node publishes faces and joint names.

Keypoint order is MANO / FreiHAND (21 keypoints):
0 wrist; thumb 1-4 (CMC, MCP, IP, tip); index 5-8 (MCP, PIP, DIP, tip);
middle 9-12; ring 13-16; little 17-20.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

JOINT_NAMES: tuple[str, ...] = (
    "wrist",
    "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
    "index_mcp", "index_pip", "index_dip", "index_tip",
    "middle_mcp", "middle_pip", "middle_dip", "middle_tip",
    "ring_mcp", "ring_pip", "ring_dip", "ring_tip",
    "little_mcp", "little_pip", "little_dip", "little_tip",
)
NUM_KEYPOINTS = len(JOINT_NAMES)
FINGERTIPS = (4, 8, 12, 16, 20)

# The 16 articulated joints of a hand model (the keypoints without the fingertips: 0 wrist,
# 1-3 thumb CMC/MCP/IP, 4-6 index MCP/PIP/DIP, 7-9 middle, 10-12 ring, 13-15 little) -> keypoint index.
KEYPOINT_OF_JOINT = np.array([0, 1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15, 17, 18, 19], dtype=np.int64)

# Parent of each keypoint in the 21-keypoint skeleton (for drawing bones).
SKELETON_PARENTS: tuple[int, ...] = (
    -1,
    0, 1, 2, 3,
    0, 5, 6, 7,
    0, 9, 10, 11,
    0, 13, 14, 15,
    0, 17, 18, 19,
)


@dataclass(frozen=True)
class HandTopology:
    """Static arrays of a RIGHT hand model.

    Attributes:
        name: model name, e.g. ``"handos_open_hand_v1"`` or ``"mano"``.
        template: (V, 3) float32, rest-pose vertices in metres (right hand).
        faces: (F, 3) int64, outward-oriented (counter-clockwise seen from outside)
            triangles of the right hand. A left hand uses the same faces on
            mirrored vertices, which makes its normals point inward (paper Fig. 4).
        joint_regressor: (21, V) float32, rows sum to 1; J^3D = joint_regressor @ V
            in keypoint order.
        skinning_weights_21: (V, 21) float32, linear-blend-skinning weights
            expressed over the 21 keypoints (fingertip columns are zero, since
            fingertips are not articulated). Rows sum to 1. Used to initialise the
            paper's lifting matrix L.
    """

    name: str
    template: np.ndarray
    faces: np.ndarray
    joint_regressor: np.ndarray
    skinning_weights_21: np.ndarray

    @property
    def num_vertices(self) -> int:
        return int(self.template.shape[0])

    @property
    def num_faces(self) -> int:
        return int(self.faces.shape[0])
