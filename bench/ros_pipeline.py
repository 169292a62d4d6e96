"""End-to-end ROS benchmark: image publisher -> handos_node (own process) -> subscriber, over DDS.

    python bench/ros_pipeline.py --frames 150                 # 15 / 30 / 60 Hz, 640x480 rgb8
    python bench/ros_pipeline.py --soak                       # 10 000 frames at 30 Hz
    python bench/ros_pipeline.py --rates 30 --frames 300 --json out/ros_pipeline.json

Run it after ``source scripts/env.sh`` from any directory but the repository root (the source
tree has no generated messages). Traffic stays on loopback (the package's Fast DDS profile)
in a domain of its own.

Measured per rate:
- latency = subscriber receive time - image header stamp (both this machine's clock), percentiles;
- frames published, received by the node, processed (= HandMeshArray delivered), dropped as
  stale by the node's latest-frame mailbox (its /diagnostics counter), and lost before the node
  (replaced in its depth-1 DDS reader);
- node process CPU % (100 % = one core) and RSS over time, from psutil if present, else /proc;
- inside the node (its /diagnostics): inference p50 and the non-inference overhead
  (decode + conversions + publishing) p50 / max.
Prints a markdown table and JSON (``--json FILE`` also writes it).
"""

from __future__ import annotations

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

import numpy as np

REPO = Path(__file__).resolve().parents[1]


class ProcSampler(threading.Thread):
    """CPU % and RSS of one process, sampled every ``period`` seconds."""

    def __init__(self, pid: int, period: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.samples: list[tuple[float, float, float]] = []  # (t, cpu %, rss MiB)
        self._stop = threading.Event()
        try:
            import psutil  # type: ignore[import-not-found]

            self._ps = psutil.Process(pid)
        except Exception:  # noqa: BLE001 - psutil absent: /proc
            self._ps = None
        self._tck = os.sysconf("SC_CLK_TCK")

    def _read(self) -> tuple[float, float]:
        if self._ps is not None:
            t = self._ps.cpu_times()
            return t.user + t.system, self._ps.memory_info().rss / 2**20
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / self._tck
        rss_kb = next(int(line.split()[1]) for line in Path(f"/proc/{self.pid}/status").read_text().splitlines() if line.startswith("VmRSS:"))
        return cpu, rss_kb / 1024

    def run(self) -> None:
        try:
            last_cpu, _ = self._read()
        except (OSError, StopIteration):
            return
        last_t = time.monotonic()
        while not self._stop.wait(self.period):
            try:
                cpu, rss = self._read()
            except (OSError, StopIteration):
                return
            now = time.monotonic()
            self.samples.append((now, 100.0 * (cpu - last_cpu) / (now - last_t), rss))
            last_cpu, last_t = cpu, now

    def stop(self) -> None:
        self._stop.set()

    def between(self, t0: float, t1: float) -> list[tuple[float, float, float]]:
        return [s for s in self.samples if t0 <= s[0] <= t1]


def _env() -> dict[str, str]:
    from handos_ros.dds_profile import profile_variables

    env = dict(os.environ)
    env.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(101, 200)))
    for var in profile_variables():  # Fast DDS 2.x (Humble / Jazzy) reads only the older name
        env.setdefault(var, str(REPO / "config" / "fastdds_localhost.xml"))
    for key in ("ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_LOCALHOST_ONLY"):
        env.pop(key, None)
    return env


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from handos_ros.msg import HandMeshArray
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CameraInfo, Image

        from handos_ros.qos import RESULT_QOS

        self.args = args
        rclpy.init()
        self.node = rclpy.create_node("handos_bench")
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        rel = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self.pub_image = self.node.create_publisher(Image, "image", rel)
        self.pub_info = self.node.create_publisher(CameraInfo, "camera_info", rel)
        self.received: dict[int, float] = {}
        self.hands: list[int] = []
        self.node.create_subscription(HandMeshArray, "hands/meshes", self._on_meshes, RESULT_QOS)
        self.diag: list = []
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.diag.append, QoSProfile(depth=10))

    def _on_meshes(self, msg: object) -> None:
        key = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self.received[key] = time.time()
        self.hands.append(len(msg.hands))

    def spin(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=min(0.01, max(0.0, end - time.monotonic())))

    def diagnostics(self) -> dict[str, str]:
        n = len(self.diag)
        end = time.monotonic() + 3.0
        while len(self.diag) == n and time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.05)
        for arr in reversed(self.diag):
            for st in arr.status:
                if st.name.endswith(": pipeline"):
                    return {kv.key: kv.value for kv in st.values}
        return {}

    def run_rate(self, rate: float, n_frames: int, frames: list, stats_every: float = 0.0) -> dict:
        from std_msgs.msg import Header

        from handos_ros.image_encode import image_msg
        from handos_ros.synthetic_camera import camera_info_msg

        msgs = [image_msg(f.image, Header(frame_id="bench_camera_optical_frame"), "rgb8") for f in frames]
        h, w = frames[0].image.shape[:2]
        before = self.diagnostics()
        sent: list[int] = []
        period = 1.0 / rate
        t0 = time.monotonic()
        next_t = t0
        checkpoints: list[dict] = []
        next_stats = t0 + stats_every if stats_every else float("inf")
        for i in range(n_frames):
            while time.monotonic() < next_t:
                self.executor.spin_once(timeout_sec=max(0.0, min(0.005, next_t - time.monotonic())))
            k = i % len(frames)
            header = Header(frame_id="bench_camera_optical_frame", stamp=self.node.get_clock().now().to_msg())
            self.pub_info.publish(camera_info_msg(header, frames[k].K, w, h))
            msg = msgs[k]
            msg.header = header
            self.pub_image.publish(msg)
            sent.append(header.stamp.sec * 1_000_000_000 + header.stamp.nanosec)
            next_t += period
            if time.monotonic() >= next_stats:
                checkpoints.append(self._window(sent, time.monotonic() - t0))
                next_stats += stats_every
        t_pub = time.monotonic() - t0
        timing = self.diagnostics()  # in-node timings over the last 5 s window, before it empties
        self.spin(5.0)  # drain
        t1 = time.monotonic()
        after = self.diagnostics()
        lat = np.array([(self.received[s] - s / 1e9) * 1e3 for s in sent if s in self.received])
        node_received = int(after.get("received", 0)) - int(before.get("received", 0))
        dropped = int(after.get("dropped (stale)", 0)) - int(before.get("dropped (stale)", 0))
        res = {
            "rate_hz": rate,
            "published": len(sent),
            "publish_rate_hz": len(sent) / t_pub,
            "received_by_node": node_received,
            "lost_before_node": len(sent) - node_received,
            "dropped_stale": dropped,
            "delivered": int(lat.size),
            # processed-frame rate: deliveries over the span from the first publication to the last delivery
            "delivered_hz": lat.size / max(max((self.received[s] for s in sent if s in self.received), default=0.0) - sent[0] / 1e9, 1e-3),
            "latency_ms": _pct(lat),
            "inference_ms_p50": _f(timing.get("inference p50 (ms)")),
            "overhead_ms_p50": _f(timing.get("overhead p50 (ms)")),
            "overhead_ms_max": _f(timing.get("overhead max (ms)")),
            "t_start": t0,
            "t_end": t1,
        }
        if checkpoints:
            res["checkpoints"] = checkpoints
        return res

    def _window(self, sent: list[int], elapsed: float, last: int = 300) -> dict:
        recent = sent[-last:]
        lat = np.array([(self.received[s] - s / 1e9) * 1e3 for s in recent if s in self.received])
        return {"elapsed_s": round(elapsed, 1), "frames": len(sent), "latency_ms": _pct(lat)}


def _f(v: str | None) -> float | None:
    try:
        return float(v) if v is not None else None
    except ValueError:
        return None


def _pct(x: np.ndarray) -> dict:
    if x.size == 0:
        return {"p50": None, "p90": None, "p99": None, "max": None}
    return {k: round(float(v), 1) for k, v in zip(("p50", "p90", "p99", "max"), np.percentile(x, [50, 90, 99, 100]), strict=True)}


def _cpu_rss(sampler: ProcSampler, t0: float, t1: float) -> dict:
    s = sampler.between(t0, t1)
    if not s:
        return {}
    cpu = np.array([x[1] for x in s])
    rss = np.array([x[2] for x in s])
    step = max(1, len(s) // 20)  # at most ~20 points over the run
    timeline = [{"t_s": round(x[0] - t0, 1), "cpu_pct": round(x[1], 1), "rss_mib": round(x[2], 1)} for x in s[::step]]
    return {"cpu_pct_mean": round(float(cpu.mean()), 1), "cpu_pct_max": round(float(cpu.max()), 1),
            "rss_mib_start": round(float(rss[0]), 1), "rss_mib_end": round(float(rss[-1]), 1), "rss_mib_max": round(float(rss.max()), 1),
            "timeline": timeline}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rates", default="15,30,60", help="comma-separated publication rates (Hz)")
    p.add_argument("--frames", type=int, default=150, help="frames per rate")
    p.add_argument("--soak", action="store_true", help="10 000 frames at 30 Hz; RSS and latency at start and end")
    p.add_argument("--soak-frames", type=int, default=10_000)
    p.add_argument("--distinct", type=int, default=8, help="distinct synthetic frames cycled through")
    p.add_argument("--weights", default="", help="weights (default: the embedded model)")
    p.add_argument("--json", default="", help="also write the JSON here")
    args = p.parse_args(argv)
    if Path.cwd() == REPO:
        os.chdir(REPO.parent)  # import the built package, not the source tree

    env = _env()
    from handos_ros.dds_profile import profile_variables

    os.environ.update({k: env[k] for k in ("ROS_DOMAIN_ID", *profile_variables())})
    for key in ("ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_LOCALHOST_ONLY"):
        os.environ.pop(key, None)
    from handos_ros.synthetic_camera import frame_source

    source = frame_source(7, 640, 480, 1, True, 2.0)
    frames = [source() for _ in range(args.distinct)]
    cmd = [sys.executable, "-u", "-m", "handos_ros.node", "--ros-args", "-p", "publish_markers:=false"]
    if args.weights:
        cmd += ["-p", f"weights:={args.weights}"]
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"handos_bench_node_{os.getpid()}.log"
    log = open(log_path, "w")  # noqa: SIM115
    node = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    bench = Bench(args)
    sampler = ProcSampler(node.pid)
    sampler.start()
    results: dict = {"machine": {"cpus": os.cpu_count()}, "image": "640x480 rgb8", "runs": []}
    try:
        t_start = time.monotonic()
        while bench.pub_image.get_subscription_count() == 0:
            if node.poll() is not None or time.monotonic() - t_start > 300:
                print(log_path.read_text()[-3000:], file=sys.stderr)
                return 1
            bench.spin(0.2)
        bench.spin(2.0)
        results["node_startup_s"] = round(time.monotonic() - t_start, 1)
        text = log_path.read_text()
        results["model"] = next((line.split("configured: model ", 1)[1].split(" on ")[0] for line in text.splitlines() if "configured: model" in line), "")
        # warm the path (first frames allocate)
        bench.run_rate(5.0, 5, frames)
        plan = [(30.0, args.soak_frames)] if args.soak else [(float(r), args.frames) for r in args.rates.split(",")]
        for rate, n in plan:
            print(f"[bench] {n} frames at {rate:g} Hz ...", file=sys.stderr, flush=True)
            r = bench.run_rate(rate, n, frames, stats_every=60.0 if args.soak else 0.0)
            r.update(_cpu_rss(sampler, r.pop("t_start"), r.pop("t_end")))
            results["runs"].append(r)
            print(json.dumps(r), file=sys.stderr, flush=True)
    finally:
        sampler.stop()
        node.send_signal(signal.SIGINT)
        try:
            node.wait(timeout=20)
        except subprocess.TimeoutExpired:
            node.kill()
        log.close()
    print(_markdown(results))
    print("\n```json\n" + json.dumps(results, indent=2) + "\n```")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def _markdown(res: dict) -> str:
    lines = [
        f"ROS pipeline, {res['image']}, model {res.get('model', '?')}, {res['machine']['cpus']} CPUs, node start-up {res.get('node_startup_s')} s",
        "",
        "| rate (Hz) | published | delivered (Hz) | dropped stale | lost before node | latency p50 / p90 / p99 / max (ms) | inference p50 (ms) | non-inference overhead p50 / max (ms) | node CPU % mean / max | RSS MiB start / end |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["runs"]:
        lat = r["latency_ms"]
        lines.append(
            f"| {r['rate_hz']:g} | {r['published']} | {r['delivered']} ({r['delivered_hz']:.1f}) | {r['dropped_stale']} | "
            f"{r['lost_before_node']} | {lat['p50']} / {lat['p90']} / {lat['p99']} / {lat['max']} | {r['inference_ms_p50']} | "
            f"{r['overhead_ms_p50']} / {r['overhead_ms_max']} | {r.get('cpu_pct_mean')} / {r.get('cpu_pct_max')} | "
            f"{r.get('rss_mib_start')} / {r.get('rss_mib_end')} |"
        )
        for cp in r.get("checkpoints", []):
            lines.append(f"|   at {cp['elapsed_s']} s | {cp['frames']} | | | | {cp['latency_ms']['p50']} / {cp['latency_ms']['p90']} / "
                         f"{cp['latency_ms']['p99']} / {cp['latency_ms']['max']} | | | | |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
