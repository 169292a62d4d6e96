"""Style perturbation of the frozen backbone's shallow features (stage 0 only; not in the paper).

The detector's head learns hands from renders and is then run on photos. The per-channel mean and
standard deviation of a CNN's shallow feature maps over an image carry much of its "style"
(colour cast, contrast, texture statistics) and little of its content, and a head that has seen
those statistics vary is less tied to the renderer's (MixStyle, Zhou et al., ICLR 2021; DSU, Li
et al., ICLR 2022). :func:`perturb_statistics` is DSU's version, which needs a single source
domain: each image's channel statistics are redrawn from a Gaussian centred on them whose spread
is the batch's spread of those statistics, and the map is re-normalised to the new ones.

:class:`.detector_lite.FrozenLite0` applies it after :data:`STYLE_BLOCKS` of the ImageNet
Lite0 when ``detector.style_perturb_prob`` > 0 and the detector is training (stage 0). The
backbone's tensors are untouched (it stays frozen and bit-identical); at inference, and in
stages 1-2 where the detector is in eval mode, nothing changes.
"""

from __future__ import annotations

import torch
from torch import Tensor

# Lite0 blocks after which the statistics are perturbed: the ends of its stride-2, -4 and -8
# stages (16 / 24 / 40 channels), where features are mostly style.
STYLE_BLOCKS = (0, 2, 4)


def perturb_statistics(x: Tensor, eps: float = 1e-6) -> Tensor:
    """DSU on one feature map.

    Args:
        x: (B, C, H, W) features.
        eps: variance floor.

    Returns:
        (B, C, H, W): ``gamma * (x - mu) / sigma + beta`` with ``mu``, ``sigma`` (B, C, 1, 1) each
        image's channel mean / std, ``beta ~ N(mu, Var_B(mu))``, ``gamma ~ N(sigma, Var_B(sigma))``
        clamped at 0 (torch's global generator: seeded training runs stay reproducible). A batch of
        one image has no spread to draw from and is returned as it is.
    """
    if x.shape[0] < 2:
        return x
    mu = x.mean(dim=(2, 3), keepdim=True)
    sigma = (x.var(dim=(2, 3), keepdim=True) + eps).sqrt()
    spread_mu = (mu.var(dim=0, keepdim=True) + eps).sqrt()
    spread_sigma = (sigma.var(dim=0, keepdim=True) + eps).sqrt()
    beta = mu + torch.randn_like(mu) * spread_mu
    gamma = (sigma + torch.randn_like(sigma) * spread_sigma).clamp_min(0.0)
    return (x - mu) / sigma * gamma + beta
