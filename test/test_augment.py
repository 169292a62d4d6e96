"""Augmentations keep images, 2D joints, 3D joints and intrinsics mutually consistent."""

from __future__ import annotations

import numpy as np
import pytest

from handos_model.data.augment import (
    AugmentConfig,
    augment_sample,
    colour_randomise,
    hflip,
    photometric_jitter,
    project,
    scale_crop,
)
from handos_model.data.schema import LEFT, RIGHT, HandAnnotation, Sample, box_from_points
from handos_model.data.transforms import sample_to_network


def _hand(rng: np.random.Generator, K: np.ndarray, side: int, centre_px: tuple[float, float]) -> HandAnnotation:
    """A random 21-joint 'hand' of ~10 cm at ~0.5 m whose wrist projects near ``centre_px``."""
    z = rng.uniform(0.4, 0.6)
    cx, cy = centre_px
    cam_t = np.array([(cx - K[0, 2]) * z / K[0, 0], (cy - K[1, 2]) * z / K[1, 1], z], np.float32)
    j3d = rng.normal(0.0, 0.04, size=(21, 3)).astype(np.float32)
    j3d[0] = 0.0
    verts = rng.normal(0.0, 0.04, size=(50, 3)).astype(np.float32)
    j2d = project(j3d + cam_t, K)
    vis = np.ones(21, np.float32)
    return HandAnnotation(
        box=box_from_points(j2d, vis), joints_2d=j2d, visibility=vis, joints_3d=j3d, vertices=verts, cam_t=cam_t, side=side
    )


def _sample(seed: int = 0, h: int = 120, w: int = 160) -> Sample:
    rng = np.random.default_rng(seed)
    K = np.array([[150.0, 0.0, 83.5], [0.0, 148.0, 57.25], [0.0, 0.0, 1.0]], np.float32)
    image = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    hands = [_hand(rng, K, RIGHT, (50.0, 60.0)), _hand(rng, K, LEFT, (110.0, 55.0))]
    return Sample(image=image, K=K, hands=hands, source="test", key=f"s{seed}")


def _assert_projection_consistent(s: Sample, atol: float = 1e-3) -> None:
    for hand in s.hands:
        proj = project(hand.joints_3d + hand.cam_t, s.K)
        vis = hand.visibility > 0
        np.testing.assert_allclose(proj[vis], hand.joints_2d[vis], atol=atol)


def test_flip_projection_consistency() -> None:
    s = _sample()
    _assert_projection_consistent(s)
    f = hflip(s)
    # projecting the flipped 3D with the flipped K gives the flipped 2D
    _assert_projection_consistent(f)
    for a, b in zip(s.hands, f.hands, strict=True):
        np.testing.assert_allclose(b.joints_2d[:, 0], s.width - 1 - a.joints_2d[:, 0], atol=1e-5)
        np.testing.assert_allclose(b.joints_2d[:, 1], a.joints_2d[:, 1])
        np.testing.assert_allclose(b.joints_3d[:, 0], -a.joints_3d[:, 0])
        np.testing.assert_allclose(b.vertices[:, 0], -a.vertices[:, 0])
        np.testing.assert_allclose(b.vertices[:, 1:], a.vertices[:, 1:])
        assert b.cam_t[0] == -a.cam_t[0] and b.cam_t[2] == a.cam_t[2]
        assert b.joints_3d[0].tolist() == [0.0, 0.0, 0.0]
        assert b.side == {LEFT: RIGHT, RIGHT: LEFT}[a.side]
        assert b.box[0] <= b.box[2] and b.box[1] <= b.box[3]
        np.testing.assert_allclose(b.box, box_from_points(b.joints_2d, b.visibility), atol=1e-4)
    assert f.K[0, 2] == pytest.approx(s.width - 1 - s.K[0, 2])
    assert f.K[0, 0] == s.K[0, 0] and f.K[1, 2] == s.K[1, 2]
    # image is mirrored: pixel (x, y) -> (W-1-x, y)
    np.testing.assert_array_equal(f.image[:, 0], s.image[:, -1])
    np.testing.assert_array_equal(f.image[7, 13], s.image[7, s.width - 1 - 13])
    # flipping twice is the identity
    ff = hflip(f)
    np.testing.assert_array_equal(ff.image, s.image)
    np.testing.assert_allclose(ff.K, s.K)
    for a, b in zip(s.hands, ff.hands, strict=True):
        np.testing.assert_allclose(b.joints_2d, a.joints_2d, atol=1e-4)
        assert b.side == a.side


def test_flip_consistency_survives_letterbox() -> None:
    """The network-side targets (letterboxed) of a flipped sample are consistent too."""
    f = hflip(_sample(seed=3))
    _, t = sample_to_network(f, size=96, num_vertices=50)
    for i in range(2):
        proj = project((t["joints_3d"][i] + t["cam_t"][i]).numpy(), t["K"].numpy())
        np.testing.assert_allclose(proj, t["joints_2d"][i].numpy(), atol=1e-3)
    assert t["side"].tolist() == [LEFT, RIGHT]


def test_scale_crop_moves_pixels_and_keeps_projection() -> None:
    s = _sample(seed=1)
    s.image[:] = 0
    s.image[40, 30] = 255  # one bright pixel at (x=30, y=40)
    out = scale_crop(s, scale=2.0, tx=-20.0, ty=-30.0)
    ys, xs = np.nonzero(out.image[..., 0] > 100)
    # x' = 2 * 30 - 20 = 40, y' = 2 * 40 - 30 = 50 (bilinear spreads it by at most one pixel)
    assert abs(np.mean(xs) - 40.0) <= 0.5 and abs(np.mean(ys) - 50.0) <= 0.5
    assert out.image.shape == s.image.shape
    _assert_projection_consistent(out)
    np.testing.assert_allclose(out.K[0, 0], 2 * s.K[0, 0])
    np.testing.assert_allclose(out.K[0, 2], 2 * s.K[0, 2] - 20.0)
    for hand in out.hands:
        vis = hand.visibility > 0
        j = hand.joints_2d[vis]
        assert (j >= 0).all() and (j[:, 0] <= s.width - 1).all() and (j[:, 1] <= s.height - 1).all()
        assert hand.box[0] >= 0 and hand.box[2] <= s.width - 1


def test_scale_crop_drops_hands_that_leave_the_image() -> None:
    s = _sample(seed=2)
    out = scale_crop(s, scale=1.0, tx=-1000.0, ty=0.0)
    assert out.hands == []


def test_photometric_is_seeded_and_geometry_free() -> None:
    s = _sample(seed=4)
    cfg = AugmentConfig()
    a = photometric_jitter(s.image, np.random.default_rng(7), cfg)
    b = photometric_jitter(s.image, np.random.default_rng(7), cfg)
    c = photometric_jitter(s.image, np.random.default_rng(8), cfg)
    assert a.dtype == np.uint8 and a.shape == s.image.shape
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_colour_randomisation_rotates_hue_keeps_grey_and_is_seeded() -> None:
    s = _sample(seed=5)
    img = s.image.copy()
    img[:8, :8] = 128  # a grey patch: no hue to rotate
    hue = AugmentConfig(hue_prob=1.0)
    a = colour_randomise(img, np.random.default_rng(3), hue)
    np.testing.assert_array_equal(a, colour_randomise(img, np.random.default_rng(3), hue))
    assert not np.array_equal(a, img)
    assert np.abs(a[:8, :8].astype(int) - 128).max() <= 1
    grey = colour_randomise(img, np.random.default_rng(3), AugmentConfig(grey_prob=1.0))
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    np.testing.assert_array_equal(colour_randomise(img, np.random.default_rng(3), AugmentConfig()), img)


def test_colour_randomisation_leaves_the_other_augmentations_alone() -> None:
    """Turning it on changes the colours only: same crop, hands and K as with it off."""
    s = _sample(seed=6)
    base = AugmentConfig(scale_crop_prob=1.0, photometric_prob=0.0)
    on = AugmentConfig(scale_crop_prob=1.0, photometric_prob=0.0, grey_prob=1.0)
    a = augment_sample(s, np.random.default_rng(11), base)
    b = augment_sample(s, np.random.default_rng(11), on)
    np.testing.assert_array_equal(a.K, b.K)
    for ha, hb in zip(a.hands, b.hands, strict=True):
        np.testing.assert_array_equal(ha.box, hb.box)
    grey_a = np.round(a.image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))
    assert np.abs(grey_a - b.image[..., 0]).max() <= 1


@pytest.mark.parametrize("seed", range(8))
def test_random_augmentation_is_consistent_and_deterministic(seed: int) -> None:
    s = _sample(seed=seed)
    cfg = AugmentConfig(flip_prob=0.5, scale_crop_prob=0.7, photometric_prob=0.5)
    a = augment_sample(s, np.random.default_rng([seed, 1]), cfg)
    b = augment_sample(s, np.random.default_rng([seed, 1]), cfg)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.K, b.K)
    _assert_projection_consistent(a)
    # the input sample is not modified in place
    _assert_projection_consistent(s)
    np.testing.assert_array_equal(s.image, _sample(seed=seed).image)


def test_config_from_yaml_dict() -> None:
    cfg = AugmentConfig.from_dict({"flip_prob": 0.5, "scale_range": [0.9, 1.1], "unknown_key": 1})
    assert cfg.flip_prob == 0.5 and cfg.scale_range == (0.9, 1.1) and cfg.extra == {"unknown_key": 1}


def _box_area(b: np.ndarray) -> float:
    return float((b[2] - b[0]) * (b[3] - b[1]))


@pytest.fixture(scope="module")
def synthetic_samples() -> list[Sample]:
    from handos_model.data.synthetic import SyntheticOnTheFly

    ds = SyntheticOnTheFly(seed=11, length=12, width=224, height=224, jpeg_quality=None)
    return [ds[i] for i in range(len(ds))]


def test_identity_crop_keeps_the_mesh_box(synthetic_samples: list[Sample]) -> None:
    """Issue 16's box bug: an identity scale_crop re-fitted each box on the visible joints
    (0.48-0.73 of the mesh box's area); the box tight around the mesh must come out unchanged."""
    n = 0
    for s in synthetic_samples:
        out = scale_crop(s, 1.0, 0.0, 0.0, AugmentConfig(min_visible_joints=0, min_box_size=0.0))
        assert len(out.hands) == len(s.hands)
        for a, b in zip(s.hands, out.hands, strict=True):
            np.testing.assert_allclose(b.box, a.box, atol=1e-4)
            n += 1
    assert n >= 10


def test_crop_keeps_the_box_tight_around_the_projected_mesh(synthetic_samples: list[Sample]) -> None:
    """After a zoom + shift, each box is the projected mesh's extent under the new K, clipped to
    the new image and to where the old image lands in it (zooming out shows black, not hand)."""
    scale, tx, ty = 1.25, -40.0, -22.0
    n = 0
    for s in synthetic_samples:
        out = scale_crop(s, scale, tx, ty)
        _assert_projection_consistent(out)
        kept = [h for h in s.hands if any(np.allclose(h.joints_3d, o.joints_3d) for o in out.hands)]
        assert len(kept) == len(out.hands)
        lo_img = np.maximum([tx, ty], 0.0)
        hi_img = np.minimum([scale * (s.width - 1) + tx, scale * (s.height - 1) + ty], [s.width - 1, s.height - 1])
        for o in out.hands:
            uv = project(o.vertices + o.cam_t, out.K)
            box = np.concatenate([np.clip(uv.min(0), lo_img, hi_img), np.clip(uv.max(0), lo_img, hi_img)])
            # the mesh box was clipped to the old image before the crop: clip the expected one likewise
            np.testing.assert_allclose(o.box, box, atol=0.05)
            assert _box_area(o.box) == pytest.approx(_box_area(box), rel=1e-3, abs=0.5)
            n += 1
    assert n >= 5


def test_letterbox_resize_averages_when_shrinking_and_matches_area_resampling() -> None:
    import cv2

    from handos_model.data.transforms import resize_to

    yy, xx = np.mgrid[0:480, 0:640]
    smooth = np.stack([xx * 255 / 639, yy * 255 / 479, (xx + yy) * 255 / 1118], -1).astype(np.uint8)
    area = cv2.resize(smooth, (256, 192), interpolation=cv2.INTER_AREA).astype(float)
    fast = resize_to(smooth, 256, 192)
    assert fast.shape == (192, 256, 3) and fast.dtype == np.uint8
    assert np.abs(fast.astype(float) - area).max() <= 2.0
    # 1-pixel stripes (the Nyquist frequency): averaged to grey, not aliased into bands as
    # plain bilinear sampling of every 2.5th pixel does
    stripes = np.repeat(((xx % 2) * 255).astype(np.uint8)[..., None], 3, -1)
    out = resize_to(stripes, 256, 192).astype(float)
    aliased = cv2.resize(stripes, (256, 192), interpolation=cv2.INTER_LINEAR).astype(float)
    assert np.abs(out - 127.5).max() < 20 and np.abs(aliased - 127.5).max() > 60
    # sizes without an integer factor: INTER_AREA itself; upscaling: bilinear
    odd = smooth[:479, :639]
    np.testing.assert_array_equal(resize_to(odd, 256, 192), cv2.resize(odd, (256, 192), interpolation=cv2.INTER_AREA))
    small = smooth[:100, :120]
    np.testing.assert_array_equal(resize_to(small, 240, 200), cv2.resize(small, (240, 200), interpolation=cv2.INTER_LINEAR))
