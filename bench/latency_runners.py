"""What the latency benchmark runs: HandOS (and the Grounding-DINO-T-size config), MediaPipe in its own
venv, the per-frame measurement, the profile of one predict, and the per-H summaries."""

from __future__ import annotations

import contextlib
import cProfile
import io
import json
import pstats
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from latency_common import ROOT, STAGES, marginal_cost, summarize


def default_weights() -> Path:
    from handos_model import DEFAULT_WEIGHTS

    return DEFAULT_WEIGHTS


def load_handos(weights: Path | None, device: str, config: str | None = None):
    """-> (HandPredictor, description). ``config``: an untrained model of that config (same compute as
    trained weights); else the shipped weights when present, else an untrained model of their config."""
    from handos_model.checkpoint import load_model
    from handos_model.models.build import build_model
    from handos_model.predictor import HandPredictor

    if config is not None:
        from handos_model import CONFIGS_DIR

        torch.manual_seed(0)
        model = build_model(CONFIGS_DIR / config).to(device).eval()
        return HandPredictor(model), f"untrained model from configs/{config} (same cost as trained weights)"

    path = weights or default_weights()
    if path.is_file():
        model = load_model(path, device)
        try:
            shown = str(path.resolve().relative_to(ROOT))
        except ValueError:
            shown = str(path)
        return HandPredictor(model), f"trained weights {shown}"
    if weights is not None:
        raise FileNotFoundError(f"--weights {weights}: no such file")
    from handos_model import DEFAULT_CONFIG

    torch.manual_seed(0)
    model = build_model(DEFAULT_CONFIG).to(device).eval()
    return HandPredictor(model), f"untrained model from configs/{DEFAULT_CONFIG.name} (no shipped weights yet; same cost)"


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
    from handos_model.predictor import HandPredictor

    cfg = load_config(CONFIGS_DIR / "handos_gdino_t.yaml")
    snap = build_gdino_t_random(tmp / "grounding-dino-t-random")
    cfg["model"]["detector"]["weights"] = str(snap)
    torch.manual_seed(0)
    model = build_model(cfg).to(device).eval()
    return HandPredictor(model), f"configs/handos_gdino_t.yaml, {model.input_size} px, random weights (Swin-T + BERT-base)"


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

    def run(self, file: str, max_num_hands: int, tracking: bool = False) -> dict:
        assert self.proc.stdin is not None
        req = {"file": file, "max_num_hands": max_num_hands, "tracking": tracking}
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def reset_tracking(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"cmd": "reset_tracking"}) + "\n")
        self.proc.stdin.flush()
        self._read()

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


def profile_predict(model, image: np.ndarray, K: np.ndarray, h: int, top: int = 15) -> dict:
    """torch.profiler (ops by self time) and cProfile (handos_model functions by cumulative time)."""
    model.predict_timed(image, K, fixed_count=h)  # warm
    acts = [torch.profiler.ProfilerActivity.CPU]
    if model.model.device.type == "cuda":
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
