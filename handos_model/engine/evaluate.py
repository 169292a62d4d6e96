"""``handos-eval``: run a HandOS model over a dataset and report the paper's metrics.

    handos-eval --weights PATH_OR_default --data DATA [--out DIR] [--max-samples N]

``DATA`` is a dataset YAML (see ``handos_model.data.mixed``) or a folder written by
the synthetic engine. The model sees each full image with its intrinsics
(``HandPredictor(model).predict(image, K)``), exactly as deployed: no ground-truth boxes or sides.
Predictions are matched to the ground truth by box IoU and scored with
``handos_model.metrics``; undetected hands are scored with V = 0 (3D metrics) and 0
(PCK/AUC) as in the paper. Results go to ``DIR/metrics.json`` and ``DIR/metrics.md``
(overall and per dataset source).

``eval_metrics.evaluate_predictions`` is the pure aggregation (ground truth + predictions in,
metric dict out) and ``evaluate_model`` runs any object with a ``predict(image, K)``
method; ``main`` only adds argument parsing and weight loading.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .. import DEFAULT_WEIGHTS
from ..checkpoint import load_model
from ..data.mixed import build_dataset, load_dataset_config
from ..data.schema import CorruptSampleError, HandAnnotation, Sample
from ..metrics import IOU_THRESHOLD
from ..prediction import HandPrediction
from ..predictor import HandPredictor
from .eval_metrics import evaluate_predictions
from .eval_report import format_markdown

log = logging.getLogger("handos.eval")

class Predictor(Protocol):
    def predict(self, image: np.ndarray, K: np.ndarray) -> list[HandPrediction]: ...


def run_model(
    model: Predictor, dataset: Sequence[Sample], max_samples: int | None = None
) -> tuple[list[list[HandAnnotation]], list[list[HandPrediction]], list[str], int]:
    """Predict every image of ``dataset`` (first ``max_samples``); corrupt samples are skipped and counted.

    Returns:
        (ground-truth hands per image, predictions per image, source per image, corrupt count).
    """
    n = len(dataset) if max_samples is None else min(len(dataset), max_samples)
    gts: list[list[HandAnnotation]] = []
    preds: list[list[HandPrediction]] = []
    sources: list[str] = []
    corrupt = 0
    t0 = time.perf_counter()
    for i in range(n):
        try:
            sample = dataset[i]
        except CorruptSampleError as e:
            corrupt += 1
            log.warning("skipping sample %d: %s", i, e)
            continue
        preds.append(list(model.predict(sample.image, sample.K)))
        gts.append(list(sample.hands))
        sources.append(sample.source or "unknown")
        if (i + 1) % 100 == 0:
            log.info("%d/%d images, %.1f s", i + 1, n, time.perf_counter() - t0)
    return gts, preds, sources, corrupt


def evaluate_model(
    model: Predictor,
    dataset: Sequence[Sample],
    out_dir: str | Path | None = None,
    max_samples: int | None = None,
    iou_threshold: float = IOU_THRESHOLD,
) -> dict[str, Any]:
    """Run ``model`` over ``dataset``, score it overall and per source, optionally write the report.

    Returns:
        ``{"overall": metrics, "per_source": {source: metrics}, "num_corrupt": int}``;
        with ``out_dir``, the same as ``metrics.json`` plus a ``metrics.md`` table.
    """
    gts, preds, sources, corrupt = run_model(model, dataset, max_samples)
    topology = getattr(model, "topology", None)
    nv = getattr(topology, "num_vertices", None)
    nv = int(nv) if isinstance(nv, int | np.integer) else None
    result: dict[str, Any] = {
        "overall": evaluate_predictions(gts, preds, iou_threshold, num_model_vertices=nv),
        "per_source": {},
        "num_corrupt": corrupt,
    }
    for src in sorted(set(sources)):
        idx = [i for i, s in enumerate(sources) if s == src]
        result["per_source"][src] = evaluate_predictions(
            [gts[i] for i in idx], [preds[i] for i in idx], iou_threshold, num_model_vertices=nv
        )
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        (out / "metrics.md").write_text(format_markdown(result), encoding="utf-8")
    return result


def resolve_weights(weights: str) -> Path:
    """``"default"`` -> the embedded default model (``handos_model.DEFAULT_WEIGHTS``); otherwise the given path."""
    if weights.lower() != "default":
        return Path(weights)
    if not DEFAULT_WEIGHTS.is_file():
        raise FileNotFoundError(f"the embedded default weights {DEFAULT_WEIGHTS.name} are missing; pass --weights PATH")
    return DEFAULT_WEIGHTS


def build_eval_dataset(data: str | Path) -> Any:
    """A dataset YAML (``handos_model.data.mixed``) or a synthetic-data folder -> dataset."""
    path = Path(data)
    if path.is_dir():
        return build_dataset({"type": "synthetic", "root": str(path)})
    if path.suffix.lower() in (".yaml", ".yml") and path.is_file():
        return load_dataset_config(path)
    raise FileNotFoundError(f"--data must be a dataset YAML file or a synthetic-data folder, got {data}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="handos-eval", description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", default="default", help="weights .safetensors (or its .json), or 'default'")
    ap.add_argument("--data", required=True, help="dataset YAML (see handos_model.data.mixed) or synthetic folder")
    ap.add_argument("--out", default=None, help="folder for metrics.json and metrics.md")
    ap.add_argument("--max-samples", type=int, default=None, help="evaluate only the first N images")
    ap.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    ap.add_argument("--iou", type=float, default=IOU_THRESHOLD, help="IoU for a detection to count (default 0.5)")
    ap.add_argument("--input-size", type=int, default=0,
                    help="network input side S to run the model at (default: the one it was trained at)")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    net = load_model(resolve_weights(args.weights), args.device)
    if args.input_size:
        net.input_size = int(args.input_size)
    model = HandPredictor(net)
    dataset = build_eval_dataset(args.data)
    result = evaluate_model(model, dataset, args.out, args.max_samples, args.iou)
    sys.stdout.write(format_markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
