"""Per-frame latency: embedded HandOS vs MediaPipe Hands 0.10.14, on the same 640x480 frames.

What it does
    1. Renders synthetic scenes with exactly H hands for each H in ``--hands`` (default
       0 1 2 4 8) with the project's synth engine (seeded), and saves them ONCE as PNG plus
       ``index.json`` (ground-truth count, intrinsics) in a temporary directory, so that both
       methods read identical pixels.
    2. HandOS (this venv, torch threads = ``--threads``): ``HandOS.predict_timed`` per frame with
       ``fixed_count=H`` (exactly H queries go through the decoder, whatever the scores), giving
       detector / side tuning / decoder / total ms. The shipped weights
       ``handos_model/weights/handos_tiny.safetensors`` are used when present, else an
       untrained model built from ``configs/handos_tiny.yaml`` (same architecture, same cost).
    3. MediaPipe (``.venv-bench``, a subprocess running ``bench/mediapipe_latency.py``):
       ``mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=max(1, H))``. By default
       the two are interleaved frame by frame (``--mp-mode interleave``) so both see the same
       machine load; ``--mp-mode batch`` runs MediaPipe's own batch mode after HandOS.
    4. Median / p90 per H, the ratio HandOS / MediaPipe per H, and the marginal cost per extra
       hand for both (least-squares slope of the median over H >= 1, and the H=0 -> 1 step).
    5. If the goals are not met (HandOS <= 2x MediaPipe at H=1; HandOS marginal cost per hand
       <= MediaPipe's) or with ``--profile always``: torch.profiler and cProfile top entries of
       one HandOS predict, so the report says where the time goes.
    6. ``--device cuda``: HandOS on the GPU, plus the Grounding-DINO-T-size config
       (``configs/handos_gdino_t.yaml``, 800 px) built with random weights (nothing can be
       downloaded); ``--gdino`` forces that part on CPU too (slow: a smoke test).

Outputs a markdown section (stdout and ``--md``) and JSON (``--json``).

    python bench/latency.py                       # 50 frames per H, CPU, 2 threads
    python bench/latency.py --frames-per-h 10 --hands 0 1 2 --json out/lat.json
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

WIDTH, HEIGHT = 640, 480
STAGES = ("preprocess_ms", "detector_ms", "side_tuning_ms", "decoder_ms", "postprocess_ms")
GOAL_RATIO_H1 = 2.0


# ----------------------------------------------------------------------------- frames

def _bench_synth_config(n_hands: int):
    """Scenes with visible, unoccluded hands: MediaPipe gets a fair chance to find all of them."""
    from handos_model.synth.config import SynthConfig
    from handos_model.synth.render import MAX_HANDS

    return SynthConfig(width=WIDTH, height=HEIGHT, num_hands=max(1, min(n_hands, MAX_HANDS)), min_height_frac=0.15,
                       occluder_prob=0.0)


def _add_hands(scene, n_total: int, rng: np.random.Generator, cfg, model) -> bool:
    """Top ``scene.hands`` up to ``n_total`` hands (the engine's scenes hold at most MAX_HANDS).

    Uses the engine's own samplers (pose, shape, orientation, placement, material); hands past
    the renderer's MAX_HANDS get no forearm (their object codes would collide). False if the
    frame has no room left for another non-overlapping hand.
    """
    from handos_model.data.schema import LEFT, RIGHT
    from handos_model.synth.appearance import sample_material
    from handos_model.synth.geometry import box_overlap, points_box
    from handos_model.synth.placement import place_hand, sample_hand_size, sample_orientation
    from handos_model.synth.render import MAX_HANDS, project
    from handos_model.synth.scene import HandInstance

    K = scene.K.astype(np.float64)
    boxes = [points_box(project(h.verts_hand @ h.rotation.T + h.cam_t, K)) for h in scene.hands]
    tries = 0
    while len(scene.hands) < n_total:
        tries += 1
        if tries > 60 * n_total:
            return False
        pose = model.sample_pose(rng)
        shape = model.sample_shape(rng, 1)[0]
        verts, joints = model.forward(pose[None], shape[None])
        side = RIGHT if rng.random() < 0.5 else LEFT
        vh, jh = verts[0].astype(np.float64), joints[0].astype(np.float64)
        if side == LEFT:
            vh, jh = model.mirror_left(vh), model.mirror_left(jh)
        frac = sample_hand_size(rng, cfg, n_total)
        R = sample_orientation(rng, cfg)
        v_rel = vh @ R.T
        t = place_hand(rng, v_rel, K, scene.width, scene.height, frac, cfg)
        v_cam = v_rel + t
        if v_cam[:, 2].min() < 0.08:
            continue
        box = points_box(project(v_cam, K))
        full = (box[2] - box[0]) * (box[3] - box[1])
        cb = np.clip(box, 0, [scene.width - 1, scene.height - 1, scene.width - 1, scene.height - 1])
        if (cb[2] - cb[0]) * (cb[3] - cb[1]) / max(full, 1e-9) < 0.75 or min(box[2] - box[0], box[3] - box[1]) < 4:
            continue
        if any(max(2.0 * iou, cover) > 0.45 for iou, cover in (box_overlap(box, b) for b in boxes)):
            continue
        boxes.append(box)
        scene.hands.append(
            HandInstance(side=side, pose=pose, shape=shape, rotation=R, cam_t=t.astype(np.float64),
                         material=sample_material(rng), forearm=None, verts_hand=vh, joints_hand=jh)
        )
    for i, h in enumerate(scene.hands):
        if i >= MAX_HANDS:
            h.forearm = None
    return True


def render_frame(seed: int, index: int, n_hands: int, model):
    """One 640x480 synthetic frame with exactly ``n_hands`` hands, or None if this index cannot hold them.

    Returns ``(image RGB uint8 (480, 640, 3), K (3, 3) float32)``.
    """
    from handos_model.synth.compose import render_scene
    from handos_model.synth.generate import sample_rng
    from handos_model.synth.scene import sample_scene

    rng = sample_rng(seed, index)
    cfg = _bench_synth_config(n_hands)
    scene = sample_scene(rng, cfg, model)
    if n_hands == 0:
        scene.hands, scene.occluders = [], []
    elif len(scene.hands) > n_hands:
        scene.hands = scene.hands[:n_hands]
    if len(scene.hands) < n_hands and not _add_hands(scene, n_hands, rng, cfg, model):
        return None
    sample = render_scene(scene, rng, model, key=f"h{n_hands}_{index}")
    if len(sample.hands) != n_hands:
        return None
    return sample.image, np.asarray(sample.K, np.float32)


def make_frames(out_dir: Path, hands: list[int], per_h: int, seed: int) -> list[dict]:
    """Render and save the frames; returns the index entries (also written to ``index.json``)."""
    from handos_model.hand.hand_model import load_hand_model

    model = load_hand_model("open")
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = []
    for h in hands:
        index, made = 0, 0
        while made < per_h:
            if index > 20 * per_h + 100:
                raise RuntimeError(f"could not render {per_h} frames with exactly {h} hands")
            res = render_frame(seed + 1000 * h, index, h, model)
            index += 1
            if res is None:
                continue
            image, K = res
            if image.shape != (HEIGHT, WIDTH, 3) or image.dtype != np.uint8:
                raise RuntimeError(f"synth engine returned {image.shape} {image.dtype}, expected ({HEIGHT}, {WIDTH}, 3) uint8")
            name = f"h{h}_{made:04d}.png"
            cv2.imwrite(str(out_dir / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            frames.append({"file": name, "hands": h, "K": K.tolist(), "seed": seed + 1000 * h, "index": index - 1})
            made += 1
    with open(out_dir / "index.json", "w", encoding="utf-8") as f:
        json.dump({"width": WIDTH, "height": HEIGHT, "frames": frames}, f)
    return frames


def read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(path)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


# ----------------------------------------------------------------------------- statistics

def summarize(values) -> dict:
    a = np.asarray(list(values), np.float64)
    if a.size == 0:
        return {"n": 0}
    return {"n": int(a.size), "median": float(np.median(a)), "p90": float(np.percentile(a, 90)),
            "p10": float(np.percentile(a, 10)), "mean": float(a.mean()), "min": float(a.min())}


def marginal_cost(medians: dict[int, float]) -> dict:
    """ms per extra hand: least-squares slope of median latency vs H over H >= 1, and the H=0 -> 1 step."""
    hs = sorted(h for h in medians if h >= 1)
    out: dict = {"slope_ms_per_hand": None, "intercept_ms": None, "step_0_to_1_ms": None}
    if len(hs) >= 2:
        slope, icpt = np.polyfit(np.asarray(hs, np.float64), np.asarray([medians[h] for h in hs]), 1)
        out["slope_ms_per_hand"], out["intercept_ms"] = float(slope), float(icpt)
    if 0 in medians and 1 in medians:
        out["step_0_to_1_ms"] = float(medians[1] - medians[0])
    return out


# ----------------------------------------------------------------------------- models

def default_weights() -> Path:
    from handos_model import WEIGHTS_DIR

    return WEIGHTS_DIR / "handos_tiny.safetensors"


def load_handos(weights: Path | None, device: str):
    """-> (model, description). Shipped weights when present, else an untrained tiny model."""
    from handos_model.checkpoint import load_model
    from handos_model.models.build import build_model

    path = weights or default_weights()
    if path.is_file():
        model = load_model(path, device)
        try:
            shown = str(path.resolve().relative_to(ROOT))
        except ValueError:
            shown = str(path)
        return model, f"trained weights {shown}"
    if weights is not None:
        raise FileNotFoundError(f"--weights {weights}: no such file")
    from handos_model import CONFIGS_DIR

    torch.manual_seed(0)
    model = build_model(CONFIGS_DIR / "handos_tiny.yaml").to(device).eval()
    return model, "untrained tiny model from configs/handos_tiny.yaml (no shipped weights yet; same cost)"


def build_gdino_t_random(snapshot_dir: Path) -> Path:
    """A Grounding-DINO-T-size detector with random weights, saved in save_pretrained layout.

    Default ``GroundingDinoConfig``: Swin-T backbone, BERT-base text encoder, d = 256, 900
    queries (~172M parameters). The tokenizer gets a synthetic 30522-entry vocabulary that keeps
    bert-base-uncased's ids for [PAD] [UNK] [CLS] [SEP] [MASK] '.' '?' 'hand' (the model
    hard-codes 101/102/1012/1029). Cost is what is measured: the weights do not matter.
    """
    from transformers import BertTokenizer, GroundingDinoConfig, GroundingDinoForObjectDetection

    snapshot_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = GroundingDinoForObjectDetection(GroundingDinoConfig())
    model.save_pretrained(snapshot_dir)
    vocab = [f"[unused{i}]" for i in range(30522)]
    for i, tok in {0: "[PAD]", 100: "[UNK]", 101: "[CLS]", 102: "[SEP]", 103: "[MASK]", 1012: ".", 1029: "?",
                   2192: "hand"}.items():
        vocab[i] = tok
    vocab_file = snapshot_dir / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    # transformers v5 ignores a bare vocab_file argument in some tokenizer classes: load the directory
    tok = BertTokenizer.from_pretrained(str(snapshot_dir), local_files_only=True)
    ids = tok("hand.")["input_ids"]
    if ids != [101, 2192, 1012, 102]:
        raise RuntimeError(f"synthetic vocabulary tokenizes 'hand.' as {ids}, expected [101, 2192, 1012, 102]")
    tok.save_pretrained(snapshot_dir)
    try:  # processor files too, for adapters that load an AutoProcessor
        from transformers import GroundingDinoImageProcessor, GroundingDinoProcessor

        GroundingDinoProcessor(image_processor=GroundingDinoImageProcessor(), tokenizer=tok).save_pretrained(snapshot_dir)
    except Exception as e:  # noqa: BLE001 - optional extra files
        print(f"[latency] note: processor files not written ({e})", file=sys.stderr)
    return snapshot_dir


def load_gdino_t(device: str, tmp: Path):
    from handos_model import CONFIGS_DIR
    from handos_model.models.build import build_model, load_config

    cfg = load_config(CONFIGS_DIR / "handos_gdino_t.yaml")
    snap = build_gdino_t_random(tmp / "grounding-dino-t-random")
    cfg["model"]["detector"]["weights"] = str(snap)
    torch.manual_seed(0)
    model = build_model(cfg).to(device).eval()
    return model, f"configs/handos_gdino_t.yaml, {model.input_size} px, random weights (Swin-T + BERT-base)"


# ----------------------------------------------------------------------------- MediaPipe

class MediaPipeServer:
    """``bench/mediapipe_latency.py --serve`` in the bench venv, one request per frame."""

    def __init__(self, python: Path, frames_dir: Path, log_path: Path):
        self.log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [str(python), str(ROOT / "bench" / "mediapipe_latency.py"), "--frames", str(frames_dir), "--serve"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, bufsize=1,
        )
        self.info = self._read()
        if not self.info.get("ready"):
            raise RuntimeError(f"mediapipe_latency.py did not start: {self.info}")

    def _read(self) -> dict:
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"mediapipe_latency.py exited (rc={self.proc.poll()}); see {self.log.name}")
            line = line.strip()
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    return json.loads(line)

    def run(self, file: str, max_num_hands: int) -> dict:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"file": file, "max_num_hands": max_num_hands}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def mediapipe_batch(python: Path, frames_dir: Path, hands: list[int], log_path: Path) -> dict:
    cmd = [str(python), str(ROOT / "bench" / "mediapipe_latency.py"), "--frames", str(frames_dir),
           "--hands", *map(str, hands)]
    with open(log_path, "w", encoding="utf-8") as log:
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=log, text=True, check=True)
    for line in reversed(res.stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"no JSON from {' '.join(cmd)}")


# ----------------------------------------------------------------------------- measurement

def run_handos_frame(model, image: np.ndarray, K: np.ndarray, h: int) -> dict:
    c0, t0 = time.process_time(), time.perf_counter()
    preds, timing = model.predict_timed(image, K, fixed_count=h)
    wall = (time.perf_counter() - t0) * 1000.0
    row = {s: float(getattr(timing, s)) for s in STAGES}
    row.update(total_ms=float(timing.total_ms), wall_ms=wall, cpu_ms=(time.process_time() - c0) * 1000.0,
               hands_processed=len(preds))
    return row


def measure(model, frames: list[dict], images: dict[str, np.ndarray], hands: list[int], warmup: int,
            mp: MediaPipeServer | None, label: str) -> tuple[list[dict], list[dict]]:
    """Per frame: HandOS and (interleaved, alternating who goes first) MediaPipe.

    Round robin over H (frame i of every H, then frame i + 1, ...): a change of machine load
    during the run hits every H alike instead of one H block, which would bias the slopes.
    """
    hs_rows, mp_rows = [], []
    groups = {h: [f for f in frames if f["hands"] == h] for h in hands}
    for h in hands:
        for f in groups[h][:warmup]:
            run_handos_frame(model, images[f["file"]], np.asarray(f["K"], np.float32), h)
            if mp is not None:
                mp.run(f["file"], max(1, h))
    t0 = time.perf_counter()
    n = max(len(g) for g in groups.values())
    k = 0
    for i in range(n):
        for h in hands:
            if i >= len(groups[h]):
                continue
            f = groups[h][i]
            K = np.asarray(f["K"], np.float32)
            if mp is not None and k % 2 == 0:
                mp_rows.append({"hands": h, **mp.run(f["file"], max(1, h))})
            hs_rows.append({"hands": h, **run_handos_frame(model, images[f["file"]], K, h)})
            if mp is not None and k % 2 == 1:
                mp_rows.append({"hands": h, **mp.run(f["file"], max(1, h))})
            k += 1
    print(f"[latency] {label}: {k} frames in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return hs_rows, mp_rows


def handos_summary(rows: list[dict], hands: list[int]) -> dict:
    per_h = {}
    for h in hands:
        r = [x for x in rows if x["hands"] == h]
        per_h[str(h)] = {k: summarize(x[k] for x in r) for k in (*STAGES, "total_ms", "wall_ms", "cpu_ms")}
        per_h[str(h)]["hands_processed_mean"] = float(np.mean([x["hands_processed"] for x in r]))
    med = {h: per_h[str(h)]["wall_ms"]["median"] for h in hands}
    dec = {h: per_h[str(h)]["decoder_ms"]["median"] for h in hands}
    return {"per_h": per_h, "marginal": marginal_cost(med), "marginal_decoder": marginal_cost(dec)}


def mediapipe_summary(rows: list[dict], hands: list[int]) -> dict:
    per_h = {}
    for h in hands:
        r = [x for x in rows if x["hands"] == h]
        per_h[str(h)] = {"wall_ms": summarize(x["ms"] for x in r), "cpu_ms": summarize(x["cpu_ms"] for x in r),
                         "detected_mean": float(np.mean([x["detected"] for x in r])) if r else 0.0}
    med = {h: per_h[str(h)]["wall_ms"]["median"] for h in hands if per_h[str(h)]["wall_ms"]["n"]}
    out = {"per_h": per_h, "marginal": marginal_cost(med)}
    # MediaPipe runs its landmark model once per DETECTED palm: also the slope per detected hand
    xs = [(per_h[str(h)]["detected_mean"], med[h]) for h in hands if h >= 1 and h in med]
    if len(xs) >= 2 and np.ptp([x for x, _ in xs]) > 0.5:
        out["slope_ms_per_detected_hand"] = float(np.polyfit(*np.asarray(xs).T, 1)[0])
    return out


# ----------------------------------------------------------------------------- profile

def profile_predict(model, image: np.ndarray, K: np.ndarray, h: int, top: int = 15) -> dict:
    """torch.profiler (ops by self time) and cProfile (handos_model functions by cumulative time)."""
    model.predict_timed(image, K, fixed_count=h)  # warm
    acts = [torch.profiler.ProfilerActivity.CPU]
    if model.device.type == "cuda":
        acts.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=acts) as prof:
        _, timing = model.predict_timed(image, K, fixed_count=h)
    ops = []
    for e in sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)[:top]:
        ops.append({"op": e.key, "calls": int(e.count), "self_cpu_ms": e.self_cpu_time_total / 1000.0,
                    "cpu_total_ms": e.cpu_time_total / 1000.0})
    pr = cProfile.Profile()
    pr.enable()
    _, timing2 = model.predict_timed(image, K, fixed_count=h)
    pr.disable()
    st = pstats.Stats(pr, stream=io.StringIO())
    funcs = []
    for (fname, line, func), (_cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        if "handos_model" not in fname:
            continue
        rel = fname[fname.rfind("handos_model"):]
        funcs.append({"function": f"{rel}:{line}({func})", "calls": int(nc), "tottime_ms": tt * 1000.0,
                      "cumtime_ms": ct * 1000.0})
    funcs.sort(key=lambda r: r["cumtime_ms"], reverse=True)
    return {"hands": h, "stage_ms": {s: float(getattr(timing2, s)) for s in STAGES},
            "torch_ops": ops, "python_functions": funcs[:top]}


# ----------------------------------------------------------------------------- report

def _f(x, nd: int = 1) -> str:
    return "–" if x is None else f"{x:.{nd}f}"


def to_markdown(res: dict) -> str:
    c = res["config"]
    hs = c["hands"]
    L = ["## Latency: HandOS vs MediaPipe Hands", ""]
    L.append(f"{c['frames_per_h']} synthetic {WIDTH}x{HEIGHT} frames per hand count H (seed {c['seed']}, the same PNGs "
             f"for both), device `{c['device']}`, torch threads {c['threads']}, "
             f"OMP_WAIT_POLICY {c.get('omp_wait_policy', 'library default')}. HandOS: {res['handos']['model']}, "
             f"input {res['handos']['input_size']} px, exactly H hands through the decoder (`fixed_count=H`). "
             f"MediaPipe: {res['mediapipe'].get('info', {}).get('api', 'skipped')} "
             f"(mediapipe {res['mediapipe'].get('info', {}).get('mediapipe_version', '–')}), "
             f"mode `{c['mp_mode']}`. Wall-clock ms per frame, median (p90). "
             f"Load average before/after: {c['loadavg_before']} / {c['loadavg_after']}.")
    L.append("")
    L.append("| H | HandOS detector | side tuning | decoder | HandOS total | hands decoded | MediaPipe total "
             "| MP hands found | HandOS / MP |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    hp, mp = res["handos"]["per_h"], res["mediapipe"].get("per_h", {})
    for h in hs:
        a = hp[str(h)]
        m = mp.get(str(h))
        ratio = res["comparison"]["ratio_per_h"].get(str(h))
        mcell = f"{_f(m['wall_ms']['median'])} ({_f(m['wall_ms']['p90'])})" if m else "–"
        mdet = f"{m['detected_mean']:.2f}" if m else "–"
        L.append(f"| {h} | {_f(a['detector_ms']['median'])} | {_f(a['side_tuning_ms']['median'])} "
                 f"| {_f(a['decoder_ms']['median'])} | {_f(a['wall_ms']['median'])} ({_f(a['wall_ms']['p90'])}) "
                 f"| {a['hands_processed_mean']:.0f} | {mcell} | {mdet} | {_f(ratio, 2)} |")
    L.append("")
    cpu_h = [f"H={h} {_f(hp[str(h)]['cpu_ms']['median'], 0)}" for h in hs]
    line = "Process CPU time per frame (all threads), median ms: HandOS " + ", ".join(cpu_h)
    if mp:
        line += "; MediaPipe " + ", ".join(f"H={h} {_f(mp[str(h)]['cpu_ms']['median'], 0)}" for h in hs if str(h) in mp)
    L.append(line + ".")
    L.append("")
    if mp:
        L.append("Least-disturbed frames (10th percentile; closest to an idle machine when others share the CPU):")
        L.append("")
        L.append("| H | HandOS p10 | MediaPipe p10 | HandOS / MP (p10) |")
        L.append("|---|---|---|---|")
        for h in hs:
            a, m = hp[str(h)]["wall_ms"], mp.get(str(h), {}).get("wall_ms")
            if m and m.get("n"):
                L.append(f"| {h} | {_f(a['p10'])} | {_f(m['p10'])} | {_f(a['p10'] / m['p10'], 2)} |")
        L.append("")
    w = res.get("cpu_work")
    if w:
        L.append(f"CPU work per frame: a second pass over {w['frames_per_h']} frames per H with ONE torch thread, "
                 "process CPU time in ms (median), which other programs on the machine barely change:")
        L.append("")
        L.append("| H | HandOS CPU ms (1 thread) | MediaPipe CPU ms | HandOS / MP |")
        L.append("|---|---|---|---|")
        for h in hs:
            r = w["per_h"][str(h)]
            mcpu = r["mediapipe_cpu_ms"].get("median")
            L.append(f"| {h} | {_f(r['handos_cpu_ms']['median'])} | {_f(mcpu)} "
                     f"| {_f(w.get('ratio_per_h', {}).get(str(h)), 2)} |")
        L.append("")
    L.append("Marginal cost per extra hand (ms): least-squares slope of the median over H >= 1, and H = 0 -> 1.")
    L.append("")
    L.append("| method | slope H>=1 | step 0->1 |")
    L.append("|---|---|---|")
    hm, hd = res["handos"]["marginal"], res["handos"]["marginal_decoder"]
    L.append(f"| HandOS total | {_f(hm['slope_ms_per_hand'], 2)} | {_f(hm['step_0_to_1_ms'], 2)} |")
    L.append(f"| HandOS decoder only | {_f(hd['slope_ms_per_hand'], 2)} | {_f(hd['step_0_to_1_ms'], 2)} |")
    if "marginal" in res["mediapipe"]:
        mm = res["mediapipe"]["marginal"]
        L.append(f"| MediaPipe | {_f(mm['slope_ms_per_hand'], 2)} | {_f(mm['step_0_to_1_ms'], 2)} |")
        if res["mediapipe"].get("slope_ms_per_detected_hand") is not None:
            L.append(f"| MediaPipe, per hand it found | {_f(res['mediapipe']['slope_ms_per_detected_hand'], 2)} | |")
    if w:
        hw = w["handos_marginal"]
        L.append(f"| HandOS CPU work (1 thread) | {_f(hw['slope_ms_per_hand'], 2)} | {_f(hw['step_0_to_1_ms'], 2)} |")
        if "mediapipe_marginal" in w:
            mw = w["mediapipe_marginal"]
            L.append(f"| MediaPipe CPU work | {_f(mw['slope_ms_per_hand'], 2)} | {_f(mw['step_0_to_1_ms'], 2)} |")
    L.append("")
    g = res["comparison"]["goals"]
    L.append("Goals: HandOS <= 2x MediaPipe at H=1: **{}**; HandOS marginal cost per hand <= MediaPipe's: **{}**."
             .format(*("met" if g[k] else ("not met" if g[k] is not None else "n/a")
                       for k in ("ratio_h1_le_2", "marginal_le_mediapipe"))))
    if res["mediapipe"].get("skipped"):
        L.append("")
        L.append(f"MediaPipe skipped: {res['mediapipe']['skipped']}")
    for prof in res.get("profile", []):
        L.append("")
        L.append(f"### Profile of one HandOS predict, H = {prof['hands']} ({prof['model']})")
        L.append("")
        L.append("Stages (ms): " + ", ".join(f"{k[:-3]} {v:.1f}" for k, v in prof["stage_ms"].items()))
        L.append("")
        L.append("| torch op | calls | self CPU ms | total CPU ms |")
        L.append("|---|---|---|---|")
        for o in prof["torch_ops"]:
            L.append(f"| `{o['op']}` | {o['calls']} | {o['self_cpu_ms']:.2f} | {o['cpu_total_ms']:.2f} |")
        L.append("")
        L.append("| handos_model function (cProfile, by cumulative time) | calls | own ms | cumulative ms |")
        L.append("|---|---|---|---|")
        for fn in prof["python_functions"]:
            L.append(f"| `{fn['function']}` | {fn['calls']} | {fn['tottime_ms']:.2f} | {fn['cumtime_ms']:.2f} |")
    for g_ in res.get("gpu", []):
        L.append("")
        L.append(f"### {g_['label']}")
        L.append("")
        if g_.get("error"):
            L.append(f"Failed: `{g_['error']}`")
            continue
        L.append("| H | detector | side tuning | decoder | total median (p90) |")
        L.append("|---|---|---|---|---|")
        for h in hs:
            a = g_["per_h"].get(str(h))
            if a:
                L.append(f"| {h} | {_f(a['detector_ms']['median'])} | {_f(a['side_tuning_ms']['median'])} "
                         f"| {_f(a['decoder_ms']['median'])} | {_f(a['wall_ms']['median'])} ({_f(a['wall_ms']['p90'])}) |")
        m = g_["marginal"]
        L.append("")
        L.append(f"Marginal cost per hand: slope {_f(m['slope_ms_per_hand'], 2)} ms, step 0->1 {_f(m['step_0_to_1_ms'], 2)} ms.")
    return "\n".join(L) + "\n"


# ----------------------------------------------------------------------------- main

def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hands", type=int, nargs="+", default=[0, 1, 2, 4, 8], help="hand counts H")
    ap.add_argument("--frames-per-h", type=int, default=50, help="timed frames per H (>= 50 for the report)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed frames per H")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--weights", type=Path, help="HandOS weights (default: the shipped handos_tiny.safetensors if present)")
    ap.add_argument("--frames-dir", type=Path, help="reuse/keep frames here (default: a temporary directory)")
    ap.add_argument("--mp-python", type=Path, default=ROOT / ".venv-bench" / "bin" / "python",
                    help="python of the MediaPipe venv (scripts/bootstrap_bench.sh)")
    ap.add_argument("--mp-mode", choices=["interleave", "batch", "off"], default="interleave")
    ap.add_argument("--cpu-work-frames", type=int, default=20,
                    help="frames per H of a second pass with ONE torch thread, reporting process CPU time "
                         "(the work per frame, robust to other load on a shared machine); 0 = off")
    ap.add_argument("--profile", choices=["auto", "always", "never"], default="auto",
                    help="profile one HandOS predict: auto = when a goal is not met")
    ap.add_argument("--gdino", action=argparse.BooleanOptionalAction, default=None,
                    help="also the Grounding-DINO-T-size config at 800 px, random weights (default: on with cuda)")
    ap.add_argument("--gdino-frames-per-h", type=int, help="frames per H for that model (default: --frames-per-h)")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--md", type=Path, help="write the markdown section here")
    args = ap.parse_args(argv)

    if args.device == "cuda" and not torch.cuda.is_available():
        print("[latency] --device cuda but torch.cuda.is_available() is False", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    hands = sorted(set(args.hands))
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="handos-latency-")))
        frames_dir = args.frames_dir or tmp / "frames"
        t0 = time.perf_counter()
        idx = frames_dir / "index.json"
        frames = None
        if idx.is_file():
            old = json.loads(idx.read_text(encoding="utf-8"))["frames"]
            if all(sum(f["hands"] == h for f in old) >= args.frames_per_h for h in hands):
                frames = [f for h in hands for f in [g for g in old if g["hands"] == h][: args.frames_per_h]]
        if frames is None:
            frames = make_frames(frames_dir, hands, args.frames_per_h, args.seed)
        gen_s = time.perf_counter() - t0
        print(f"[latency] {len(frames)} frames ready in {gen_s:.1f} s ({frames_dir})", file=sys.stderr)
        images = {f["file"]: read_rgb(frames_dir / f["file"]) for f in frames}

        loadavg_before = _loadavg()
        model, desc = load_handos(args.weights, args.device)
        mp_server = None
        mp_info: dict = {}
        mp_skip = None
        if args.mp_mode != "off":
            if not args.mp_python.exists():
                mp_skip = f"{args.mp_python} missing: run scripts/bootstrap_bench.sh"
            elif args.mp_mode == "interleave":
                mp_server = MediaPipeServer(args.mp_python, frames_dir, tmp / "mediapipe.log")
                stack.callback(mp_server.close)
                mp_info = {k: v for k, v in mp_server.info.items() if k != "ready"}
        else:
            mp_skip = "--mp-mode off"

        hs_rows, mp_rows = measure(model, frames, images, hands, args.warmup, mp_server, f"HandOS {args.device}")
        if args.mp_mode == "batch" and mp_skip is None:
            out = mediapipe_batch(args.mp_python, frames_dir, hands, tmp / "mediapipe.log")
            mp_rows = [{"hands": r["hands"], "ms": r["ms"], "cpu_ms": r["cpu_ms"], "detected": r["detected"]}
                       for r in out["per_frame"]]
            mp_info = {k: v for k, v in out.items() if k not in ("per_h", "per_frame")}

        res: dict = {
            "kind": "latency",
            "config": {"hands": hands, "frames_per_h": args.frames_per_h, "warmup": args.warmup, "seed": args.seed,
                       "threads": args.threads, "device": args.device, "image": [WIDTH, HEIGHT],
                       "mp_mode": args.mp_mode, "frame_generation_s": gen_s, "loadavg_before": loadavg_before,
                       "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "library default")},
            "env": {"torch": torch.__version__, "python": platform.python_version()},
            "handos": {"model": desc, "input_size": int(model.input_size), **handos_summary(hs_rows, hands)},
        }
        if mp_rows:
            res["mediapipe"] = {"info": mp_info, **mediapipe_summary(mp_rows, hands)}
        else:
            res["mediapipe"] = {"skipped": mp_skip or "no MediaPipe results"}
        ratio = {}
        for h in hands:
            m = res["mediapipe"].get("per_h", {}).get(str(h))
            if m and m["wall_ms"]["n"]:
                ratio[str(h)] = res["handos"]["per_h"][str(h)]["wall_ms"]["median"] / m["wall_ms"]["median"]
        hm = res["handos"]["marginal"]["slope_ms_per_hand"]
        mm = res["mediapipe"].get("marginal", {}).get("slope_ms_per_hand")
        goals = {"ratio_h1_le_2": (ratio["1"] <= GOAL_RATIO_H1) if "1" in ratio else None,
                 "marginal_le_mediapipe": (hm <= mm) if hm is not None and mm is not None else None}
        res["comparison"] = {"ratio_per_h": ratio, "goals": goals}

        if args.cpu_work_frames > 0 and args.device == "cpu":
            # Wall-clock numbers on a shared machine measure the load as much as the model; the CPU time
            # of a single-threaded run is the work itself (MediaPipe runs its graph on ~1 core as well).
            torch.set_num_threads(1)
            sub = [f for h in hands for f in [g for g in frames if g["hands"] == h][: args.cpu_work_frames]]
            w_hs, w_mp = measure(model, sub, images, hands, 1, mp_server, "CPU work, 1 torch thread")
            torch.set_num_threads(args.threads)
            work: dict = {"frames_per_h": min(args.cpu_work_frames, args.frames_per_h), "per_h": {}}
            for h in hands:
                a = [x["cpu_ms"] for x in w_hs if x["hands"] == h]
                b = [x["cpu_ms"] for x in w_mp if x["hands"] == h]
                work["per_h"][str(h)] = {"handos_cpu_ms": summarize(a), "handos_wall_ms": summarize(
                    x["wall_ms"] for x in w_hs if x["hands"] == h), "mediapipe_cpu_ms": summarize(b)}
            work["handos_marginal"] = marginal_cost({h: work["per_h"][str(h)]["handos_cpu_ms"]["median"] for h in hands})
            if w_mp:
                work["mediapipe_marginal"] = marginal_cost(
                    {h: work["per_h"][str(h)]["mediapipe_cpu_ms"]["median"] for h in hands})
                work["ratio_per_h"] = {str(h): work["per_h"][str(h)]["handos_cpu_ms"]["median"]
                                       / work["per_h"][str(h)]["mediapipe_cpu_ms"]["median"] for h in hands}
            res["cpu_work"] = work

        if args.profile == "always" or (args.profile == "auto" and not all(v is True for v in goals.values())):
            prof_rows = []
            for h in sorted({1 if 1 in hands else hands[0], hands[-1]}):
                f = next(x for x in frames if x["hands"] == h)
                p = profile_predict(model, images[f["file"]], np.asarray(f["K"], np.float32), h)
                p["model"] = desc
                prof_rows.append(p)
            res["profile"] = prof_rows

        gpu_runs = []
        if args.device == "cuda":
            gpu_runs.append({"label": f"HandOS tiny on {torch.cuda.get_device_name(0)}", **res["handos"]})
        if args.gdino if args.gdino is not None else args.device == "cuda":
            label = "HandOS with a Grounding-DINO-T-size detector (random weights), 800 px, " + args.device
            try:
                gmodel, gdesc = load_gdino_t(args.device, tmp)
                n = args.gdino_frames_per_h or args.frames_per_h
                sub = [f for h in hands for f in [g for g in frames if g["hands"] == h][:n]]
                g_rows, _ = measure(gmodel, sub, images, hands, min(args.warmup, n), None, "GDINO-T " + args.device)
                gpu_runs.append({"label": label, "model": gdesc, **handos_summary(g_rows, hands)})
                del gmodel
            except Exception as e:  # noqa: BLE001 - reported, the CPU results still stand
                gpu_runs.append({"label": label, "error": f"{type(e).__name__}: {e}"})
        if gpu_runs:
            res["gpu"] = gpu_runs
        res["config"]["loadavg_after"] = _loadavg()

    md = to_markdown(res)
    print(md)
    if args.md:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        args.md.write_text(md, encoding="utf-8")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
