"""RGB uint8 array -> sensor_msgs/Image in a chosen encoding, or CompressedImage.

The inverse of ``image_decode`` for the encodings a camera driver commonly sends; used by
the synthetic camera, the debug image, the tests and the benchmark.
"""

from __future__ import annotations

import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

ENCODABLE = (
    "rgb8", "bgr8", "8UC3", "rgba8", "bgra8", "mono8", "mono16", "16UC1",
    "yuv422", "yuv422_yuy2", "bayer_rggb8",
)


def _yuv422(rgb: np.ndarray, order: str) -> np.ndarray:
    """(H, W, 3) RGB, W even -> (H, W * 2) packed UYVY or YUYV bytes ."""
    # BT.601 video range (Y 16-235), the convention of UYVY/YUYV cameras and of OpenCV's decoder.
    m = np.array([[0.257, 0.504, 0.098], [-0.148, -0.291, 0.439], [0.439, -0.368, -0.071]], np.float32)
    yuv = rgb.astype(np.float32) @ m.T + np.array([16.0, 128.0, 128.0], np.float32)
    y = yuv[..., 0]
    u = 0.5 * (yuv[:, 0::2, 1] + yuv[:, 1::2, 1])
    v = 0.5 * (yuv[:, 0::2, 2] + yuv[:, 1::2, 2])
    h, w = y.shape
    out = np.empty((h, w // 2, 4), dtype=np.float32)
    if order == "uyvy":
        out[..., 0], out[..., 1], out[..., 2], out[..., 3] = u, y[:, 0::2], v, y[:, 1::2]
    else:
        out[..., 0], out[..., 1], out[..., 2], out[..., 3] = y[:, 0::2], u, y[:, 1::2], v
    return np.clip(np.round(out), 0, 255).astype(np.uint8).reshape(h, w * 2)


def encode_pixels(rgb: np.ndarray, encoding: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (H, W * bytes_per_pixel) uint8 rows of ``encoding`` (no padding)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w = rgb.shape[:2]
    if encoding == "rgb8":
        px = rgb
    elif encoding in ("bgr8", "8UC3"):
        px = rgb[..., ::-1]
    elif encoding == "rgba8":
        px = np.concatenate([rgb, np.full((h, w, 1), 255, np.uint8)], axis=2)
    elif encoding == "bgra8":
        px = np.concatenate([rgb[..., ::-1], np.full((h, w, 1), 255, np.uint8)], axis=2)
    elif encoding == "mono8":
        px = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    elif encoding in ("mono16", "16UC1"):
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257
        px = grey.astype("<u2").view(np.uint8)
    elif encoding == "yuv422":
        px = _yuv422(rgb, "uyvy")
    elif encoding == "yuv422_yuy2":
        px = _yuv422(rgb, "yuyv")
    elif encoding == "bayer_rggb8":
        px = np.empty((h, w), np.uint8)
        px[0::2, 0::2] = rgb[0::2, 0::2, 0]
        px[0::2, 1::2] = rgb[0::2, 1::2, 1]
        px[1::2, 0::2] = rgb[1::2, 0::2, 1]
        px[1::2, 1::2] = rgb[1::2, 1::2, 2]
    else:
        raise ValueError(f"cannot encode {encoding!r}; encodable: {ENCODABLE}")
    return np.ascontiguousarray(px).reshape(h, -1)


def image_msg(rgb: np.ndarray, header: Header, encoding: str = "rgb8", row_padding: int = 0) -> Image:
    """sensor_msgs/Image of ``rgb`` in ``encoding``, each row padded by ``row_padding`` bytes."""
    rows = encode_pixels(rgb, encoding)
    if row_padding:
        rows = np.concatenate([rows, np.zeros((rows.shape[0], row_padding), np.uint8)], axis=1)
    msg = Image()
    msg.header = header
    msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(rows.shape[1])
    msg.data = rows.tobytes()
    return msg


def compressed_msg(rgb: np.ndarray, header: Header, fmt: str = "jpeg", quality: int = 90) -> CompressedImage:
    """sensor_msgs/CompressedImage (image_transport's ``"rgb8; jpeg compressed bgr8"`` style format)."""
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    if fmt == "jpeg":
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    elif fmt == "png":
        ok, buf = cv2.imencode(".png", bgr)
    else:
        raise ValueError(f"format must be jpeg or png, got {fmt!r}")
    if not ok:
        raise RuntimeError(f"cv2.imencode({fmt}) failed")
    msg = CompressedImage()
    msg.header = header
    msg.format = f"rgb8; {fmt} compressed bgr8"
    msg.data = buf.tobytes()
    return msg
