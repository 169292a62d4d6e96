"""Synthetic data engine benchmark: rendering throughput, sample images, optional realism check.

    python bench/synth_bench.py [--num 300] [--size 320] [--workers 2] [--png-dir docs/img]
                                [--mediapipe 200 [--mediapipe-python .venv-bench/bin/python]]

* Throughput: images/s of ``render_sample`` (full scene: background, people, 0-4 hands, arms,
  held objects, occluders, camera effects, ground truth; no disk) in one process and with
  ``--workers`` processes, and the CPU time per image (the figure that survives a shared machine).
* ``--png-dir``: writes ``synth_samples.png`` and ``synth_samples_annotated.png``, a 3x2 sheet
  of renders (``SHEET``: a hand next to a face, people without hands, a held object, ...).
* ``--mediapipe N`` (optional): fraction of single-hand renders with the hand >= 20 % of the
  image height in which MediaPipe Hands (``mediapipe==0.10.14``, ``mp.solutions.hands``)
  finds a hand: a rough realism figure, for random scenes and for the easy mode.
  mediapipe is imported lazily; it pulls ~1 GB, so install it in a separate venv and
  pass ``--mediapipe-python /that/venv/bin/python`` (the renders are handed over as PNGs).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handos_model.data.schema import Sample  # noqa: E402
from handos_model.hand.hand_model import load_hand_model  # noqa: E402
from handos_model.hand.topology import SKELETON_PARENTS  # noqa: E402
from handos_model.synth.config import SynthConfig, easy_config  # noqa: E402
from handos_model.synth.generate import render_sample  # noqa: E402
from handos_model.synth.person_sprites import sprite_bank  # noqa: E402

_W: dict = {}


def _init(size: int) -> None:
    cv2.setNumThreads(1)
    _W["cfg"] = SynthConfig(width=size, height=size)
    _W["model"] = load_hand_model("open")
    sprite_bank()  # the per-process sprites (built once, ~1 s): not part of the per-image cost


def _render(i: int) -> float:
    """Render sample i; returns the CPU seconds it took."""
    c = time.process_time()
    render_sample(1000, i, _W["cfg"], _W["model"])
    return time.process_time() - c


def throughput(num: int, size: int, workers: int) -> tuple[float, float]:
    """(images/s wall, CPU ms per image of the main process or of all workers)."""
    if workers <= 1:
        _init(size)
        _render(0)
        t0 = time.perf_counter()
        cpu = sum(_render(i) for i in range(num))
        wall = time.perf_counter() - t0
        return num / wall, 1000 * cpu / num
    ctx = mp.get_context("fork")
    with ctx.Pool(workers, initializer=_init, initargs=(size,)) as pool:
        pool.map(_render, range(workers * 2))  # warm up
        t0 = time.perf_counter()
        cpu = sum(pool.imap_unordered(_render, range(num), chunksize=8))
        wall = time.perf_counter() - t0
    return num / wall, 1000 * cpu / num


def draw(sample: Sample) -> np.ndarray:
    """BGR image with boxes (green right / blue left), skeletons and hidden joints in red."""
    im = cv2.cvtColor(sample.image, cv2.COLOR_RGB2BGR)
    for h in sample.hands:
        col = (0, 200, 0) if h.side == 1 else (255, 120, 0)
        x0, y0, x1, y1 = (int(round(v)) for v in h.box)
        cv2.rectangle(im, (x0, y0), (x1, y1), col, 1, cv2.LINE_AA)
        j = h.joints_2d
        for k, p in enumerate(SKELETON_PARENTS):
            if p >= 0:
                cv2.line(im, tuple(np.round(j[k]).astype(int)), tuple(np.round(j[p]).astype(int)), col, 1, cv2.LINE_AA)
        for k in range(21):
            c = (0, 255, 255) if h.visibility[k] > 0 else (0, 0, 255)
            cv2.circle(im, tuple(np.round(j[k]).astype(int)), 2, c, -1, cv2.LINE_AA)
    return im


# what the sample sheet shows, one cell each: a predicate on (scene, sample)
SHEET = (
    ("a hand next to a face", lambda sc, s: bool(sc.people) and _big_hand(s, 0.25)),
    ("people, no hand", lambda sc, s: not s.hands and len(sc.people) >= 1),
    ("a held object", lambda sc, s: any(h.held is not None for h in sc.hands) and _big_hand(s, 0.2)),
    ("several hands", lambda sc, s: len(s.hands) >= 2 and _big_hand(s, 0.2)),
    ("an arm, its hand out of view", lambda sc, s: bool(sc.arms)),
    ("a room", lambda sc, s: _big_hand(s, 0.3) and not sc.people),
)


def _big_hand(s: Sample, frac: float) -> bool:
    return any((h.box[3] - h.box[1]) >= frac * s.height for h in s.hands)


def write_pngs(out: Path, size: int, seed: int) -> list[Path]:
    """``synth_samples.png`` / ``synth_samples_annotated.png``: a 3x2 sheet of renders, one per ``SHEET`` entry."""
    from handos_model.synth.compose import render_scene
    from handos_model.synth.generate import sample_rng
    from handos_model.synth.scene import sample_scene

    out.mkdir(parents=True, exist_ok=True)
    model = load_hand_model("open")
    cfg = SynthConfig(width=size, height=size)
    cells: list[Sample | None] = [None] * len(SHEET)
    i = 0
    while any(c is None for c in cells) and i < 2000:
        rng = sample_rng(seed, i)
        scene = sample_scene(rng, cfg, model)
        s = render_scene(scene, rng, model, key=f"{i:06d}")
        i += 1
        for k, (_, want) in enumerate(SHEET):
            if cells[k] is None and want(scene, s):
                cells[k] = s
                break
    picked = [c for c in cells if c is not None]
    paths = []
    for name, ims in (("synth_samples.png", [cv2.cvtColor(c.image, cv2.COLOR_RGB2BGR) for c in picked]),
                      ("synth_samples_annotated.png", [draw(c) for c in picked])):
        rows = [np.concatenate(ims[r:r + 3], 1) for r in range(0, len(ims) - len(ims) % 3, 3)]
        p = out / name
        cv2.imwrite(str(p), np.concatenate(rows, 0), [cv2.IMWRITE_PNG_COMPRESSION, 9])
        paths.append(p)
    return paths


_MP_SCRIPT = r"""
import json, sys
import cv2
from mediapipe.python.solutions import hands as mp_hands
paths = sys.argv[1:]
found = []
with mp_hands.Hands(static_image_mode=True, max_num_hands=2, min_detection_confidence=0.5) as det:
    for p in paths:
        img = cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB)
        res = det.process(img)
        found.append(bool(res.multi_hand_landmarks))
print(json.dumps(found))
"""


def realism_images(num: int, size: int, seed: int, out: Path, min_frac: float = 0.2, easy: bool = False) -> list[Path]:
    """Write ``num`` single-hand renders whose hand is >= ``min_frac`` of the image height as PNGs."""
    model = load_hand_model("open")
    cfg = easy_config(width=size, height=size) if easy else SynthConfig(width=size, height=size, num_hands=1)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    i = 0
    while len(paths) < num and i < num * 20:
        s = render_sample(seed, i, cfg, model)
        i += 1
        if len(s.hands) != 1 or (s.hands[0].box[3] - s.hands[0].box[1]) < min_frac * s.height:
            continue
        p = out / f"{'easy' if easy else 'rand'}_{i:05d}.png"
        cv2.imwrite(str(p), cv2.cvtColor(s.image, cv2.COLOR_RGB2BGR))
        paths.append(p)
    return paths


def mediapipe_found(paths: list[Path], python: str | None) -> list[bool] | None:
    """MediaPipe Hands detection per image, in this interpreter or in ``python`` (a venv with mediapipe)."""
    import json
    import subprocess

    if python:
        r = subprocess.run([python, "-c", _MP_SCRIPT, *map(str, paths)], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"mediapipe run with {python} failed:\n{r.stderr[-2000:]}")
            return None
        return json.loads(r.stdout.strip().splitlines()[-1])
    try:
        from mediapipe.python.solutions import hands as mp_hands
    except ImportError:
        print("mediapipe is not installed in this interpreter. Create the project's bench venv with "
              "`bash scripts/bootstrap_bench.sh` (mediapipe==0.10.14 in .venv-bench) and pass "
              "--mediapipe-python .venv-bench/bin/python.")
        return None
    found = []
    with mp_hands.Hands(static_image_mode=True, max_num_hands=2, min_detection_confidence=0.5) as det:
        for p in paths:
            res = det.process(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB))
            found.append(bool(res.multi_hand_landmarks))
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--num", type=int, default=300)
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--png-dir", type=Path, default=None)
    ap.add_argument("--mediapipe", type=int, default=0, metavar="N", help="run the MediaPipe realism check on N renders")
    ap.add_argument("--mediapipe-python", default=None, help="interpreter of a venv with mediapipe (else: this one)")
    ap.add_argument("--skip-throughput", action="store_true")
    args = ap.parse_args(argv)
    print(f"machine: {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}")
    if not args.skip_throughput:
        ips, cpu = throughput(args.num, args.size, 1)
        print(f"1 process : {ips:7.1f} images/s at {args.size}x{args.size} ({cpu:.1f} ms CPU per image; "
              f"{1000 / cpu:.0f}/s per free core)")
        if args.workers > 1:
            ips, cpu = throughput(args.num, args.size, args.workers)
            print(f"{args.workers} processes: {ips:7.1f} images/s at {args.size}x{args.size} ({cpu:.1f} ms CPU per image)")
    if args.png_dir is not None:
        for p in write_pngs(args.png_dir, args.size, args.seed):
            print("wrote", p)
    if args.mediapipe > 0:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            for easy in (False, True):
                paths = realism_images(args.mediapipe, 320, args.seed, Path(tmp), easy=easy)
                found = mediapipe_found(paths, args.mediapipe_python)
                if found is None:
                    break
                name = "easy" if easy else "random"
                print(f"mediapipe ({name} single-hand renders, hand >= 20% of height): "
                      f"{sum(found)}/{len(found)} = {100 * sum(found) / max(len(found), 1):.1f}% found")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
