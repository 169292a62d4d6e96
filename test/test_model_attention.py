"""Hierarchical attention (paper Fig. 8(c)) and per-hand isolation, on the real modules."""

from __future__ import annotations

import torch
from model_fixtures import tiny_topology

from handos_model.models.decoder import HandDecoder
from handos_model.models.hierarchical_attention import MaskedSelfAttention, hierarchical_attention_mask, token_types

# (query type, key type) pairs the paper allows: 2D<->2D, 2D<->V, V<->V, t->2D, t->V, t->t
ALLOWED = {("2d", "2d"), ("2d", "v"), ("v", "2d"), ("v", "v"), ("t", "2d"), ("t", "v"), ("t", "t")}


def test_mask_matches_visibility_rules_cell_by_cell() -> None:
    nj, nv = 3, 5
    mask = hierarchical_attention_mask(nj, nv)
    types = token_types(nj, nv)
    n = nj + nv + 1
    assert mask.shape == (n, n) and mask.dtype == torch.bool
    for q in range(n):
        for k in range(n):
            assert bool(mask[q, k]) == ((types[q], types[k]) in ALLOWED), (q, k, types[q], types[k])
    t = n - 1
    assert not mask[:t, t].any()  # 2D and V never attend to t
    assert mask[t].all()  # t attends to 2D, V and itself
    assert mask[:t, :t].all()  # 2D and V attend to each other both ways


def test_mask_without_camera_is_full() -> None:
    mask = hierarchical_attention_mask(4, 2, with_camera=False)
    assert mask.shape == (6, 6) and mask.all()


def test_masked_attention_hides_t_from_2d_and_vertices() -> None:
    torch.manual_seed(0)
    nj, nv, d = 3, 4, 16
    attn = MaskedSelfAttention(d, 2)
    mask = hierarchical_attention_mask(nj, nv)
    x = torch.randn(1, nj + nv + 1, d)
    pos = torch.randn_like(x)
    y0 = attn(x, pos, mask)
    x_t = x.clone()
    x_t[:, -1] += 5.0  # change only the camera token
    y_t = attn(x_t, pos, mask)
    assert torch.allclose(y0[:, :-1], y_t[:, :-1], atol=1e-6)  # 2D and V did not see t
    x_v = x.clone()
    x_v[:, nj] += 5.0  # change one vertex token
    y_v = attn(x_v, pos, mask)
    assert not torch.allclose(y0[:, -1], y_v[:, -1])  # t sees V
    assert not torch.allclose(y0[:, 0], y_v[:, 0])  # 2D sees V
    x_j = x.clone()
    x_j[:, 0] += 5.0
    y_j = attn(x_j, pos, mask)
    assert not torch.allclose(y0[:, nj], y_j[:, nj])  # V sees 2D


def test_hands_never_attend_to_each_other_in_the_decoder() -> None:
    """Perturbing hand 1's instance query leaves every output of hand 0 unchanged (same image)."""
    torch.manual_seed(0)
    topo = tiny_topology()
    d = 32
    dec = HandDecoder(
        topo,
        d_model=d,
        value_dim=d,
        num_levels=2,
        num_heads=2,
        num_points=2,
        ffn_dim=32,
        num_2d_layers=1,
        num_interactive_layers=2,
    ).eval()
    with torch.no_grad():  # heads start at exactly zero: randomise them so every output depends on the queries
        for p in dec.parameters():
            if not p.any():
                p.normal_(0.0, 0.1)
    shapes = [(8, 8), (4, 4)]
    feats = torch.randn(1, 80, d)
    q0, q6 = torch.randn(2, d), torch.randn(2, d)
    boxes = torch.tensor([[0.3, 0.3, 0.2, 0.2], [0.7, 0.6, 0.3, 0.2]])
    K = torch.tensor([[100.0, 0, 32], [0, 100.0, 32], [0, 0, 1]]).expand(2, 3, 3)
    bi = torch.zeros(2, dtype=torch.long)
    with torch.no_grad():
        a = dec(q0, q6, boxes, feats, bi, shapes, K, 64)
        q6b = q6.clone()
        q6b[1] += 3.0
        b = dec(q0, q6b, boxes, feats, bi, shapes, K, 64)
    for key in ("pred_joints_2d", "pred_vertices", "pred_cam_t"):
        assert torch.allclose(a[key][-1][0], b[key][-1][0], atol=1e-5), key
        assert not torch.allclose(a[key][-1][1], b[key][-1][1]), key
