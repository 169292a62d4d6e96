"""Image decoding: every supported encoding, padded rows, refusals (no DDS needed)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sensor_msgs.msg")
pytest.importorskip("handos_ros.msg", reason="colcon-built package not on the path (run `make test`)")

from sensor_msgs.msg import CompressedImage, Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from handos_ros import image_decode as dec  # noqa: E402
from handos_ros.image_encode import ENCODABLE, compressed_msg, image_msg  # noqa: E402

# How close a decoded image must be to the original, per encoding (lossy: grey, chroma subsampling, bayer).
EXACT = {"rgb8", "bgr8", "8UC3", "rgba8", "bgra8"}


def _rgb(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth colour image (so chroma subsampling / demosaicing errors stay small) plus noise."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([xx / w * 255, yy / h * 255, (xx + yy) / (w + h) * 255], axis=2)
    noise = np.random.default_rng(seed).normal(0, 3, base.shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("encoding", ENCODABLE)
@pytest.mark.parametrize("padding", [0, 7, 64])
def test_every_encoding_round_trips_with_padded_rows(encoding: str, padding: int) -> None:
    rgb = _rgb()
    msg = image_msg(rgb, Header(frame_id="cam"), encoding, row_padding=padding)
    assert msg.step == msg.width * dec.bytes_per_pixel(encoding) + padding
    out = dec.decode_image(msg)
    assert out.shape == rgb.shape and out.dtype == np.uint8 and out.flags.c_contiguous
    err = np.abs(out.astype(int) - rgb.astype(int))
    if encoding in EXACT:
        assert err.max() == 0, encoding
    elif encoding in ("mono8", "mono16", "16UC1"):
        grey = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        assert np.allclose(out[..., 0], out[..., 1]) and np.allclose(out[..., 0], out[..., 2])
        # mono16 is min-max stretched: compare shapes of the signal, not absolute levels
        corr = np.corrcoef(out[..., 0].ravel().astype(np.float32), grey.ravel())[0, 1]
        assert corr > 0.99, (encoding, corr)
    else:  # yuv422 chroma subsampling, bayer demosaicing of a smooth image
        assert err.mean() < 6.0, (encoding, err.mean())


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8", "mono8", "mono16", "yuv422", "yuv422_yuy2"])
def test_matches_rosbags_image_reference(encoding: str) -> None:
    """Independent reference: rosbags-image decodes the same messages the same way."""
    rosbags_image = pytest.importorskip("rosbags.image")
    msg = image_msg(_rgb(seed=3), Header(frame_id="cam"), encoding)
    ours = dec.decode_image(msg)
    ref = rosbags_image.message_to_cvimage(msg, "rgb8")
    tol = 12 if encoding == "mono16" else 0  # rosbags scales mono16 by 1/256, we stretch min-max
    if tol:
        assert np.corrcoef(ours[..., 0].ravel(), ref[..., 0].ravel())[0, 1] > 0.99
    else:
        assert np.array_equal(ours, ref)


def test_big_endian_16_bit() -> None:
    grey = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000).astype(np.uint16)
    msg = Image(height=3, width=4, encoding="mono16", is_bigendian=1, step=8)
    msg.data = grey.astype(">u2").tobytes()
    out = dec.decode_image(msg)
    assert out[0, 0, 0] == 0 and out[2, 3, 0] == 255
    assert np.all(np.diff(out[..., 0].ravel().astype(int)) >= 0)


def _raw(h: int, w: int, enc: str, step: int, n: int) -> Image:
    msg = Image(height=h, width=w, encoding=enc, step=step)
    msg.data = bytes(n)
    return msg


@pytest.mark.parametrize(
    ("msg", "reason"),
    [
        (_raw(4, 4, "rgb9", 12, 48), dec.BAD_ENCODING),
        (_raw(4, 4, "32FC1", 16, 64), dec.BAD_ENCODING),
        (_raw(4, 4, "", 12, 48), dec.BAD_ENCODING),
        (_raw(0, 0, "rgb8", 0, 0), dec.BAD_SIZE),
        (_raw(4, 4, "rgb8", 11, 44), dec.BAD_STEP),
        (_raw(4, 4, "rgb8", 12, 47), dec.BAD_DATA_LENGTH),
        (_raw(4, 4, "rgb8", 12, 49), dec.BAD_DATA_LENGTH),
        (_raw(4, 3, "yuv422", 6, 24), dec.BAD_SIZE),
    ],
)
def test_malformed_images_are_refused_with_a_reason(msg: Image, reason: str) -> None:
    with pytest.raises(dec.ImageRejected) as info:
        dec.decode_image(msg)
    assert info.value.reason == reason
    assert str(info.value)


def test_oversized_image_refused_before_touching_data() -> None:
    msg = Image(height=4320, width=7680, encoding="rgb8", step=7680 * 3)  # no data at all
    with pytest.raises(dec.ImageRejected) as info:
        dec.decode_image(msg, max_pixels=3840 * 2160)
    assert info.value.reason == dec.TOO_LARGE and "max_input_pixels" in str(info.value)


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_compressed_decodes(fmt: str) -> None:
    rgb = _rgb(60, 80)
    out = dec.decode_compressed(compressed_msg(rgb, Header(frame_id="cam"), fmt))
    assert out.shape == rgb.shape
    err = np.abs(out.astype(int) - rgb.astype(int))
    assert err.max() == 0 if fmt == "png" else err.mean() < 4.0


def test_compressed_header_size_guard_and_corruption() -> None:
    rgb = _rgb(60, 80)
    good = compressed_msg(rgb, Header(frame_id="cam"), "jpeg")
    with pytest.raises(dec.ImageRejected) as info:
        dec.decode_compressed(good, max_pixels=60 * 80 - 1)
    assert info.value.reason == dec.TOO_LARGE
    for data in (b"", b"\xff\xd8\xff\xe0garbage" * 10, bytes(good.data)[: len(good.data) // 3] + bytes(200)):
        bad = CompressedImage(format="jpeg")
        bad.data = data
        try:
            out = dec.decode_compressed(bad)
        except dec.ImageRejected as exc:
            assert exc.reason == dec.DECODE_ERROR
        else:  # libjpeg may return a partially grey image for a truncated stream: still an image
            assert out.shape == rgb.shape
    depth = CompressedImage(format="16UC1; compressedDepth png")
    depth.data = bytes(good.data)
    with pytest.raises(dec.ImageRejected) as info:
        dec.decode_compressed(depth)
    assert info.value.reason == dec.BAD_ENCODING
