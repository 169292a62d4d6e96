"""A small consumer of hands/meshes: one line per frame (hands, sides, scores, latency).

    ros2 run handos_ros hands_echo [--ground-truth synthetic/ground_truth] [--frames N]

Latency = arrival time here - image stamp (both on this machine's clock). With
``--ground-truth`` (the synthetic camera's side topic) each line also gives the mean 2D joint
error in pixels and in % of the ground-truth box size, and whether the side is right (the
summary adds the error of ``joints_2d_proj``, the projected mesh joints).
``--debug-image-out DIR`` saves the first and last hands/debug_image as PNG;
``--summary-json FILE`` writes the totals at exit.
"""

# ruff: noqa: E402

from __future__ import annotations

if __name__ == "__main__":  # `python -m`: Ctrl-C while the imports below load exits quietly
    from handos_ros import quiet_start

    quiet_start.install()

import argparse
import json
import sys
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from sensor_msgs.msg import Image

from handos_ros import quiet_start, shutdown
from handos_ros.gt_compare import FrameComparison, compare
from handos_ros.msg import HandMesh, HandMeshArray, HandMeshInfo
from handos_ros.qos import INFO_QOS, RESULT_QOS

SIDE = {HandMesh.LEFT: "L", HandMesh.RIGHT: "R"}


def _stamp_key(header: object) -> int:
    return Time.from_msg(header.stamp).nanoseconds


class HandsEcho(Node):
    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__("hands_echo")
        self.args = args
        self.create_subscription(HandMeshArray, "hands/meshes", self.on_meshes, RESULT_QOS)
        self.create_subscription(HandMeshInfo, "hands/mesh_info", self.on_info, INFO_QOS)
        self.gt: OrderedDict[int, HandMeshArray] = OrderedDict()
        if args.ground_truth:
            self.create_subscription(HandMeshArray, args.ground_truth, self.on_gt, RESULT_QOS)
        if args.debug_image_out:
            Path(args.debug_image_out).mkdir(parents=True, exist_ok=True)
            self.create_subscription(Image, "hands/debug_image", self.on_debug, QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
        self.info: HandMeshInfo | None = None
        self.frames = 0
        self.latencies_ms: list[float] = []
        self.hands_total = 0
        self.errors_px: list[float] = []
        self.errors_rel: list[float] = []
        self.centre_errors_rel: list[float] = []
        self.proj_errors_rel: list[float] = []
        self.wrist_errors_m: list[float] = []
        self.sides_ok = 0
        self.sides_total = 0
        self.missed = 0
        self.extra = 0
        self.last_gt_key: int | None = None
        self.gt_received = 0
        self.last_output_key: int | None = None
        self.last_activity = time.monotonic()
        self.debug_saved = 0
        self.debug_last: Image | None = None

    def on_info(self, msg: HandMeshInfo) -> None:
        self.info = msg
        print(
            f"[hands_echo] mesh info: model {msg.hand_model}, weights {msg.weights}, device {msg.device}, "
            f"{msg.num_vertices} vertices, thresholds score {msg.score_threshold:.2f} nms {msg.nms_threshold:.2f} "
            f"max_hands {msg.max_hands}",
            flush=True,
        )

    def on_gt(self, msg: HandMeshArray) -> None:
        key = _stamp_key(msg.header)
        self.gt[key] = msg
        self.gt_received += 1
        self.last_gt_key = key
        self.last_activity = time.monotonic()
        while len(self.gt) > 500:
            self.gt.popitem(last=False)

    def on_debug(self, msg: Image) -> None:
        self.debug_last = msg
        if self.debug_saved == 0:
            self._save_debug(msg, "debug_first.png")
            self.debug_saved += 1

    def _save_debug(self, msg: Image, name: str) -> None:
        import cv2

        from handos_ros.image_decode import decode_image

        rgb = decode_image(msg)
        path = Path(self.args.debug_image_out) / name
        cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]))
        print(f"[hands_echo] saved debug image {path}", flush=True)

    def on_meshes(self, msg: HandMeshArray) -> None:
        now_ns = self.get_clock().now().nanoseconds
        key = _stamp_key(msg.header)
        latency = (now_ns - key) / 1e6
        self.frames += 1
        self.last_output_key = key
        self.last_activity = time.monotonic()
        self.latencies_ms.append(latency)
        self.hands_total += len(msg.hands)
        hands = " ".join(f"#{h.id}:{SIDE.get(h.side, '?')}:{h.score:.2f}" for h in msg.hands) or "-"
        line = f"frame {msg.header.stamp.sec}.{msg.header.stamp.nanosec:09d} [{msg.header.frame_id}] {len(msg.hands)} hands {hands}  latency {latency:6.1f} ms"
        gt = self.gt.get(key)
        if gt is not None:
            cmp: FrameComparison = compare(list(msg.hands), list(gt.hands))
            self.missed += cmp.missed
            self.extra += cmp.extra
            parts = []
            for m in cmp.matches:
                self.errors_px.append(m.err_px)
                self.errors_rel.append(m.err_rel)
                self.centre_errors_rel.append(m.centre_err_rel)
                self.proj_errors_rel.append(m.proj_err_rel)
                if np.isfinite(m.wrist_err_m):
                    self.wrist_errors_m.append(m.wrist_err_m)
                self.sides_total += 1
                self.sides_ok += int(m.side_ok)
                parts.append(f"#{m.pred_id} err {m.err_px:5.1f} px ({100 * m.err_rel:4.1f}% box) "
                             f"wrist {100 * m.wrist_err_m:5.1f} cm side {'ok' if m.side_ok else 'WRONG'}")
            if cmp.missed:
                parts.append(f"{cmp.missed} missed")
            if cmp.extra:
                parts.append(f"{cmp.extra} extra")
            line += "  | gt " + str(len(gt.hands)) + ": " + ("; ".join(parts) if parts else "-")
        if not self.args.quiet:
            print(line, flush=True)

    def summary(self) -> dict:
        lat = np.array(self.latencies_ms) if self.latencies_ms else np.array([np.nan])
        out = {
            "frames": self.frames,
            "hands": self.hands_total,
            "latency_ms_p50": float(np.nanmedian(lat)),
            "latency_ms_p95": float(np.nanpercentile(lat, 95)),
            "latency_ms_max": float(np.nanmax(lat)),
            "weights": self.info.weights if self.info else None,
            "device": self.info.device if self.info else None,
        }
        if self.args.ground_truth:
            out.update(
                gt_frames=self.gt_received,
                matched_hands=len(self.errors_px),
                missed_hands=self.missed,
                extra_hands=self.extra,
                err_px_mean=float(np.mean(self.errors_px)) if self.errors_px else None,
                err_box_pct_mean=float(100 * np.mean(self.errors_rel)) if self.errors_rel else None,
                proj_err_box_pct_mean=float(100 * np.mean(self.proj_errors_rel)) if self.proj_errors_rel else None,
                box_centre_err_box_pct_mean=float(100 * np.mean(self.centre_errors_rel)) if self.centre_errors_rel else None,
                side_accuracy=self.sides_ok / self.sides_total if self.sides_total else None,
                wrist_err_cm_median=float(100 * np.median(self.wrist_errors_m)) if self.wrist_errors_m else None,
            )
        return out

    def done(self) -> bool:
        a = self.args
        if a.frames and self.frames >= a.frames:
            return True
        if a.ground_truth and a.until_last_gt and self.last_gt_key is not None:
            all_gt = self.gt_received >= a.until_last_gt
            finished = all_gt and self.last_output_key is not None and self.last_output_key >= self.last_gt_key
            idle = time.monotonic() - self.last_activity > a.idle_timeout
            return finished or idle
        return False


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=0, help="exit after N arrays (0: run until Ctrl-C)")
    p.add_argument("--timeout", type=float, default=0.0, help="exit after this many seconds (0: never)")
    p.add_argument("--ground-truth", default="", help="HandMeshArray ground-truth topic to compare with")
    p.add_argument("--until-last-gt", type=int, default=0, metavar="N",
                   help="with --ground-truth: exit once N ground-truth frames arrived and the newest one has its "
                        "output, or after --idle-timeout s without traffic")
    p.add_argument("--idle-timeout", type=float, default=15.0)
    p.add_argument("--debug-image-out", default="", help="save hands/debug_image PNGs in this directory")
    p.add_argument("--summary-json", default="", help="write the totals to this file at exit")
    p.add_argument("--quiet", action="store_true", help="no per-frame lines")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Echo until done (``--frames`` / ``--until-last-gt`` / ``--timeout``) or Ctrl-C; the summary
    is printed (and written) either way, and the exit status is 0."""
    ros_argv = sys.argv if argv is None else ["hands_echo", *argv]
    args = parse_args(rclpy.utilities.remove_ros_args(ros_argv)[1:])
    quiet_start.done()
    rclpy.init(args=ros_argv)
    node = HandsEcho(args)
    t_end = time.monotonic() + args.timeout if args.timeout else float("inf")

    def echo() -> int:
        while rclpy.ok() and not node.done() and time.monotonic() < t_end:
            rclpy.spin_once(node, timeout_sec=0.1)
        return 0

    def cleanup() -> None:
        try:
            if node.debug_last is not None and args.debug_image_out:
                node._save_debug(node.debug_last, "debug_last.png")
            summary = node.summary()
            print("[hands_echo] summary " + json.dumps(summary), flush=True)
            if args.summary_json:
                Path(args.summary_json).write_text(json.dumps(summary, indent=2))
        finally:
            node.destroy_node()
            rclpy.try_shutdown()

    return shutdown.run(echo, cleanup, shutdown.default_context())


if __name__ == "__main__":
    sys.exit(main())
