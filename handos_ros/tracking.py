"""Stable, side-aware hand ids across frames (ROS-free, numpy + scipy).

Every processed frame, :meth:`HandTracker.update` matches the frame's hands to the live tracks
with one optimal assignment (Hungarian, ``scipy.optimize.linear_sum_assignment``) on a cost that
adds, for a hand i and a track j:

- position: ``1 - IoU`` of the hand's box and the track's box *predicted* for this frame
  (constant velocity of the box centre, so crossing hands keep moving apart in the prediction),
  plus the distance of the box centres in units of the track's box size, which grows by
  ``MISSED_GROWTH`` per frame the track went unseen; each the better of the prediction and the
  track's last box (a hand that stops or turns back is where it was);
- pose: the mean distance of the 2D joints, each hand's joints taken relative to its box centre
  and divided by its box size (an open hand and a fist in the same place differ);
- side: ``SIDE_COST`` when the hand's observed side is not the track's;
- continuity: minus ``PREFERRED_BONUS`` for the tracks the caller prefers (the operator's hands),
  so that a duplicate box of the same hand does not steal the hand from its track.

A pair is allowed only if IoU >= ``iou_threshold`` or the centre distance <= ``max_distance``
box sizes (the gate), and a hand takes a track only if that costs less than ``NEW_TRACK_COST``,
the price of starting a new track (so a track does not grab a poor match, e.g. a duplicate box
of the other hand at a crossing, just because the assignment could pair it). Hands left
unmatched start new tracks with fresh ids (never reused while
the node runs; uint32, wrapping after 2^32 tracks); a track not matched for more than
``max_age`` consecutive processed frames is forgotten.

Side hysteresis: a track takes the side of its first hand and changes it only after
``side_frames`` consecutive matched frames that all observe the other side; ``side_flipped``
tells the caller (the temporal filter restarts: a left and a right mesh do not average).
Sides are the model's: 0 = left, 1 = right.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

LEFT, RIGHT = 0, 1
SIDE_COST = 0.6
POSE_WEIGHT = 1.0
PREFERRED_BONUS = 0.3
NEW_TRACK_COST = 1.5
MISSED_GROWTH = 0.5
_BLOCKED = 1e6
# centre / size velocity: exponential average of per-second displacement
_VELOCITY_GAIN = 0.6


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of boxes ``a`` (N, 4) and ``b`` (M, 4) in ``[x0, y0, x1, y1]`` -> (N, M)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return np.nan_to_num(iou)


def _cs(box: np.ndarray) -> np.ndarray:
    """[x0, y0, x1, y1] -> [cx, cy, w, h]."""
    b = np.asarray(box, np.float64).reshape(4)
    return np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2, max(b[2] - b[0], 1e-6), max(b[3] - b[1], 1e-6)])


def _box(cs: np.ndarray) -> np.ndarray:
    return np.array([cs[0] - cs[2] / 2, cs[1] - cs[3] / 2, cs[0] + cs[2] / 2, cs[1] + cs[3] / 2])


def _pose_shape(joints_2d: np.ndarray, cs: np.ndarray) -> np.ndarray:
    """2D joints relative to the box centre, in box sizes (21, 2)."""
    return (np.asarray(joints_2d, np.float64).reshape(-1, 2) - cs[:2]) / max(cs[2], cs[3])


@dataclass
class Observation:
    """What the tracker reads of one hand: box (4,) pixels, 2D joints (21, 2) pixels, side 0/1."""

    box: np.ndarray
    joints_2d: np.ndarray
    side: int


@dataclass
class Assignment:
    """The tracker's answer for one hand (same order as the observations)."""

    track_id: int
    side: int  # the track's side after hysteresis (0 left, 1 right)
    age: int  # frames this track has been matched, this one included
    new: bool  # the track started with this hand
    side_flipped: bool  # the track's side changed at this frame


@dataclass
class _Track:
    id: int
    cs: np.ndarray  # last box as centre + size
    shape: np.ndarray  # last pose shape (21, 2)
    side: int
    t: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # of the box centre, pixels per second
    missed: int = 0
    age: int = 1
    against: int = 0  # consecutive matched frames observing the other side

    def predicted(self, t: float) -> np.ndarray:
        cs = self.cs.copy()  # the size is not extrapolated (merged boxes at a crossing would shrink it to nothing)
        cs[:2] += self.velocity * max(t - self.t, 0.0)
        return cs


class HandTracker:
    """Side-aware tracker (see the module docstring); :meth:`update` once per processed frame."""

    def __init__(self, iou_threshold: float = 0.3, max_age: int = 5, side_frames: int = 3,
                 max_distance: float = 1.0) -> None:
        self.iou_threshold = float(iou_threshold)
        self.max_age = int(max_age)
        self.side_frames = int(side_frames)
        self.max_distance = float(max_distance)
        self._tracks: list[_Track] = []
        self._next_id = 0
        self.lost: list[int] = []  # ids forgotten at the last update
        self.matched: set[int] = set()  # ids matched at the last update

    def reset(self) -> None:
        """Forget all tracks (e.g. when the stream's time jumps backwards). Ids stay unique."""
        self.lost = [t.id for t in self._tracks]
        self._tracks = []

    @property
    def live_ids(self) -> list[int]:
        return [t.id for t in self._tracks]

    def _track(self, track_id: int) -> _Track | None:
        for t in self._tracks:
            if t.id == track_id:
                return t
        return None

    def track_side(self, track_id: int) -> int | None:
        track = self._track(track_id)
        return None if track is None else track.side

    def near(self, track_id: int, other_id: int, t: float) -> bool:
        """Whether track ``other_id``'s last box passes the gate of track ``track_id``'s box
        predicted for time ``t`` (the same hand, seen by another track)."""
        a, b = self._track(track_id), self._track(other_id)
        if a is None or b is None:
            return False
        pred = a.predicted(t)
        iou = box_iou(_box(pred)[None], _box(b.cs)[None])[0, 0]
        dist = float(np.hypot(*(b.cs[:2] - pred[:2]))) / max(pred[2], pred[3])
        return bool(iou >= self.iou_threshold or dist <= self.max_distance)

    def _cost(self, obs: list[Observation], cs: list[np.ndarray], t: float, prefer: set[int]) -> np.ndarray:
        n, m = len(obs), len(self._tracks)
        boxes = np.stack([_box(c) for c in cs])
        # position: the better of the constant-velocity prediction and the last box (a hand that
        # stops or turns back is near where it was, a crossing hand near where it was heading)
        places = [[tr.predicted(t), tr.cs] for tr in self._tracks]
        iou = np.maximum(*(box_iou(boxes, np.stack([_box(p[k]) for p in places])) for k in (0, 1)))
        cost = np.full((n, m), _BLOCKED)
        for i in range(n):
            for j, tr in enumerate(self._tracks):
                size = max(tr.cs[2], tr.cs[3]) * (1.0 + MISSED_GROWTH * tr.missed)  # less sure while unseen
                dist = min(float(np.hypot(*(cs[i][:2] - p[:2]))) for p in places[j]) / size
                if iou[i, j] < self.iou_threshold and dist > self.max_distance:
                    continue
                pose = float(np.mean(np.linalg.norm(_pose_shape(obs[i].joints_2d, cs[i]) - tr.shape, axis=1)))
                cost[i, j] = ((1.0 - iou[i, j]) + dist + POSE_WEIGHT * pose + SIDE_COST * (obs[i].side != tr.side)
                              - PREFERRED_BONUS * (tr.id in prefer))
        return cost

    def update(self, observations: list[Observation], t: float, prefer: set[int] | None = None) -> list[Assignment]:
        """Associate this frame's hands (taken at time ``t``, seconds) with the tracks; one
        :class:`Assignment` per observation, in order. ``prefer``: ids that win ties (see above)."""
        n = len(observations)
        cs = [_cs(o.box) for o in observations]
        out: list[Assignment | None] = [None] * n
        matched: set[int] = set()
        if n and self._tracks:
            cost = self._cost(observations, cs, t, prefer or set())
            new = np.full((n, n), _BLOCKED)
            np.fill_diagonal(new, NEW_TRACK_COST)  # column m + i: hand i starts a new track
            rows, cols = linear_sum_assignment(np.concatenate([cost, new], axis=1))
            for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
                if j >= len(self._tracks) or cost[i, j] >= _BLOCKED:
                    continue
                matched.add(j)
                out[i] = self._follow(self._tracks[j], observations[i], cs[i], t)
        survivors: list[_Track] = []
        self.lost = []
        for j, track in enumerate(self._tracks):
            if j not in matched:
                track.missed += 1
                if track.missed > self.max_age:
                    self.lost.append(track.id)
                    continue
            survivors.append(track)
        self.matched = {self._tracks[j].id for j in matched}
        self._tracks = survivors
        for i in range(n):
            if out[i] is None:
                o = observations[i]
                track = _Track(id=self._next_id, cs=cs[i], shape=_pose_shape(o.joints_2d, cs[i]), side=int(o.side), t=t)
                self._next_id = (self._next_id + 1) % (1 << 32)
                self._tracks.append(track)
                out[i] = Assignment(track.id, track.side, 1, True, False)
        return [a for a in out if a is not None]

    def _follow(self, track: _Track, obs: Observation, cs: np.ndarray, t: float) -> Assignment:
        dt = t - track.t
        if dt > 0:
            v = (cs[:2] - track.cs[:2]) / dt
            track.velocity = v if track.age == 1 else track.velocity + _VELOCITY_GAIN * (v - track.velocity)
        track.cs, track.shape, track.t = cs, _pose_shape(obs.joints_2d, cs), t
        track.missed = 0
        track.age += 1
        flipped = False
        if int(obs.side) != track.side:
            track.against += 1
            if track.against >= self.side_frames:
                track.side, track.against, flipped = int(obs.side), 0, True
        else:
            track.against = 0
        return Assignment(track.id, track.side, track.age, False, flipped)
