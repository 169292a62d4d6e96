"""The sim-to-real elements of the synthetic engine: deterministic per seed, exact ground truth,
and ``--backgrounds DIR`` compositing onto the user's own photos (written here by the test)."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from handos_model.data.synthetic import SyntheticDataset, SyntheticOnTheFly
from handos_model.hand.hand_model import load_hand_model
from handos_model.synth.background import light_spots
from handos_model.synth.camera_fx import apply_post_fx, sample_post_fx
from handos_model.synth.cli import main as synth_main
from handos_model.synth.clutter import busy_patches, clutter
from handos_model.synth.compose import render_scene
from handos_model.synth.config import SynthConfig, easy_config
from handos_model.synth.creases import crease_map
from handos_model.synth.generate import render_sample, sample_rng
from handos_model.synth.people import draw_person, sample_crowd, sample_people
from handos_model.synth.person_sprites import SPRITE_H, sprite_bank, sprites_of_kind
from handos_model.synth.photos import PhotoBackgrounds, list_images
from handos_model.synth.props import draw_surface, held_object_mesh, sample_held_object, sample_surface
from handos_model.synth.rooms import room
from handos_model.synth.scene import sample_bare_arm, sample_scene

PHOTO_COLORS = {"red": (200, 40, 40), "green": (40, 200, 40), "blue": (40, 40, 200)}


@pytest.fixture(scope="module")
def model():
    return load_hand_model("open")


@pytest.fixture()
def photo_dir(tmp_path: Path) -> Path:
    """Three solid-colour 'workspace photos' of different sizes, one in a sub-folder, plus a non-image."""
    root = tmp_path / "frames"
    (root / "cam2").mkdir(parents=True)
    for (name, rgb), size, sub in zip(PHOTO_COLORS.items(), [(480, 640), (300, 400), (720, 1280)], ["", "", "cam2"],
                                      strict=True):
        img = np.zeros((*size, 3), np.uint8)
        img[:] = rgb[::-1]  # BGR on disk
        cv2.imwrite(str(root / sub / f"{name}.png" if sub else root / f"{name}.jpg"), img)
    (root / "notes.txt").write_text("not an image")
    return root


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------- determinism per seed

def _same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if hasattr(a, "__dataclass_fields__"):
        return all(_same(getattr(a, k), getattr(b, k)) for k in a.__dataclass_fields__)
    return a == b


def _elements(seed: int, model) -> dict[str, object]:
    """Each new scene element drawn from a generator of ``seed``."""
    K = np.array([[300.0, 0, 159.5], [0, 300.0, 119.5], [0, 0, 1]])
    joints = model.forward(model.sample_pose(np.random.default_rng(0), kind="grasp")[None])[1][0]
    box = np.array([120.0, 80.0, 190.0, 170.0])
    out: dict[str, object] = {
        "room": room(np.random.default_rng(seed), 240, 320),
        "people": sample_people(np.random.default_rng(seed), 320, 240, [box], [], np.array([1.0, 0.0]), crowd_prob=1.0),
        "crowd": sample_crowd(np.random.default_rng(seed), 320, 240, np.array([1.0, 0.0])),
        "light_spots": light_spots(np.random.default_rng(seed), np.full((240, 320, 3), 128, np.uint8)),
        "clutter": clutter(np.random.default_rng(seed), 240, 320),
        "busy_patches": busy_patches(np.random.default_rng(seed), np.full((240, 320, 3), 128, np.uint8)),
        "held_object": sample_held_object(np.random.default_rng(seed), joints),
        "bare_arm": sample_bare_arm(np.random.default_rng(seed), K, 320, 240, SynthConfig()),
        "camera_fx": sample_post_fx(np.random.default_rng(seed), SynthConfig()),
        "surface": sample_surface(np.random.default_rng(seed), np.array([150.0, 100.0]), np.array([170.0, 180.0]), 80.0),
    }
    img = np.full((240, 320, 3), 128, np.uint8)
    for p in out["people"]:
        draw_person(img, p)
    out["people_pixels"] = img
    img = np.full((240, 320, 3), 128, np.uint8)
    draw_surface(img, out["surface"])
    out["surface_pixels"] = img
    out["camera_fx_pixels"] = apply_post_fx(out["room"].astype(np.uint8), out["camera_fx"], np.random.default_rng(seed))
    return out


def test_each_new_scene_element_is_deterministic_per_seed(model) -> None:
    a, b, c = _elements(3, model), _elements(3, model), _elements(4, model)
    for name in a:
        assert _same(a[name], b[name]), name
        assert not _same(a[name], c[name]), name  # and it does depend on the seed
    j = np.random.default_rng(1).uniform(50, 150, (21, 2))
    np.testing.assert_array_equal(crease_map(200, 200, [(j, 12.0)]), crease_map(200, 200, [(j, 12.0)]))
    assert crease_map(200, 200, [(j, 12.0)]).max() > 0


def test_cli_with_backgrounds_is_byte_identical_across_runs_and_workers(tmp_path: Path, photo_dir: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    args = ["--num", "6", "--seed", "2", "--size", "160x128", "--backgrounds", str(photo_dir), "--no-progress"]
    assert synth_main([*args, "--out", str(a)]) == 0
    assert synth_main([*args, "--out", str(b), "--workers", "2"]) == 0
    assert _digest(a) == _digest(b)
    ds = SyntheticDataset(a)
    assert ds.meta["config"]["backgrounds"] == str(photo_dir) and len(ds) == 6
    with pytest.raises(FileNotFoundError, match="does not exist"):
        synth_main(["--num", "1", "--out", str(tmp_path / "c"), "--backgrounds", str(tmp_path / "missing")])


# ----------------------------------------------------------------------------- photo backgrounds

def test_photo_folder_listing_and_crops(photo_dir: Path, tmp_path: Path) -> None:
    files = list_images(photo_dir)
    assert [f.relative_to(photo_dir).as_posix() for f in files] == ["cam2/blue.png", "green.jpg", "red.jpg"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no image"):
        list_images(empty)
    bgs = PhotoBackgrounds(photo_dir)
    used = set()
    for s in range(24):
        out = bgs.sample(np.random.default_rng(s), 120, 200)
        assert out.shape == (120, 200, 3) and out.dtype == np.uint8
        # a solid photo stays solid under any crop, scale and flip; only its colour gain varies
        assert np.ptp(out.reshape(-1, 3), axis=0).max() <= 1
        used.add(int(np.argmax(out[0, 0])))
        np.testing.assert_array_equal(out, bgs.sample(np.random.default_rng(s), 120, 200))
    assert used == {0, 1, 2}


def test_photo_crop_geometry(tmp_path: Path) -> None:
    """A full-scale crop of a photo of the output's aspect is the photo itself, mirrored or not,
    times a per-channel gain."""
    img = np.zeros((90, 120, 3), np.uint8)
    img[:, :, 0] = np.arange(120, dtype=np.uint8)[None, :] * 1.8  # horizontal ramp
    img[:, :, 1] = 20 + np.arange(90, dtype=np.uint8)[:, None] * 2  # vertical ramp
    img[:, :, 2] = 100
    (tmp_path / "p").mkdir()
    cv2.imwrite(str(tmp_path / "p" / "ramp.png"), img[..., ::-1])
    bgs = PhotoBackgrounds(tmp_path / "p", min_scale=1.0)
    mirrored = 0
    for s in range(8):
        out = bgs.sample(np.random.default_rng(s), 90, 120).astype(np.float64)
        errs = []
        for ref in (img, img[:, ::-1]):
            gain = out.reshape(-1, 3).mean(0) / ref.reshape(-1, 3).mean(0)
            errs.append(np.abs(out - ref * gain).max())
        assert min(errs) <= 1.5, errs
        mirrored += int(errs[1] < errs[0])
    assert 0 < mirrored < 8


def test_engine_composites_onto_the_photos(photo_dir: Path, model) -> None:
    """Easy scenes (no camera effects) on the photos: the background around the hand is a photo's colour."""
    cfg = easy_config(width=160, height=120, backgrounds=str(photo_dir))
    seen = set()
    for i in range(10):
        s = render_sample(5, i, cfg, model)
        x0, y0, x1, y1 = s.hands[0].box
        mask = np.ones((120, 160), bool)
        mask[max(0, int(y0) - 8):int(y1) + 9, max(0, int(x0) - 8):int(x1) + 9] = False
        px = s.image[mask].astype(np.float64)
        assert len(px) > 500
        dom = np.argmax(px.mean(0))
        # the rest is the forearm, which runs out of the hand's box
        assert (px[:, dom] > 1.6 * np.delete(px, dom, axis=1).max(1)).mean() > 0.75
        seen.add(int(dom))
    assert len(seen) >= 2
    # the training dataset takes the same option
    otf = SyntheticOnTheFly(seed=5, length=3, config=cfg, jpeg_quality=None)
    np.testing.assert_array_equal(otf[1].image, render_sample(5, 1, cfg, model).image)


# ----------------------------------------------------------------------------- exact ground truth

def test_people_arms_and_touched_surfaces_leave_the_hands_ground_truth_alone(model) -> None:
    cfg = SynthConfig(width=256, height=192, people_prob=1.0, bare_arm_prob=1.0, touch_prob=1.0, held_prob=0.0,
                      no_hand_prob=0.0, num_hands=2)
    n_people = 0
    for i in range(8):
        scene = sample_scene(sample_rng(21, i), cfg, model)
        n_people += len(scene.people)
        with_all = render_scene(copy.deepcopy(scene), sample_rng(21, 1000 + i), model)
        bare = copy.deepcopy(scene)
        assert len(scene.surfaces) == len(scene.hands)
        bare.people, bare.arms, bare.surfaces = [], [], []
        without = render_scene(bare, sample_rng(21, 1000 + i), model)
        assert len(with_all.hands) == len(without.hands)
        for a, b in zip(with_all.hands, without.hands, strict=True):
            for f in ("box", "joints_2d", "joints_3d", "vertices", "cam_t"):
                np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
            # an arm may pass in front of a hand and hide joints, never reveal them
            assert np.all(a.visibility <= b.visibility)
        assert not np.array_equal(with_all.image, without.image)
    assert n_people >= 8


def test_held_objects_hide_joints_and_keep_geometry(model) -> None:
    cfg = SynthConfig(width=256, height=256, num_hands=1, held_prob=1.0, occluder_prob=0.0, people_prob=0.0,
                      bare_arm_prob=0.0, no_hand_prob=0.0, min_height_frac=0.3, max_height_frac=0.6)
    hidden = 0
    for i in range(10):
        scene = sample_scene(sample_rng(8, i), cfg, model)
        assert scene.hands and scene.hands[0].held is not None
        v, f, attr = held_object_mesh(scene.hands[0].held)
        assert f.max() < len(v) and len(attr) == len(f)
        held = render_scene(copy.deepcopy(scene), sample_rng(8, 500 + i), model).hands[0]
        free_scene = copy.deepcopy(scene)
        free_scene.hands[0].held = None
        free = render_scene(free_scene, sample_rng(8, 500 + i), model).hands[0]
        np.testing.assert_array_equal(held.box, free.box)  # the box is the hand's, not the object's
        np.testing.assert_array_equal(held.joints_2d, free.joints_2d)
        assert np.all(held.visibility <= free.visibility)
        hidden += int((free.visibility - held.visibility).sum())
    assert hidden > 0


def test_a_sleeve_over_the_wrist_hides_it(model) -> None:
    cfg = easy_config(width=256, height=256)
    changed = 0
    for i in range(12):
        scene = sample_scene(sample_rng(4, i), cfg, model)
        fa = scene.hands[0].forearm
        if fa is None:  # an arm pointing at the camera is left out
            continue
        bare = render_scene(copy.deepcopy(scene), sample_rng(4, 99), model).hands[0]
        fa.sleeve_start = 0.0
        sleeved = render_scene(scene, sample_rng(4, 99), model).hands[0]
        assert np.all(sleeved.visibility <= bare.visibility)
        assert np.all(sleeved.visibility[5:] == bare.visibility[5:])  # the fingers are not under the sleeve
        changed += int(bare.visibility[0] == 1 and sleeved.visibility[0] == 0)
    assert changed >= 3


def test_the_scene_mix_has_people_without_hands_and_faces_next_to_hands(model) -> None:
    cfg = SynthConfig(width=200, height=160)
    scenes = [sample_scene(sample_rng(31, i), cfg, model) for i in range(80)]
    no_hand = [s for s in scenes if not s.hands]
    assert len(no_hand) >= 4 and sum(bool(s.people) for s in no_hand) >= 0.6 * len(no_hand)
    assert sum(bool(s.people) for s in scenes) >= 25
    assert sum(bool(s.arms) for s in scenes) >= 4
    assert sum(any(h.held is not None for h in s.hands) for s in scenes) >= 4
    # a face next to a hand: one person's head beside the hand's box, about as big as the hand
    box = np.array([80.0, 60.0, 120.0, 110.0])
    size = max(box[2] - box[0], box[3] - box[1])
    c = (box[:2] + box[2:]) / 2

    def beside(q) -> bool:
        d = np.abs(q.head_center - c)
        return bool(d[0] >= 0.5 * (box[2] - box[0]) and np.hypot(*d) <= 3.0 * size
                    and 0.8 * size <= q.head_height <= 1.7 * size)

    for s in range(10):
        people = sample_people(np.random.default_rng(s), 200, 160, [box], [], np.array([0.0, -1.0]), beside_hand_prob=1.0)
        assert [p.head_height for p in people] == sorted(p.head_height for p in people)
        assert any(beside(q) for q in people)


def test_crowds_are_small_whole_people_standing_in_the_image_and_easy_scenes_have_none(model) -> None:
    figures = set(sprites_of_kind("figure"))
    assert len(figures) >= 12 and sprites_of_kind("bust") and sprites_of_kind("face")
    for i in figures:  # head to shoes: the figure's drawing reaches the sprite's bottom rows
        alpha = sprite_bank()[i].levels[0][2][..., 2]
        rows = np.flatnonzero(alpha.max(1) > 128)
        assert rows[0] < 10 and rows[-1] > SPRITE_H - 16, i
    h, w = 240, 320
    for s in range(20):
        crowd = sample_crowd(np.random.default_rng(s), w, h, np.array([1.0, 0.0]))
        assert 2 <= len(crowd) <= 6 and all(p.sprite in figures for p in crowd)
        for p in crowd:
            hb = sprite_bank()[p.sprite].head_box
            feet = p.head_center[1] + (SPRITE_H - (hb[1] + hb[3]) / 2) * p.head_height / (hb[3] - hb[1])
            assert 0.45 * h < feet < 1.15 * h and p.head_height < 0.14 * h and p.counter is None
        img = np.full((h, w, 3), 128, np.uint8)
        for p in crowd:
            draw_person(img, p)
        assert (np.abs(img.astype(int) - 128).sum(-1) > 0).mean() > 0.002  # they are drawn
    # the whole mix: crowds and point lights appear; easy scenes have neither
    scenes = [sample_scene(sample_rng(32, i), SynthConfig(width=200, height=160), model) for i in range(80)]
    assert sum(sum(p.sprite in figures for p in s.people) >= 2 for s in scenes) >= 5
    easy = [sample_scene(sample_rng(32, i), easy_config(width=200, height=160), model) for i in range(20)]
    assert not any(s.people for s in easy)
    spots = light_spots(np.random.default_rng(0), np.full((h, w, 3), 128, np.uint8))
    assert spots.max() == 255 and np.median(spots) < 128  # bright points on a darkened background


def test_monochrome_camera_leaves_no_colour_and_is_off_in_easy_scenes() -> None:
    cfg = SynthConfig(mono_prob=1.0, noise_prob=1.0)
    fx = sample_post_fx(np.random.default_rng(5), cfg)
    img = apply_post_fx(room(np.random.default_rng(5), 120, 160).astype(np.uint8), fx, np.random.default_rng(5))
    assert fx.saturation == 0.0 and fx.shot_noise > 0
    assert np.abs(img[..., 0].astype(int) - img[..., 1]).max() <= 1
    assert np.abs(img[..., 1].astype(int) - img[..., 2]).max() <= 1
    assert easy_config().mono_prob == 0.0
    # off by default for most images: 200 draws give a share near the default probability
    shares = [sample_post_fx(np.random.default_rng(s), SynthConfig()).saturation == 0.0 for s in range(200)]
    assert 0 < sum(shares) < 30


def _high_frequency(img: np.ndarray) -> float:
    """Mean absolute Laplacian of the grey image: fine texture and sharp edges."""
    grey = cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    return float(np.abs(cv2.Laplacian(grey.astype(np.float32), cv2.CV_32F)).mean())


def test_clutter_is_busier_than_the_procedural_backgrounds_and_patches_stay_local() -> None:
    from handos_model.synth.background import random_background

    busy = np.median([_high_frequency(clutter(np.random.default_rng(s), 240, 320)) for s in range(8)])
    smooth = np.median([_high_frequency(random_background(np.random.default_rng(s), 240, 320)) for s in range(8)])
    assert busy > 3 * smooth, (busy, smooth)
    flat = np.full((240, 320, 3), 128, np.uint8)
    out = busy_patches(np.random.default_rng(1), flat)
    changed = np.any(out != flat, axis=2).mean()
    assert 0.005 < changed < 0.6  # 1-4 hand-sized patches, the rest of the image untouched


def test_patch_textures_are_the_full_image_textures_in_their_window() -> None:
    """busy_patches computes textures in the patches' window only: the same values, the same draws."""
    from handos_model.synth.clutter import NUM_TEXTURES, _textures

    used = np.arange(NUM_TEXTURES)
    for seed, (h, w), box in [(0, (240, 320), (0, 240, 0, 320)), (1, (240, 320), (0, 57, 250, 320)),
                              (2, (97, 131), (40, 97, 0, 31)), (3, (480, 640), (201, 333, 90, 300))]:
        ra, rb = np.random.default_rng(seed), np.random.default_rng(seed)
        full = _textures(ra, h, w, used)
        window = _textures(rb, h, w, used, box)
        np.testing.assert_array_equal(window, full[:, box[0]:box[1], box[2]:box[3]])
        assert ra.random() == rb.random()  # the generator ends in the same state


def test_easy_scenes_on_clutter_only_when_asked(model) -> None:
    """``easy_plain_prob`` 1 (the default, the held-out easy sets): plain backgrounds, as before;
    below 1 the big easy hand also sits on busy backgrounds."""
    def background_detail(cfg: SynthConfig) -> list[float]:
        return [_high_frequency(sample_scene(np.random.default_rng(s), cfg, model).background) for s in range(12)]

    plain = background_detail(easy_config(width=160, height=120))
    mixed = background_detail(easy_config(width=160, height=120, easy_plain_prob=0.0, clutter_prob=1.0))
    assert max(plain) < 2.0 and np.median(mixed) > 20.0, (plain, mixed)
    assert SynthConfig().easy_plain_prob == 1.0 and easy_config().busy_patch_prob == 0.0


def test_easy_scenes_have_people_only_when_asked(model) -> None:
    """``easy_people_prob`` (default 0: the easy scenes stay as they were) puts people behind the
    easy variant's big hand (a face beside it: the real photo of someone holding up a hand)."""
    from handos_model.synth.config import easy_variant

    def with_people(cfg: SynthConfig) -> int:
        return sum(bool(sample_scene(sample_rng(41, i), cfg, model).people) for i in range(16))

    base = SynthConfig(width=160, height=120)
    assert easy_variant(base).people_prob == 0.0 and with_people(easy_variant(base)) == 0
    asked = easy_variant(SynthConfig(width=160, height=120, easy_people_prob=1.0))
    assert asked.people_prob == 1.0 and asked.easy and asked.num_hands == 1
    assert with_people(asked) == 16
    assert easy_config(width=160, height=120, easy_people_prob=1.0) == asked  # both ways to the easy variant agree
