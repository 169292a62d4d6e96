"""The Grounding DINO adapter on a tiny random model saved with save_pretrained and reloaded from disk."""

from __future__ import annotations

import pytest
import torch
from gdino_fixtures import save_tiny_grounding_dino
from model_fixtures import batch, synthetic_sample, tiny_cfg, tiny_topology

from handos_model.models.build import build_criterion, build_model
from handos_model.models.detector_gdino import GroundingDinoDetector


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    return save_tiny_grounding_dino(tmp_path_factory.mktemp("gdino"))


def test_adapter_outputs(snapshot) -> None:
    det = GroundingDinoDetector(snapshot).eval()
    assert det.input_ids.tolist() == [[101, 1050, 1012, 102]]  # [CLS] hand . [SEP]
    assert det.prompt_token_mask.tolist() == [False, True, False, False]
    with torch.no_grad():
        out = det(torch.rand(2, 3, 128, 128))
        ref = det.model(
            pixel_values=det.normalize(torch.rand(1, 3, 128, 128)),
            input_ids=det.input_ids,
            attention_mask=det.text_attention_mask,
        )
    b, q, d = 2, det.model.config.num_queries, det.d_model
    assert out.memory.shape[0] == b and out.memory.shape[2] == d
    assert out.spatial_shapes.tolist() == [[16, 16], [8, 8], [4, 4], [2, 2]]
    assert out.level_start_index.tolist() == [0, 256, 320, 336]
    assert out.memory.shape[1] == 340
    assert out.valid_ratios.shape == (b, 4, 2)
    assert out.queries_init.shape == (b, q, d) and out.queries_last.shape == (b, q, d)
    assert out.reference_boxes.shape == (b, q, 4) and out.boxes.shape == (b, q, 4)
    assert out.scores.shape == (b, q) and ((out.scores >= 0) & (out.scores <= 1)).all()
    assert [m.shape[1] for m in out.backbone_maps] == det.backbone_channels
    assert ref.logits.shape[:2] == (1, q)
    # the memory is what the model reports as the encoder's vision output
    with torch.no_grad():
        x = torch.rand(1, 3, 128, 128)
        o = det(x)
        r = det.model(pixel_values=det.normalize(x), input_ids=det.input_ids, attention_mask=det.text_attention_mask)
    assert torch.allclose(o.memory, r.encoder_last_hidden_state_vision)
    assert torch.allclose(o.boxes, r.pred_boxes)
    assert torch.allclose(o.scores, r.logits[..., 1].sigmoid())


def test_handos_on_grounding_dino(snapshot) -> None:
    torch.manual_seed(0)
    topo = tiny_topology()
    cfg = tiny_cfg()
    cfg["model"]["detector"] = {"type": "grounding_dino", "weights": str(snapshot)}
    model = build_model(cfg, topo)
    assert model.detector.num_levels == 4 and len(model.side_tuning.branches) == 4
    crit = build_criterion(cfg, topo)
    images, Ks, targets = batch([synthetic_sample(topo, 2)])
    model.train()
    assert not model.detector.training
    losses = crit(model(images, Ks, targets), targets)
    losses["total"].backward()
    assert all(p.grad is None for p in model.detector.parameters())
    model.eval()
    with torch.no_grad():
        out = model(images, Ks, fixed_count=3)
    assert out["pred_vertices"][-1].shape == (3, topo.num_vertices, 3)


def test_missing_snapshot_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        GroundingDinoDetector(tmp_path)
