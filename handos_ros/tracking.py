"""Stable hand ids across frames: greedy box-IoU association.

Each frame's boxes are matched to the live tracks by descending IoU (greedy, one box per
track, IoU >= ``iou_threshold``); unmatched boxes start new tracks with fresh ids; a track
not matched for more than ``max_age`` consecutive processed frames is forgotten. Ids are
unique within a frame by construction and never reused while the node runs (uint32,
wrapping after 2^32 tracks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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


@dataclass
class _Track:
    id: int
    box: np.ndarray
    missed: int = 0


class IouTracker:
    """Greedy IoU tracker; :meth:`update` returns one id per box, in input order."""

    def __init__(self, iou_threshold: float = 0.3, max_age: int = 5) -> None:
        self.iou_threshold = float(iou_threshold)
        self.max_age = int(max_age)
        self._tracks: list[_Track] = []
        self._next_id = 0

    def reset(self) -> None:
        """Forget all tracks (e.g. when the stream's time jumps backwards). Ids stay unique."""
        self._tracks = []

    @property
    def live_ids(self) -> list[int]:
        return [t.id for t in self._tracks]

    def update(self, boxes: np.ndarray) -> list[int]:
        """Associate ``boxes`` (N, 4) with the live tracks; returns N ids."""
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        n = len(boxes)
        ids: list[int | None] = [None] * n
        matched_tracks: set[int] = set()
        if n and self._tracks:
            iou = box_iou(boxes, np.stack([t.box for t in self._tracks]))
            order = np.argsort(-iou, axis=None, kind="stable")
            for flat in order:
                i, j = divmod(int(flat), len(self._tracks))
                if iou[i, j] < self.iou_threshold:
                    break
                if ids[i] is not None or j in matched_tracks:
                    continue
                ids[i] = self._tracks[j].id
                matched_tracks.add(j)
                self._tracks[j].box = boxes[i].copy()
                self._tracks[j].missed = 0
        survivors = []
        for j, track in enumerate(self._tracks):
            if j not in matched_tracks:
                track.missed += 1
                if track.missed > self.max_age:
                    continue
            survivors.append(track)
        self._tracks = survivors
        for i in range(n):
            if ids[i] is None:
                new_id = self._next_id
                self._next_id = (self._next_id + 1) % (1 << 32)
                ids[i] = new_id
                self._tracks.append(_Track(id=new_id, box=boxes[i].copy()))
        return [int(i) for i in ids]  # type: ignore[arg-type]
