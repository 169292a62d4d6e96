"""The evaluation report: a markdown table, one row per metric, one column per group."""

from __future__ import annotations

from typing import Any

from .eval_metrics import MATCHING

ROWS = (
    ("images", "num_images", "{:d}"),
    ("GT hands", "num_gt_hands", "{:d}"),
    ("detection recall (IoU >= 0.5)", "detection_recall", "{:.3f}"),
    ("left/right precision", "side_precision", "{:.3f}"),
    ("PA-MPJPE (mm)", "pa_mpjpe_mm", "{:.2f}"),
    ("PA-MPVPE (mm)", "pa_mpvpe_mm", "{:.2f}"),
    ("F@5mm", "f_score_5mm", "{:.3f}"),
    ("F@15mm", "f_score_15mm", "{:.3f}"),
    ("AUC 3D PCK 0-50 mm", "auc_3d", "{:.3f}"),
    ("MPJPE, root-relative, not aligned (mm; detected)", "mpjpe_mm", "{:.1f}"),
    ("wrist position error, median (mm; detected)", "wrist_error_mm", "{:.1f}"),
    ("wrist depth error / depth, median (detected)", "wrist_depth_rel_error", "{:.3f}"),
)


def _cell(value: Any, fmt: str) -> str:
    return "n/a" if value is None else fmt.format(value)


def format_markdown(result: dict[str, Any]) -> str:
    """A markdown table: one row per metric, one column per group (overall + each source)."""
    groups = [("overall", result["overall"])] + sorted(result.get("per_source", {}).items())
    if len(groups) == 2 and groups[1][1] == groups[0][1]:
        groups = groups[1:]  # a single source: the overall column would repeat it
    lines = ["| metric | " + " | ".join(g for g, _ in groups) + " |", "|---" * (len(groups) + 1) + "|"]
    for label, key, fmt in ROWS:
        lines.append(f"| {label} | " + " | ".join(_cell(m[key], fmt) for _, m in groups) + " |")
    for kind, label in (("pck_2d", "PCK 2D"), ("pck_proj", "PCK proj")):
        for a in groups[0][1][kind]:
            lines.append(f"| {label}@{a} | " + " | ".join(_cell(m[kind][a], "{:.3f}") for _, m in groups) + " |")
    notes = [
        "",
        f"Matching: {MATCHING}. Missed hands count with V = 0 in the 3D metrics and 0 in PCK/AUC (paper Sec. 4.2).",
        "PCK thresholds are fractions of max(w, h) of the ground-truth box; the PA-/F-/AUC 3D metrics use "
        "Procrustes alignment with scale (FreiHAND protocol); MPJPE and the wrist errors are not aligned and "
        "cover detected hands only.",
    ]
    if result.get("num_corrupt"):
        notes.append(f"Corrupt samples skipped: {result['num_corrupt']}.")
    return "\n".join(lines + notes) + "\n"
