"""Per-frame latency: embedded HandOS vs MediaPipe Hands 0.10.14, on the same 640x480 frames.

What it does
    1. Renders synthetic scenes with exactly H hands for each H in ``--hands`` (default
       0 1 2 4 8) with the project's synth engine (seeded), and saves them ONCE as PNG plus
       ``index.json`` (ground-truth count, intrinsics) in a temporary directory, so that both
       methods read identical pixels.
    2. HandOS (this venv, torch threads = ``--threads``): ``HandPredictor.predict_timed`` per frame with
       ``fixed_count=H`` (exactly H queries go through the decoder, whatever the scores), giving
       detector / side tuning / decoder / total ms. The embedded default weights
       (``handos_model.DEFAULT_WEIGHTS``) are used when present, else an untrained model of
       their config (same architecture, same cost).
    3. MediaPipe (``.venv-bench``, a subprocess running ``bench/mediapipe_latency.py``):
       ``mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=max(1, H))``. By default
       the two are interleaved frame by frame (``--mp-mode interleave``) so both see the same
       machine load; ``--mp-mode batch`` runs MediaPipe's own batch mode after HandOS.
    4. Median / p90 per H, the ratio HandOS / MediaPipe per H, and the marginal cost per extra
       hand for both (least-squares slope of the median over H >= 1, and the H=0 -> 1 step).
    5. If the goals are not met (issue 17: HandOS <= 1.0x MediaPipe at H=1; HandOS marginal cost
       per hand <= 0.5x MediaPipe's per hand found) or with ``--profile always``: torch.profiler and cProfile top entries of
       one HandOS predict, so the report says where the time goes.
    6. On the CPU (``--onnx``): the same model exported to ONNX and run by ONNX Runtime (the node's
       ``backend: onnxruntime``) on the same frames, with its ratios to MediaPipe and the goals.
    7. ``--device cuda``: HandOS on the GPU, plus the Grounding-DINO-T-size config
       (``configs/handos_gdino_t.yaml``, 800 px) built with random weights (nothing can be
       downloaded); ``--gdino`` forces that part on CPU too (slow: a smoke test).

Outputs a markdown section (stdout and ``--md``) and JSON (``--json``).

    python bench/latency.py                       # 50 frames per H, CPU, 2 threads
    python bench/latency.py --frames-per-h 10 --hands 0 1 2 --json out/lat.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from latency_common import GOAL_MARGINAL_RATIO, GOAL_RATIO_H1, HEIGHT, ROOT, WIDTH, marginal_cost, summarize
from latency_frames import make_frames, read_rgb
from latency_report import to_markdown
from latency_runners import (
    MediaPipeServer,
    handos_summary,
    load_gdino_t,
    load_handos,
    measure,
    mediapipe_batch,
    mediapipe_summary,
    profile_predict,
)
from latency_tracking import measure_sequence
from latency_tracking import to_markdown as tracking_markdown


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def issue17_goals(ratio: dict[str, float], slope: float | None, mp_per_found: float | None) -> dict:
    """Issue 17's goals (True / False, None where not measurable) from the ratios to MediaPipe per H,
    HandOS's marginal cost per hand and MediaPipe's per hand it found."""
    return {"ratio_h1": (ratio["1"] <= GOAL_RATIO_H1) if "1" in ratio else None,
            "marginal": (slope <= GOAL_MARGINAL_RATIO * mp_per_found)
            if slope is not None and mp_per_found is not None else None}


def measure_onnx(model, desc: str, frames: list[dict], images: dict, hands: list[int], args, tmp: Path) -> dict:
    """The node's ``backend: onnxruntime``: ``model`` exported to ONNX, run by ONNX Runtime's CPU
    provider on the same frames (after the PyTorch pass, not interleaved with MediaPipe)."""
    from handos_model.export.onnx_export import export_onnx
    from handos_model.export.onnx_runtime import load_onnx_model

    t0 = time.perf_counter()
    export_onnx(model.model, tmp / "onnx", source=desc)
    export_s = time.perf_counter() - t0
    ort = load_onnx_model(tmp / "onnx", num_threads=args.threads, shared_pool=True)  # as the node
    rows, _ = measure(ort, frames, images, hands, args.warmup, None, "HandOS onnxruntime")
    import onnxruntime

    return {"model": f"{desc}, exported to ONNX (fp32), onnxruntime {onnxruntime.__version__} CPU, one shared pool of "
                     f"{args.threads} intra-op threads", "export_s": export_s, **handos_summary(rows, hands)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hands", type=int, nargs="+", default=[0, 1, 2, 4, 8], help="hand counts H")
    ap.add_argument("--frames-per-h", type=int, default=50, help="timed frames per H (>= 50 for the report)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed frames per H")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--weights", type=Path, help="HandOS weights (default: the embedded default weights if present)")
    ap.add_argument("--config", help="time an untrained model of this config instead (e.g. handos_lite.yaml: same compute "
                                     "as trained weights)")
    ap.add_argument("--tracking-frames", type=int, default=50,
                    help="frames of a moving-hand sequence per H in {1, 2} for MediaPipe's tracking mode; 0 = off")
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
    ap.add_argument("--onnx", action=argparse.BooleanOptionalAction, default=None,
                    help="also the node's onnxruntime backend: the same model exported (handos-export --onnx), "
                         "fp32, --threads intra-op threads, on the same frames (default: on with cpu)")
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
        model, desc = load_handos(args.weights, args.device, args.config)
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
            "handos": {"model": desc, "input_size": int(model.model.input_size), **handos_summary(hs_rows, hands)},
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
        mm_found = res["mediapipe"].get("slope_ms_per_detected_hand", mm)  # per hand MediaPipe found
        goals = issue17_goals(ratio, hm, mm_found)
        res["comparison"] = {"ratio_per_h": ratio, "goals": goals}

        if args.onnx if args.onnx is not None else args.device == "cpu":
            res["onnxruntime"] = measure_onnx(model, desc, frames, images, hands, args, tmp)
            om = res["onnxruntime"]
            om_ratio = {h: om["per_h"][h]["wall_ms"]["median"] / res["mediapipe"]["per_h"][h]["wall_ms"]["median"]
                        for h in ratio}
            ohm = om["marginal"]["slope_ms_per_hand"]
            res["comparison"]["onnxruntime_ratio_per_h"] = om_ratio
            res["comparison"]["onnxruntime_goals"] = issue17_goals(om_ratio, ohm, mm_found)

        if args.tracking_frames > 0 and mp_server is not None:
            seq_hands = [h for h in hands if h in (1, 2)]
            ort_model = None
            if "onnxruntime" in res:
                from handos_model.export.onnx_runtime import load_onnx_model

                ort_model = load_onnx_model(tmp / "onnx", num_threads=args.threads, shared_pool=True)
            res["tracking"] = measure_sequence(model, frames_dir, seq_hands, args.tracking_frames, args.seed,
                                               mp_server, ort_model)

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

    md = to_markdown(res) + (tracking_markdown(res["tracking"]) if "tracking" in res else "")
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
