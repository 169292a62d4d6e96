"""Jitter and lag of the node's temporal filter (One-Euro, Casiez et al. 2012), with and without it.

The shipped model runs on two SyntheticCamera streams with exact ground truth (one easy hand,
640x480, sensor noise ``--noise`` in uint8 units, scene clock ``--fps``):

* still: ``motion="still"``: the hand holds its pose; only the per-frame sensor noise changes;
* moving: ``motion="keyframes"``: the hand moves and articulates between random keyframes.

Each stream's predictions (node defaults: score 0.3, NMS 0.9, max 4 hands) go through the node's
own :class:`handos_ros.hand_tracks.HandTracks` (tracking + smoothing + primary hand), the
smoothing off and on; the primary hand overlapping the true box is measured:

* jitter (still stream): the std over frames of the frame-to-frame change of the error
  (prediction - truth), pooled over joints and coordinates: 3D joints (mm), the wrist (mm),
  2D joints (px), joint angles (degrees);
* lag (moving stream): the delay tau (frames, 0.05 steps) minimising the RMS difference between
  the output at frame k and the unfiltered output at frame k - tau (linear interpolation), i.e.
  the lag the filter adds; also the moving hand's jitter (the same statistic: on a moving hand
  it mixes jitter with how the error drifts) and mean error.

The predictions are cached (``--cache``), so ``--grid`` re-scores parameter sets in seconds.

    python bench/smoothing.py --frames 90 --json bench/results/smoothing.json
    python bench/smoothing.py --cache out/smooth.npz --grid "0.5,2,1 1,4,1"
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handos_model.hand.joint_angles import joint_angles  # noqa: E402
from handos_model.synth.camera_stream import SyntheticCamera  # noqa: E402
from handos_ros.hand_tracks import HandTracks, TrackingConfig  # noqa: E402
from handos_ros.one_euro import OneEuroParams  # noqa: E402
from handos_ros.tracking import box_iou  # noqa: E402

SEED = 2024  # the right-hand easy stream of test_node_pipeline / bench/easy_frames
TAUS = np.arange(0.0, 6.0001, 0.05)


def record(motion: str, frames: int, fps: float, noise: float, threads: int) -> dict:
    """Run the model on ``frames`` frames of one stream; returns predictions + ground truth."""
    import torch

    from handos_model.checkpoint import load_model
    from handos_model.engine.evaluate import resolve_weights
    from handos_model.predictor import HandPredictor

    torch.set_num_threads(threads)
    predictor = HandPredictor(load_model(resolve_weights("default")).eval())
    cam = SyntheticCamera(SEED, width=640, height=480, fps=fps, easy=True, motion=motion, noise_sigma=noise)
    out: dict = {"preds": [], "gt": [], "K": cam.K, "fps": fps, "noise": noise}
    t0 = time.monotonic()
    for _ in range(frames):
        s = cam.next()
        out["preds"].append(predictor.predict(s.image, s.K, 0.3, 0.9, 4))
        h = s.hands[0]
        out["gt"].append({"box": np.asarray(h.box), "j3": np.asarray(h.joints_3d) + np.asarray(h.cam_t),
                          "j2": np.asarray(h.joints_2d), "side": int(h.side)})
    print(f"[smoothing] {motion}: {frames} frames in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    return out


def run(stream: dict, cfg: TrackingConfig) -> dict:
    """The primary hand matching the truth per frame (None where missing) after HandTracks."""
    tracks = HandTracks(cfg)
    j3, j2, ang, ids = [], [], [], []
    for k, (preds, gt) in enumerate(zip(stream["preds"], stream["gt"], strict=True)):
        hands = tracks.update(preds, k / stream["fps"], stream["K"])
        pick = None
        for h in hands:
            if h.primary and box_iou(h.prediction.box[None], gt["box"][None])[0, 0] >= 0.3:
                pick = h
        if pick is None:
            j3.append(None), j2.append(None), ang.append(None), ids.append(None)
            continue
        p = pick.prediction
        a = joint_angles(p.joints_3d, left=int(p.side) == 0)
        j3.append(np.asarray(p.joints_3d, np.float64))
        j2.append(np.asarray(p.joints_2d, np.float64))
        ang.append(np.concatenate([a.flexion, a.abduction]))
        ids.append(pick.track_id)
    return {"j3": j3, "j2": j2, "ang": ang, "ids": ids}


def _valid(xs: list) -> np.ndarray:
    return np.array([x is not None for x in xs])


def jitter(out: list, truth: list) -> float:
    """Std of the frame-to-frame change of the error, over consecutive frames both present."""
    diffs = []
    for k in range(1, len(out)):
        if out[k] is None or out[k - 1] is None:
            continue
        diffs.append((out[k] - truth[k]) - (out[k - 1] - truth[k - 1]))
    if not diffs:
        return float("nan")
    d = np.stack(diffs)
    return float(np.sqrt(np.mean(np.var(d, axis=0))))


def delay(out: list, ref: list) -> float:
    """Delay (frames) of ``out`` behind ``ref``: argmin over tau of RMS(out[k] - ref(k - tau))."""
    ok = _valid(out) & _valid(ref)
    if ok.sum() < 10:
        return float("nan")
    idx = np.flatnonzero(ok)
    o = np.stack([out[i] for i in idx]).reshape(len(idx), -1)
    r_all = np.stack([ref[i] if ref[i] is not None else np.full_like(ref[idx[0]], np.nan) for i in range(len(ref))])
    r_all = r_all.reshape(len(ref), -1)
    best, best_tau = np.inf, float("nan")
    for tau in TAUS:
        src = idx - tau
        lo = np.floor(src).astype(int)
        keep = (lo >= 0) & (lo + 1 < len(ref))
        if keep.sum() < 10:
            continue
        w = (src - lo)[keep, None]
        r = (1 - w) * r_all[lo[keep]] + w * r_all[lo[keep] + 1]
        d = o[keep] - r
        d = d[np.all(np.isfinite(d), axis=1)]
        if len(d) < 10:
            continue
        rms = float(np.sqrt(np.mean(d**2)))
        if rms < best:
            best, best_tau = rms, float(tau)
    return best_tau


def mean_err(out: list, truth: list) -> float:
    e = [np.linalg.norm(o - t, axis=-1).mean() for o, t in zip(out, truth, strict=True) if o is not None]
    return float(np.mean(e)) if e else float("nan")


def score(still: dict, moving: dict, params: OneEuroParams) -> dict:
    res: dict = {"params": vars(params) if hasattr(params, "__dict__") else params.__dict__}
    raw = {name: run(s, TrackingConfig(smoothing=False)) for name, s in (("still", still), ("moving", moving))}
    flt = {name: run(s, TrackingConfig(smoothing=True, filter=params)) for name, s in (("still", still), ("moving", moving))}
    t3 = {n: [g["j3"] for g in s["gt"]] for n, s in (("still", still), ("moving", moving))}
    t2 = {n: [g["j2"] for g in s["gt"]] for n, s in (("still", still), ("moving", moving))}
    for tag, r in (("raw", raw), ("filtered", flt)):
        st, mv = r["still"], r["moving"]
        res[tag] = {
            "jitter_joints3d_mm": 1e3 * jitter(st["j3"], t3["still"]),
            "jitter_wrist_mm": 1e3 * jitter([None if x is None else x[0] for x in st["j3"]],
                                            [x[0] for x in t3["still"]]),
            "jitter_joints2d_px": jitter(st["j2"], t2["still"]),
            "jitter_angles_deg": float(np.degrees(jitter(st["ang"], [np.zeros(20)] * len(st["ang"])))),
            "still_frames_measured": int(_valid(st["j3"]).sum()),
            "still_track_ids": sorted({i for i in st["ids"] if i is not None}),
            "jitter_moving_joints3d_mm": 1e3 * jitter(mv["j3"], t3["moving"]),
            "jitter_moving_joints2d_px": jitter(mv["j2"], t2["moving"]),
            "moving_err_joints3d_mm": 1e3 * mean_err(mv["j3"], t3["moving"]),
            "moving_err_joints2d_px": mean_err(mv["j2"], t2["moving"]),
            "moving_frames_measured": int(_valid(mv["j3"]).sum()),
            "moving_track_ids": sorted({i for i in mv["ids"] if i is not None}),
        }
    f, r = flt, raw
    res["lag_added_frames"] = {
        "joints3d": delay(f["moving"]["j3"], r["moving"]["j3"]),
        "wrist": delay([None if x is None else x[:1] for x in f["moving"]["j3"]],
                       [None if x is None else x[:1] for x in r["moving"]["j3"]]),
        "joints2d": delay(f["moving"]["j2"], r["moving"]["j2"]),
        "angles": delay(f["moving"]["ang"], r["moving"]["ang"]),
    }
    res["jitter_cut"] = {k: res["raw"][k] / res["filtered"][k] for k in res["raw"] if k.startswith("jitter_")}
    res["track_ids"] = {"still": flt["still"]["ids"], "moving": flt["moving"]["ids"]}
    return res


def table(res: dict) -> str:
    raw, flt = res["raw"], res["filtered"]
    rows = [("jitter, 3D joints (mm)", "jitter_joints3d_mm"), ("jitter, wrist (mm)", "jitter_wrist_mm"),
            ("jitter, 2D joints (px)", "jitter_joints2d_px"), ("jitter, joint angles (deg)", "jitter_angles_deg"),
            ("moving: jitter, 3D joints (mm)", "jitter_moving_joints3d_mm"),
            ("moving: jitter, 2D joints (px)", "jitter_moving_joints2d_px"),
            ("moving: mean 3D joint error (mm)", "moving_err_joints3d_mm"),
            ("moving: mean 2D joint error (px)", "moving_err_joints2d_px")]
    lines = ["| | raw | One-Euro | ratio |", "|---|---|---|---|"]
    for label, key in rows:
        ratio = raw[key] / flt[key] if flt[key] else float("nan")
        lines.append(f"| {label} | {raw[key]:.3f} | {flt[key]:.3f} | {ratio:.2f} |")
    lag = res["lag_added_frames"]
    lines.append("| lag added (frames): 3D joints / wrist / 2D joints / angles | | "
                 f"{lag['joints3d']:.2f} / {lag['wrist']:.2f} / {lag['joints2d']:.2f} / {lag['angles']:.2f} | |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=90, help="frames per stream")
    ap.add_argument("--fps", type=float, default=30.0, help="scene clock of the streams (processed frames per s)")
    ap.add_argument("--noise", type=float, default=2.0, help="sensor noise std, uint8 units")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache", help="pickle of the recorded predictions (written if absent, read if present)")
    ap.add_argument("--grid", help="space-separated MIN_CUTOFF,BETA,D_CUTOFF sets to score (default: node defaults)")
    ap.add_argument("--json")
    a = ap.parse_args()
    cache = Path(a.cache) if a.cache else None
    if cache is not None and cache.is_file():
        with cache.open("rb") as fh:  # our own file, written below
            streams = pickle.load(fh)  # noqa: S301
    else:
        streams = {m: record(m, a.frames, a.fps, a.noise, a.threads) for m in ("still", "keyframes")}
        if cache is not None:
            with cache.open("wb") as fh:
                pickle.dump(streams, fh)
    sets = [OneEuroParams()] if not a.grid else [
        OneEuroParams(*(float(v) for v in g.split(","))) for g in a.grid.split()]
    results = []
    for params in sets:
        res = score(streams["still"], streams["keyframes"], params)
        st = streams["still"]
        res["fps"], res["noise"], res["frames"] = st["fps"], st.get("noise", a.noise), len(st["preds"])
        results.append(res)
        print(f"\nOne-Euro min_cutoff={params.min_cutoff} Hz, beta={params.beta} s/m, d_cutoff={params.d_cutoff} Hz; "
              f"streams at {res['fps']:g} fps, noise {res['noise']:g}, {res['frames']} frames each")
        print(table(res))
    if a.json:
        Path(a.json).write_text(json.dumps(results if a.grid else results[0], indent=2, default=float))


if __name__ == "__main__":
    main()
