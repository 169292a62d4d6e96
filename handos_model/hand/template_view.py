"""Orientation of the decoder's starting mesh: the hand model's rest pose, wrist at the origin,
optionally turned into the typical camera view (palm to the camera, fingers up)."""

from __future__ import annotations

import numpy as np

from .topology import HandTopology

# Orientation (camera axes) of the vertex head's starting mesh.
# "palm_to_camera": fingers up in the image (-y), palm towards the camera (-z): the typical view
#   of a hand held in front of a camera (and of the hand datasets), so the head starts from a mesh
#   whose projection already looks like a hand. From the hand model's own frame ("rest"; the open
#   hand's fingers point along +y, i.e. DOWN in the image) a CPU-sized schedule never learnt the
#   global orientation, and the projection loss then pushed the translation far away so that the
#   upside-down joints projected to one point (measured, docs/TRAINING.md "The 3D head").
# "rest": the hand model's own frame (the code default, so weights exported before the option
#   existed load unchanged; the shipped configs set "palm_to_camera").
TEMPLATE_VIEWS = ("palm_to_camera", "rest")


def palm_to_camera_rotation(joints: np.ndarray) -> np.ndarray:
    """(3, 3) rotation turning a right hand with (21, 3) ``joints`` (any model's frame) to face the
    camera: wrist -> middle MCP along -y (up in the image), palm normal
    ``(index MCP - wrist) x (little MCP - wrist)`` along -z (towards the camera)."""
    j = np.asarray(joints, np.float64)
    z = np.cross(j[5] - j[0], j[17] - j[0])
    z /= np.linalg.norm(z)
    y = j[9] - j[0]
    y -= (y @ z) * z
    y /= np.linalg.norm(y)
    hand = np.stack([np.cross(y, z), y, z], axis=1)  # columns: the hand's x, y, z in model axes
    return (np.diag([1.0, -1.0, -1.0]) @ hand.T).astype(np.float32)


def wrist_relative_template(topology: HandTopology, view: str = "rest") -> np.ndarray:
    """(V, 3) rest-pose vertices with the regressed wrist (keypoint 0) at the origin, in ``view``."""
    if view not in TEMPLATE_VIEWS:
        raise ValueError(f"unknown template view {view!r}; known: {TEMPLATE_VIEWS}")
    template = np.asarray(topology.template, np.float32)
    joints = np.asarray(topology.joint_regressor, np.float32) @ template
    template = template - joints[0][None]
    if view == "palm_to_camera":
        template = template @ palm_to_camera_rotation(joints).T
    return template.astype(np.float32)
