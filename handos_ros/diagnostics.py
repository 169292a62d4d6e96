"""The node's /diagnostics status (diagnostic_updater FrequencyStatus + TimeStampStatus style).

One DiagnosticStatus named ``/<namespace>/<node name>: pipeline`` per tick (every
``diagnostics_period`` seconds, :mod:`handos_ros.node_diagnostics`), with:

| key | meaning |
|---|---|
| state | lifecycle state and ``enable`` |
| device, model, weights | what runs |
| input rate (Hz), processed rate (Hz) | over the last ``window`` seconds |
| latency p50 / max (ms) | image stamp -> outputs published |
| inference p50 (ms) | model ``predict`` only |
| overhead p50 / max (ms) | everything else in the worker: decode, conversions, publishing |
| stamp age p50 (ms) | image stamp -> arrival in the node |
| received, processed, dropped (stale) | cumulative frame counters |
| rejected total, rejected <reason> | cumulative refusals per reason (bad_encoding, bad_size, ...) |
| stamps backwards, worker errors | cumulative |

Level: ERROR when the model is untrained (default weights missing) or the worker raised
since the last tick; WARN when active (and ``enable`` true) but no image arrived for 3 s, or
frames were refused in the window; OK otherwise (message ``disabled (enable=false)`` while an
active node ignores its input on purpose).
"""

from __future__ import annotations

import math

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from handos_ros.pipeline_stats import Snapshot


def _fmt(v: float) -> str:
    return "nan" if not math.isfinite(v) else f"{v:.1f}"


def pipeline_status(
    name: str,
    hardware_id: str,
    snap: Snapshot,
    info: dict[str, str],
    active: bool,
    problems: list[str],
    errors: list[str],
    enabled: bool = True,
) -> DiagnosticStatus:
    """Build the status; ``problems`` are WARN-level messages, ``errors`` ERROR-level ones.

    ``enabled`` False (the ``enable`` parameter): no input is expected, so its absence is no problem.
    """
    values = dict(info)
    values.update(
        {
            "window (s)": f"{snap.window_s:.0f}",
            "input rate (Hz)": _fmt(snap.input_hz),
            "processed rate (Hz)": _fmt(snap.processed_hz),
            "latency p50 (ms)": _fmt(snap.latency_ms_p50),
            "latency max (ms)": _fmt(snap.latency_ms_max),
            "inference p50 (ms)": _fmt(snap.inference_ms_p50),
            "overhead p50 (ms)": _fmt(snap.overhead_ms_p50),
            "overhead max (ms)": _fmt(snap.overhead_ms_max),
            "stamp age p50 (ms)": _fmt(snap.stamp_age_ms_p50),
            "received": str(snap.received),
            "processed": str(snap.processed),
            "hands published": str(snap.published_hands),
            "dropped (stale)": str(snap.dropped),
            "rejected total": str(sum(snap.rejected.values())),
            "stamps backwards": str(snap.stamps_backwards),
            "worker errors": str(snap.worker_errors),
        }
    )
    for reason, count in sorted(snap.rejected.items()):
        values[f"rejected {reason}"] = str(count)
    status = DiagnosticStatus(name=name, hardware_id=hardware_id)
    status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
    problems = list(problems)
    if active and enabled and snap.seconds_since_input > 3.0:
        problems.append("no image received for 3 s")
    if snap.rejected_in_window:
        problems.append(f"{snap.rejected_in_window} frames refused in the last {snap.window_s:.0f} s")
    if errors:
        status.level = DiagnosticStatus.ERROR
        status.message = "; ".join(errors + problems)
    elif problems:
        status.level = DiagnosticStatus.WARN
        status.message = "; ".join(problems)
    else:
        status.level = DiagnosticStatus.OK
        status.message = ("inactive" if not active else f"processing {snap.processed_hz:.1f} Hz" if enabled
                          else "disabled (enable=false)")
    return status


def diagnostic_array(stamp: object, statuses: list[DiagnosticStatus]) -> DiagnosticArray:
    msg = DiagnosticArray()
    msg.header.stamp = stamp
    msg.status = statuses
    return msg
