"""One-command demo: synthetic camera -> handos_node -> consumer, no camera or RViz needed.

    python -m handos_ros.demo --frames 60 --out out/demo        (what `make demo` runs)

Three processes talk over DDS exactly as on a robot:

1. ``handos_node`` (the embedded default model; with ``publish_debug_image:=true``),
2. ``hands_echo`` comparing every output with the synthetic ground truth,
3. ``synthetic_camera --ground-truth`` publishing N frames at ``--rate`` Hz.

It prints each process's lines prefixed by its name, a per-frame summary (hands, sides,
2D error vs ground truth in px and % of box size, latency), then totals; it saves the
node's debug image as PNG under ``--out`` and exits 0 when the pipeline produced output.
Frames arriving while the node is still busy are dropped (latest-frame policy): lower
``--rate`` to see every frame processed on a slow CPU.

DDS traffic stays on this machine: unless ``FASTDDS_DEFAULT_PROFILES_FILE`` is already set,
the package's loopback-only Fast DDS profile is used (:mod:`handos_ros.dds_profile` names the
variables this ROS's Fast DDS reads), and a free ``ROS_DOMAIN_ID`` is picked unless one is set.

Ctrl-C (or SIGTERM) stops the three processes and the demo with exit status 0.
"""

# ruff: noqa: E402

from __future__ import annotations

if __name__ == "__main__":  # `python -m`: Ctrl-C while the imports below load exits quietly
    from handos_ros import quiet_start

    quiet_start.install()

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from handos_ros import dds_profile, quiet_start, shutdown


def _profile() -> str | None:
    """The loopback Fast DDS profile installed with the package (or in the source tree)."""
    candidates = []
    try:
        from ament_index_python.packages import get_package_share_directory  # type: ignore[import-not-found]

        candidates.append(Path(get_package_share_directory("handos_ros")) / "config" / "fastdds_localhost.xml")
    except Exception:  # noqa: BLE001 - ament_index not installed, or package not found
        pass
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if prefix:
            candidates.append(Path(prefix) / "share" / "handos_ros" / "config" / "fastdds_localhost.xml")
    candidates.append(Path(__file__).resolve().parents[1] / "config" / "fastdds_localhost.xml")
    return next((str(c) for c in candidates if c.is_file()), None)


def _pump(name: str, proc: subprocess.Popen, lines: list[str], echo: bool) -> None:
    for raw in proc.stdout:
        line = raw.rstrip("\n")
        lines.append(line)
        if echo:
            print(f"[{name}] {line}", flush=True)


def _start(name: str, args: list[str], env: dict[str, str], lines: list[str], echo: bool = True) -> tuple[subprocess.Popen, threading.Thread]:
    proc = subprocess.Popen(
        [sys.executable, "-u", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    t = threading.Thread(target=_pump, args=(name, proc, lines, echo), daemon=True)
    t.start()
    return proc, t


def _stop(proc: subprocess.Popen, timeout: float = 15.0) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    return int(proc.returncode)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=60, help="frames the synthetic camera publishes")
    p.add_argument("--rate", type=float, default=2.0, help="camera frame rate in Hz (default 2: a 2-core CPU keeps up)")
    p.add_argument("--out", default="out/demo", help="directory for the debug images and summary.json")
    p.add_argument("--easy", action="store_true", help="one big hand per frame (default: 2 moving hands, harder scenes)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weights", default="", help="weights file (default: the embedded model)")
    p.add_argument("--device", default="auto")
    p.add_argument("--startup-timeout", type=float, default=120.0, help="seconds to wait for the node to be ready")
    args = p.parse_args(argv)
    quiet_start.done()

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(101, 200)))
    variables = dds_profile.profile_variables()
    profile = next((env[v] for v in variables if env.get(v)), None) or _profile()
    if profile:
        env.update(dict.fromkeys(variables, profile))
        for key in ("ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_LOCALHOST_ONLY"):
            env.pop(key, None)
    env["PYTHONUNBUFFERED"] = "1"

    print("HandOS ROS 2 demo", flush=True)
    print(f"  ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']}, DDS profile: {profile or 'default (network)'}", flush=True)
    print(f"  1. handos_node: loads the model (weights: {args.weights or 'embedded default'}), publishes hands/*, /tf", flush=True)
    print("  2. hands_echo: prints one line per processed frame, compared with the ground truth", flush=True)
    print(f"  3. synthetic_camera: {args.frames} frames at {args.rate} Hz (640x480 rgb8 + camera_info + ground truth)", flush=True)
    print(f"  debug images and summary.json go to {out}", flush=True)

    node_lines: list[str] = []
    echo_lines: list[str] = []
    cam_lines: list[str] = []
    node_args = ["-m", "handos_ros.node", "--ros-args", "-p", "publish_debug_image:=true", "-p", f"device:={args.device}"]
    if args.weights:
        node_args += ["-p", f"weights:={args.weights}"]
    procs: list[subprocess.Popen] = []  # started so far, stopped in reverse order at the end

    def run_demo() -> int:
        node, _ = _start("node", node_args, env, node_lines)
        procs.append(node)
        summary_path = out / "summary.json"
        echo_args = ["-m", "handos_ros.hands_echo", "--ground-truth", "synthetic/ground_truth", "--until-last-gt", str(args.frames),
                     "--idle-timeout", "30", "--debug-image-out", str(out), "--summary-json", str(summary_path)]
        echo, echo_thread = _start("echo", echo_args, env, echo_lines)
        procs.append(echo)
        t0 = time.monotonic()
        while not any("active: subscribed" in line for line in node_lines):
            if node.poll() is not None:
                print(f"[demo] handos_node exited with code {node.returncode} before becoming active", flush=True)
                return 1
            if time.monotonic() - t0 > args.startup_timeout:
                print("[demo] handos_node did not become active in time", flush=True)
                return 1
            time.sleep(0.2)
        print(f"[demo] node active after {time.monotonic() - t0:.1f} s; starting the camera", flush=True)
        cam_args = ["-m", "handos_ros.synthetic_camera", "--frames", str(args.frames), "--rate", str(args.rate),
                    "--seed", str(args.seed), "--ground-truth"]
        if args.easy:
            cam_args.append("--easy")
        camera, _ = _start("camera", cam_args, env, cam_lines)
        procs.append(camera)
        camera.wait(timeout=args.frames / max(args.rate, 0.01) + 300)
        echo.wait(timeout=120)
        echo_thread.join(timeout=5)
        alive = node.poll() is None
        summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
        print("\n[demo] ---- summary ----", flush=True)
        processed = summary.get("frames", 0)
        note = " (the others were stale when the node became free: dropped)" if processed < args.frames else ""
        print(f"[demo] frames published {args.frames}, frames processed {processed}{note}", flush=True)
        if summary.get("err_px_mean") is not None:
            print(f"[demo] mean 2D joint error {summary['err_px_mean']:.1f} px = {summary['err_box_pct_mean']:.1f}% of "
                  f"box size (every joint at the box centre would be {summary['box_centre_err_box_pct_mean']:.1f}%); side accuracy {100 * summary['side_accuracy']:.0f}%; missed hands {summary['missed_hands']}, "
                  f"extra hands {summary['extra_hands']}", flush=True)
        if summary.get("wrist_err_cm_median") is not None:
            print(f"[demo] wrist position (TF origin) error, median {summary['wrist_err_cm_median']:.1f} cm", flush=True)
        if summary.get("frames"):
            print(f"[demo] latency image stamp -> result: p50 {summary['latency_ms_p50']:.0f} ms, "
                  f"p95 {summary['latency_ms_p95']:.0f} ms", flush=True)
        print(f"[demo] model: {summary.get('weights')} on {summary.get('device')}", flush=True)
        if summary.get("weights") and "UNTRAINED" in summary["weights"]:
            print("[demo] WARNING: the default weights are missing: this ran an UNTRAINED model (random output)", flush=True)
        pngs = sorted(out.glob("debug_*.png"))
        print(f"[demo] debug images: {', '.join(str(x) for x in pngs) or 'none'}", flush=True)
        print(f"[demo] node process {'alive' if alive else 'DEAD'}", flush=True)
        return 0 if alive and summary.get("frames", 0) > 0 and pngs else 1

    def stop_all() -> None:
        for proc in reversed(procs):
            _stop(proc)

    # Ctrl-C (and SIGTERM, e.g. from a launcher) stop the demo and its three processes: exit 0.
    signal.signal(signal.SIGTERM, _interrupt)
    return shutdown.run(run_demo, stop_all)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
