"""``handos-synth``: write a synthetic hand dataset to disk.

    handos-synth --num 10000 --out data/synth --seed 0 [--workers 2] [--size 320 | 640x480]
                 [--hands N] [--easy] [--start I] [--hand-model open|PATH] [--quality 92]
                 [--backgrounds DIR [--photo-prob 1.0]]

``--backgrounds DIR``: composite the hands (and the engine's people, arms, objects) onto random
crops / scales / flips of the photos in DIR instead of procedural backgrounds, e.g. frames of
the robot's empty workspace recorded with its own camera: the way to adapt the model to one's
camera (docs/datasets_and_evaluation.md). The photos must show no hands (a hand in a
background would be an unannotated hand).

Sample ``i`` depends only on ``(seed, i)``, so the same arguments give byte-identical
files whatever ``--workers``. The folder format is documented in
``handos_model.data.synthetic``.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from ..data.synthetic import DEFAULT_JPEG_QUALITY, prepare_dir, write_meta, write_sample
from .config import SynthConfig, easy_config

_STATE: dict = {}


def parse_size(text: str | None) -> tuple[int | None, int | None]:
    """``"320"`` -> (320, 320); ``"640x480"`` -> (640, 480) as (width, height); None -> random."""
    if text is None:
        return None, None
    t = text.lower().replace(",", "x")
    if "x" in t:
        w, h = t.split("x", 1)
        return int(w), int(h)
    return int(t), int(t)


def _init_worker(root: str, seed: int, cfg: SynthConfig, quality: int) -> None:
    import cv2

    cv2.setNumThreads(1)
    from ..hand.hand_model import load_hand_model

    _STATE.update(root=root, seed=seed, cfg=cfg, quality=quality, model=load_hand_model(cfg.hand_model))


def _work(index: int) -> int:
    from .generate import render_sample

    st = _STATE
    s = render_sample(st["seed"], index, st["cfg"], st["model"])
    write_sample(st["root"], index, s, st["model"].num_vertices, st["quality"])
    return len(s.hands)


def build_config(args: argparse.Namespace) -> SynthConfig:
    w, h = parse_size(args.size)
    kw = {"width": w, "height": h, "hand_model": args.hand_model}
    if args.hands is not None:
        kw["num_hands"] = args.hands
    if args.backgrounds is not None:
        from .photos import list_images

        list_images(args.backgrounds)  # fail early, with the reason, on a bad folder
        kw["backgrounds"] = str(args.backgrounds)
        kw["photo_prob"] = args.photo_prob
    return easy_config(**kw) if args.easy else SynthConfig(**kw)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="handos-synth", description="Render a synthetic hand dataset (images + annotations).")
    ap.add_argument("--num", type=int, required=True, help="number of images")
    ap.add_argument("--out", type=Path, required=True, help="output folder")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1, help="processes (output does not depend on it)")
    ap.add_argument("--size", default=None, help="image size 'S' or 'WxH' (default: random 240-640 px sides)")
    ap.add_argument("--hands", type=int, default=None, choices=(1, 2, 3, 4), help="fixed number of hands per image")
    ap.add_argument("--easy", action="store_true", help="one big well-lit hand on a plain background")
    ap.add_argument("--start", type=int, default=0, help="first sample index (to extend/resume a folder)")
    ap.add_argument("--hand-model", default="open", help="'open' or a path to MANO_RIGHT.pkl")
    ap.add_argument("--quality", type=int, default=DEFAULT_JPEG_QUALITY, help="JPEG quality of the stored images")
    ap.add_argument("--backgrounds", type=Path, default=None,
                    help="folder of your own photos (no hands in them) to use as backgrounds")
    ap.add_argument("--photo-prob", type=float, default=1.0,
                    help="share of the images on a photo background when --backgrounds is given")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    if args.num < 0 or args.start < 0:
        ap.error("--num and --start must be >= 0")
    if not 0.0 <= args.photo_prob <= 1.0:
        ap.error("--photo-prob must be in [0, 1]")
    cfg = build_config(args)
    root = prepare_dir(args.out)
    from ..hand.hand_model import load_hand_model

    model = load_hand_model(cfg.hand_model)
    end = args.start + args.num
    write_meta(root, count=end, seed=args.seed, hand_model=model.name, num_vertices=model.num_vertices,
               config=asdict(cfg), jpeg_quality=args.quality)
    indices = range(args.start, end)
    bar = tqdm(total=args.num, desc="handos-synth", unit="img", disable=args.no_progress)
    hands = 0
    workers = max(1, min(args.workers, os.cpu_count() or 1, max(1, args.num)))
    if workers == 1:
        _init_worker(str(root), args.seed, cfg, args.quality)
        for i in indices:
            hands += _work(i)
            bar.update(1)
    else:
        import multiprocessing as mp

        ctx = mp.get_context("spawn" if os.name == "nt" else "fork")
        with ctx.Pool(workers, initializer=_init_worker, initargs=(str(root), args.seed, cfg, args.quality)) as pool:
            for n in pool.imap_unordered(_work, indices, chunksize=8):
                hands += n
                bar.update(1)
    bar.close()
    print(f"wrote {args.num} images ({hands} hands) to {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
