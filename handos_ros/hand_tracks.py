"""From one frame's HandPredictions to the operator's hands over time (ROS-free, numpy).

:class:`HandTracks` is what the node runs between the model and the messages, and what
``bench/smoothing.py`` measures:

1. :class:`~handos_ros.tracking.HandTracker`: stable ids, side with hysteresis;
2. per track, a :class:`~handos_ros.one_euro.OneEuroFilter` on the camera translation, on the
   joints and vertices relative to it, and on the 2D joints, the projected 2D joints and the box
   (2D speeds converted to metres at the hand's depth, so one ``beta`` serves all), restarted
   when the track starts or changes side, dropped when it is lost; the wrist pose and the joint
   angles are then computed from the filtered joints (by the caller);
3. the operator's hands: per side, one *primary* track, kept while it is seen and keeps its side
   (so ``<prefix>left`` does not hop between duplicate boxes of one hand); the tracker prefers the
   primary tracks in its assignment. A primary not seen in a frame (occluded, lost, or turned to
   the other side) hands over to a seen track of its side: one whose box lies where the primary
   was predicted (a duplicate box of the same hand) if there is one, else the longest-seen
   hand of that side in the frame; with no hand of that side in view it stays (a short occlusion
   keeps the id) until its track is lost. Two hands do not share one place: when this frame's
   left and right primaries overlap by box IoU >= ``SAME_PLACE_IOU`` (one hand whose side the
   model is unsure of, seen by two tracks), only the longer-seen one is flagged primary, and the
   other side is chosen afresh in the next frame.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from handos_model.prediction import HandPrediction
from handos_ros.one_euro import OneEuroFilter, OneEuroParams
from handos_ros.tracking import LEFT, RIGHT, HandTracker, Observation, box_iou

SAME_PLACE_IOU = 0.6


@dataclass(frozen=True)
class TrackingConfig:
    """The parameters of tracking and smoothing (the node's ``track_*`` / ``smoothing*``)."""

    iou_threshold: float = 0.3
    max_age: int = 5
    side_frames: int = 3
    max_distance: float = 1.0
    smoothing: bool = True
    filter: OneEuroParams = OneEuroParams()


@dataclass
class TrackedHand:
    """One hand of one frame after tracking and smoothing.

    ``prediction`` holds the (filtered, when smoothing is on) arrays; its ``side`` and
    ``side_confidence`` are this frame's observation (the mesh's own handedness), ``side`` here is
    the track's side after hysteresis.
    """

    track_id: int
    side: int  # 0 left, 1 right (track, after hysteresis)
    primary: bool  # the operator's hand of this side
    age: int
    prediction: HandPrediction


class _TrackFilters:
    """The One-Euro filters of one track."""

    def __init__(self, params: OneEuroParams) -> None:
        self.names = ("t", "joints", "vertices", "j2d", "j2d_proj", "box")
        self.f = {n: OneEuroFilter(params) for n in self.names}

    def set_params(self, params: OneEuroParams) -> None:
        for f in self.f.values():
            f.params = params

    def reset(self) -> None:
        for f in self.f.values():
            f.reset()

    def __call__(self, p: HandPrediction, t: float, fx: float) -> HandPrediction:
        cam_t = np.asarray(p.cam_t, np.float64).reshape(1, 3)
        t_f = self.f["t"](cam_t, t)
        joints = self.f["joints"](np.asarray(p.joints_3d, np.float64) - cam_t, t) + t_f
        verts = self.f["vertices"](np.asarray(p.vertices, np.float64) - cam_t, t) + t_f
        px_to_m = float(max(t_f[0, 2], 1e-3)) / max(fx, 1e-6)  # pixels -> metres at the hand's depth
        j2d = self.f["j2d"](np.asarray(p.joints_2d, np.float64), t, px_to_m)
        j2d_proj = self.f["j2d_proj"](np.asarray(p.joints_2d_proj, np.float64), t, px_to_m)
        box = self.f["box"](np.asarray(p.box, np.float64).reshape(2, 2), t, px_to_m).reshape(4)
        f32 = np.float32
        return replace(p, cam_t=t_f.reshape(3).astype(f32), joints_3d=joints.astype(f32), vertices=verts.astype(f32),
                       joints_2d=j2d.astype(f32), joints_2d_proj=j2d_proj.astype(f32), box=box.astype(f32))


class HandTracks:
    """Tracking, smoothing and primary selection for one camera stream (see the module docstring)."""

    def __init__(self, config: TrackingConfig = TrackingConfig()) -> None:
        self.config = config
        self.tracker = HandTracker(config.iou_threshold, config.max_age, config.side_frames, config.max_distance)
        self._filters: dict[int, _TrackFilters] = {}
        self.primary: dict[int, int | None] = {LEFT: None, RIGHT: None}

    def configure(self, config: TrackingConfig) -> None:
        """Apply new parameters (run-time): the tracker's gates, the filters' constants."""
        if config == self.config:
            return
        self.config = config
        tr = self.tracker
        tr.iou_threshold, tr.max_age = config.iou_threshold, config.max_age
        tr.side_frames, tr.max_distance = config.side_frames, config.max_distance
        for f in self._filters.values():
            f.set_params(config.filter)

    def reset(self) -> None:
        """Forget every track (stamps went backwards, cleanup)."""
        self.tracker.reset()
        self._filters.clear()
        self.primary = {LEFT: None, RIGHT: None}

    def update(self, preds: list[HandPrediction], t: float, K: np.ndarray) -> list[TrackedHand]:
        """One frame's predictions at time ``t`` (seconds, the image stamp) with intrinsics ``K``."""
        obs = [Observation(box=p.box, joints_2d=p.joints_2d, side=int(p.side)) for p in preds]
        prefer = {i for i in self.primary.values() if i is not None}
        assignments = self.tracker.update(obs, t, prefer)
        for lost in self.tracker.lost:
            self._filters.pop(lost, None)
        fx = float(np.asarray(K, np.float64).reshape(3, 3)[0, 0])
        hands: list[TrackedHand] = []
        for p, a in zip(preds, assignments, strict=True):
            filt = self._filters.get(a.track_id)
            if filt is None:
                filt = self._filters[a.track_id] = _TrackFilters(self.config.filter)
            if a.new or a.side_flipped:
                filt.reset()
            out = filt(p, t, fx) if self.config.smoothing else p
            if not self.config.smoothing:
                filt.reset()  # switching smoothing back on starts from the current frame
            hands.append(TrackedHand(track_id=a.track_id, side=a.side, primary=False, age=a.age, prediction=out))
        self._choose_primaries(hands, t)
        return hands

    def _choose_primaries(self, hands: list[TrackedHand], t: float) -> None:
        live = set(self.tracker.live_ids)
        for side in (LEFT, RIGHT):
            current = self.primary[side]
            if current is not None and (current not in live or self.tracker.track_side(current) != side):
                current = None  # lost, or now a hand of the other side
            if current is not None and current not in self.tracker.matched:
                seen = [h for h in hands if h.side == side]
                near = [h for h in seen if self.tracker.near(current, h.track_id, t)]
                if near or seen:  # a duplicate box of the same hand took it, or the hand is elsewhere now
                    current = max(near or seen, key=lambda h: (h.age, h.prediction.score)).track_id
            if current is None:
                candidates = [h for h in hands if h.side == side]
                if candidates:  # the longest-seen hand of that side (a duplicate box is younger)
                    current = max(candidates, key=lambda h: (h.age, h.prediction.score)).track_id
            self.primary[side] = current
        for h in hands:
            h.primary = self.primary[h.side] == h.track_id
        both = [h for h in hands if h.primary]
        if len(both) == 2 and box_iou(both[0].prediction.box[None], both[1].prediction.box[None])[0, 0] >= SAME_PLACE_IOU:
            weak = min(both, key=lambda h: (h.age, h.prediction.score))
            weak.primary = False
            self.primary[weak.side] = None  # a phantom does not hold its side for the next frames
