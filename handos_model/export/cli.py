"""``handos-export --onnx``: HandOS weights -> ``detector.onnx`` + ``decoder.onnx`` + JSON.

    handos-export --onnx --out out/onnx/default                     # the embedded default weights
    handos-export --onnx --weights my.safetensors --out DIR --int8  # + int8 graphs
    handos-export --onnx --config handos_model/configs/handos_lite.yaml --out DIR  # untrained (timing)
    handos-export --onnx --out DIR --check 4   # then compare ORT with PyTorch on 4 synthetic frames

See docs/deployment.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from .. import DEFAULT_WEIGHTS


def _build(args: argparse.Namespace):  # noqa: ANN202 - HandOS
    if args.config:
        from ..models.build import build_model

        torch.manual_seed(args.seed)
        return build_model(args.config).eval(), f"{Path(args.config).name} (untrained, seed {args.seed})"
    from ..checkpoint import load_model

    weights = Path(args.weights) if args.weights else DEFAULT_WEIGHTS
    return load_model(weights, device="cpu").eval(), weights.name


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="handos-export", description=__doc__.split("\n\n")[0])
    p.add_argument("--onnx", action="store_true", help="export to ONNX (the only format so far)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--weights", default="", help="HandOS .safetensors (+ .json beside it); default: embedded")
    src.add_argument("--config", default="", help="build an untrained model from this YAML instead (timing)")
    p.add_argument("--seed", type=int, default=0, help="seed of the untrained model (--config)")
    p.add_argument("--out", default="out/onnx", help="output directory")
    p.add_argument("--input-size", type=int, default=0, help="network input side S (default: the model's)")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset (>= 16)")
    p.add_argument("--dynamo", action="store_true", help="torch.export-based exporter (default: TorchScript tracer)")
    p.add_argument("--int8", action="store_true", help="also write int8 dynamically quantised graphs")
    p.add_argument("--check", type=int, default=0, metavar="N",
                   help="compare ONNX Runtime with PyTorch on N synthetic frames and record it in the JSON")
    p.add_argument("--threads", type=int, default=2, help="threads for --check")
    args = p.parse_args(argv)
    if not args.onnx:
        p.error("choose a format: --onnx")
    model, source = _build(args)
    if args.input_size:
        model.input_size = int(args.input_size)
    from .onnx_export import export_onnx

    meta = export_onnx(model, args.out, opset=args.opset, dynamo=args.dynamo, int8=args.int8, source=source)
    print(f"wrote {meta.parent}: " + ", ".join(sorted(f.name for f in meta.parent.iterdir())))
    if args.check:
        from .compare import compare_backends, summary_line

        torch.set_num_threads(args.threads)
        info = json.loads(meta.read_text(encoding="utf-8"))
        info["check"] = {}
        for precision in info["precisions"]:
            report = compare_backends(model, meta.parent, args.check, precision=precision, num_threads=args.threads)
            info["check"][precision] = report
            print(f"{precision} vs PyTorch: {summary_line(report)}")
        meta.write_text(json.dumps(info, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
