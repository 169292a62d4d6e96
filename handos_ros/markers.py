"""RViz markers of one HandMeshArray: mesh, skeleton, joints and a label per hand.

Per hand (marker id = track id, one namespace per kind, frame_id = the image's optical
frame, stamp = the image's stamp):

- ``mesh``      TRIANGLE_LIST, 3 points per face, coloured by side (left blue, right orange);
  a left hand's faces are re-wound so RViz lights its outside (the topology's winding is
  the right hand's);
- ``skeleton``  LINE_LIST, one segment per bone (joint -> parent);
- ``joints``    SPHERE_LIST of the 21 joints;
- ``label``     TEXT_VIEW_FACING "right #3 0.87" (side, track id, score) above the wrist.

Hands that vanished get DELETE markers (all four namespaces) in the next array, so stale
markers never stay in RViz; :meth:`HandMarkers.clear` returns a DELETEALL.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from handos_ros.msg import HandMesh

NAMESPACES = ("mesh", "skeleton", "joints", "label")
SIDE_NAMES = {HandMesh.LEFT: "left", HandMesh.RIGHT: "right"}
SIDE_COLORS = {
    HandMesh.LEFT: (0.20, 0.55, 1.00),
    HandMesh.RIGHT: (1.00, 0.55, 0.10),
}


def _points(xyz: np.ndarray) -> list[Point]:
    return [Point(x=x, y=y, z=z) for x, y, z in np.asarray(xyz, dtype=np.float64).reshape(-1, 3).tolist()]


def _color(side: int, alpha: float) -> ColorRGBA:
    r, g, b = SIDE_COLORS.get(side, (0.8, 0.8, 0.8))
    return ColorRGBA(r=r, g=g, b=b, a=alpha)


def _marker_id(track_id: int) -> int:
    return int(track_id) % (1 << 31)  # Marker.id is int32


class HandMarkers:
    """Builds MarkerArrays and remembers which hands it drew, to delete vanished ones."""

    def __init__(self, faces: np.ndarray, joint_parents: Sequence[int]) -> None:
        """faces: (F, 3) right-hand triangles; joint_parents: 21 parents (-1 for the root)."""
        self.faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
        self.faces_left = self.faces[:, [0, 2, 1]]
        self.bones = np.array([(j, p) for j, p in enumerate(joint_parents) if p >= 0], dtype=np.int64)
        self._drawn: set[int] = set()

    def clear(self, header: Header) -> MarkerArray:
        """A DELETEALL (e.g. when the node deactivates)."""
        self._drawn.clear()
        m = Marker(header=header, action=Marker.DELETEALL)
        return MarkerArray(markers=[m])

    def build(self, header: Header, hands: Sequence[HandMesh]) -> MarkerArray:
        """Markers of ``hands`` (frame and stamp from ``header``) plus DELETEs for vanished ids."""
        out = MarkerArray()
        current = {_marker_id(h.id) for h in hands}
        for gone in sorted(self._drawn - current):
            for ns in NAMESPACES:
                out.markers.append(Marker(header=header, ns=ns, id=gone, action=Marker.DELETE))
        for hand in hands:
            out.markers.extend(self._hand_markers(header, hand))
        self._drawn = current
        return out

    def _base(self, header: Header, ns: str, hand: HandMesh, kind: int) -> Marker:
        m = Marker(header=header, ns=ns, id=_marker_id(hand.id), type=kind, action=Marker.ADD)
        m.pose.orientation.w = 1.0
        m.lifetime = Duration(sec=0, nanosec=0)
        m.frame_locked = False
        return m

    def _hand_markers(self, header: Header, hand: HandMesh) -> list[Marker]:
        side = int(hand.side)
        markers: list[Marker] = []
        verts = np.frombuffer(hand.vertices, dtype=np.float32).reshape(-1, 3) if len(hand.vertices) else None
        if verts is not None and len(self.faces) and int(self.faces.max()) < len(verts):
            mesh = self._base(header, "mesh", hand, Marker.TRIANGLE_LIST)
            mesh.scale.x = mesh.scale.y = mesh.scale.z = 1.0
            mesh.color = _color(side, 0.85)
            handedness = int(hand.side_observed) or side  # the vertices' own handedness (UNKNOWN: the track's)
            faces = self.faces_left if handedness == HandMesh.LEFT else self.faces
            mesh.points = _points(verts[faces])
            markers.append(mesh)
        joints = np.asarray(hand.joints_3d, dtype=np.float32).reshape(21, 3)
        skel = self._base(header, "skeleton", hand, Marker.LINE_LIST)
        skel.scale.x = 0.004  # line width, metres
        skel.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
        skel.points = _points(joints[self.bones.reshape(-1)])
        markers.append(skel)
        spheres = self._base(header, "joints", hand, Marker.SPHERE_LIST)
        spheres.scale.x = spheres.scale.y = spheres.scale.z = 0.008
        spheres.color = _color(side, 1.0)
        spheres.points = _points(joints)
        markers.append(spheres)
        label = self._base(header, "label", hand, Marker.TEXT_VIEW_FACING)
        label.pose.position.x = float(joints[0, 0])
        label.pose.position.y = float(joints[0, 1]) - 0.03  # optical frame: -y is up
        label.pose.position.z = float(joints[0, 2])
        label.scale.z = 0.02  # text height, metres
        label.color = _color(side, 1.0)
        label.text = f"{SIDE_NAMES.get(side, '?')} #{hand.id} {hand.score:.2f}"
        markers.append(label)
        return markers
