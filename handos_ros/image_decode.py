"""sensor_msgs/Image and CompressedImage -> RGB uint8 array, with clear refusals.

Our own numpy code (PyPI ``cv_bridge`` is broken on numpy >= 2.3 / OpenCV 5, see
``docs/ros2-without-apt.md``). Every malformed message raises :class:`ImageRejected`
with a ``reason`` (a short key counted in /diagnostics) and a human-readable detail;
nothing else escapes.

Supported ``encoding`` values (sensor_msgs/image_encodings.hpp names):

| encoding | interpretation |
|---|---|
| rgb8, bgr8 | 3 x uint8 |
| rgba8, bgra8 | 4 x uint8, alpha dropped |
| 8UC3 / 8UC4 | OpenCV convention: BGR / BGRA |
| mono8, 8UC1 | grey, replicated to 3 channels |
| mono16, 16UC1 | grey uint16, min-max scaled to 8 bit per frame |
| rgb16, bgr16, rgba16, bgra16, 16UC3, 16UC4 | high byte kept (value >> 8) |
| yuv422 / uyvy | UYVY (ROS's ``yuv422`` is U Y0 V Y1) |
| yuv422_yuy2 / yuyv | YUYV |
| bayer_rggb8, bayer_bggr8, bayer_gbrg8, bayer_grbg8 | demosaiced |

``is_bigendian`` is honoured for 16-bit data; rows may be padded (``step`` larger than
``width * bytes_per_pixel``). Data shorter or longer than ``height * step`` is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Rejection reasons (keys of the /diagnostics "rejected" counters).
BAD_ENCODING = "bad_encoding"
BAD_SIZE = "bad_size"
BAD_STEP = "bad_step"
BAD_DATA_LENGTH = "bad_data_length"
TOO_LARGE = "too_large"
DECODE_ERROR = "decode_error"


class ImageRejected(Exception):
    """An input image the node refuses; ``reason`` is a counter key, ``str(e)`` the detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class _Layout:
    channels: int
    depth_bytes: int  # 1 or 2
    kind: str  # rgb | bgr | rgba | bgra | mono | uyvy | yuyv | bayer_XXXX


_LAYOUTS: dict[str, _Layout] = {
    "rgb8": _Layout(3, 1, "rgb"),
    "bgr8": _Layout(3, 1, "bgr"),
    "8UC3": _Layout(3, 1, "bgr"),
    "rgba8": _Layout(4, 1, "rgba"),
    "bgra8": _Layout(4, 1, "bgra"),
    "8UC4": _Layout(4, 1, "bgra"),
    "mono8": _Layout(1, 1, "mono"),
    "8UC1": _Layout(1, 1, "mono"),
    "mono16": _Layout(1, 2, "mono"),
    "16UC1": _Layout(1, 2, "mono"),
    "rgb16": _Layout(3, 2, "rgb"),
    "bgr16": _Layout(3, 2, "bgr"),
    "16UC3": _Layout(3, 2, "bgr"),
    "rgba16": _Layout(4, 2, "rgba"),
    "bgra16": _Layout(4, 2, "bgra"),
    "16UC4": _Layout(4, 2, "bgra"),
    "yuv422": _Layout(2, 1, "uyvy"),
    "uyvy": _Layout(2, 1, "uyvy"),
    "yuv422_yuy2": _Layout(2, 1, "yuyv"),
    "yuyv": _Layout(2, 1, "yuyv"),
    "bayer_rggb8": _Layout(1, 1, "bayer_rggb"),
    "bayer_bggr8": _Layout(1, 1, "bayer_bggr"),
    "bayer_gbrg8": _Layout(1, 1, "bayer_gbrg"),
    "bayer_grbg8": _Layout(1, 1, "bayer_grbg"),
}

SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(_LAYOUTS)

# OpenCV names Bayer patterns by the second row's first two pixels: ROS rggb == OpenCV BG.
_BAYER_CODES = {
    "bayer_rggb": cv2.COLOR_BayerBG2RGB,
    "bayer_bggr": cv2.COLOR_BayerRG2RGB,
    "bayer_gbrg": cv2.COLOR_BayerGR2RGB,
    "bayer_grbg": cv2.COLOR_BayerGB2RGB,
}


def bytes_per_pixel(encoding: str) -> int:
    """Bytes one pixel takes in a row of ``encoding`` (raises ImageRejected if unknown)."""
    layout = _LAYOUTS.get(encoding)
    if layout is None:
        raise ImageRejected(BAD_ENCODING, f"unsupported image encoding {encoding!r} (supported: {', '.join(SUPPORTED_ENCODINGS)})")
    return layout.channels * layout.depth_bytes


def check_pixels(height: int, width: int, max_pixels: int) -> None:
    """Refuse empty images and images above ``max_pixels`` (0 = no limit)."""
    if height <= 0 or width <= 0:
        raise ImageRejected(BAD_SIZE, f"empty image ({width}x{height})")
    if max_pixels > 0 and height * width > max_pixels:
        raise ImageRejected(
            TOO_LARGE,
            f"image {width}x{height} has {height * width} pixels, above max_input_pixels={max_pixels} "
            "(raise the parameter to accept it)",
        )


def decode_image(msg: object, max_pixels: int = 0) -> np.ndarray:
    """sensor_msgs/Image -> (H, W, 3) uint8 RGB, C-contiguous (a copy, never a view of ``msg``).

    Raises:
        ImageRejected: unknown encoding, empty or oversized image, ``step`` too small,
            data length different from ``height * step``.
    """
    encoding = str(msg.encoding)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    bpp = bytes_per_pixel(encoding)
    check_pixels(height, width, max_pixels)
    layout = _LAYOUTS[encoding]
    if layout.kind in ("uyvy", "yuyv") and width % 2:
        raise ImageRejected(BAD_SIZE, f"{encoding} needs an even width, got {width}")
    if step < width * bpp:
        raise ImageRejected(BAD_STEP, f"step {step} < width {width} x {bpp} bytes per pixel ({encoding})")
    data = msg.data
    n = len(data)
    if n != height * step:
        raise ImageRejected(
            BAD_DATA_LENGTH,
            f"data has {n} bytes, expected height {height} x step {step} = {height * step} ({encoding})",
        )
    buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.view(np.uint8).reshape(-1)
    rows = buf.reshape(height, step)[:, : width * bpp]
    if layout.depth_bytes == 2:
        dtype = np.dtype(">u2") if msg.is_bigendian else np.dtype("<u2")
        pixels16 = np.ascontiguousarray(rows).view(dtype).reshape(height, width, layout.channels)
        if layout.kind == "mono":
            pixels = _scale_mono16(pixels16[..., 0])[..., None]
        else:
            pixels = (pixels16 >> 8).astype(np.uint8)
    else:
        pixels = rows.reshape(height, width, layout.channels) if layout.kind not in ("uyvy", "yuyv") else rows
    return _to_rgb(pixels, layout.kind, height, width)


def _scale_mono16(grey: np.ndarray) -> np.ndarray:
    """uint16 (H, W) -> uint8 by a per-frame min-max stretch (a constant frame gives 0)."""
    lo = int(grey.min())
    hi = int(grey.max())
    if hi <= lo:
        return np.zeros(grey.shape, dtype=np.uint8)
    scaled = (grey.astype(np.float32) - lo) * (255.0 / (hi - lo))
    return np.clip(scaled + 0.5, 0, 255).astype(np.uint8)


def _to_rgb(pixels: np.ndarray, kind: str, height: int, width: int) -> np.ndarray:
    if kind == "rgb":
        return np.ascontiguousarray(pixels)
    if kind == "bgr":
        return np.ascontiguousarray(pixels[..., ::-1])
    if kind == "rgba":
        return np.ascontiguousarray(pixels[..., :3])
    if kind == "bgra":
        return np.ascontiguousarray(pixels[..., 2::-1])
    if kind == "mono":
        return np.ascontiguousarray(np.repeat(pixels.reshape(height, width, 1), 3, axis=2))
    if kind in ("uyvy", "yuyv"):
        packed = np.ascontiguousarray(pixels).reshape(height, width, 2)
        code = cv2.COLOR_YUV2RGB_UYVY if kind == "uyvy" else cv2.COLOR_YUV2RGB_YUYV
        return cv2.cvtColor(packed, code)
    if kind in _BAYER_CODES:
        return cv2.cvtColor(np.ascontiguousarray(pixels.reshape(height, width)), _BAYER_CODES[kind])
    raise ImageRejected(BAD_ENCODING, f"internal: no conversion for {kind}")  # pragma: no cover


def compressed_format(fmt: str) -> str:
    """The codec of a CompressedImage ``format`` string: ``"jpeg"`` or ``"png"``.

    image_transport writes ``"jpeg"``, ``"png"`` or ``"<enc>; jpeg compressed <enc>"``;
    ``compressedDepth`` (depth images) is refused.
    """
    f = fmt.strip().lower()
    if "compresseddepth" in f:
        raise ImageRejected(BAD_ENCODING, f"compressedDepth images are depth, not colour: format {fmt!r}")
    if "jpeg" in f or "jpg" in f:
        return "jpeg"
    if "png" in f:
        return "png"
    if f == "":
        return "auto"
    raise ImageRejected(BAD_ENCODING, f"unsupported CompressedImage format {fmt!r} (jpeg or png)")


def decode_compressed(msg: object, max_pixels: int = 0) -> np.ndarray:
    """sensor_msgs/CompressedImage (jpeg/png) -> (H, W, 3) uint8 RGB.

    The image size is read from the file header first, so a decompression bomb above
    ``max_pixels`` is refused before it is decoded.

    Raises:
        ImageRejected: unsupported format, empty or corrupt data, oversized image.
    """
    compressed_format(str(msg.format))
    data = msg.data
    buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.view(np.uint8).reshape(-1)
    if buf.size == 0:
        raise ImageRejected(DECODE_ERROR, "CompressedImage with empty data")
    size = _header_size(buf)
    if size is not None:
        check_pixels(size[1], size[0], max_pixels)
    try:
        bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise ImageRejected(DECODE_ERROR, f"cv2.imdecode failed: {exc}") from exc
    if bgr is None or bgr.size == 0:
        raise ImageRejected(DECODE_ERROR, f"corrupt or truncated {msg.format or 'compressed'} data ({buf.size} bytes)")
    check_pixels(bgr.shape[0], bgr.shape[1], max_pixels)
    return np.ascontiguousarray(bgr[..., ::-1])


def _header_size(buf: np.ndarray) -> tuple[int, int] | None:
    """(width, height) from a PNG IHDR or JPEG SOFn marker, or None if not found."""
    raw = buf[:65536].tobytes()
    if raw[:8] == b"\x89PNG\r\n\x1a\n" and len(raw) >= 24 and raw[12:16] == b"IHDR":
        return int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")
    if raw[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 9 < len(raw):
        if raw[i] != 0xFF:
            return None
        marker = raw[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = int.from_bytes(raw[i + 2 : i + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            height = int.from_bytes(raw[i + 5 : i + 7], "big")
            width = int.from_bytes(raw[i + 7 : i + 9], "big")
            return width, height
        i += 2 + length
    return None
